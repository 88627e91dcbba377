"""Autograding synthetic classes with real nbgrader (tools/grade.py, generate_feedback, export): ps1.

Split from test_nbgrader.py (which holds the course copy, validate and the student release), and
ps2 and ps3 in test_autograde_cnn.py, so that pytest-xdist can run the three files on different
workers; each makes its own course copy (the `course` fixture, module-scoped) and gradebook.
This file holds the class builders and the grading run that both autograde files use.

Synthetic classes go through tools/grade.py (one `nbgrader autograde` per assignment),
`generate_feedback` and `export`: solutions, blank releases, partly wrong answers, a raising
cell, an endless loop, deleted/retyped/edited cells, renamed cell ids, a Colab "Copy of"
hand-in, a late hand-in, a misnamed file, a student who handed in nothing, and an adversarial
class that games questions (the forbidden library, hard-coded answers, a lookup table instead
of a network, a network trained on other data, patched checks); a notebook that loops past the
per-notebook limit stops being run there.

Artifacts: tests/artifacts/autograde_seconds_<assignments>.json and adversarial_<assignments>.json.
"""

from __future__ import annotations

import csv
import html
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from nbgrader_helpers import (
    ASSIGNMENTS,
    ROOT,
    build_submission,
    cell_outputs_text,
    grade_id,
    nbgrader,
    read_grades,
    solution_answers,
    submit,
)

from test_nbgrader import (
    DISTINCTIVE,
    DUE,
    EXPECTED_FAILS,
    GAMING,
    HIDDEN_MARKERS,
    LATE_PENALTY,
    LOOP_TIMEOUT,
    POINTS,
    PS1,
    PS2,
    PS3,
    SOLUTION_MARKERS,
    TOTAL,
    _notebook,
    _regions,
)
from test_nbgrader import course  # noqa: F401  (the module-scoped fixture: a course copy for this file)


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


def grade_classes(course, assignments: tuple[str, ...]) -> SimpleNamespace:
    """Hand in, autograde (tools/grade.py), generate feedback and export the synthetic classes of `assignments`."""
    root, env = course.root, course.env
    seconds, counts, logs = {}, {}, {}
    builders = {PS1: _ps1_class, PS2: _ps2_class, PS3: _ps3_class}
    if PS1 in assignments:
        nbgrader(["db", "assignment", "add", PS1, f"--duedate={DUE}"], cwd=root, env=env)
    nbgrader(["db", "student", "add", "absent", "--last-name=Away", "--first-name=Al"], cwd=root, env=env)
    for assignment in assignments:
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
    for assignment in assignments:
        start = time.perf_counter()
        if assignment == PS1:
            done = _grade(root, env, [PS1], [f"--Execute.timeout={LOOP_TIMEOUT}"])
        else:
            done = _grade(root, env, [assignment])
        seconds[assignment] = time.perf_counter() - start
        logs[assignment] = done.stdout + done.stderr
        if assignment == PS1:
            assert done.returncode == 1, logs[PS1][-3000:]  # one hand-in (homework.ipynb) cannot be graded
        else:
            assert done.returncode == 0, logs[assignment][-4000:]
    # The report covers every assignment graded here: grade.py again, with nothing new to grade.
    done = _grade(root, env, list(assignments))
    with open(root / "grading_report.csv", newline="") as handle:
        report = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    for assignment in assignments:
        nbgrader(["generate_feedback", assignment], cwd=root, env=env)
    nbgrader(["export", "--to", str(root / "grades.csv")], cwd=root, env=env)
    tag = "_".join(a.split("_")[0] for a in assignments)
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"autograde_seconds_{tag}.json").write_text(json.dumps(
        {a: {"class_seconds": round(seconds[a], 1), "submissions": counts[a],
             "seconds_per_submission": round(seconds[a] / counts[a], 1)} for a in assignments}, indent=2) + "\n")
    return SimpleNamespace(root=root, env=env, logs=logs, seconds=seconds, report=report, tag=tag,
                           assignments=tuple(assignments), grades=read_grades(root / "grades.csv"))


@pytest.fixture(scope="module")
def graded(course):
    return grade_classes(course, (PS1,))


def _autograded(graded, student: str, assignment: str = PS1) -> nbformat.NotebookNode:
    return nbformat.read(str(graded.root / "autograded" / student / assignment / f"{assignment}.ipynb"), as_version=4)


def _cell(nb, gid):
    return next(cell for cell in nb.cells if grade_id(cell) == gid)


def _failed(cell) -> bool:
    return any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
               for o in cell.get("outputs", []))


# --------------------------------------------------------------------------- checks for every graded class

def check_expected_cells(graded) -> None:
    """Each synthetic student of these assignments fails exactly the test cells EXPECTED_FAILS names."""
    table = {}
    expected = {key: fails for key, fails in EXPECTED_FAILS.items() if key[0] in graded.assignments}
    assert {a for a, _ in expected} == set(graded.assignments)
    for (assignment, student), fails in expected.items():
        nb = _autograded(graded, student, assignment)
        failed = {gid for gid in POINTS[assignment] if _failed(_cell(nb, gid))}
        table[f"{assignment}/{student}"] = {
            "score": float(graded.report[(assignment, student)]["score"]),
            "max_score": TOTAL[assignment],
            "failed_test_cells": sorted(failed),
            "gaming": GAMING.get((assignment, student), {}),
        }
        assert failed == fails, f"{assignment}/{student}: failed {sorted(failed)}, expected {sorted(fails)}"
    (ROOT / "tests" / "artifacts" / f"adversarial_{graded.tag}.json").write_text(json.dumps(table, indent=2) + "\n")


