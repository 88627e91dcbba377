"""Networks for the course: pretrained ImageNet models and their preprocessing.

Pretrained weights come from ``keras.applications`` (downloaded once into Keras's own cache,
``~/.keras/models``, with Keras's checksum). When they can be neither found nor downloaded,
:func:`pretrained_base` raises :class:`WeightsUnavailableError` naming the file, the URL and
the cache path, or -- only with ``COURSE_ALLOW_RANDOM_WEIGHTS=1`` -- builds the same
architecture with random weights and prints a loud warning.

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from course_utils import config

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Pretrained",
    "WeightsUnavailableError",
    "imagenet_top_k",
    "keras_cache_dir",
    "pretrained_base",
    "random_weights_banner",
]


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights are neither cached nor downloadable."""


@dataclass(frozen=True)
class Architecture:
    """What the course needs to know about one ``keras.applications`` network."""

    name: str
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications sub-module holding preprocess_input
    input_size: int  # the size it was trained at
    weights_file_notop: str
    weights_file_top: str
    url_base: str
    fine_tune_from: str  # name of the first layer unfrozen when fine-tuning the top blocks


_KA = "https://storage.googleapis.com/tensorflow/keras-applications/"

ARCHITECTURES: dict[str, Architecture] = {
    "inception_v3": Architecture(
        "inception_v3",
        "InceptionV3",
        "inception_v3",
        299,
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        _KA + "inception_v3/",
        "mixed9",  # the last two Inception blocks (mixed9, mixed10) are fine-tuned
    ),
    "mobilenet_v2": Architecture(
        "mobilenet_v2",
        "MobileNetV2",
        "mobilenet_v2",
        224,
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        _KA + "mobilenet_v2/",
        "block_15_expand",
    ),
}


@dataclass
class Pretrained:
    """A feature extractor (or full classifier) and how to feed it."""

    model: Any  # keras.Model
    preprocess: Callable[[Any], Any]  # keras.applications.<module>.preprocess_input
    input_size: int
    architecture: Architecture
    random_weights: bool  # True when ImageNet weights were unavailable (offline CI)


def keras_cache_dir() -> Path:
    """Where Keras caches downloaded weights (``$KERAS_HOME/models`` or ``~/.keras/models``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def random_weights_banner(name: str) -> str:
    line = "!" * 78
    return (
        f"{line}\n"
        f"!! RANDOM WEIGHTS: ImageNet weights for {name} could not be loaded, and\n"
        f"!! COURSE_ALLOW_RANDOM_WEIGHTS=1 is set, so the network has RANDOM weights.\n"
        f"!! Everything runs, but predictions and accuracies are meaningless:\n"
        f"!! they are NOT transfer-learning results. (Offline CI only.)\n"
        f"{line}"
    )


def pretrained_base(
    name: str = "inception_v3",
    *,
    include_top: bool = False,
    pooling: str | None = "avg",
    input_size: int | None = None,
    trainable: bool = False,
) -> Pretrained:
    """Build ``keras.applications.<Network>`` with ImageNet weights.

    With ``include_top=False`` (the default) the model maps an image batch to its
    bottleneck features (2048 numbers per image for Inception V3, with ``pooling="avg"``).
    ``input_size`` defaults to the size the network was trained at (299 for Inception V3).
    The model is frozen unless ``trainable=True``.
    """
    import keras

    try:
        arch = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose from {sorted(ARCHITECTURES)}") from None
    size = input_size or arch.input_size
    constructor = getattr(keras.applications, arch.constructor)
    module = getattr(keras.applications, arch.module)
    kwargs: dict[str, Any] = {"include_top": include_top}
    if include_top:
        size = arch.input_size
    else:
        kwargs.update(pooling=pooling, input_shape=(size, size, 3))
    weights_file = arch.weights_file_top if include_top else arch.weights_file_notop
    random_weights = False
    try:
        model = constructor(weights="imagenet", **kwargs)
    except Exception as exc:  # Keras raises a plain Exception for URL fetch failures
        cached = keras_cache_dir() / weights_file
        message = (
            f"Could not load the ImageNet weights for {arch.constructor}: {weights_file}\n"
            f"  downloaded from: {arch.url_base + weights_file}\n"
            f"  cached in:       {cached} ({'present but unreadable' if cached.exists() else 'not there'})\n"
            f"  reason:          {type(exc).__name__}: {str(exc)[:300]}\n"
            "Connect to the internet once (the file is then cached), or copy the file into "
            "that folder. For offline CI only, COURSE_ALLOW_RANDOM_WEIGHTS=1 builds the same "
            "network with random weights."
        )
        if not config.allow_random_weights():
            raise WeightsUnavailableError(message) from exc
        print(random_weights_banner(arch.constructor), file=sys.stderr, flush=True)
        config.set_seeds()
        model = constructor(weights=None, **kwargs)
        random_weights = True
    model.trainable = trainable
    return Pretrained(model, module.preprocess_input, size, arch, random_weights)


def imagenet_top_k(predictions: Any, k: int = 3) -> list[list[tuple[str, float]]]:
    """Human-readable top-k ImageNet labels for each row of ``predictions``.

    Uses ``keras.applications.imagenet_utils.decode_predictions``; when its label file
    cannot be downloaded (offline), labels fall back to ``"ImageNet class #N"``.
    """
    import numpy as np
    from keras.applications import imagenet_utils

    predictions = np.asarray(predictions)
    try:
        decoded = imagenet_utils.decode_predictions(predictions, top=k)
        return [[(label, float(p)) for _, label, p in row] for row in decoded]
    except Exception:  # offline: no imagenet_class_index.json
        out = []
        for row in predictions:
            top = np.argsort(row)[::-1][:k]
            out.append([(f"ImageNet class #{int(i)}", float(row[i])) for i in top])
        return out
