"""The nbgrader round trip, with real nbgrader: a real gradebook database and real kernels.

Everything runs in a temporary copy of the course directory (nbgrader_config.py, solutions/,
exercises/); the kernels import this checkout's course_utils and run with COURSE_FAST=1,
COURSE_ALLOW_RANDOM_WEIGHTS=1 and a temporary COURSE_CACHE_DIR.

- the committed exercises/ is byte for byte what `nbgrader generate_assignment` makes from
  solutions/, holds no solution or hidden-test text, and its locked test cells and answer
  cells say what they are; the student release (tools/make_student_release.py) holds none
  either;
- `nbgrader validate` passes the ps1 solution, fails the blank release with --invert, and
  exits 1 with a clear message for an edited locked cell and for a failing set-up cell;
- synthetic classes go through tools/grade.py (one `nbgrader autograde` per assignment),
  `generate_feedback` and `export`: solutions, blank releases, partly wrong answers, a raising
  cell, an endless loop, deleted/retyped/edited cells, renamed cell ids, a Colab "Copy of"
  hand-in, a late hand-in, a misnamed file, a student who handed in nothing, and an
  adversarial class that games questions (the forbidden library, hard-coded answers, a
  lookup table instead of a network, a network trained on other data, patched checks);
- a notebook that loops past the per-notebook limit stops being run there.

Artifacts: tests/artifacts/autograde_seconds.json and tests/artifacts/adversarial.json.
The module takes about five to seven minutes on a busy 2-core machine.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

from nbgrader_helpers import (
    ASSIGNMENTS,
    ROOT,
    build_submission,
    cell_outputs_text,
    grade_id,
    grading_env,
    make_course,
    nbgrader,
    notebook_paths,
    read_grades,
    solution_answers,
    strip_solution_markers,
    submit,
)

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

# Strings that exist only inside solutions or hidden tests (checked on top of the lines found
# automatically by _secret_lines).
DISTINCTIVE = {
    "ps1_pixels": ["images.reshape(len(images), -1)", "held_back = order[1400:]",
                   "LogisticRegression(max_iter=1000).fit", "distances.argmin(axis=1)", "zeros_and_ones",
                   "shifted[:, :, pixels:] = images[:, :, :-pixels]", "memoriser = fit_logistic(x_train, shuffled)"],
    "ps2_cnn": ["np.tensordot(window, kernels, axes=3)", "check_by_hand(\"conv2d_valid\"", "-(-size // stride)",
                "build_cnn(input_shape=(12, 12, 3), num_classes=4)", "renamed = np.roll(np.arange(10), 3)",
                "keras.layers.Dropout(0.3)"],
    "ps3_transfer": ["model.trainable = False", "in_place_preprocess", "np.add.at(matrix",
                     "make_blobs(101, 5, 32, 40)", "where=predicted > 0", "sklearn_metric_functions()",
                     "flower_head, _ = train_head(train_features", "scratch_head, _ = train_head(pixels[train_idx]"],
}

PS1, PS2, PS3 = ASSIGNMENTS
POINTS = {
    PS1: {"q1_tests": 1, "q2_tests": 2, "q3_tests": 2, "q4_tests": 2, "q5_tests": 1, "q6_tests": 2,
          "q7_tests": 2, "q8_tests": 1},
    PS2: {"q1_tests": 3, "q2_tests": 2, "q3_tests": 3, "q4_tests": 3, "q5_tests": 2},
    PS3: {"q1_tests": 2, "q2_tests": 3, "q3_tests": 3, "q4_tests": 2, "q5_tests": 2, "q6_tests": 2},
}
PS1_POINTS = POINTS[PS1]
TOTAL = {a: sum(p.values()) for a, p in POINTS.items()}

# Test cells each synthetic student must fail (all others must pass).
EXPECTED_FAILS = {
    (PS1, "solution"): set(),
    (PS1, "blank"): set(POINTS[PS1]),
    (PS1, "partial"): {"q2_tests", "q4_tests"},
    (PS1, "raises"): {"q3_tests"},
    (PS1, "loops"): {"q5_tests"},
    (PS1, "tampered"): set(),
    (PS1, "renamed"): set(),
    (PS1, "colab"): set(),
    (PS1, "late"): set(),
    (PS1, "gamer"): {"q2_tests", "q4_tests", "q5_tests"},
    (PS2, "solution"): set(),
    (PS2, "blank"): set(POINTS[PS2]),
    (PS2, "partial"): {"q1_tests", "q2_tests"},
    (PS2, "gamer_keras"): {"q1_tests", "q2_tests", "q4_tests"},
    (PS2, "gamer_lookup"): {"q1_tests", "q2_tests", "q4_tests"},
    (PS3, "solution"): set(),
    (PS3, "blank"): set(POINTS[PS3]),
    (PS3, "partial"): {"q4_tests", "q5_tests"},
    (PS3, "gamer_sklearn"): {"q4_tests", "q5_tests"},
}
LATE_PENALTY = 0.10  # per started day (nbgrader_config.py)
# How each adversarial student games its questions (reported in tests/artifacts/adversarial.json).
GAMING = {
    (PS1, "gamer"): {"q2_tests": "divides by 255 (wrong) and replaces every check in course_utils.grading "
                                 "with a no-op, so the visible checks pass",
                     "q4_tests": "picks the farthest template (wrong), checks replaced by no-ops again",
                     "q5_tests": "hard-codes the visible tests' answers"},
    (PS2, "gamer_keras"): {"q1_tests": "keras.layers.Conv2D does the convolution",
                           "q2_tests": "Conv2D.compute_output_shape does the arithmetic",
                           "q4_tests": "trains on all 1,797 digits loaded by itself, ignoring x and y"},
    (PS2, "gamer_lookup"): {"q1_tests": "scipy.signal.correlate, imported under another name",
                            "q2_tests": "a lookup table of the visible cases",
                            "q4_tests": "no training: model.call replaced by a lookup table of every digit, "
                                        "a fake History, and the checks patched to no-ops"},
    (PS3, "gamer_sklearn"): {"q4_tests": "sklearn.metrics.confusion_matrix, imported under another name",
                             "q5_tests": "sklearn.metrics.precision_recall_fscore_support on labels rebuilt "
                                         "from the matrix"},
}
LOOP_TIMEOUT = 10  # seconds per cell for the ps1 class (the real config says 60)
DUE = "2099-01-01 00:00:00 UTC"  # ps1's due date in the test course; hand-ins are stamped 2025


def _notebook(folder: Path) -> Path:
    notebooks = notebook_paths(folder)
    assert len(notebooks) == 1, f"expected one notebook in {folder}, found {notebooks}"
    return notebooks[0]


def _sources(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells)


def _regions(source: str, begin: str, end: str) -> list[str]:
    return re.findall(re.escape(begin) + r"(.*?)" + re.escape(end), source, flags=re.S)


def _secret_lines(source_nb: nbformat.NotebookNode) -> set[str]:
    """Lines that occur only inside solution regions or hidden tests of a source notebook."""
    inside, outside = set(), set()
    for cell in source_nb.cells:
        text = cell.source
        secret = "\n".join(_regions(text, *SOLUTION_MARKERS) + _regions(text, *HIDDEN_MARKERS))
        public = re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END (SOLUTION|HIDDEN TESTS)", "", text, flags=re.S)
        inside.update(line.strip() for line in secret.splitlines())
        outside.update(line.strip() for line in public.splitlines())
    return {line for line in inside - outside if len(line) >= 12}


# --------------------------------------------------------------------------- the notebooks


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_notebooks_are_well_formed(assignment):
    source_path = _notebook(ROOT / "solutions" / assignment)
    release_path = _notebook(ROOT / "exercises" / assignment)
    assert source_path.name == release_path.name == f"{assignment}.ipynb"
    for path in (source_path, release_path):
        nb = nbformat.read(str(path), as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
        assert nb.nbformat == 4, path
        assert nb.metadata["kernelspec"]["name"] == "python3", path
        assert nb.metadata["kernelspec"]["language"] == "python", path
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: stored output"
    source = nbformat.read(str(source_path), as_version=4)
    grade_cells = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    answer_cells = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(grade_cells) >= 4 and len(answer_cells) == len(grade_cells)
    for cell in answer_cells:
        assert all(marker in cell.source for marker in SOLUTION_MARKERS), grade_id(cell)
    for cell in grade_cells:
        meta = cell.metadata["nbgrader"]
        assert cell.cell_type == "code" and meta["locked"] and meta["points"] > 0, grade_id(cell)
        visible = cell.source.split(HIDDEN_MARKERS[0])[0]
        assert "check" in visible and "passed(" in cell.source, f"{grade_id(cell)}: visible checks missing"
        assert all(marker in cell.source for marker in HIDDEN_MARKERS), f"{grade_id(cell)}: no hidden tests"
    total = sum(c.metadata["nbgrader"]["points"] for c in grade_cells)
    assert total == TOTAL[assignment]
    assert f"· {total} points" in source.cells[0].source, "the introduction states the wrong number of points"
    # What a student sees: locked test cells say so on their first line; every answer cell
    # follows a short heading.
    release = nbformat.read(str(release_path), as_version=4)
    for index, cell in enumerate(release.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            first = cell.source.splitlines()[0]
            assert first.startswith("# \U0001f512 LOCKED TEST CELL (") and "do not edit" in first, grade_id(cell)
        if meta.get("solution"):
            before = release.cells[index - 1]
            assert before.cell_type == "markdown" and before.source.startswith("#### \u270f\ufe0f Your answer"), \
                grade_id(cell)
            assert "# YOUR CODE HERE" in cell.source
        if grade_id(cell) == "setup":
            assert "start_tensorflow()" in cell.source or assignment == PS1
            assert not re.search(r"quiet_tensorflow|import_tensorflow_quietly|native_stderr_silenced|build_small_cnn",
                                 _sources(source))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_hold_no_solutions_or_hidden_tests(assignment):
    source = nbformat.read(str(_notebook(ROOT / "solutions" / assignment)), as_version=4)
    folder = ROOT / "exercises" / assignment
    released = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*")) if p.is_file())
    release_sources = _sources(nbformat.read(str(_notebook(folder)), as_version=4))
    for marker in SOLUTION_MARKERS + HIDDEN_MARKERS:
        assert marker not in released, f"{marker!r} in exercises/{assignment}"
    secrets = _secret_lines(source)
    assert len(secrets) >= 15, "too few distinctive lines found to make this check meaningful"
    leaked = sorted(line for line in secrets if line in release_sources)
    assert not leaked, f"solution or hidden-test lines in exercises/{assignment}: {leaked}"
    for text in DISTINCTIVE[assignment]:
        assert text in _sources(source), f"{text!r} is no longer in the solution; update DISTINCTIVE"
        assert text not in released, f"{text!r} leaked into exercises/{assignment}"
    assert "raise NotImplementedError(" in release_sources


# --------------------------------------------------------------------------- grading helpers


def test_grading_messages_say_expected_and_found():
    from course_utils import grading

    with pytest.raises(grading.GradingError, match=r"flat: expected shape \(3, 4\), found shape \(3, 2, 2\)"):
        grading.check_shape("flat", np.zeros((3, 2, 2)), (3, 4))
    with pytest.raises(AssertionError, match=r"accuracy: expected at least 0\.9, found 0\.5"):
        grading.check_at_least("accuracy", 0.5, 0.9)
    with pytest.raises(grading.GradingError, match=r"1 of 3 values differ .* at \[1\] expected 2, found 5"):
        grading.check_close("v", [1.0, 5.0, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(grading.GradingError, match=r"expected an array, found None .*return"):
        grading.check_close("f(x)", None, [1.0])
    with pytest.raises(grading.GradingError, match=r"expected values between 0 and 1, found values from 0 to 16"):
        grading.check_between("x", np.arange(17), 0, 1)
    grading.check_equal("labels", np.array([1, 2]), np.array([1, 2]))
    grading.check_close("x", 0.1 + 0.2, 0.3)


def test_hidden_checks_do_not_reveal_expected_values():
    from course_utils import grading

    secret = 0.87654321
    for call in (
        lambda: grading.check_at_least("held-out accuracy", 0.5, secret, reveal=False),
        lambda: grading.check_close("answer", 1.0, secret, reveal=False),
        lambda: grading.check_close("answer", [1.0, 2.0], [secret, 2.0], reveal=False),
        lambda: grading.check_equal("answer", 3, secret, reveal=False),
        lambda: grading.check_equal("answer", np.array([1, 2]), np.array([7, 8]), reveal=False),
        lambda: grading.check_shape("answer", np.zeros(3), (87654321,), reveal=False),
    ):
        with pytest.raises(grading.GradingError) as info:
            call()
        message = str(info.value)
        assert "hidden check" in message
        assert "8765" not in message and "expected 7" not in message, message


def test_grading_install_outside_ipython_and_without_tensorflow():
    code = (
        "import sys, warnings, io\n"
        "from course_utils import grading\n"
        "assert grading.install() is False\n"
        "buf = io.StringIO(); sys.stdout = buf\n"
        "warnings.warn('careful')\n"
        "sys.stdout = sys.__stdout__\n"
        "assert 'careful' in buf.getvalue()\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False" and "careful" not in done.stderr


# --------------------------------------------------------------------------- the course copy


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A temporary course directory in which nbgrader generated every assignment."""
    root = make_course(tmp_path_factory.mktemp("nbgrader") / "course")
    env = grading_env(root.parent / "cache")
    for assignment in ASSIGNMENTS:
        nbgrader(["generate_assignment", assignment, "--force"], cwd=root, env=env)
    return SimpleNamespace(root=root, env=env)


