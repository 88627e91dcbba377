"""Networks for the course: pretrained ImageNet models and their preprocessing.

Pretrained weights come from ``keras.applications`` (downloaded once into Keras's own cache,
``~/.keras/models``, with Keras's checksum). When they can be neither found nor downloaded,
:func:`pretrained_base` raises :class:`WeightsUnavailableError` naming the file, the URL and
the cache path, or -- only with ``COURSE_ALLOW_RANDOM_WEIGHTS=1`` -- builds the same
architecture with random weights and prints a loud warning.

It is also where TensorFlow starts: :func:`start_tensorflow` (quietly, once) and
:func:`lesson_setup` (the first cell of every lesson). TensorFlow is imported inside the
functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from course_utils import config

__all__ = [
    "ARCHITECTURES",
    "Architecture",

    "Pretrained",
    "WeightsUnavailableError",
    "imagenet_top_k",
    "keras_cache_dir",
    "lesson_setup",
    "number_format",
    "preprocessing_layer",
    "pretrained_base",
    "random_weights_banner",
    "start_tensorflow",
]


# --------------------------------------------------------------------------- starting TensorFlow


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send what native (C/C++) code writes to file descriptor 2 to the null device, for a while.

    TensorFlow's start-up notices (the oneDNN note, "Could not find cuda drivers", a failed
    ``cuInit`` on a machine without a GPU) are written there by its C++ logger, whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says, and a notebook shows them as a red box that alarms
    students. Where file descriptor 2 cannot be duplicated it does nothing.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (some embedded consoles)
        saved = None
    if saved is None:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_tensorflow() -> Any:
    """Import TensorFlow without its start-up notices and return the ``tensorflow`` module.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless already set), imports TensorFlow and runs one
    tiny operation (which probes the devices) with native standard error sent to the null
    device, then turns TensorFlow's Python logger down to errors (no retracing warnings).
    Import errors still raise; calling it again costs nothing.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced():
        import tensorflow as tf

        tf.constant(1.0) + 1.0  # the first operation probes the devices (more notices)
    tf.get_logger().setLevel(logging.ERROR)
    return tf


def number_format() -> str:
    """Choose the Keras dtype policy for what is built next and return its name.

    ``"mixed_bfloat16"`` when ``COURSE_BF16=1`` and the processor does bfloat16 in hardware
    (:func:`course_utils.config.bfloat16_enabled`): layers then compute in bfloat16 and keep
    their weights in float32. Otherwise ``"float32"``, Keras's default. Call it before building
    models: a model keeps the policy it was built with.
    """
    import keras

    name = "mixed_bfloat16" if config.bfloat16_enabled() else "float32"
    keras.mixed_precision.set_global_policy(name)
    return name


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def lesson_setup(*, tensorflow: bool = True, quiet: bool = False) -> config.Environment:
    """The set-up every lesson runs first: versions, platform, CPU/GPU, data, modes, seeds.

    Prints a short report (unless ``quiet``), warns about versions that are too old, seeds
    every random generator with :data:`course_utils.config.SEED` and returns the detected
    :class:`~course_utils.config.Environment`. With ``tensorflow=False`` TensorFlow is not
    imported (lessons that only use NumPy and scikit-learn start faster).
    """
    env = config.detect_environment()
    lines = [f"Running on: {env}"]
    for name in ("numpy", "scikit-learn", "matplotlib", "ipywidgets"):
        lines.append(f"  {name:<13} {_version(name) or 'not installed'}")
    if tensorflow:
        tf = start_tensorflow()
        import keras

        gpus = tf.config.list_physical_devices("GPU")
        lines.append(f"  {'tensorflow':<13} {tf.__version__}")
        lines.append(f"  {'keras':<13} {keras.__version__}")
        lines.append(f"  devices       {'GPU x%d' % len(gpus) if gpus else 'CPU only'}")
        if number_format() != "float32":  # COURSE_BF16=1 on a processor with bfloat16 arithmetic
            lines.append(f"  numbers       bfloat16 mixed precision (COURSE_BF16=1: {config.bfloat16_support()[1]})")
        major, minor = (int(x) for x in tf.__version__.split(".")[:2])
        if (major, minor) < (2, 16) or not keras.__version__.startswith("3"):
            lines.append("  WARNING: this course needs TensorFlow 2.16+ with Keras 3; "
                         "run `pip install -r requirements.txt`.")
    configured = config.data_dir()
    where = f"COURSE_DATA_DIR={configured}" if configured else f"downloaded on first use into {config.cache_dir()}"
    lines.append(f"  data          {where}")
    modes = [m for m, on in (("FAST (small subsets, few epochs)", config.fast_mode()),
                             ("grading", config.grading_mode()),
                             ("random weights allowed", config.allow_random_weights())) if on]
    lines.append(f"  mode          {', '.join(modes) if modes else 'full'}")
    if config.SEED != config.DEFAULT_SEED:
        lines.append(f"  seed          {config.SEED} (COURSE_SEED; the default is {config.DEFAULT_SEED})")
    config.set_seeds()
    from course_utils import plots  # figures: no axis offsets, alternative text for screen readers

    plots.use_course_style()
    if not quiet:
        print("\n".join(lines))
    return env


# --------------------------------------------------------------------------- pretrained networks


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
        if arch.name == "inception_v3" or size == arch.input_size or include_top:
            # The file Keras is about to load (MobileNetV2 picks another file for other sizes): fetched, or
            # found in the cache, before the network is built, so that offline the failure comes before a
            # build and not after one (Keras builds the whole network, then asks for its weights).
            keras.utils.get_file(weights_file, arch.url_base + weights_file, cache_subdir="models")
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


# --------------------------------------------------------------------------- preprocessing


def preprocessing_layer(name: str) -> Any:
    """A serialisable Keras layer doing ``keras.applications.<name>.preprocess_input``.

    Inception V3 and MobileNetV2 both scale 0-255 pixels to -1..1, which is
    ``Rescaling(1/127.5, offset=-1)``. Putting this layer in front of the network makes a
    saved model that takes raw images (no ``Lambda``, so it loads in safe mode).
    """
    import keras

    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {sorted(ARCHITECTURES)}")
    # Both course networks use preprocess_input(mode="tf"): x / 127.5 - 1.
    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=f"{name}_preprocess")
