"""Bottleneck features for retraining, computed once and cached on disk.

A *bottleneck* is what a frozen pretrained network (Inception V3, MobileNetV2) makes of one
image just before its ImageNet classifier: 2,048 numbers per image for Inception V3. Training
a new softmax layer on bottlenecks takes seconds; computing them takes minutes (about 10
images per second for Inception V3 on a 2-core CPU). So they are computed once per image and
kept in the course cache, the idea of TensorFlow for Poets' ``retrain.py``.

Cache key
    The SHA-256 of the image file's *bytes* (not its name or path: a renamed or copied
    photo is found again, an edited one is recomputed), the architecture, the input size,
    whether the network had ImageNet or random weights (random-weight features are never
    reused as real ones) and :data:`PIPELINE_VERSION` (decoding and resizing). One small
    ``.npy`` file per image under ``<bottleneck_dir>/<arch>-<size>px-<weights>-v<N>/``.

Extraction
    Files are decoded with Pillow (exactly as :func:`course_utils.data.load_image_arrays`
    does, so RGBA, grayscale, CMYK and WebP work and alpha is composited on black) in a
    ``tf.data`` pipeline that decodes the next batch while the network runs on this one,
    and each batch goes through one compiled forward pass. Only images not yet cached are
    read; features are written batch by batch, so memory stays flat however many images
    there are and an interrupted run keeps what it computed.

TensorFlow is imported inside the functions; importing this module is cheap.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from course_utils import config
from course_utils.files import atomic_save_npy, file_digest

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

    from course_utils.models import Pretrained

__all__ = [
    "PIPELINE_VERSION",
    "ExtractionResult",
    "Progress",
    "bottleneck_folder",
    "default_bottleneck_dir",
    "decoded_batches",
    "extract_features",
    "feature_extractor",
    "forward_speed",
    "image_dataset",
    "read_image",
]

#: Bumped whenever decoding or resizing changes, so old cached features are not reused.
#: 2: EXIF orientation applied, 16-bit images scaled, large images reduced before resizing.
PIPELINE_VERSION = 2


# --------------------------------------------------------------------------- cache keys


def default_bottleneck_dir() -> Path:
    """``<course cache>/bottlenecks`` (``COURSE_CACHE_DIR`` moves it)."""
    return config.cache_dir() / "bottlenecks"


def bottleneck_folder(
    architecture: str, input_size: int, random_weights: bool, root: str | os.PathLike | None = None,
    number_format: str = "float32",
) -> Path:
    """The cache folder for one (architecture, input size, weights, number format) combination."""
    weights = "random" if random_weights else "imagenet"
    base = Path(root) if root is not None else default_bottleneck_dir()
    numbers = "" if number_format == "float32" else f"-{number_format}"
    return base / f"{architecture}-{input_size}px-{weights}{numbers}-v{PIPELINE_VERSION}"


def _feature_path(folder: Path, digest: str) -> Path:
    return folder / digest[:2] / f"{digest}.npy"


def _load_cached(path: Path, dim: int | None) -> np.ndarray | None:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # missing or half-written by a run that was killed: recompute
    if value.ndim != 1 or (dim is not None and value.shape[0] != dim) or not np.all(np.isfinite(value)):
        return None
    return value.astype(np.float32, copy=False)


# --------------------------------------------------------------------------- decoding


def read_image(path: str | os.PathLike, image_size: int | tuple[int, int]) -> np.ndarray:
    """Decode one file to RGB ``uint8`` of ``image_size`` with Pillow.

    The same decoder as :func:`course_utils.data.load_image_arrays` (alpha composited on
    black, grayscale/CMYK converted, JPEGs decoded at reduced scale when much larger than
    needed), so training, feature extraction and ``course-classify`` see identical pixels.
    Raises ``OSError``/``ValueError`` for files Pillow cannot read.
    """
    from course_utils import data

    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return data._read_rgb(Path(path), size)


def image_dataset(
    paths: Sequence[str | os.PathLike], image_size: int, *, batch_size: int = 32,
    labels: Sequence[int] | np.ndarray | None = None, shuffle: bool = False, seed: int = config.SEED,
) -> "tf.data.Dataset":
    """Stream ``(images, ok)`` batches: float32 images 0-255 and a per-image success flag; with
    ``labels``, ``(images, labels)`` batches for ``fit`` and ``predict`` instead.

    Files are decoded by :func:`read_image` (Pillow, as for the bottlenecks), two at a time,
    one batch ahead of the consumer; nothing is cached in memory. A file that cannot be
    decoded yields a black image with ``ok=False`` instead of stopping the stream.
    ``shuffle`` reorders the files every epoch (seeded).
    """
    import tensorflow as tf

    size = int(image_size)

    def load(path: bytes) -> tuple[np.ndarray, bool]:
        try:
            return read_image(os.fsdecode(path), size), True  # any file name, UTF-8 or not
        except Exception:  # noqa: BLE001 - reported by the caller, by path
            return np.zeros((size, size, 3), np.uint8), False

    def tf_load(path):
        image, ok = tf.numpy_function(load, [path], [tf.uint8, tf.bool], stateful=False)
        image.set_shape((size, size, 3))
        ok.set_shape(())
        return tf.cast(image, tf.float32), ok

    names = tf.constant([os.fsencode(p) for p in paths], dtype=tf.string)  # any file name
    if labels is None:
        ds = tf.data.Dataset.from_tensor_slices(names)
    else:
        ds = tf.data.Dataset.from_tensor_slices((names, np.asarray(labels, dtype=np.int64)))
    if shuffle:
        ds = ds.shuffle(max(1, len(paths)), seed=seed, reshuffle_each_iteration=True)
    if labels is None:
        ds = ds.map(tf_load, num_parallel_calls=2, deterministic=True)
    else:
        ds = ds.map(lambda path, label: (tf_load(path)[0], label), num_parallel_calls=2, deterministic=True)
    return ds.batch(batch_size).prefetch(2)


def decoded_batches(
    paths: Sequence[str | os.PathLike], image_size: int, *, batch_size: int = 32
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(images, ok)`` batches for the network: float32 images 0-255 and a per-image success flag.

    One background thread decodes the next batch (with :func:`read_image`; Pillow releases the GIL)
    while the caller runs the network on this one. On one core it costs next to nothing; a
    ``tf.data`` pipeline in its place measured about 15 % slower there (its worker threads compete
    with the network's), with no gain on two cores. A file that cannot be decoded gives a black
    image with ``ok=False`` instead of stopping the stream.
    """
    from concurrent.futures import ThreadPoolExecutor

    size = int(image_size)
    files = list(paths)

    def load(start: int) -> tuple[np.ndarray, np.ndarray]:
        chunk = files[start:start + batch_size]
        images = np.zeros((len(chunk), size, size, 3), np.float32)
        ok = np.ones(len(chunk), bool)
        for i, path in enumerate(chunk):
            try:
                images[i] = read_image(path, size)
            except Exception:  # noqa: BLE001 - reported by the caller, by path
                ok[i] = False
        return images, ok

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
        upcoming = pool.submit(load, 0) if files else None
        for start in range(0, len(files), batch_size):
            batch = upcoming.result()
            if start + batch_size < len(files):
                upcoming = pool.submit(load, start + batch_size)
            yield batch