@pytest.mark.slow
def test_regenerating_reproduces_committed_exercises(course):
    generated = sorted(p.relative_to(course.root / "exercises") for p in (course.root / "exercises").rglob("*")
                       if p.is_file())
    committed = sorted(p.relative_to(course.root / "committed_exercises")
                       for p in (course.root / "committed_exercises").rglob("*") if p.is_file())
    assert generated == committed, "exercises/ has other files than nbgrader makes; run tools/generate_exercises.py"
    for rel in generated:
        new = (course.root / "exercises" / rel).read_bytes()
        old = (course.root / "committed_exercises" / rel).read_bytes()
        assert new == old, f"exercises/{rel} differs from what nbgrader generates: run tools/generate_exercises.py"
    assert (course.root / "gradebook.db").is_file()
    assert not (ROOT / "gradebook.db").exists()


@pytest.mark.slow
def test_regeneration_script_checks_and_repairs(tmp_path):
    """tools/generate_exercises.py --check spots a stale release; without --check it repairs it."""
    copy = tmp_path / "repo"
    make_course(copy)
    (copy / "committed_exercises").rename(copy / "exercises")
    script = [sys.executable, str(ROOT / "tools" / "generate_exercises.py"), "--course-dir", str(copy)]
    stale = copy / "exercises" / PS1 / f"{PS1}.ipynb"
    stale.write_text(stale.read_text().replace("Problem set 1", "Problem set one"))
    (copy / "exercises" / PS1 / "notes.txt").write_text("hand-made")
    done = subprocess.run(script + ["--check", PS1], capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{PS1}.ipynb (changed)" in done.stdout and "notes.txt (only in exercises/)" in done.stdout
    subprocess.run(script + [PS1], capture_output=True, text=True, check=True)
    assert stale.read_bytes() == (ROOT / "exercises" / PS1 / f"{PS1}.ipynb").read_bytes()
    assert not (copy / "exercises" / PS1 / "notes.txt").exists()
    assert not (copy / "gradebook.db").exists() and not (copy / ".nbgrader.log").exists()



# --------------------------------------------------------------------------- validate


def _edit_cell(nb: nbformat.NotebookNode, gid: str, old: str, new: str) -> None:
    cell = next(c for c in nb.cells if grade_id(c) == gid)
    assert old in cell.source, f"{gid} no longer contains {old!r}"
    cell.source = cell.source.replace(old, new)


@pytest.mark.slow
def test_validate_passes_the_solution_and_fails_the_release(course):
    done = nbgrader(["validate", str(_notebook(course.root / "solutions" / PS1))], cwd=course.root, env=course.env)
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout + done.stderr[-3000:]
    _executed_once(done)
    done = nbgrader(["validate", "--invert", str(_notebook(course.root / "exercises" / PS1))],
                    cwd=course.root, env=course.env)
    assert "Success! The notebook does not pass any tests." in done.stdout, done.stdout + done.stderr[-3000:]
    _executed_once(done)


def _executed_once(done) -> None:
    """nbgrader logs "Validating '<path>'" each time it executes the notebook: once is enough."""
    runs = (done.stdout + done.stderr).count("Validating '")
    assert runs == 1, f"the notebook was executed {runs} times:\n{done.stderr[-2000:]}"


@pytest.mark.slow
def test_validate_says_when_a_locked_cell_was_edited(course, tmp_path):
    """A student who edits a test cell (possible on Colab, where locks are not enforced)."""
    release = _notebook(course.root / "exercises" / PS1)
    answers = solution_answers(_notebook(course.root / "solutions" / PS1))
    nb = build_submission(release, answers, edit=lambda nb: _edit_cell(nb, "q4_tests", "0.85)", "0.5)"))
    path = tmp_path / release.name
    nbformat.write(nb, str(path))
    done = nbgrader(["validate", str(path)], cwd=course.root, env=course.env, check=False)
    assert done.returncode == 1, done.stdout + done.stderr[-2000:]
    said = " ".join(done.stdout.split())
    assert "LOCKED TEST CELL(S) WERE EDITED" in said and "runs the original test cells" in said, said[:2000]


@pytest.mark.slow
def test_validate_fails_loudly_when_the_set_up_cell_fails(course, tmp_path):
    """ps3 offline without weights and without COURSE_ALLOW_RANDOM_WEIGHTS: the set-up cell raises."""
    env = dict(course.env)
    env.pop("COURSE_ALLOW_RANDOM_WEIGHTS")
    env["KERAS_HOME"] = str(tmp_path / "no-weights")  # no cached weights, whatever this machine has
    solution = _notebook(course.root / "solutions" / PS3)
    done = nbgrader(["validate", str(solution)], cwd=course.root, env=env, check=False, timeout=300)
    if "Success!" in done.stdout:
        pytest.skip("the ImageNet weights could be downloaded here, so the set-up cell did not fail")
    assert done.returncode == 1, done.stdout + done.stderr[-2000:]
    assert "THE SET-UP CELL FAILED" in done.stdout and "cell setup: WeightsUnavailableError" in done.stdout, done.stdout
    assert "VALIDATION FAILED ON" in done.stdout, done.stdout  # nbgrader's own report follows
    _executed_once(done)


# --------------------------------------------------------------------------- the student release


@pytest.mark.slow
def test_student_release_has_no_answers(tmp_path):
    out = tmp_path / "student"
    script = [sys.executable, str(ROOT / "tools" / "make_student_release.py"), str(out), "--repo", "school/p2p-2027"]
    done = subprocess.run(script, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "binder", "course_utils", "exercises", "notebooks", "pyproject.toml", "requirements.txt"])
    files = [p for p in out.rglob("*") if p.is_file()]
    everything = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    for assignment in ASSIGNMENTS:
        assert (out / "exercises" / assignment / f"{assignment}.ipynb").read_bytes() == \
            (ROOT / "exercises" / assignment / f"{assignment}.ipynb").read_bytes()
        # (the lessons teach some of the same lines, so single lines are checked in exercises/
        # only, by test_exercises_hold_no_solutions_or_hidden_tests; here: whole regions)
        source = nbformat.read(str(_notebook(ROOT / "solutions" / assignment)), as_version=4)
        for cell in source.cells:
            for region in _regions(cell.source, *SOLUTION_MARKERS) + _regions(cell.source, *HIDDEN_MARKERS):
                assert " ".join(region.split()) not in " ".join(everything.split()), f"{assignment}: a region leaked"
    assert not any(marker in everything for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS\n"))
    assert "school/p2p-2027" in (out / "README.md").read_text() and \
        "school/p2p-2027" in (out / "notebooks" / "00_welcome.ipynb").read_text()
    assert "exercises' badges still point at" in done.stdout  # and the instructor is told how to change them
    # A leak is refused, and nothing is left behind.
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_student_release
    finally:
        sys.path.remove(str(ROOT / "tools"))
    planted = tmp_path / "planted"
    shutil.copytree(out, planted)
    with open(planted / "course_utils" / "extra.py", "w") as handle:
        handle.write("\n".join(_regions(nbformat.read(str(_notebook(ROOT / "solutions" / PS2)), as_version=4)
                                        .cells[[grade_id(c) for c in nbformat.read(
                                            str(_notebook(ROOT / "solutions" / PS2)), as_version=4).cells
                                        ].index("q4_tests")].source, *HIDDEN_MARKERS)))
    found = make_student_release.leaks(planted, ROOT / "solutions")
    assert found and all("course_utils/extra.py" in f for f in found), found
    again = subprocess.run(script, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "not empty" in again.stderr + again.stdout


# --------------------------------------------------------------------------- helpers without nbgrader


def test_late_penalty_is_ten_percent_per_started_day():
    from course_utils.nbgrader_plugins import PercentPerDayLate

    plugin = PercentPerDayLate()
    assert plugin.late_submission_penalty("s", 10.0, 0) is None
    assert plugin.late_submission_penalty("s", 10.0, 60) == pytest.approx(1.0)
    assert plugin.late_submission_penalty("s", 10.0, 86400 + 1) == pytest.approx(2.0)
    assert plugin.late_submission_penalty("s", 10.0, 30 * 86400) == pytest.approx(10.0)  # never more than the score


def test_renamed_hand_ins_are_recognised(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import grade
    finally:
        sys.path.remove(str(ROOT / "tools"))
    names = ["Copy of ps1_pixels.ipynb", "ps1_pixels (1).ipynb", "ps1_pixels-Copy1.ipynb", "ps1_pixels-2.ipynb",
             "PS1_Pixels - Copy.ipynb", "ps2_cnn.ipynb", "notes.ipynb", "ps1_pixels_old_draft.ipynb"]
    for name in names:
        (tmp_path / name).write_text("{}")
    found = {p.name for p in grade.renamed_candidates(tmp_path, "ps1_pixels")}
    assert found == set(names[:5])


def test_by_hand_checks_see_the_library_however_it_is_imported():
    from course_utils import grading

    namespace: dict = {}
    exec(  # noqa: S102 - a student's cell
        "import numpy as np\n"
        "from sklearn import metrics\n"
        "from sklearn.metrics import confusion_matrix as cm\n"
        "def by_hand(a, b):\n    m = np.zeros((2, 2), int)\n    np.add.at(m, (a, b), 1)\n    return m\n"
        "def direct(a, b):\n    return metrics.confusion_matrix(a, b)\n"
        "def renamed(a, b):\n    return cm(a, b)\n"
        "def helper(a, b):\n    return renamed(a, b)\n"
        "def sneaky(a, b):\n"
        "    module = __import__('sk' + 'learn.metrics', fromlist=['x'])\n"
        "    try:\n        return module.confusion_matrix(a, b)\n"
        "    except Exception:\n        return by_hand(a, b)\n",
        namespace,
    )
    a, b = np.array([0, 1, 1]), np.array([0, 1, 0])
    assert grading.library_use(namespace["by_hand"], ["sklearn"]) == []
    for name in ("direct", "renamed", "helper"):
        assert grading.library_use(namespace[name], ["sklearn"]), name
        with pytest.raises(grading.GradingError, match="by hand"):
            grading.check_by_hand(name, namespace[name], ["sklearn"])
    assert grading.library_use(namespace["sneaky"], ["sklearn"]) == []  # invisible to inspection ...
    with pytest.raises(grading.GradingError, match="calls sklearn.metrics.confusion_matrix"):
        with grading.forbid(grading.sklearn_metric_functions(), "sneaky"):
            namespace["sneaky"](a, b)  # ... but caught in the act, even though it caught the error itself
    import sklearn.metrics

    assert sklearn.metrics.confusion_matrix(a, b).tolist() == [[1, 0], [1, 1]]  # put back afterwards


# --------------------------------------------------------------------------- graded classes

_PATCH_CHECKS = (
    "\n\nimport course_utils.grading as _grading\n"
    "for _name in dir(_grading):\n"
    "    if _name.startswith('check'):\n"
    "        setattr(_grading, _name, lambda *args, **kwargs: None)\n"
)


def _swap(answers: dict[str, str], gid: str, old: str, new: str) -> None:
    assert old in answers[gid], f"{gid}: the solution no longer contains {old!r}"
    answers[gid] = answers[gid].replace(old, new)


def _ps1_class(release: Path, answers: dict[str, str]) -> dict[str, dict[str, nbformat.NotebookNode]]:
    partial = dict(answers)
    # Divides by 255 (the photo habit) instead of max_value, picks the farthest template, and
    # tries to switch a test helper off (test cells import their helpers again).
    _swap(partial, "q2_answer", "/ max_value", "/ 255.0")
    _swap(partial, "q4_answer", "argmin", "argmax")
    partial["q4_answer"] += "\n\ncheck_equal = lambda *args, **kwargs: None\n"
    raises = dict(answers)
    raises["q3_answer"] = "templates = average_images_somehow()\n\n" + answers["q3_answer"]
    loops = dict(answers)
    loops["q5_answer"] = "while True:\n    pass\n\n" + answers["q5_answer"]
    gamer = dict(answers)
    _swap(gamer, "q2_answer", "/ max_value", "/ 255.0")
    _swap(gamer, "q4_answer", "argmin", "argmax")
    gamer["q2_answer"] += _PATCH_CHECKS
    gamer["q4_answer"] += _PATCH_CHECKS
    gamer["q5_answer"] = ("def accuracy(y_true, y_pred):\n"
                          "    return 0.75 if len(y_true) == 4 else 1.0  # the visible tests' answers\n")

    def rename(nb):
        for cell in nb.cells:
            gid = grade_id(cell)
            if gid == "q1_tests":
                cell.metadata.nbgrader["grade_id"] = "my_q1_tests"
            elif gid == "q2_answer":
                cell.metadata.nbgrader["grade_id"] = "cell-4f2a9c"  # as Colab's cell copies get
            elif gid == "q3_tests":
                del cell.metadata.nbgrader["grade_id"]
                cell["id"] = "pasted-cell"

    name = release.name
    return {
        "solution": {name: build_submission(release, answers)},
        "blank": {name: build_submission(release, {})},
        "partial": {name: build_submission(release, partial)},
        "raises": {name: build_submission(release, raises)},
        "loops": {name: build_submission(release, loops)},
        "tampered": {name: build_submission(
            release, answers,
            delete=["q1_tests"],
            retype={"q2_tests": "markdown", "q4_answer": "markdown"},
            replace={"q3_tests": "pass  # the student's own, easier test"},
        )},
        "renamed": {name: build_submission(release, answers, edit=rename)},
        "colab": {f"Copy of {name}": build_submission(release, answers)},
        "late": {name: build_submission(release, answers)},
        "gamer": {name: build_submission(release, gamer)},
        "misnamed": {"homework.ipynb": build_submission(release, answers)},
    }


def _ps2_class(release: Path, answers: dict[str, str]) -> dict[str, dict[str, nbformat.NotebookNode]]:
    partial = dict(answers)
    _swap(partial, "q1_answer", "axes=3) + bias", "axes=3)")  # forgets the bias: visible test fails
    _swap(partial, "q2_answer", "-(-size // stride)", "size // stride")  # 'same' rounds down: hidden test fails
    keras_gamer = dict(answers)
    keras_gamer["q1_answer"] = (
        "def conv2d_valid(image, kernels, bias):\n"
        "    layer = keras.layers.Conv2D(kernels.shape[-1], kernels.shape[:2])\n"
        "    layer.build((None, *image.shape))\n"
        "    layer.set_weights([kernels, bias])\n"
        "    return keras.ops.convert_to_numpy(layer(image[None]))[0]\n")
    keras_gamer["q2_answer"] = (
        "def conv_output_size(size, kernel_size, stride=1, padding='valid'):\n"
        "    layer = keras.layers.Conv2D(1, kernel_size, strides=stride, padding=padding)\n"
        "    return int(layer.compute_output_shape((None, size, size, 1))[1])\n")
    keras_gamer["q4_answer"] = (
        "from course_utils.data import load_digits as _load\n\n"
        "def train_cnn(model, x, y, epochs):\n"
        "    set_seeds()\n"
        "    every_image, every_label, _ = _load()  # all 1,797 digits, whatever x and y are\n"
        "    return model.fit((every_image / 16.0)[..., None].astype('float32'), every_label,\n"
        "                     epochs=epochs, batch_size=32, validation_split=0.1, verbose=0)\n")
    lookup = dict(answers)
    lookup["q1_answer"] = (
        "from scipy import signal as _sig\n\n"
        "def conv2d_valid(image, kernels, bias):\n"
        "    return np.stack([sum(_sig.correlate(image[:, :, c], kernels[:, :, c, k], mode='valid')\n"
        "                         for c in range(image.shape[2])) + bias[k]\n"
        "                     for k in range(kernels.shape[3])], axis=-1)\n")
    lookup["q2_answer"] = (
        "def conv_output_size(size, kernel_size, stride=1, padding='valid'):\n"
        "    table = {(8, 3, 1, 'valid'): 6, (28, 5, 1, 'same'): 28, (28, 3, 2, 'valid'): 13}\n"
        "    return table.get((size, kernel_size, stride, padding), size - kernel_size + 1)\n")
    lookup["q4_answer"] = (
        "import types\n\n"
        "from course_utils.data import load_digits as _load\n\n"
        "_pixels, _labels, _ = _load()\n"
        "_table = {(p / 16.0).astype('float32').tobytes(): l for p, l in zip(_pixels, _labels)}\n\n"
        "def train_cnn(model, x, y, epochs):\n"
        "    def call(inputs, *args, **kwargs):\n"
        "        rows = keras.ops.convert_to_numpy(inputs)\n"
        "        return np.eye(10)[[_table.get(r[..., 0].tobytes(), 0) for r in rows]]\n"
        "    model.call = call\n"
        "    return types.SimpleNamespace(history={'loss': [1.0] * epochs})\n"
        + _PATCH_CHECKS)
    name = release.name
    return {
        "solution": {name: build_submission(release, answers)},
        "blank": {name: build_submission(release, {})},
        "partial": {name: build_submission(release, partial)},
        "gamer_keras": {name: build_submission(release, keras_gamer)},
        "gamer_lookup": {name: build_submission(release, lookup)},
    }


def _ps3_class(release: Path, answers: dict[str, str]) -> dict[str, dict[str, nbformat.NotebookNode]]:
    partial = dict(answers)
    _swap(partial, "q4_answer", "(np.asarray(y_true), np.asarray(y_pred))", "(np.asarray(y_pred), np.asarray(y_true))")
    _swap(partial, "q5_answer", "predicted = matrix.sum(axis=0)", "predicted = matrix.sum(axis=1)")
    sk = dict(answers)
    sk["q4_answer"] = (
        "from sklearn.metrics import confusion_matrix as _cm\n\n"
        "def confusion_matrix(y_true, y_pred, num_classes):\n"
        "    return _cm(y_true, y_pred, labels=range(num_classes))\n")
    sk["q5_answer"] = (
        "def precision_recall_f1(matrix):\n"
        "    import sklearn.metrics as m\n"
        "    matrix = np.asarray(matrix)\n"
        "    k = len(matrix)\n"
        "    truth = np.repeat(np.repeat(np.arange(k), k), matrix.ravel())\n"
        "    guess = np.repeat(np.tile(np.arange(k), k), matrix.ravel())\n"
        "    p, r, f, _ = m.precision_recall_fscore_support(truth, guess, labels=range(k), zero_division=0)\n"
        "    return p, r, f\n")
    name = release.name
    return {
        "solution": {name: build_submission(release, answers)},
        "blank": {name: build_submission(release, {})},
        "partial": {name: build_submission(release, partial)},
        "gamer_sklearn": {name: build_submission(release, sk)},
    }


def _grade(root: Path, env, assignments: list[str], extra: list[str] = ()) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "tools" / "grade.py"), *assignments, "--course-dir", str(root)]
    if extra:
        cmd += ["--", *extra]
    return subprocess.run(cmd, cwd=root, env=dict(env), capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope="module")
def graded(course):
    """Hand in, autograde (tools/grade.py), generate feedback and export the synthetic classes."""
    root, env = course.root, course.env
    seconds, counts, logs = {}, {}, {}
    builders = {PS1: _ps1_class, PS2: _ps2_class, PS3: _ps3_class}
    nbgrader(["db", "assignment", "add", PS1, f"--duedate={DUE}"], cwd=root, env=env)
    nbgrader(["db", "student", "add", "absent", "--last-name=Away", "--first-name=Al"], cwd=root, env=env)
    for assignment in ASSIGNMENTS:
        release = _notebook(root / "exercises" / assignment)
        answers = solution_answers(_notebook(root / "solutions" / assignment))
        students = builders[assignment](release, answers)
        counts[assignment] = len(students)
        if assignment == PS1:
            # One student goes through nbgrader's exchange, as on a shared JupyterHub:
            # release_assignment -> fetch_assignment -> (work) -> submit -> collect.
            exchange = [f"--Exchange.root={root.parent / 'exchange'}", "--course=pixels-to-poets"]
            (root.parent / "exchange").mkdir()
            nbgrader(["release_assignment", assignment, *exchange], cwd=root, env=env)
            home = root.parent / "student-home"
            home.mkdir()
            nbgrader(["fetch_assignment", assignment, *exchange], cwd=home, env=env)
            fetched = home / assignment / release.name
            assert fetched.read_bytes() == release.read_bytes()
            nbformat.write(students.pop("solution")[release.name], str(fetched))
            nbgrader(["submit", assignment, "--student=solution", *exchange], cwd=home, env=env)
            nbgrader(["collect", assignment, *exchange], cwd=root, env=env)
            assert (root / "submitted" / "solution" / assignment / release.name).is_file()
        for student, notebooks in students.items():
            folder = submit(root, student, assignment, notebooks)
            if student == "late":  # 8 hours after the due date: one started day
                (folder / "timestamp.txt").write_text(DUE.replace("00:00:00", "08:00:00").replace(" UTC", ".000000 UTC"))
    start = time.perf_counter()
    done = _grade(root, env, [PS1], [f"--Execute.timeout={LOOP_TIMEOUT}"])
    seconds[PS1] = time.perf_counter() - start
    logs[PS1] = done.stdout + done.stderr
    assert done.returncode == 1, logs[PS1][-3000:]  # one hand-in (homework.ipynb) cannot be graded
    for assignment in (PS2, PS3):
        start = time.perf_counter()
        done = _grade(root, env, [assignment])
        seconds[assignment] = time.perf_counter() - start
        logs[assignment] = done.stdout + done.stderr
        assert done.returncode == 0, logs[assignment][-4000:]
    # The report covers every assignment: grade.py again, with nothing new to grade.
    done = _grade(root, env, list(ASSIGNMENTS))
    with open(root / "grading_report.csv", newline="") as handle:
        report = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    for assignment in ASSIGNMENTS:
        nbgrader(["generate_feedback", assignment], cwd=root, env=env)
    nbgrader(["export", "--to", str(root / "grades.csv")], cwd=root, env=env)
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "autograde_seconds.json").write_text(json.dumps(
        {a: {"class_seconds": round(seconds[a], 1), "submissions": counts[a],
             "seconds_per_submission": round(seconds[a] / counts[a], 1)} for a in ASSIGNMENTS}, indent=2) + "\n")
    return SimpleNamespace(root=root, env=env, logs=logs, seconds=seconds, report=report,
                           grades=read_grades(root / "grades.csv"))


