"""The nbgrader round trip, with real nbgrader: a real gradebook database and real kernels.

Everything runs in a temporary copy of the course directory (nbgrader_config.py, solutions/,
exercises/); course_utils is importable in the kernels because it is installed. The kernels
run with COURSE_FAST=1, COURSE_ALLOW_RANDOM_WEIGHTS=1 and a temporary COURSE_CACHE_DIR.

- the committed exercises/ is byte for byte what `nbgrader generate_assignment` makes from
  solutions/, and holds no solution or hidden-test text;
- `nbgrader validate` passes every solution, and `--invert` fails every released notebook;
- a synthetic class for ps1_pixels (the fastest assignment) -- the solution, the blank
  release, a partly wrong answer, an answer cell that raises, an endless loop, and a student
  who deleted, retyped and edited cells -- goes through `autograde`, `generate_feedback` and
  `export`; ps2_cnn and ps3_transfer are graded for the solution, the blank release and a
  partly wrong answer (a visible and a hidden test failing).

The module takes about five minutes on a 2-core machine.
"""

from __future__ import annotations

import html
import json
import re
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
                   "LogisticRegression(max_iter=1000).fit", "distances.argmin(axis=1)", "zeros_and_ones"],
    "ps2_cnn": ["np.tensordot(window, kernels, axes=3)", "compute_output_shape", "-(-size // stride)",
                "build_cnn(input_shape=(12, 12, 3), num_classes=4)", "held_accuracy"],
    "ps3_transfer": ["model.trainable = False", "in_place_preprocess", "np.add.at(matrix",
                     "make_blobs(101, 5, 32, 40)", "where=predicted > 0"],
}

PS1 = "ps1_pixels"
PS1_POINTS = {"q1_tests": 1, "q2_tests": 2, "q3_tests": 2, "q4_tests": 2, "q5_tests": 1, "q6_tests": 2}

# The synthetic class and the scores nbgrader must give it.
EXPECTED_SCORES = {
    (PS1, "solution"): (10, 10),
    (PS1, "blank"): (0, 10),
    (PS1, "partial"): (10 - PS1_POINTS["q2_tests"] - PS1_POINTS["q4_tests"], 10),  # 6
    (PS1, "raises"): (10 - PS1_POINTS["q3_tests"], 10),  # 8
    (PS1, "loops"): (10 - PS1_POINTS["q5_tests"], 10),  # 9
    (PS1, "tampered"): (10, 10),
    ("ps2_cnn", "solution"): (11, 11),
    ("ps2_cnn", "blank"): (0, 11),
    ("ps2_cnn", "partial"): (11 - 3 - 2, 11),  # q1 (3 points) and q2 (2 points) wrong: 6
    ("ps3_transfer", "solution"): (12, 12),
    ("ps3_transfer", "blank"): (0, 12),
    ("ps3_transfer", "partial"): (12 - 2 - 2, 12),  # q4 (2 points) and q5 (2 points) wrong: 8
}
LOOP_TIMEOUT = 10  # seconds per cell for the ps1 class (the real config says 60)


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
    assert f"· {total} points" in source.cells[0].source, "the introduction states the wrong number of points"


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


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_passes_every_solution(course, assignment):
    path = _notebook(course.root / "solutions" / assignment)
    done = nbgrader(["validate", str(path)], cwd=course.root, env=course.env)
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout + done.stderr[-3000:]
    assert "VALIDATION FAILED" not in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_invert_fails_every_release(course, assignment):
    path = _notebook(course.root / "exercises" / assignment)
    done = nbgrader(["validate", "--invert", str(path)], cwd=course.root, env=course.env)
    assert "Success! The notebook does not pass any tests." in done.stdout, done.stdout + done.stderr[-3000:]
    assert "NOTEBOOK PASSED ON" not in done.stdout


# --------------------------------------------------------------------------- a graded class


def _ps1_class(release: Path, answers: dict[str, str]) -> dict[str, nbformat.NotebookNode]:
    partial = dict(answers)
    # Divides by 255 (the photo habit) instead of max_value, picks the farthest template, and
    # tries to switch a test helper off (test cells import their helpers again).
    partial["q2_answer"] = answers["q2_answer"].replace("/ max_value", "/ 255.0")
    partial["q4_answer"] = (answers["q4_answer"].replace("argmin", "argmax")
                            + "\n\ncheck_equal = lambda *args, **kwargs: None\n")
    raises = dict(answers)
    raises["q3_answer"] = "templates = average_images_somehow()\n\n" + answers["q3_answer"]
    loops = dict(answers)
    loops["q5_answer"] = "while True:\n    pass\n\n" + answers["q5_answer"]
    return {
        "solution": build_submission(release, answers),
        "blank": build_submission(release, {}),
        "partial": build_submission(release, partial),
        "raises": build_submission(release, raises),
        "loops": build_submission(release, loops),
        "tampered": build_submission(
            release, answers,
            delete=["q1_tests"],
            retype={"q2_tests": "markdown", "q4_answer": "markdown"},
            replace={"q3_tests": "pass  # the student's own, easier test"},
        ),
    }