# --------------------------------------------------------------------------- the network


def feature_extractor(net: "Pretrained") -> tuple[Any, Callable[[Any], Any]]:
    """``(model, forward)`` for a pretrained base: raw 0-255 images in, bottlenecks out.

    ``model`` is ``preprocessing + base`` as one Keras model; ``forward`` is its compiled
    inference call (one ``tf.function``, traced once per batch shape).
    """
    import keras
    import tensorflow as tf

    from course_utils import models

    size = net.input_size
    inputs = keras.Input((size, size, 3), name="image")
    outputs = net.model(models.preprocessing_layer(net.architecture.name)(inputs), training=False)
    model = keras.Model(inputs, outputs, name=f"{net.architecture.name}_features")

    @tf.function(reduce_retracing=True)
    def forward(images):
        return model(images, training=False)

    return model, forward


def forward_speed(
    forward: Callable[[Any], Any], input_size: int, *, batch_size: int = 32, batches: int = 3, warmup: int = 1
) -> float:
    """Images per second of ``forward`` on random input (the network's raw speed)."""
    import tensorflow as tf

    images = tf.random.uniform((batch_size, input_size, input_size, 3), 0, 255, seed=config.SEED)
    for _ in range(warmup):
        forward(images).numpy()
    start = time.perf_counter()
    for _ in range(batches):
        forward(images).numpy()
    return batches * batch_size / (time.perf_counter() - start)


# --------------------------------------------------------------------------- progress