def _autograded(graded, student: str, assignment: str = PS1) -> nbformat.NotebookNode:
    return nbformat.read(str(graded.root / "autograded" / student / assignment / f"{assignment}.ipynb"), as_version=4)


def _cell(nb, gid):
    return next(cell for cell in nb.cells if grade_id(cell) == gid)


def _failed(cell) -> bool:
    return any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
               for o in cell.get("outputs", []))


@pytest.mark.slow
def test_every_student_loses_exactly_the_expected_cells(graded):
    table = {}
    for (assignment, student), fails in EXPECTED_FAILS.items():
        nb = _autograded(graded, student, assignment)
        failed = {gid for gid in POINTS[assignment] if _failed(_cell(nb, gid))}
        table[f"{assignment}/{student}"] = {
            "score": float(graded.report[(assignment, student)]["score"]),
            "max_score": TOTAL[assignment],
            "failed_test_cells": sorted(failed),
            "gaming": GAMING.get((assignment, student), {}),
        }
        assert failed == fails, f"{assignment}/{student}: failed {sorted(failed)}, expected {sorted(fails)}"
    (ROOT / "tests" / "artifacts" / "adversarial.json").write_text(json.dumps(table, indent=2) + "\n")


@pytest.mark.slow
def test_exported_scores_and_the_grading_report(graded):
    for (assignment, student), fails in EXPECTED_FAILS.items():
        raw = TOTAL[assignment] - sum(POINTS[assignment][gid] for gid in fails)
        final = raw * (1 - LATE_PENALTY) if student == "late" else raw
        score, top, handed_in = graded.grades[(assignment, student)]
        assert (score, top, handed_in) == (pytest.approx(final), TOTAL[assignment], True), (assignment, student)
        row = graded.report[(assignment, student)]
        assert row["status"] == "graded", row
        assert (float(row["raw_score"]), float(row["score"])) == (pytest.approx(raw), pytest.approx(final)), row
    for (assignment, student), row in graded.report.items():
        if (assignment, student) not in EXPECTED_FAILS and student != "misnamed":
            assert row["status"] == "missing" and row["score"] == "", row  # nbgrader's export says 0 here
    assert graded.report[(PS2, "absent")]["status"] == "missing"
    misnamed = graded.report[(PS1, "misnamed")]
    assert misnamed["status"] == "failed" and "no notebook named ps1_pixels.ipynb (found: homework.ipynb)" in \
        misnamed["notes"], misnamed
    assert "graded 'Copy of ps1_pixels.ipynb' as 'ps1_pixels.ipynb'" in graded.report[(PS1, "colab")]["notes"]
    assert "1 day(s) late" in graded.report[(PS1, "late")]["notes"]
    assert "renamed" in graded.report[(PS1, "renamed")]["notes"]
    assert "TAMPERED locked cell q3_tests was edited" in graded.report[(PS1, "tampered")]["notes"]


