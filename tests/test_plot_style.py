"""The look of the course's figures: whole-number ticks on grids, no axis offsets, figure titles
that never overlap panel titles, and alternative text for screen readers. Each check has a
control showing that plain matplotlib would fail it, so the test can fail."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from course_utils import plots  # noqa: E402

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _ticks_are_whole(ax) -> bool:
    lo_x, hi_x = sorted(ax.get_xlim())
    lo_y, hi_y = sorted(ax.get_ylim())
    xs = [t for t in ax.get_xticks() if lo_x <= t <= hi_x]
    ys = [t for t in ax.get_yticks() if lo_y <= t <= hi_y]
    return bool(xs and ys) and all(float(t).is_integer() for t in xs + ys)


def _overlaps(a, b) -> bool:
    return a.width > 0 and b.width > 0 and a.overlaps(b)


def _suptitle_clear_of_panel_titles(fig) -> bool:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top = fig._suptitle.get_window_extent(renderer)
    return not any(_overlaps(top, ax.title.get_window_extent(renderer)) for ax in fig.axes if ax.get_title())


def test_small_grids_get_whole_number_ticks():
    kernel = RNG.normal(size=(3, 3))
    _, control = plt.subplots()
    control.imshow(kernel)
    control.figure.canvas.draw()
    assert not _ticks_are_whole(control)  # plain matplotlib: -0.5, 0.0, 0.5, ...

    _, ax = plt.subplots()
    ax.imshow(kernel)
    plots.integer_ticks(ax)
    ax.figure.canvas.draw()
    assert _ticks_are_whole(ax)

    fig = plots.pixel_grid(RNG.integers(0, 255, size=(4, 4)))
    fig.canvas.draw()
    assert _ticks_are_whole(fig.axes[0])


def test_loss_axes_have_no_offset_and_epochs_are_whole():
    loss = {"loss": [1.60951, 1.60945, 1.60941], "val_loss": [1.60953, 1.60949, 1.60946],
            "accuracy": [0.2, 0.21, 0.22], "val_accuracy": [0.19, 0.2, 0.2]}
    with matplotlib.rc_context({"axes.formatter.useoffset": True}):
        _, control = plt.subplots()
        control.plot([1, 2, 3], loss["loss"])
        control.figure.canvas.draw()
        assert control.yaxis.get_offset_text().get_text()  # plain matplotlib: "+1.609"

        fig = plots.learning_curves(loss)
        fig.canvas.draw()
    for ax in fig.axes:
        assert ax.yaxis.get_offset_text().get_text() == ""
        assert ax.xaxis.get_offset_text().get_text() == ""
        lo, hi = ax.get_xlim()
        assert all(float(t).is_integer() for t in ax.get_xticks() if lo <= t <= hi)


def test_use_course_style_turns_offsets_off_for_every_figure():
    with matplotlib.rc_context():
        plots.use_course_style()
        _, ax = plt.subplots()
        ax.plot([1, 2, 3], [1.60951, 1.60945, 1.60941])
        ax.figure.canvas.draw()
        assert ax.yaxis.get_offset_text().get_text() == ""


@pytest.mark.parametrize("make", [
    lambda: plots.filters(RNG.normal(size=(3, 3, 1, 16)), columns=8, title="The 16 learned 3x3 filters of conv1"),
    lambda: plots.feature_maps(RNG.normal(size=(8, 8, 16)), columns=8, title="conv1: 16 feature maps"),
    lambda: plots.image_grid(RNG.random((12, 8, 8)), titles=[f"true: a\npred: b ({i})" for i in range(12)],
                             columns=6, title="Misclassified: 12 of 40"),
    lambda: plots.weight_images(RNG.normal(size=(5, 64)), (8, 8), list("abcde"), title="What each class looks for"),
    lambda: plots.rgb_channels(RNG.integers(0, 255, size=(16, 16, 3), dtype=np.uint8)),
], ids=["filters", "feature_maps", "image_grid", "weight_images", "rgb_channels"])
def test_figure_titles_never_overlap_panel_titles(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no layout warnings in a student's notebook
        fig = make()
    assert fig.get_layout_engine() is not None
    assert _suptitle_clear_of_panel_titles(fig)


def test_legends_sit_where_they_hide_least():
    fig = plots.learning_curves({"before": {"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.2, 0.9]},
                                 "after": {"loss": [1.9, 0.9, 0.4], "val_loss": [2.0, 1.1, 0.8]}},
                                metrics=("loss",))
    assert fig.axes[0].get_legend()._loc == 0  # "best": matplotlib avoids the lines


def test_alt_text_names_the_titles_and_axes():
    fig = plots.learning_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, metrics=("loss",),
                                title="Training a small CNN")
    text = plots.alt_text(fig)
    assert text.startswith("Training a small CNN.")
    assert "1 panel: Loss." in text and "epoch against loss" in text
    assert plots.alt_text(plt.figure()) == "A figure without a title."


def test_notebook_figures_carry_alternative_text():
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        with matplotlib.rc_context():
            assert plots.use_course_style()
            fig = plots.filters(RNG.normal(size=(3, 3, 1, 4)), columns=4, title="Four filters")
            bundle, _ = shell.display_formatter.format(fig)
    finally:
        interactiveshell.InteractiveShell.clear_instance()
    assert "image/png" not in bundle  # the picture travels once, inside the HTML
    html = bundle["text/html"]
    assert html.startswith('<img alt="Four filters. 4 panels.') and "data:image/png;base64," in html