class Progress:
    """A progress bar: Keras's own on a terminal or in Jupyter, a line every ~10% in logs."""

    def __init__(self, total: int, label: str, *, verbose: int = 1, unit: str = "image",
                 interactive: bool | None = None):
        self.total, self.label, self.verbose, self.unit = total, label, verbose, unit
        self.done = 0
        self.start = time.perf_counter()
        self._next_line = 0.1
        if interactive is None:
            interactive = (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or "ipykernel" in sys.modules
        self._bar = None
        if verbose and interactive and total > 0:
            import keras

            print(label, flush=True)
            self._bar = keras.utils.Progbar(total, unit_name=unit)
        elif verbose and total > 0:
            print(f"{label}: {total} {unit}s", flush=True)

    def update(self, n: int) -> None:
        self.done += n
        if not self.verbose or self.total <= 0:
            return
        if self._bar is not None:
            self._bar.update(self.done, values=[("per_s", self.rate)])
        elif self.done / self.total >= self._next_line or self.done >= self.total:
            left = (self.total - self.done) / self.rate if self.rate else 0.0
            print(f"  {self.done}/{self.total} {self.unit}s ({self.done / self.total:.0%}), "
                  f"{self.rate:.1f} {self.unit}s/s, about {left:.0f} s left", flush=True)
            while self._next_line <= self.done / self.total:
                self._next_line += 0.1

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0


# --------------------------------------------------------------------------- extraction


@dataclass
class ExtractionResult:
    """Bottlenecks for a list of files, and what it cost."""

    features: np.ndarray  # (n, dim) float32; rows of failed files are NaN
    digests: list[str]
    n_extracted: int  # images run through the network this time
    n_cached: int  # images whose features came from the cache
    failed: list[Path] = field(default_factory=list)  # files that could not be decoded
    seconds: float = 0.0  # wall time of the whole call (hashing, reading the cache, extracting)
    extract_seconds: float = 0.0  # wall time of the extraction loop alone
    folder: Path | None = None  # the cache folder used
    random_weights: bool = False

    @property
    def images_per_second(self) -> float:
        """Extraction speed over the images actually run through the network."""
        return self.n_extracted / self.extract_seconds if self.extract_seconds > 0 else float("nan")

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the rows that hold features."""
        return np.all(np.isfinite(self.features), axis=1) if len(self.features) else np.zeros(0, bool)


def extract_features(
    paths: Sequence[str | os.PathLike],
    net: "Pretrained | None" = None,
    *,
    architecture: str = "inception_v3",
    input_size: int | None = None,
    batch_size: int = 32,
    bottleneck_dir: str | os.PathLike | None = None,
    verbose: int = 1,
    forward: Callable[[Any], Any] | None = None,
) -> ExtractionResult:
    """Bottleneck features of ``paths``, from the cache where possible.

    ``net`` is a :class:`course_utils.models.Pretrained` base (built with
    :func:`course_utils.models.pretrained_base` from ``architecture``/``input_size`` when
    not given; that may raise :class:`~course_utils.models.WeightsUnavailableError`).
    Only images whose features are not in the cache are decoded and run through the
    network, in batches of ``batch_size``; ``verbose=0`` prints nothing. Files that cannot
    be decoded are listed in ``failed`` and get a row of NaN.
    """
    from course_utils import models

    started = time.perf_counter()
    files = [Path(p) for p in paths]
    digests = [file_digest(p) for p in files]
    if net is None:
        net = models.pretrained_base(architecture, input_size=input_size)
    policy = getattr(getattr(net.model, "dtype_policy", None), "name", "float32")  # mixed_bfloat16 with COURSE_BF16
    folder = bottleneck_folder(net.architecture.name, net.input_size, net.random_weights, bottleneck_dir,
                               number_format=policy)
    dim = int(net.model.output_shape[-1])
    features = np.full((len(files), dim), np.nan, dtype=np.float32)

    todo: dict[str, list[int]] = {}  # digest -> rows (identical files are extracted once)
    for row, digest in enumerate(digests):
        cached = _load_cached(_feature_path(folder, digest), dim) if digest not in todo else None
        if cached is not None:
            features[row] = cached
        else:
            todo.setdefault(digest, []).append(row)
    n_cached = len(files) - sum(len(rows) for rows in todo.values())

    failed: list[Path] = []
    extract_seconds = 0.0
    extracted = 0
    if todo:
        if forward is None:
            _, forward = feature_extractor(net)
        order = list(todo)
        progress = Progress(len(order), f"Extracting {net.architecture.name} bottlenecks "
                            f"({net.input_size} px, batch {batch_size})", verbose=verbose)
        loop_start = time.perf_counter()
        stream = decoded_batches([files[todo[d][0]] for d in order], net.input_size, batch_size=batch_size)
        position = 0
        cache_ok = True
        for images, ok in stream:
            values = forward(images).numpy().astype(np.float32)
            for j in range(len(values)):
                digest = order[position + j]
                if not ok[j]:
                    failed.extend(files[r] for r in todo[digest])
                    continue
                if cache_ok:
                    try:
                        atomic_save_npy(_feature_path(folder, digest), values[j], durable=False)  # checked on load
                    except OSError as exc:  # a full or read-only cache: go on, keep the features in memory
                        cache_ok = False
                        warnings.warn(f"could not write to the bottleneck cache {folder} ({exc.strerror or exc}); "
                                      "going on without caching (free some space, or set COURSE_CACHE_DIR or "
                                      "--bottleneck_dir to a disk with room)", stacklevel=2)
                features[todo[digest]] = values[j]
                extracted += 1
            position += len(values)
            progress.update(len(values))
        extract_seconds = time.perf_counter() - loop_start
    return ExtractionResult(
        features=features,
        digests=digests,
        n_extracted=extracted,
        n_cached=n_cached,
        failed=failed,
        seconds=time.perf_counter() - started,
        extract_seconds=extract_seconds,
        folder=folder,
        random_weights=net.random_weights,
    )