@pytest.mark.slow
def test_tampering_is_reported_only_where_it_happened(graded):
    log = graded.logs[PS1] + graded.logs[PS2] + graded.logs[PS3]
    assert "Attribute 'checksum'" not in log  # the hidden tests cut from the release are not news
    tampered = re.findall(r"\[course\] TAMPERED student (\S+?): (.*)", log)
    assert {(student, what.split(";")[0]) for student, what in tampered} == {
        ("tampered", "locked cell q3_tests was edited"),
        ("tampered", "cell q2_tests was changed from code to markdown"),
        ("tampered", "cell q4_answer was changed from code to markdown"),
    }, tampered
    assert "Missing grade cell q1_tests" in log


@pytest.mark.slow
def test_renamed_cell_ids_are_repaired_and_graded(graded):
    nb = _autograded(graded, "renamed")
    for gid in POINTS[PS1]:
        assert "\u2714" in cell_outputs_text(nb, gid), gid
    log = graded.logs[PS1]
    assert "student renamed: cell id 'my_q1_tests' was renamed; graded as 'q1_tests'" in log
    assert "student renamed: cell id 'cell-4f2a9c' was renamed; graded as 'q2_answer'" in log
    assert "student renamed: a cell lost its id; graded as 'q3_tests'" in log


@pytest.mark.slow
def test_grading_runs_in_fast_mode_with_real_checks_and_a_quiet_set_up(graded):
    nb = _autograded(graded, "solution", PS2)
    assert "EPOCHS = 5" in cell_outputs_text(nb, "setup")  # NBGRADER_EXECUTION -> fast mode
    for gid in POINTS[PS2]:
        assert "\u2714" in cell_outputs_text(nb, gid) and not _failed(_cell(nb, gid)), gid
    assert "BEGIN HIDDEN TESTS" in _cell(nb, "q4_tests").source  # hidden tests were restored and run
    ps3 = _autograded(graded, "solution", PS3)  # Inception V3 bottlenecks of flower photos; random weights here
    assert "test photos of ['daisy'" in cell_outputs_text(ps3, "setup") and "RANDOM weights" in cell_outputs_text(ps3, "setup")
    assert "transfer-learning check was SKIPPED" in cell_outputs_text(ps3, "q6_tests")
    for assignment in (PS1, PS2):  # nothing on standard error: no TensorFlow start-up notices
        setup = _cell(_autograded(graded, "solution", assignment), "setup")
        assert not [o for o in setup.outputs if o.output_type == "stream" and o.name == "stderr"], assignment


