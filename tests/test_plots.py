"""plots: the confusion matrix (bounded for many classes) and the calibration numbers."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import plots

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is not installed")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_calibration_error_on_a_case_computed_by_hand():
    # top probabilities 0.9 (right), 0.85 (wrong), 0.7 (right), 0.55 (wrong); five bins of width 0.2:
    # bin 0.8-1.0: 2 images, accuracy 0.5, confidence 0.875 -> gap 0.375
    # bin 0.6-0.8: 1 image, accuracy 1.0, confidence 0.7 -> gap 0.3
    # bin 0.4-0.6: 1 image, accuracy 0.0, confidence 0.55 -> gap 0.55
    # error = (2 * 0.375 + 0.3 + 0.55) / 4 = 0.4
    probabilities = np.array([[0.9, 0.1], [0.85, 0.15], [0.3, 0.7], [0.45, 0.55]])
    y_true = np.array([0, 1, 1, 0])
    result = plots.calibration(probabilities, y_true, bins=5)
    assert result.count.tolist() == [1, 1, 2]
    np.testing.assert_allclose(result.lower, [0.4, 0.6, 0.8])
    np.testing.assert_allclose(result.accuracy, [0.0, 1.0, 0.5])
    np.testing.assert_allclose(result.confidence, [0.55, 0.7, 0.875])
    assert result.error == pytest.approx(0.4)


def test_a_perfectly_calibrated_model_has_no_error():
    # ten images at confidence 0.8, eight of them right
    probabilities = np.tile([0.8, 0.2], (10, 1))
    y_true = np.array([0] * 8 + [1] * 2)
    assert plots.calibration(probabilities, y_true, bins=10).error == pytest.approx(0.0, abs=1e-12)


def test_reliability_diagram_titles_the_error():
    probabilities = np.array([[0.9, 0.1], [0.85, 0.15], [0.3, 0.7], [0.45, 0.55]])
    fig = plots.reliability_diagram(probabilities, [0, 1, 1, 0], bins=5)
    assert "calibration error 0.400" in fig.axes[0].get_title()


def test_confusion_matrix_counts_and_labels():
    fig = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], ["a", "b", "c"], title="T")
    ax = fig.axes[0]
    cells = sorted(t.get_text() for t in ax.texts)
    assert cells == sorted(["1", "1", "0", "0", "1", "0", "1", "0", "2"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title() == "T (6 images)"
    normalised = plots.confusion_matrix([0, 0, 1], [0, 1, 1], ["a", "b"], normalize="true")
    assert sorted(t.get_text() for t in normalised.axes[0].texts) == ["0.00", "0.50", "0.50", "1.00"]


def test_confusion_matrix_stays_bounded_for_many_classes(tmp_path):
    rng = np.random.default_rng(0)
    sizes = {}
    for k in (5, 31, 200):
        names = [f"class_{i:03d}" for i in range(k)]
        matrix = rng.integers(0, 5, size=(k, k))
        fig = plots.draw_confusion_matrix(matrix, names, standalone=True)
        ax = fig.axes[0]
        width, height = fig.get_size_inches()
        assert width <= plots.CONFUSION_MAX_INCHES and height <= plots.CONFUSION_MAX_INCHES
        if k <= plots.CONFUSION_VALUES_UP_TO:
            assert len(ax.texts) == k * k
        else:
            assert len(ax.texts) == 0  # colours only: no k*k text objects
            assert len(ax.get_xticklabels()) <= 60
        out = tmp_path / f"{k}.png"
        fig.savefig(out, dpi=100)
        sizes[k] = out.stat().st_size
    assert sizes[200] < 2_000_000  # a capped canvas, not one that grows with k*k


def test_confusion_matrix_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match="3 x 3"):
        plots.draw_confusion_matrix(np.zeros((2, 2), int), ["a", "b", "c"])