def check_exported_scores(graded) -> None:
    """nbgrader's export and grade.py's report agree with EXPECTED_FAILS; everyone else is 'missing'."""
    expected = {key: fails for key, fails in EXPECTED_FAILS.items() if key[0] in graded.assignments}
    for (assignment, student), fails in expected.items():
        raw = TOTAL[assignment] - sum(POINTS[assignment][gid] for gid in fails)
        final = raw * (1 - LATE_PENALTY) if student == "late" else raw
        score, top, handed_in = graded.grades[(assignment, student)]
        assert (score, top, handed_in) == (pytest.approx(final), TOTAL[assignment], True), (assignment, student)
        row = graded.report[(assignment, student)]
        assert row["status"] == "graded", row
        assert (float(row["raw_score"]), float(row["score"])) == (pytest.approx(raw), pytest.approx(final)), row
    assert {a for a, _ in graded.report} == set(graded.assignments)
    for (assignment, student), row in graded.report.items():
        if (assignment, student) not in expected and student != "misnamed":
            assert row["status"] == "missing" and row["score"] == "", row  # nbgrader's export says 0 here
    for assignment in graded.assignments:
        assert graded.report[(assignment, "absent")]["status"] == "missing"


def check_tampering_reports(graded, expected: set[tuple[str, str]]) -> None:
    """grade.py's TAMPERED lines name exactly the `expected` (student, what) pairs."""
    log = "".join(graded.logs[a] for a in graded.assignments)
    assert "Attribute 'checksum'" not in log  # the hidden tests cut from the release are not news
    tampered = re.findall(r"\[course\] TAMPERED student (\S+?): (.*)", log)
    assert {(student, what.split(";")[0]) for student, what in tampered} == expected, tampered


def check_feedback_keeps_hidden_tests_hidden(graded) -> None:
    for (assignment, student) in EXPECTED_FAILS:
        if assignment not in graded.assignments:
            continue
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


# --------------------------------------------------------------------------- ps1

@pytest.mark.slow
def test_every_student_loses_exactly_the_expected_cells(graded):
    check_expected_cells(graded)


@pytest.mark.slow
def test_exported_scores_and_the_grading_report(graded):
    check_exported_scores(graded)
    misnamed = graded.report[(PS1, "misnamed")]
    assert misnamed["status"] == "failed" and "no notebook named ps1_pixels.ipynb (found: homework.ipynb)" in \
        misnamed["notes"], misnamed
    assert "graded 'Copy of ps1_pixels.ipynb' as 'ps1_pixels.ipynb'" in graded.report[(PS1, "colab")]["notes"]
    assert "1 day(s) late" in graded.report[(PS1, "late")]["notes"]
    assert "renamed" in graded.report[(PS1, "renamed")]["notes"]
    assert "TAMPERED locked cell q3_tests was edited" in graded.report[(PS1, "tampered")]["notes"]


@pytest.mark.slow
def test_tampering_is_reported_only_where_it_happened(graded):
    check_tampering_reports(graded, {
        ("tampered", "locked cell q3_tests was edited"),
        ("tampered", "cell q2_tests was changed from code to markdown"),
        ("tampered", "cell q4_answer was changed from code to markdown"),
    })
    assert "Missing grade cell q1_tests" in graded.logs[PS1]


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
def test_the_set_up_cell_prints_nothing_on_standard_error(graded):
    setup = _cell(_autograded(graded, "solution", PS1), "setup")  # no TensorFlow start-up notices
    assert setup.outputs and not [o for o in setup.outputs if o.output_type == "stream" and o.name == "stderr"]


@pytest.mark.slow
def test_patched_checks_do_not_switch_off_the_hidden_ones(graded):
    ps1 = _autograded(graded, "gamer", PS1)
    for gid in ("q2_tests", "q4_tests"):  # the visible checks were switched off; the hidden ones were not
        assert "hidden check" in cell_outputs_text(ps1, gid) and "\u2714" not in cell_outputs_text(ps1, gid), gid


@pytest.mark.slow
def test_partly_wrong_submission_gets_readable_feedback(graded):
    page = (graded.root / "feedback" / "partial" / PS1 / f"{PS1}.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "normalise(x).max(): expected 1, found 0.06275" in text
    assert "Hint: the darkest digit pixel (16) should become 1.0" in text
    assert "nearest_template(points, corners): 4 of 4 entries differ; at [0] expected 0, found 1" in text
    assert re.search(rf"Score:\s*{TOTAL[PS1] - 4}(\.0)?\s*/\s*{TOTAL[PS1]}", text), "the feedback page shows the score"


@pytest.mark.slow
def test_feedback_exists_and_keeps_hidden_tests_hidden(graded):
    check_feedback_keeps_hidden_tests_hidden(graded)


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
              "--TimeLimitedExecute.notebook_timeout=10"], cwd=root, env=env)
    nb = _autograded(graded, "stalls")
    failed = {gid for gid in POINTS[PS1] if _failed(_cell(nb, gid))}
    assert failed >= {"q3_tests", "q4_tests", "q5_tests", "q6_tests", "q7_tests", "q8_tests"}, failed
    assert "NotebookTimeLimit" in cell_outputs_text(nb, "q8_tests")
    assert "time limit of 10 s" in cell_outputs_text(nb, "q6_tests")