def _partial(assignment: str, answers: dict[str, str]) -> dict[str, str]:
    """Typical mistakes in ps2 and ps3, each caught by one graded test cell."""
    wrong = dict(answers)

    def swap(gid: str, old: str, new: str) -> None:
        assert old in wrong[gid], f"{assignment}/{gid}: the solution no longer contains {old!r}"
        wrong[gid] = wrong[gid].replace(old, new)

    if assignment == "ps2_cnn":
        swap("q1_answer", "axes=3) + bias", "axes=3)")  # forgets the bias: visible test fails
        swap("q2_answer", "-(-size // stride)", "size // stride")  # 'same' rounds down: hidden test fails
    elif assignment == "ps3_transfer":
        swap("q4_answer", "(np.asarray(y_true), np.asarray(y_pred))", "(np.asarray(y_pred), np.asarray(y_true))")
        swap("q5_answer", "predicted = matrix.sum(axis=0)", "predicted = matrix.sum(axis=1)")  # precision = recall
    return wrong


@pytest.fixture(scope="module")
def graded(course):
    """Submit, autograde, generate feedback and export the synthetic class."""
    root, env = course.root, course.env
    logs, seconds = {}, {}
    for assignment in ASSIGNMENTS:
        release = _notebook(root / "exercises" / assignment)
        answers = solution_answers(_notebook(root / "solutions" / assignment))
        assert set(answers) == {f"q{i}_answer" for i in range(1, len(answers) + 1)}
        if assignment == PS1:
            students = _ps1_class(release, answers)
        else:
            students = {"solution": build_submission(release, answers), "blank": build_submission(release, {}),
                        "partial": build_submission(release, _partial(assignment, answers))}
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
            nbformat.write(students.pop("solution"), str(fetched))
            nbgrader(["submit", assignment, "--student=solution", *exchange], cwd=home, env=env)
            nbgrader(["collect", assignment, *exchange], cwd=root, env=env)
            assert (root / "submitted" / "solution" / assignment / release.name).is_file()
            assert (root / "submitted" / "solution" / assignment / "timestamp.txt").is_file()
            students = {"solution": None, **students}
        for student, nb in students.items():
            if nb is not None:
                submit(root, student, assignment, {release.name: nb})
        if assignment == PS1:
            start = time.perf_counter()
            done = nbgrader(["autograde", assignment, f"--Execute.timeout={LOOP_TIMEOUT}"], cwd=root, env=env)
            seconds[(assignment, "class")] = time.perf_counter() - start
            logs[assignment] = done.stdout + done.stderr
        else:
            for student in students:
                start = time.perf_counter()
                done = nbgrader(["autograde", assignment, "--student", student], cwd=root, env=env)
                seconds[(assignment, student)] = time.perf_counter() - start
                logs[(assignment, student)] = done.stdout + done.stderr
    for assignment in ASSIGNMENTS:
        nbgrader(["generate_feedback", assignment], cwd=root, env=env)
    nbgrader(["export", "--to", str(root / "grades.csv")], cwd=root, env=env)
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "autograde_seconds.json").write_text(
        json.dumps({"/".join(k): round(v, 1) for k, v in seconds.items()}, indent=2) + "\n")
    return SimpleNamespace(root=root, env=env, logs=logs, seconds=seconds,
                           grades=read_grades(root / "grades.csv"))


def _autograded(graded, student: str, assignment: str = PS1) -> nbformat.NotebookNode:
    return nbformat.read(str(graded.root / "autograded" / student / assignment / f"{assignment}.ipynb"), as_version=4)


def _cell(nb, gid):
    return next(cell for cell in nb.cells if grade_id(cell) == gid)


def _failed(cell) -> bool:
    return any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
               for o in cell.get("outputs", []))


@pytest.mark.slow
def test_exported_scores(graded):
    submitted = {key: (score, top) for key, (score, top, was_submitted) in graded.grades.items() if was_submitted}
    assert submitted == {key: (float(s), float(m)) for key, (s, m) in EXPECTED_SCORES.items()}
    # nbgrader also exports a zero for every student who did not submit an assignment
    missing = {key: score for key, (score, _, was_submitted) in graded.grades.items() if not was_submitted}
    assert set(missing) == {(a, s) for a in ASSIGNMENTS[1:] for s in ("raises", "loops", "tampered")}
    assert set(missing.values()) == {0.0}


