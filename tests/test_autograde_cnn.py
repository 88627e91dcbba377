"""Autograding the synthetic ps2 (CNN by hand) and ps3 (transfer learning) classes with real nbgrader.

The ps1 class, the class builders and the grading run (`grade_classes`) are in test_autograde.py;
this file grades ps2 and ps3 in its own course copy and gradebook, so that pytest-xdist can run it
beside the ps1 file on another worker.
"""

from __future__ import annotations

import pytest

from nbgrader_helpers import cell_outputs_text
from test_autograde import (
    _autograded,
    _cell,
    _failed,
    check_exported_scores,
    check_expected_cells,
    check_feedback_keeps_hidden_tests_hidden,
    check_tampering_reports,
    grade_classes,
)
from test_nbgrader import POINTS, PS2, PS3
from test_nbgrader import course  # noqa: F401  (the module-scoped fixture: a course copy for this file)


@pytest.fixture(scope="module")
def graded(course):
    return grade_classes(course, (PS2, PS3))


@pytest.mark.slow
def test_every_student_loses_exactly_the_expected_cells(graded):
    check_expected_cells(graded)


@pytest.mark.slow
def test_exported_scores_and_the_grading_report(graded):
    check_exported_scores(graded)


@pytest.mark.slow
def test_nothing_is_reported_as_tampered(graded):
    check_tampering_reports(graded, set())


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
    # nothing on standard error: no TensorFlow start-up notices
    setup = _cell(_autograded(graded, "solution", PS2), "setup")
    assert not [o for o in setup.outputs if o.output_type == "stream" and o.name == "stderr"]


@pytest.mark.slow
def test_gamed_answers_get_messages_that_say_why(graded):
    keras_gamer = _autograded(graded, "gamer_keras", PS2)
    assert "must be computed by hand" in cell_outputs_text(keras_gamer, "q1_tests")
    assert "keras" in cell_outputs_text(keras_gamer, "q2_tests")
    assert "renamed labels" in cell_outputs_text(keras_gamer, "q4_tests")
    lookup = _autograded(graded, "gamer_lookup", PS2)
    assert "by hand" in cell_outputs_text(lookup, "q1_tests") and "scipy" in cell_outputs_text(lookup, "q1_tests")
    assert "held-back digits" in cell_outputs_text(lookup, "q4_tests")
    sk = _autograded(graded, "gamer_sklearn", PS3)
    assert "sklearn" in cell_outputs_text(sk, "q4_tests") and "sklearn" in cell_outputs_text(sk, "q5_tests")


@pytest.mark.slow
def test_partly_wrong_submissions_get_readable_feedback(graded):
    ps2 = _autograded(graded, "partial", PS2)
    assert "conv2d_valid(image, kernels, bias) against keras.layers.Conv2D" in cell_outputs_text(ps2, "q1_tests")
    same = cell_outputs_text(ps2, "q2_tests")  # caught only by the hidden test, which reveals no values
    assert "'same' padding, stride > 1" in same and "hidden check" in same, same
    ps3 = _autograded(graded, "partial", PS3)
    assert "confusion_matrix(y_true, y_pred, 3)" in cell_outputs_text(ps3, "q4_tests")
    assert "precision" in cell_outputs_text(ps3, "q5_tests")


@pytest.mark.slow
def test_feedback_exists_and_keeps_hidden_tests_hidden(graded):
    check_feedback_keeps_hidden_tests_hidden(graded)
