"""Datasets for the course: flower photos, scikit-learn digits, a synthetic set, folder
validation, deterministic splits and tf.data pipelines.

TensorFlow is imported only inside :func:`make_tf_dataset`; everything else needs NumPy and
Pillow alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from course_utils import config
from course_utils.files import atomic_save_npy, file_digest

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

__all__ = [
    "FLOWERS_SHA256",
    "FLOWERS_URL",
    "IMAGE_EXTENSIONS",
    "DataNotFoundError",
    "ImageFolderError",
    "Issue",
    "Split",
    "ValidationReport",
    "class_folders",
    "download",
    "flower_photos",
    "list_images",
    "load_digits",
    "load_flower_arrays",
    "load_image_arrays",
    "make_synthetic_dataset",
    "make_tf_dataset",
    "split_by_hash",
    "split_folder",
    "validate_image_folder",
    "which_split",
]

#: The public flower photos archive (3,670 CC-BY photos in five class folders).
FLOWERS_URL = "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
#: SHA-256 of ``flower_photos.tgz`` (228,813,984 bytes), as published by TensorFlow Datasets.
FLOWERS_SHA256 = "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c"

#: File extensions the course treats as images.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")

# Files that live in data folders but are not images and not worth a warning.
_IGNORED_NAMES = {"license.txt", "readme.md", "readme.txt", ".ds_store", "thumbs.db", "desktop.ini"}


class DataNotFoundError(RuntimeError):
    """The data cannot be found locally and cannot be downloaded."""


class ImageFolderError(ValueError):
    """An image folder cannot be used (for example: fewer than two classes)."""


# --------------------------------------------------------------------------- downloads


def download(url: str, sha256: str, *, filename: str | None = None, extract: bool = False) -> Path:
    """Download ``url`` once into the course cache and verify its SHA-256.

    A second call finds the file in the cache and makes no request. A file whose checksum
    does not match is not kept. With ``extract=True`` a ``.tgz``/``.tar.gz``/``.zip`` is
    unpacked next to it (once) and the folder it was unpacked into is returned.

    Raises :class:`DataNotFoundError` naming the URL, the cache path and
    ``COURSE_DATA_DIR`` when the download fails (for example offline).
    """
    import pooch

    folder = config.cache_dir() / "downloads"
    name = filename or url.rsplit("/", 1)[-1]
    target = folder / name
    processor = None
    if extract:
        processor = pooch.Unzip(extract_dir=name + ".d") if name.endswith(".zip") else pooch.Untar(
            extract_dir=name + ".d"
        )
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname=name,
            path=folder,
            processor=processor,
            progressbar=False,
        )
    except ValueError as exc:  # pooch: hash mismatch (the bad file is not kept)
        raise DataNotFoundError(
            f"The file downloaded from {url} is corrupt or has changed: its SHA-256 does not "
            f"match {sha256}. Nothing was kept at {target}. Try again later, or download it "
            "yourself, unpack it and set COURSE_DATA_DIR to the folder that holds it."
        ) from exc
    except Exception as exc:  # network errors come from requests/urllib, several types
        raise DataNotFoundError(
            f"Could not download {url} ({type(exc).__name__}: {exc}).\n"
            f"The course caches downloads in {folder}. If you are offline, download the file "
            f"elsewhere, unpack it, and set COURSE_DATA_DIR to the folder that contains it "
            f"(for example COURSE_DATA_DIR=/path/to/data with /path/to/data/flower_photos/)."
        ) from exc
    return folder / (name + ".d") if extract else target


def flower_photos(*, allow_download: bool = True) -> Path:
    """Return the ``flower_photos`` folder (one sub-folder per class).

    ``COURSE_DATA_DIR`` wins when it is set: the folder itself, or its ``flower_photos``
    sub-folder, is used and nothing is downloaded. Otherwise the public archive is downloaded
    once into the course cache, checked against :data:`FLOWERS_SHA256` and unpacked.
    """
    configured = config.data_dir()
    if configured is not None:
        for candidate in (configured / "flower_photos", configured):
            if candidate.is_dir() and len(class_folders(candidate)) >= 2:
                return candidate
        raise DataNotFoundError(
            f"COURSE_DATA_DIR is set to {configured}, but neither it nor "
            f"{configured / 'flower_photos'} holds class folders of images. Point "
            "COURSE_DATA_DIR at the folder that contains flower_photos/, or unset it to "
            f"download the photos from {FLOWERS_URL}."
        )
    if not allow_download:
        raise DataNotFoundError(
            f"The flower photos are not available locally. Set COURSE_DATA_DIR, or allow the "
            f"download from {FLOWERS_URL}."
        )
    root = download(FLOWERS_URL, FLOWERS_SHA256, extract=True)
    return root / "flower_photos" if (root / "flower_photos").is_dir() else root


def load_digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's 8x8 handwritten digits (ships with scikit-learn, works offline).

    Returns ``(images, labels, class_names)`` with ``images`` of shape ``(1797, 8, 8)`` and
    pixel values 0-16.
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    return bunch.images, bunch.target, [str(n) for n in bunch.target_names]


# --------------------------------------------------------------------------- listing


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def class_folders(root: str | os.PathLike) -> list[Path]:
    """The class sub-folders of ``root`` (sorted by name, hidden folders skipped)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_images(
    root: str | os.PathLike, *, skip: Iterable[str | os.PathLike] = ()
) -> tuple[list[Path], np.ndarray, list[str]]:
    """List the image files of a one-folder-per-class tree.

    Returns ``(paths, labels, class_names)``; ``labels[i]`` indexes ``class_names``. Only
    files directly inside a class folder with an image extension are listed; ``skip`` names
    files to leave out (for example those :func:`validate_image_folder` found unusable).
    Class folders without any image are left out of ``class_names``.
    """
    skipped = {Path(p).resolve() for p in skip}
    paths: list[Path] = []
    labels: list[int] = []
    names: list[str] = []
    for folder in class_folders(root):
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and _is_image_name(p) and p.resolve() not in skipped
        )
        if not files:
            continue
        names.append(folder.name)
        paths.extend(files)
        labels.extend([len(names) - 1] * len(files))
    return paths, np.asarray(labels, dtype=np.int64), names


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Issue:
    """One problem found in an image folder."""

    path: Path
    kind: str  # e.g. "corrupt", "empty-file", "not-an-image", "rgba", "grayscale", ...
    message: str
    fatal: bool = False  # True: the file (or the folder) cannot be used
    skip: bool = False  # True: the file is left out of training

    def __str__(self) -> str:
        level = "ERROR" if self.fatal else ("SKIP" if self.skip else "NOTE")
        return f"{level} {self.kind}: {self.path}: {self.message}"