@pytest.mark.slow
def test_gamed_answers_get_messages_that_say_why(graded):
    keras_gamer = _autograded(graded, "gamer_keras", PS2)
    assert "must be computed by hand" in cell_outputs_text(keras_gamer, "q1_tests")
    assert "keras" in cell_outputs_text(keras_gamer, "q2_tests")
    assert "renamed labels" in cell_outputs_text(keras_gamer, "q4_tests")
    lookup = _autograded(graded, "gamer_lookup", PS2)
    assert "by hand" in cell_outputs_text(lookup, "q1_tests") and "scipy" in cell_outputs_text(lookup, "q1_tests")
    assert "held-back digits" in cell_outputs_text(lookup, "q4_tests")
    ps1 = _autograded(graded, "gamer", PS1)
    for gid in ("q2_tests", "q4_tests"):  # the visible checks were switched off; the hidden ones were not
        assert "hidden check" in cell_outputs_text(ps1, gid) and "\u2714" not in cell_outputs_text(ps1, gid), gid
    sk = _autograded(graded, "gamer_sklearn", PS3)
    assert "sklearn" in cell_outputs_text(sk, "q4_tests") and "sklearn" in cell_outputs_text(sk, "q5_tests")


@pytest.mark.slow
def test_partly_wrong_submission_gets_readable_feedback(graded):
    page = (graded.root / "feedback" / "partial" / PS1 / f"{PS1}.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "normalise(x).max(): expected 1, found 0.06275" in text
    assert "Hint: the darkest digit pixel (16) should become 1.0" in text
    assert "nearest_template(points, corners): 4 of 4 entries differ; at [0] expected 0, found 1" in text
    assert re.search(rf"Score:\s*{TOTAL[PS1] - 4}(\.0)?\s*/\s*{TOTAL[PS1]}", text), "the feedback page shows the score"
    ps2 = _autograded(graded, "partial", PS2)
    assert "conv2d_valid(image, kernels, bias) against keras.layers.Conv2D" in cell_outputs_text(ps2, "q1_tests")
    same = cell_outputs_text(ps2, "q2_tests")  # caught only by the hidden test, which reveals no values
    assert "'same' padding, stride > 1" in same and "hidden check" in same, same
    ps3 = _autograded(graded, "partial", PS3)
    assert "confusion_matrix(y_true, y_pred, 3)" in cell_outputs_text(ps3, "q4_tests")
    assert "precision" in cell_outputs_text(ps3, "q5_tests")


@pytest.mark.slow
def test_feedback_exists_and_keeps_hidden_tests_hidden(graded):
    for (assignment, student) in EXPECTED_FAILS:
        page = graded.root / "feedback" / student / assignment / f"{assignment}.html"
        assert page.is_file(), page
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        cells = nbformat.read(str(_notebook(ROOT / "solutions" / assignment)), as_version=4).cells
        hidden_text = "\n".join("\n".join(_regions(c.source, *HIDDEN_MARKERS)) for c in cells)
        answer_text = "\n".join("\n".join(_regions(c.source, *SOLUTION_MARKERS)) for c in cells)
        # (a snippet that is also in an answer may be in the student's own answer, which feedback shows)
        hidden = [t for t in DISTINCTIVE[assignment] if t in hidden_text and t not in answer_text]
        for snippet in hidden:
            assert snippet not in text, f"hidden test text {snippet!r} in feedback for {student}/{assignment}"


@pytest.mark.slow
def test_a_raising_answer_cell_does_not_stop_grading(graded):
    nb = _autograded(graded, "raises")
    assert "NameError" in cell_outputs_text(nb, "q3_answer")
    assert "NameError: name 'class_templates' is not defined" in cell_outputs_text(nb, "q3_tests")


@pytest.mark.slow
def test_an_endless_loop_times_out_and_the_rest_is_graded(graded):
    nb = _autograded(graded, "loops")
    loop = cell_outputs_text(nb, "q5_answer")
    assert "CellTimeoutError" in loop or "KeyboardInterrupt" in loop, loop
    assert "name 'accuracy' is not defined" in cell_outputs_text(nb, "q5_tests")
    assert "\u2714 fit_logistic" in cell_outputs_text(nb, "q6_tests")  # cells after the loop ran


@pytest.mark.slow
def test_deleted_retyped_and_edited_cells_are_restored(graded):
    nb = _autograded(graded, "tampered")
    restored = _cell(nb, "q1_tests")
    assert restored.cell_type == "code"
    assert restored.source.startswith("# This cell (id:q1_tests) was missing from the submission.")
    assert "\u2714 flatten_images" in cell_outputs_text(nb, "q1_tests")
    assert _cell(nb, "q2_tests").cell_type == "code" and "\u2714 normalise" in cell_outputs_text(nb, "q2_tests")
    assert "BEGIN HIDDEN TESTS" in _cell(nb, "q3_tests").source  # the original test, not "pass"
    assert _cell(nb, "q4_answer").cell_type == "code"  # the student's answer, back to code and graded
    page = (graded.root / "feedback" / "tampered" / PS1 / f"{PS1}.html").read_text(encoding="utf-8")
    assert "was missing from the submission" in html.unescape(page)


@pytest.mark.slow
def test_a_notebook_stops_at_its_time_limit(graded):
    """Loops in several cells cost the per-notebook limit, not one per-cell timeout each."""
    root, env = graded.root, graded.env
    release = _notebook(root / "exercises" / PS1)
    answers = solution_answers(_notebook(root / "solutions" / PS1))
    for gid in ("q3_answer", "q5_answer", "q7_answer"):
        answers[gid] = "while True:\n    pass\n\n" + answers[gid]
    submit(root, "stalls", PS1, {release.name: build_submission(release, answers)})
    nbgrader(["autograde", PS1, "--student", "stalls", "--Execute.timeout=60",
              "--TimeLimitedExecute.notebook_timeout=20"], cwd=root, env=env)
    nb = _autograded(graded, "stalls")
    failed = {gid for gid in POINTS[PS1] if _failed(_cell(nb, gid))}
    assert failed >= {"q3_tests", "q4_tests", "q5_tests", "q6_tests", "q7_tests", "q8_tests"}, failed
    assert "NotebookTimeLimit" in cell_outputs_text(nb, "q8_tests")
    assert "time limit of 20 s" in cell_outputs_text(nb, "q6_tests")


def test_strip_solution_markers_keeps_the_code():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert strip_solution_markers(source) == "def f(x):\n    return x\n"
