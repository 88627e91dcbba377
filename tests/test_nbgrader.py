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
- autograding synthetic classes is in test_autograde.py (ps1) and test_autograde_cnn.py (ps2
  and ps3): separate files, so that pytest-xdist can run them on other workers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

from nbgrader_helpers import (
    ASSIGNMENTS,
    ROOT,
    build_submission,
    grade_id,
    grading_env,
    make_course,
    nbgrader,
    notebook_paths,
    solution_answers,
    strip_solution_markers,
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


def test_strip_solution_markers_keeps_the_code():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert strip_solution_markers(source) == "def f(x):\n    return x\n"