@pytest.mark.slow
def test_grading_runs_in_fast_mode_with_real_checks(graded):
    nb = _autograded(graded, "solution", "ps2_cnn")
    assert "EPOCHS = 5" in cell_outputs_text(nb, "setup")  # NBGRADER_EXECUTION -> fast mode
    for gid in ("q1_tests", "q2_tests", "q3_tests", "q4_tests"):
        assert "\u2714" in cell_outputs_text(nb, gid) and not _failed(_cell(nb, gid)), gid
    assert "BEGIN HIDDEN TESTS" in _cell(nb, "q4_tests").source  # hidden tests were restored and run


@pytest.mark.slow
def test_partly_wrong_submission_gets_readable_feedback(graded):
    nb = _autograded(graded, "partial")
    failed = sorted(grade_id(c) for c in nb.cells if grade_id(c) in PS1_POINTS and _failed(c))
    assert failed == ["q2_tests", "q4_tests"]
    assert "GradingError" in cell_outputs_text(nb, "q2_tests")
    page = (graded.root / "feedback" / "partial" / PS1 / f"{PS1}.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "normalise(x).max(): expected 1, found 0.06275" in text
    assert "Hint: the darkest digit pixel (16) should become 1.0" in text
    assert "nearest_template(points, corners): 4 of 4 entries differ; at [0] expected 0, found 1" in text
    assert re.search(r"Score:\s*6(\.0)?\s*/\s*10", text), "the feedback page should show the score"


@pytest.mark.slow
def test_partly_wrong_ps2_and_ps3_lose_exactly_the_right_cells(graded):
    wrong = {"ps2_cnn": {"q1_tests", "q2_tests"}, "ps3_transfer": {"q4_tests", "q5_tests"}}
    for assignment, expected in wrong.items():
        nb = _autograded(graded, "partial", assignment)
        tests = {grade_id(c) for c in nb.cells if grade_id(c).endswith("_tests")}
        assert {gid for gid in tests if _failed(_cell(nb, gid))} == expected, assignment
    ps2 = _autograded(graded, "partial", "ps2_cnn")
    assert "conv2d_valid(image, kernels, bias) against keras.layers.Conv2D" in cell_outputs_text(ps2, "q1_tests")
    same = cell_outputs_text(ps2, "q2_tests")  # caught only by the hidden test, which reveals no values
    assert "'same' padding, stride > 1" in same and "hidden check" in same, same
    ps3 = _autograded(graded, "partial", "ps3_transfer")
    assert "confusion_matrix(y_true, y_pred, 3)" in cell_outputs_text(ps3, "q4_tests")
    assert "precision" in cell_outputs_text(ps3, "q5_tests")


@pytest.mark.slow
def test_feedback_exists_and_keeps_hidden_tests_hidden(graded):
    for (assignment, student) in EXPECTED_SCORES:
        page = graded.root / "feedback" / student / assignment / f"{assignment}.html"
        assert page.is_file(), page
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        hidden = [t for t in DISTINCTIVE[assignment] if t in "\n".join(
            "\n".join(_regions(c.source, *HIDDEN_MARKERS))
            for c in nbformat.read(str(_notebook(ROOT / "solutions" / assignment)), as_version=4).cells)]
        for snippet in hidden:
            assert snippet not in text, f"hidden test text {snippet!r} in feedback for {student}/{assignment}"


@pytest.mark.slow
def test_a_raising_answer_cell_does_not_stop_grading(graded):
    nb = _autograded(graded, "raises")
    assert "NameError" in cell_outputs_text(nb, "q3_answer")
    assert "NameError: name 'class_templates' is not defined" in cell_outputs_text(nb, "q3_tests")
    for gid in set(PS1_POINTS) - {"q3_tests"}:
        assert not _failed(_cell(nb, gid)) and "\u2714" in cell_outputs_text(nb, gid), gid


@pytest.mark.slow
def test_an_endless_loop_times_out_and_the_rest_is_graded(graded):
    nb = _autograded(graded, "loops")
    loop = cell_outputs_text(nb, "q5_answer")
    assert "CellTimeoutError" in loop or "KeyboardInterrupt" in loop, loop
    assert "name 'accuracy' is not defined" in cell_outputs_text(nb, "q5_tests")
    for gid in set(PS1_POINTS) - {"q5_tests"}:
        assert not _failed(_cell(nb, gid)), gid
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
    assert "\u2714 class_templates" in cell_outputs_text(nb, "q3_tests")
    assert _cell(nb, "q4_answer").cell_type == "code"  # the student's answer, back to code and graded
    log = graded.logs[PS1]
    assert "Missing grade cell q1_tests" in log
    assert "Attribute 'cell_type' for cell q2_tests has changed" in log
    assert "Attribute 'cell_type' for cell q4_answer has changed" in log
    assert "Attribute 'checksum' for cell q3_tests has changed" in log
    page = (graded.root / "feedback" / "tampered" / PS1 / f"{PS1}.html").read_text(encoding="utf-8")
    assert "was missing from the submission" in html.unescape(page)


def test_strip_solution_markers_keeps_the_code():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert strip_solution_markers(source) == "def f(x):\n    return x\n"
