"""The pictures the lessons show, drawn with matplotlib.

Colours come from colour-blind-friendly palettes (``cividis`` for images of values, the
Okabe-Ito set for lines); every axis that carries a quantity is titled. Figures use
constrained layout (titles never overlap), whole-number ticks on grids of pixels and no
axis offsets; :func:`use_course_style` gives every figure alternative text in notebooks. Each function
returns the matplotlib ``Figure`` so a notebook can save or tweak it.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import numpy as np

__all__ = [
    "CONFUSION_MAX_INCHES",
    "CONFUSION_VALUES_UP_TO",
    "OKABE_ITO",
    "Calibration",
    "calibration",
    "class_balance",
    "confidence_histogram",
    "alt_text",
    "integer_ticks",
    "no_offset",
    "use_course_style",
    "confusion_matrix",
    "draw_confusion_matrix",
    "feature_maps",
    "filters",
    "image_grid",
    "learning_curves",
    "misclassified_gallery",
    "pixel_grid",
    "reliability_diagram",
    "rgb_channels",
    "weight_images",
]

#: Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------- style
#
# Every figure here uses constrained layout, so a figure title (suptitle) never overlaps
# the panel titles, colour bars and legends get room of their own. Grids of pixels get
# whole-number ticks (no -0.5, 0.5); quantity axes never get an offset ("+1.609").


def _integer_locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def integer_ticks(ax) -> None:
    """Whole-number ticks on both axes: rows and columns of a grid of pixels or weights."""
    ax.xaxis.set_major_locator(_integer_locator())
    ax.yaxis.set_major_locator(_integer_locator())


def no_offset(ax, axis: str = "both") -> None:
    """Show tick labels as the numbers themselves, never as an offset plus small steps."""
    from matplotlib.ticker import ScalarFormatter

    for which in ("x", "y") if axis == "both" else (axis,):
        formatter = getattr(ax, f"{which}axis").get_major_formatter()
        if isinstance(formatter, ScalarFormatter):
            formatter.set_useOffset(False)


def alt_text(fig) -> str:
    """A short description of a figure for screen readers, built from its titles and labels."""
    parts = []
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    if suptitle:
        parts.append(suptitle.strip().rstrip(".") + ".")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles = [ax.get_title().replace("\n", " ").strip() for ax in panels if ax.get_title().strip()]
    count = f"{len(panels)} panel{'s' if len(panels) != 1 else ''}"
    if titles:
        shown = "; ".join(titles[:12]) + ("; ..." if len(titles) > 12 else "")
        parts.append(f"{count}: {shown}.")
    elif len(panels) > 1:
        parts.append(f"{count}.")
    axes_labels = sorted({f"{ax.get_xlabel()} against {ax.get_ylabel()}" for ax in panels
                          if ax.get_xlabel() and ax.get_ylabel()})
    if axes_labels:
        parts.append("Axes: " + "; ".join(axes_labels[:4]) + ".")
    return " ".join(parts) or "A figure without a title."


def _figure_html(fig) -> str | None:
    import base64
    import html

    from IPython.core.pylabtools import print_figure

    if not fig.axes:
        return None
    data = print_figure(fig, "png", bbox_inches="tight")
    if not data:
        return None
    width = int(fig.get_figwidth() * fig.dpi)
    return (f'<img alt="{html.escape(alt_text(fig))}" style="max-width:100%" width="{width}" '
            f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">')


def use_course_style() -> bool:
    """Course-wide figure settings for this kernel (called by ``models.lesson_setup``).

    No axis offsets anywhere, and inside IPython every figure is shown as an image with
    alternative text (its titles and axis labels), so screen readers can say what a plot
    shows. Returns whether the IPython part was installed.
    """
    import matplotlib

    matplotlib.rcParams["axes.formatter.useoffset"] = False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return False
    shell = get_ipython()
    if shell is None:
        return False
    from matplotlib.figure import Figure

    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(Figure, _figure_html)
    formatters["image/png"].type_printers.pop(Figure, None)  # the HTML carries the same PNG once
    return True


def _show_image(ax, image: np.ndarray) -> None:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        ax.imshow(image, cmap="gray")
    else:
        if image.dtype != np.uint8:
            lo, hi = float(image.min()), float(image.max())
            image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    *,
    titles: Sequence[str] | None = None,
    columns: int = 6,
    size: float = 1.8,
    title: str | None = None,
):
    """Show images in a grid, each titled with its class name (or a given title)."""
    plt = _plt()
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    cols = min(columns, n) if n else 1
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size + (0.4 if title else 0)),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        _show_image(ax, images[i])
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        elif labels is not None:
            label = int(labels[i])
            ax.set_title(class_names[label] if class_names else str(label), fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def pixel_grid(image: np.ndarray, *, title: str = "Every pixel is a number", annotate: bool = True):
    """Show a small grayscale image with each pixel's value written on it."""
    plt = _plt()
    image = np.asarray(image)
    fig, ax = plt.subplots(figsize=(0.45 * image.shape[1] + 1.5, 0.45 * image.shape[0] + 1), layout="constrained")
    shown = ax.imshow(image, cmap="gray")
    if annotate and image.size <= 32 * 32:
        mid = (float(image.max()) + float(image.min())) / 2
        for (r, c), value in np.ndenumerate(image):
            text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
            ax.text(c, r, text, ha="center", va="center", fontsize=7, color="black" if value > mid else "white")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    integer_ticks(ax)
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, label="pixel value")
    return fig