@dataclass
class ValidationReport:
    """What :func:`validate_image_folder` found. Nothing on disk is changed."""

    root: Path
    class_counts: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the folder can be trained on (possibly after skipping some files)."""
        return not any(i.fatal for i in self.issues)

    @property
    def skipped(self) -> list[Path]:
        """Files that training must leave out."""
        return [i.path for i in self.issues if i.skip]

    def summary(self) -> str:
        lines = [f"Checked {self.root}: {len(self.class_counts)} classes, "
                 f"{sum(self.class_counts.values())} usable images"]
        for name, count in self.class_counts.items():
            lines.append(f"  {name}: {count}")
        if self.issues:
            lines.append(f"{len(self.issues)} problem(s):")
            lines.extend(f"  {issue}" for issue in self.issues)
        else:
            lines.append("No problems found.")
        return "\n".join(lines)

    def raise_if_fatal(self) -> None:
        """Raise :class:`ImageFolderError` listing every fatal problem, if there is one."""
        fatal = [i for i in self.issues if i.fatal]
        if fatal:
            raise ImageFolderError(
                f"{self.root} cannot be used for training:\n"
                + "\n".join(f"  {i.path}: {i.message}" for i in fatal)
            )

    def __str__(self) -> str:
        return self.summary()


def _check_image(path: Path) -> list[Issue]:
    """Open one file with Pillow (read-only) and report what is wrong or odd about it."""
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size == 0:
        return [Issue(path, "empty-file", "the file is empty (0 bytes); remove or replace it", skip=True)]
    try:
        with Image.open(path) as img:
            fmt, mode = img.format, img.mode
            img.load()  # decodes fully: truncated files fail here
    except UnidentifiedImageError:
        return [Issue(path, "not-an-image", "not an image, despite its extension; remove it or rename it", skip=True)]
    except (OSError, SyntaxError, ValueError) as exc:
        return [Issue(path, "corrupt", f"cannot be decoded ({exc}); re-export or replace it", skip=True)]
    issues: list[Issue] = []
    expected = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF", ".webp": "WEBP"}
    if expected.get(path.suffix.lower()) not in (None, fmt):
        issues.append(Issue(path, "wrong-extension", f"is a {fmt} file with a {path.suffix} extension; "
                            "it is read correctly, but renaming it avoids confusion"))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in getattr(img, "info", {})):
        issues.append(Issue(path, "rgba", f"has an alpha channel ({mode}); it is converted to RGB "
                            "on a black background when loaded"))
    elif mode in ("L", "1", "I", "I;16", "F"):
        issues.append(Issue(path, "grayscale", f"is grayscale ({mode}); it is converted to RGB when loaded"))
    elif mode == "CMYK":
        issues.append(Issue(path, "cmyk", "is CMYK; it is converted to RGB when loaded (colours may shift)"))
    if fmt == "GIF" and getattr(img, "n_frames", 1) > 1:
        issues.append(Issue(path, "animated", "is animated; only the first frame is used"))
    return issues


def validate_image_folder(root: str | os.PathLike, *, min_per_class: int = 1) -> ValidationReport:
    """Check a one-folder-per-class image tree and report every problem by path.

    Reported: files that are empty, corrupt or not images despite an image extension
    (skipped), convertible formats (RGBA, grayscale, CMYK, animated: reported, not fatal),
    files nested one level too deep or directly in the root (ignored), non-image files,
    duplicate files by content (reported), class folders with no usable image and fewer
    than two usable classes (fatal). Files are only read: nothing is changed, moved or
    deleted.
    """
    root = Path(root)
    report = ValidationReport(root=root)
    if not root.is_dir():
        report.issues.append(Issue(root, "missing-folder", "is not a folder; give the folder that holds one "
                                   "sub-folder per class", fatal=True))
        return report
    for item in sorted(root.iterdir()):
        if item.is_file() and item.name.lower() not in _IGNORED_NAMES and not item.name.startswith("."):
            hint = "move it into the folder of its class" if _is_image_name(item) else "it is ignored"
            report.issues.append(Issue(item, "not-in-class-folder", f"is directly in the root folder; {hint}"))
    seen: dict[str, Path] = {}
    for folder in class_folders(root):
        usable = 0
        for item in sorted(folder.iterdir()):
            if item.name.startswith(".") or item.name.lower() in _IGNORED_NAMES:
                continue
            if item.is_dir():
                nested = [p for p in item.rglob("*") if p.is_file() and _is_image_name(p)]
                if nested:
                    report.issues.append(Issue(item, "nested-too-deep", f"holds {len(nested)} image(s) one level "
                                               f"too deep; move them up into {folder} to use them"))
                continue
            if not _is_image_name(item):
                report.issues.append(Issue(item, "not-an-image-extension", "is not an image file; it is ignored"))
                continue
            problems = _check_image(item)
            report.issues.extend(problems)
            if any(p.skip for p in problems):
                continue
            digest = file_digest(item)
            if digest in seen:
                report.issues.append(Issue(item, "duplicate", f"has the same content as {seen[digest]}; "
                                           "duplicates can leak between training and test sets"))
            else:
                seen[digest] = item
            usable += 1
        if usable < min_per_class:
            report.issues.append(Issue(folder, "empty-class", f"has {usable} usable image(s); add images or "
                                       "remove the folder", fatal=True))
        else:
            report.class_counts[folder.name] = usable
    if len(report.class_counts) < 2:
        found = ", ".join(report.class_counts) or "none"
        report.issues.append(Issue(root, "too-few-classes", f"needs at least two class folders with images "
                                   f"(found: {found}); a classifier needs something to tell apart", fatal=True))
    return report


# --------------------------------------------------------------------------- splits

_MAX_PER_CLASS = 2**27 - 1  # as in TensorFlow for Poets' retrain.py


def which_split(path: str | os.PathLike, validation_percentage: float = 10, testing_percentage: float = 10) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for one file, from a hash of its name.

    The decision depends only on the file name (with any ``_nohash_`` suffix removed, so
    variants of one photo stay together), never on the other files: adding images later
    does not move existing ones between sets.
    """
    name = re.sub(r"_nohash_.*$", "", Path(path).name)
    value = int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16) % (_MAX_PER_CLASS + 1)
    percent = value * 100.0 / _MAX_PER_CLASS
    if percent < validation_percentage:
        return "validation"
    if percent < validation_percentage + testing_percentage:
        return "test"
    return "train"