def learning_curves(histories: Mapping[str, object] | object, *, metrics: Sequence[str] = ("loss", "accuracy"),
                    title: str | None = None):
    """Plot training and validation curves from one or more ``keras.callbacks.History``.

    ``histories`` is a History (or its ``.history`` dict), or a mapping from a run's name to
    one, for before/after comparisons.
    """
    plt = _plt()
    if not isinstance(histories, Mapping) or "loss" in histories:
        histories = {"": histories}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6),
                             squeeze=False, layout="constrained")
    for (name, hist), colour in zip(histories.items(), OKABE_ITO * 3):
        record = getattr(hist, "history", hist)
        for ax, metric in zip(axes.flat, metrics):
            if metric in record:
                epochs = np.arange(1, len(record[metric]) + 1)
                ax.plot(epochs, record[metric], color=colour, label=f"{name} training".strip())
            if f"val_{metric}" in record:
                epochs = np.arange(1, len(record[f"val_{metric}"]) + 1)
                ax.plot(epochs, record[f"val_{metric}"], color=colour, linestyle="--",
                        label=f"{name} validation".strip())
    for ax, metric in zip(axes.flat, metrics):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric.capitalize())
        ax.grid(alpha=0.3)
        no_offset(ax)  # a loss near 1.6 reads 1.61, not 0.001 + 1.609
        ax.xaxis.set_major_locator(_integer_locator())  # epochs are whole numbers
        ax.legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    return fig


def filters(weights: np.ndarray, *, columns: int = 8, title: str = "Learned filters"):
    """Show the kernels of a Conv2D layer (``weights`` of shape ``(h, w, in, out)``).

    RGB kernels (``in == 3``) are shown in colour; others show their first input channel.
    """
    plt = _plt()
    weights = np.asarray(weights)
    n = weights.shape[-1]
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, min(columns, n), figsize=(min(columns, n) * 1.1, rows * 1.1 + 0.5),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        kernel = weights[..., i]
        if kernel.shape[-1] == 3:
            lo, hi = kernel.min(), kernel.max()
            ax.imshow((kernel - lo) / (hi - lo + 1e-12))
        else:
            ax.imshow(kernel[..., 0], cmap="cividis")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return fig


def feature_maps(maps: np.ndarray, *, columns: int = 8, limit: int = 32, title: str = "Feature maps"):
    """Show the channels of one image's activations (``maps`` of shape ``(h, w, channels)``)."""
    plt = _plt()
    maps = np.asarray(maps)
    if maps.ndim == 4:
        maps = maps[0]
    n = min(maps.shape[-1], limit)
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, min(columns, n), figsize=(min(columns, n) * 1.3, rows * 1.3 + 0.5),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(maps[..., i], cmap="cividis")
        ax.set_title(f"#{i}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return fig


#: Past this many classes the confusion matrix shows colours only (no number in each cell).
CONFUSION_VALUES_UP_TO = 30
#: The confusion-matrix figure grows with the classes up to this many inches a side.
CONFUSION_MAX_INCHES = 12.0


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str], *,
                     normalize: str | None = None, title: str = "Confusion matrix"):
    """Plot scikit-learn's confusion matrix (rows: true class, columns: predicted class).

    ``normalize="true"`` divides each row by its count (recall on the diagonal). See
    :func:`draw_confusion_matrix` for how many classes are drawn.
    """
    from sklearn.metrics import confusion_matrix as count_confusions

    matrix = count_confusions(y_true, y_pred, labels=list(range(len(class_names))), normalize=normalize)
    return draw_confusion_matrix(matrix, class_names, title=f"{title} ({len(y_true)} images)")