def split_by_hash(
    paths: Sequence[str | os.PathLike], validation_percentage: float = 10, testing_percentage: float = 10
) -> dict[str, list[int]]:
    """Indices of ``paths`` in each split, decided by :func:`which_split`."""
    out: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for i, path in enumerate(paths):
        out[which_split(path, validation_percentage, testing_percentage)].append(i)
    return out


@dataclass
class Split:
    """File paths and labels of one split of an image folder."""

    paths: list[Path]
    labels: np.ndarray
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def counts(self) -> dict[str, int]:
        counter = Counter(self.labels.tolist())
        return {name: counter.get(i, 0) for i, name in enumerate(self.class_names)}


def _subsample(indices: list[int], labels: np.ndarray, per_class: int | None) -> list[int]:
    if per_class is None:
        return indices
    taken: dict[int, int] = defaultdict(int)
    kept = []
    for i in indices:  # indices are in a stable (sorted path) order
        if taken[int(labels[i])] < per_class:
            taken[int(labels[i])] += 1
            kept.append(i)
    return kept


def split_folder(
    root: str | os.PathLike,
    *,
    validation_percentage: float = 10,
    testing_percentage: float = 10,
    per_class: int | None = None,
    skip: Iterable[str | os.PathLike] = (),
) -> dict[str, Split]:
    """Split a one-folder-per-class tree into ``train``/``validation``/``test`` by file-name hash.

    ``per_class`` keeps at most that many images per class *in each split* (fast mode uses
    it); the choice is deterministic.
    """
    paths, labels, names = list_images(root, skip=skip)
    if len(names) < 2:
        raise ImageFolderError(f"{root} needs at least two class folders with images (found {len(names)}).")
    parts = split_by_hash(paths, validation_percentage, testing_percentage)
    out = {}
    for key, indices in parts.items():
        if per_class is not None:
            share = {"train": 1.0}.get(key, max(validation_percentage, testing_percentage) / 100 * 2)
            indices = _subsample(indices, labels, max(2, int(per_class * share)) if key != "train" else per_class)
        out[key] = Split([paths[i] for i in indices], labels[indices], names)
    return out


# --------------------------------------------------------------------------- decoding


def _read_rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Decode one file to an RGB uint8 array of ``size`` (height, width) with Pillow."""
    from PIL import Image

    with Image.open(path) as img:
        img.draft("RGB", (size[1] * 2, size[0] * 2))  # JPEG: decode at reduced scale, much faster
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")
            background = Image.new("RGBA", img.size, (0, 0, 0, 255))
            img = Image.alpha_composite(background, img)
        img = img.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def _cache_key(paths: Sequence[Path], size: tuple[int, int]) -> str:
    digest = hashlib.sha1(f"{size}".encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def load_image_arrays(
    paths: Sequence[str | os.PathLike], image_size: int | tuple[int, int], *, cache: bool = True
) -> np.ndarray:
    """Decode images to one ``uint8`` array of shape ``(n, height, width, 3)``.

    The result is cached in the course cache (keyed by the files' paths, sizes and
    modification times and the image size), so a second call loads it in a fraction of a
    second. uint8 takes a quarter of the memory of float32: scale in the model
    (``keras.layers.Rescaling``) or batch by batch, not here.
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    files = [Path(p) for p in paths]
    target = config.cache_dir() / "arrays" / f"images-{size[0]}x{size[1]}-{_cache_key(files, size)}.npy"
    if cache and target.exists():
        return np.load(target)
    out = np.empty((len(files), size[0], size[1], 3), dtype=np.uint8)
    for i, path in enumerate(files):
        out[i] = _read_rgb(path, size)
    if cache:
        atomic_save_npy(target, out)
    return out