def draw_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], *, title: str = "Confusion matrix",
                          standalone: bool = False):
    """Draw a confusion matrix (counts, or fractions when ``matrix`` holds floats) with
    ``sklearn.metrics.ConfusionMatrixDisplay``; return the figure.

    The drawing stays bounded however many classes there are: the figure grows with the
    classes up to :data:`CONFUSION_MAX_INCHES` a side, cells carry their number only up to
    :data:`CONFUSION_VALUES_UP_TO` classes, and past that the class names thin out to about
    sixty per axis. ``standalone=True`` makes a figure outside pyplot (for scripts that save
    it; it is freed when dropped), otherwise it goes through pyplot for the notebook.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    matrix = np.asarray(matrix)
    k = len(class_names)
    if matrix.shape != (k, k):
        raise ValueError(f"a confusion matrix for {k} classes must be {k} x {k}, got {matrix.shape}")
    side = min(CONFUSION_MAX_INCHES, 1.0 * k + 2.5)
    if standalone:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(side, side - 0.5))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig, ax = _plt().subplots(figsize=(side, side - 0.5))
    values = k <= CONFUSION_VALUES_UP_TO
    ConfusionMatrixDisplay(matrix, display_labels=list(class_names)).plot(
        include_values=values, cmap="cividis", ax=ax, colorbar=not values,
        values_format=".2f" if np.issubdtype(matrix.dtype, np.floating) else "d",
    )
    fontsize = 10 if k <= 12 else max(4.0, 10 - k / 10)
    step = max(1, int(np.ceil(k / 60)))
    ticks = list(range(0, k, step))
    ax.set_xticks(ticks, [class_names[i] for i in ticks], rotation=30 if k <= 12 else 90,
                  ha="right" if k <= 12 else "center", fontsize=fontsize)
    ax.set_yticks(ticks, [class_names[i] for i in ticks], fontsize=fontsize)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    return fig


class Calibration(NamedTuple):
    """How honest the top predicted probability is, bin by bin (only bins holding images)."""

    accuracy: np.ndarray  # fraction of the bin's predictions that are right
    confidence: np.ndarray  # mean top probability in the bin
    count: np.ndarray  # images in the bin
    lower: np.ndarray  # the bin's lower edge
    error: float  # expected calibration error: image-weighted mean |accuracy - confidence|


def calibration(probabilities: np.ndarray, y_true: Sequence[int], *, bins: int = 5) -> Calibration:
    """Bin the top predicted probability into ``bins`` equal-width bins and compare it with the
    accuracy in each (``sklearn.calibration.calibration_curve``); see :class:`Calibration`."""
    from sklearn.calibration import calibration_curve

    probabilities = np.asarray(probabilities)
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        raise ValueError("no predictions to calibrate")
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y_true).astype(int)
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=bins, strategy="uniform", pos_label=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=bins)  # as calibration_curve bins
    filled = np.flatnonzero(counts)
    error = float(np.sum(counts[filled] / len(y_true) * np.abs(accuracy - mean_confidence)))
    return Calibration(accuracy, mean_confidence, counts[filled], edges[filled], error)


def misclassified_gallery(images: np.ndarray, y_true: Sequence[int], probabilities: np.ndarray,
                          class_names: Sequence[str], *, limit: int = 12, columns: int = 6):
    """Show misclassified images, most confident mistakes first, with true/predicted labels."""
    probabilities = np.asarray(probabilities)
    y_true = np.asarray(y_true)
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    wrong = wrong[np.argsort(-probabilities[wrong, y_pred[wrong]])][:limit]
    titles = [
        f"true: {class_names[y_true[i]]}\npred: {class_names[y_pred[i]]} ({probabilities[i, y_pred[i]]:.0%})"
        for i in wrong
    ]
    if len(wrong) == 0:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, "No misclassified images", ha="center", va="center")
        ax.axis("off")
        return fig
    return image_grid([images[i] for i in wrong], titles=titles, columns=columns, size=2.0,
                      title=f"Misclassified: {len(np.flatnonzero(y_pred != y_true))} of {len(y_true)}")


# --------------------------------------------------------------------------- data and linear models


def class_balance(counts: Mapping[str, int], *, title: str = "Images per class", ylabel: str = "images"):
    """Bar chart of how many images each class has (``counts``: class name -> number).

    A dashed line marks the mean, so an under-represented class stands out.
    """
    plt = _plt()
    names = list(counts)
    values = [int(counts[n]) for n in names]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(names) + 2), 3.4), layout="constrained")
    bars = ax.bar(names, values, color=OKABE_ITO[0])
    ax.bar_label(bars, fontsize=8)
    if values:
        ax.axhline(float(np.mean(values)), color=OKABE_ITO[3], linestyle="--", label=f"mean {np.mean(values):.0f}")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("class")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} ({sum(values)} in total)")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    return fig


def rgb_channels(image: np.ndarray, *, title: str = "One colour photo = three grids of numbers"):
    """Show an RGB image next to its red, green and blue channels (each as a grayscale grid)."""
    plt = _plt()
    image = np.asarray(image)
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6), layout="constrained")
    _show_image(axes[0], image)
    axes[0].set_title(f"the photo {image.shape}")
    for ax, channel, name in zip(axes[1:], range(3), ("red", "green", "blue")):
        shown = ax.imshow(image[..., channel], cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else None)
        ax.set_title(f"{name} channel [..., {channel}]")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=list(axes[1:]), label="brightness of the channel (0-255)", shrink=0.8)
    fig.suptitle(title)
    return fig


def weight_images(weights: np.ndarray, shape: Sequence[int], class_names: Sequence[str], *,
                  title: str = "What each class looks for"):
    """Show a linear model's weights (one row per class) reshaped as images.

    ``weights`` has shape ``(n_classes, n_pixels)`` (for example ``LogisticRegression.coef_``)
    and ``shape`` is the image shape, ``(8, 8)`` or ``(32, 32, 3)``. Grayscale weights use a
    diverging colour-blind-friendly map centred on zero (orange: evidence for the class,
    purple: evidence against); RGB weights are rescaled to 0-1 for display.
    """
    plt = _plt()
    weights = np.asarray(weights)
    n = len(weights)
    fig, axes = plt.subplots(1, n, figsize=(1.6 * n + 1.2, 2.2), squeeze=False, layout="constrained")
    limit = float(np.abs(weights).max()) or 1.0
    shown = None
    for ax, row, name in zip(axes.flat, weights, class_names):
        image = row.reshape(shape)
        if image.ndim == 3:
            lo, hi = image.min(), image.max()
            ax.imshow((image - lo) / (hi - lo + 1e-12))
        else:
            shown = ax.imshow(image, cmap="PuOr_r", vmin=-limit, vmax=limit)
        ax.set_title(str(name), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if shown is not None:
        fig.colorbar(shown, ax=list(axes.flat), label="weight", shrink=0.8)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- confidence


def confidence_histogram(probabilities: np.ndarray, y_true: Sequence[int], *, bins: int = 10,
                         title: str = "How sure is the model?"):
    """Histogram of the top predicted probability, split into correct and wrong predictions.

    ``probabilities`` has one row per image (softmax outputs); ``y_true`` the true class
    indices. Correct predictions are drawn in blue, wrong ones in orange (Okabe-Ito), stacked,
    so the picture shows both how often the model is sure and how often it is sure and wrong.
    """
    plt = _plt()
    probabilities = np.asarray(probabilities)
    y_true = np.asarray(y_true)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    low = 1.0 / probabilities.shape[1] if probabilities.ndim == 2 and probabilities.shape[1] else 0.0
    edges = np.linspace(low, 1.0, bins + 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.hist([confidence[correct], confidence[~correct]], bins=edges, stacked=True,
            color=[OKABE_ITO[0], OKABE_ITO[1]], edgecolor="white",
            label=[f"correct ({int(correct.sum())})", f"wrong ({int((~correct).sum())})"])
    ax.set_xlabel("confidence: the highest predicted probability")
    ax.set_ylabel("images")
    ax.set_title(f"{title} ({len(y_true)} images)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def reliability_diagram(probabilities: np.ndarray, y_true: Sequence[int], *, bins: int = 5,
                        title: str = "Is the confidence honest?"):
    """Accuracy against confidence, in ``bins`` equal-width confidence bins (a calibration plot).

    A perfectly calibrated model lies on the dashed diagonal: of the images it labels with
    80 % confidence, 80 % are right. Bars below the diagonal mean over-confidence. Each bar is
    labelled with the number of images in its bin; empty bins are left out. Returns the figure;
    the expected calibration error (the image-weighted mean gap) is shown in the title.
    """
    plt = _plt()
    result = calibration(probabilities, y_true, bins=bins)
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    bars = ax.bar(result.lower, result.accuracy, width=1.0 / bins, align="edge", color=OKABE_ITO[0],
                  edgecolor="white", label="accuracy in the bin")
    ax.bar_label(bars, labels=[f"{n}" for n in result.count], fontsize=7)
    ax.plot(result.confidence, result.accuracy, "o", color=OKABE_ITO[1], markersize=4,
            label="mean confidence in the bin")
    ax.plot([0, 1], [0, 1], linestyle="--", color=OKABE_ITO[7], linewidth=1, label="perfectly calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("confidence (highest predicted probability)")
    ax.set_ylabel("fraction of predictions that are correct")
    ax.set_title(f"{title}\n{int(result.count.sum())} images, calibration error {result.error:.3f}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