def load_flower_arrays(
    image_size: int = 96, *, per_class: int | None = None, root: str | os.PathLike | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]] | dict:
    """The flower photos as uint8 arrays, split by file-name hash (80/10/10).

    Returns a dict with ``"train"``, ``"validation"`` and ``"test"`` mapping to
    ``(images, labels)`` and ``"class_names"``. In fast mode (``COURSE_FAST=1``) at most 40
    training images per class are used unless ``per_class`` says otherwise. Decoded arrays
    are cached on disk.
    """
    folder = Path(root) if root is not None else flower_photos()
    if per_class is None and config.fast_mode():
        per_class = 40
    splits = split_folder(folder, per_class=per_class)
    out: dict = {"class_names": splits["train"].class_names}
    for key, split in splits.items():
        out[key] = (load_image_arrays(split.paths, image_size), split.labels)
    return out


# --------------------------------------------------------------------------- synthetic data

SYNTHETIC_CLASSES = ("circles", "squares", "triangles", "stripes")


def make_synthetic_dataset(
    folder: str | os.PathLike,
    *,
    per_class: int = 30,
    image_size: int = 64,
    classes: Sequence[str] = SYNTHETIC_CLASSES[:3],
    seed: int = config.SEED,
) -> Path:
    """Draw a small one-folder-per-class image set (no download needed).

    Each class is a kind of shape (``circles``, ``squares``, ``triangles``, ``stripes``)
    drawn in random colours, sizes and positions on a noisy background, saved as JPEG. The
    same seed gives the same files. Returns ``folder``.
    """
    from PIL import Image, ImageDraw

    unknown = set(classes) - set(SYNTHETIC_CLASSES)
    if unknown:
        raise ValueError(f"unknown synthetic classes {sorted(unknown)}; choose from {SYNTHETIC_CLASSES}")
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    s = image_size
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            background = rng.integers(0, 90, size=3)
            noise = rng.normal(0, 12, size=(s, s, 3))
            base = np.clip(background + noise, 0, 255).astype(np.uint8)
            img = Image.fromarray(base, "RGB")
            draw = ImageDraw.Draw(img)
            colour = tuple(int(c) for c in rng.integers(140, 256, size=3))
            r = rng.uniform(0.18, 0.32) * s
            cx, cy = rng.uniform(r + 1, s - r - 1, size=2)
            if name == "circles":
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
            elif name == "squares":
                draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
            elif name == "triangles":
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
            else:  # stripes
                step = max(3, int(rng.integers(s // 12, s // 6 + 1)))
                for x in range(0, s, 2 * step):
                    draw.rectangle([x, 0, x + step - 1, s], fill=colour)
            img.save(folder / name / f"{name}_{i:03d}.jpg", quality=92)
    return folder


# --------------------------------------------------------------------------- tf.data


def make_tf_dataset(
    paths: Sequence[str | os.PathLike],
    labels: Sequence[int] | np.ndarray | None,
    image_size: int | tuple[int, int],
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    cache: bool | str = True,
    seed: int = config.SEED,
) -> "tf.data.Dataset":
    """A ``tf.data`` pipeline: read, decode (any format to RGB), resize, cache, batch, prefetch.

    Yields ``(images, labels)`` batches (or images alone when ``labels`` is None) with images
    as ``float32`` in 0-255, so that a model's own preprocessing (``Rescaling`` or
    ``keras.applications.*.preprocess_input``) applies. Decoded images are cached in memory
    (``cache=True``) or in a file (``cache="path"``), so later epochs do not decode again.
    Files are streamed batch by batch; memory stays flat as the dataset grows when the cache
    is a file or disabled.
    """
    import tensorflow as tf

    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    files = tf.constant([str(p) for p in paths])
    ds = tf.data.Dataset.from_tensor_slices(files)

    def load(path):
        data = tf.io.read_file(path)
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        image = tf.image.resize(image, size, antialias=True)
        image.set_shape((size[0], size[1], 3))
        return image

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if labels is not None:
        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.from_tensor_slices(np.asarray(labels, dtype=np.int64))))
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        ds = ds.shuffle(min(len(paths), 2048), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
