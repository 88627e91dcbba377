"""Datasets for the course: flower photos, scikit-learn digits, a synthetic set, folder
validation, deterministic splits and tf.data pipelines.

TensorFlow is imported only inside :func:`make_tf_dataset`; everything else needs NumPy and
Pillow alone.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import tarfile
import unicodedata
import warnings
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from course_utils import config
from course_utils.files import file_digest

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

__all__ = [
    "FLOWERS_SHA256",
    "FLOWERS_URL",
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DataNotFoundError",
    "ImageFolderError",
    "ImageTooLargeError",
    "UnsafeArchiveError",
    "Issue",
    "Split",
    "ValidationReport",
    "class_folders",
    "class_root",
    "download",
    "extract_archive",
    "flower_photos",
    "list_images",
    "load_digits",
    "load_flower_arrays",
    "load_image_arrays",
    "make_synthetic_dataset",
    "make_tf_dataset",
    "max_pixels",
    "path_from_shown",
    "save_array_atomic",
    "check_cache_dir",
    "show_path",
    "unpack_image_zip",
    "duplicate_groups",
    "split_by_hash",
    "split_folder",
    "split_of_digest",
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
# Folders that zip tools and operating systems add beside the photos (never class folders).
_IGNORED_FOLDERS = {"__macosx", "$recycle.bin", "system volume information"}

#: Largest image (width x height, as stored in the file's header) that is decoded by default:
#: 8000 x 8000, above the 48-50 megapixel photos of current phones. ``COURSE_MAX_PIXELS``
#: changes it; larger files are skipped with a message, before any pixel is decoded.
DEFAULT_MAX_PIXELS = 64_000_000

#: Largest total unpacked size of an uploaded zip (:func:`unpack_image_zip`), in bytes;
#: ``COURSE_MAX_UPLOAD_BYTES`` changes it.
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024**3

# Bumped whenever decoding changes (EXIF orientation, 16-bit scaling, ...), so that arrays
# cached by an older version are not reused.
_DECODER_VERSION = 2


class DataNotFoundError(RuntimeError):
    """The data cannot be found locally and cannot be downloaded."""


class ImageFolderError(ValueError):
    """An image folder cannot be used (for example: fewer than two classes)."""


class ImageTooLargeError(ValueError):
    """An image has more pixels than :func:`max_pixels` allows; it is not decoded."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{show_path(path)} {reason}")


class UnsafeArchiveError(DataNotFoundError):
    """An archive holds a member that would land outside the folder it is unpacked into."""


def max_pixels() -> int:
    """The pixel limit: ``COURSE_MAX_PIXELS`` when set (e.g. ``200000000`` or ``2e8``), else
    :data:`DEFAULT_MAX_PIXELS`. Images with more pixels are skipped, never decoded."""
    value = os.environ.get("COURSE_MAX_PIXELS", "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(float(value))
    except ValueError:
        raise ValueError(f"COURSE_MAX_PIXELS={value!r} is not a number; set it to a pixel count such as "
                         f"{DEFAULT_MAX_PIXELS} (width x height), or unset it") from None
    if limit < 1:
        raise ValueError(f"COURSE_MAX_PIXELS={value!r} must be at least 1")
    return limit


# --------------------------------------------------------------------------- paths as text

_BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def _unsafe_char(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ord(ch) in _BIDI_CONTROLS


def show_path(path: str | os.PathLike | bytes) -> str:
    """``path`` as text that prints on any terminal and in any UTF-8 file, and maps back to the file.

    Ordinary paths come back unchanged. In a file name that is not valid UTF-8 (made on
    another system, or in a zip from an old tool) each stray byte shows as ``\\xNN``;
    control characters (escape sequences, new lines) and bidirectional overrides show as
    ``\\xNN``/``\\uNNNN``, and a backslash as two. :func:`path_from_shown` reverses it exactly.
    """
    raw = os.fsencode(path)
    text = raw.decode("utf-8", "surrogateescape")
    if "\\" not in text and not any(_unsafe_char(c) or 0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (always 0x80 or above)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif _unsafe_char(ch):
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def path_from_shown(text: str) -> Path:
    """The path that :func:`show_path` turned into ``text``."""
    if "\\" not in text:
        return Path(text)
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            raw += ch.encode("utf-8", "surrogateescape")
            i += 1
        elif text[i + 1] == "\\":
            raw += b"\\"
            i += 2
        elif text[i + 1] == "x":
            raw.append(int(text[i + 2:i + 4], 16))
            i += 4
        elif text[i + 1] == "u":
            raw += chr(int(text[i + 2:i + 6], 16)).encode("utf-8")
            i += 6
        else:
            raise ValueError(f"not a path written by show_path: {text!r}")
    return Path(os.fsdecode(bytes(raw)))


# --------------------------------------------------------------------------- downloads


def download(url: str, sha256: str, *, filename: str | None = None, extract: bool = False) -> Path:
    """Download ``url`` once into the course cache and verify its SHA-256.

    A second call finds the file in the cache and makes no request. A file whose checksum
    does not match is not kept. With ``extract=True`` a ``.tgz``/``.tar.gz``/``.zip`` is
    unpacked next to it (once) and the folder it was unpacked into is returned. Every member
    is checked before anything is unpacked, on every Python version: an absolute path, a
    ``..`` that climbs out of the folder, a link or a device file stops the extraction with
    :class:`UnsafeArchiveError` and nothing is unpacked.

    Raises :class:`DataNotFoundError` naming the URL, the cache path and
    ``COURSE_DATA_DIR`` when the download fails (for example offline).
    """
    import pooch

    folder = config.cache_dir() / "downloads"
    name = filename or url.rsplit("/", 1)[-1]
    target = folder / name
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname=name,
            path=folder,
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
    if not extract:
        return target
    unpacked = folder / (name + ".d")
    if not unpacked.is_dir():
        extract_archive(target, unpacked)
    return unpacked


def _unsafe_member(name: str) -> str | None:
    """Why an archive member name must not be unpacked (None when it is fine)."""
    if not name or "\x00" in name:
        return "an empty or invalid name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return "an absolute path"
    if ".." in posix.split("/"):
        return "a '..' that leads out of the folder"
    return None


def _check_tar_members(archive: Path, tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for member in members:
        why = _unsafe_member(member.name)
        if why is None and (member.issym() or member.islnk()):
            why = f"a link (to {member.linkname!r})"
        elif why is None and not (member.isfile() or member.isdir()):
            why = "a device or other special file"
        if why is not None:
            raise UnsafeArchiveError(
                f"{archive} holds the member {member.name!r}, {why}. It is not unpacked (it could "
                "write outside the target folder). Nothing was unpacked; get the archive from a "
                "trusted source, or unpack it yourself and set COURSE_DATA_DIR."
            )
    return members


def extract_archive(archive: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Unpack a ``.tar``/``.tgz``/``.tar.gz``/``.zip`` into ``destination`` safely and atomically.

    Every member is checked first (see :func:`download`); the archive is unpacked into a
    temporary folder beside ``destination`` that is renamed into place at the end, so an
    interrupted extraction leaves no half-filled ``destination``. The tar ``data`` filter is
    used too where Python has it.
    """
    archive, destination = Path(archive), Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.parent / f".{destination.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    why = _unsafe_member(info.filename)
                    if why is None and stat.S_ISLNK(info.external_attr >> 16):
                        why = "a link"
                    if why is not None:
                        raise UnsafeArchiveError(
                            f"{archive} holds the member {info.filename!r}, {why}. Nothing was unpacked; "
                            "get the archive from a trusted source, or unpack it yourself.")
                zf.extractall(tmp, members=infos)
        else:
            try:
                tar = tarfile.open(archive)
            except tarfile.TarError as exc:
                raise DataNotFoundError(f"{archive} is not a tar or zip archive ({exc}); delete it and "
                                        "download it again") from exc
            with tar:
                members = _check_tar_members(archive, tar)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Pythons without the filter; members were checked above
                    tar.extractall(tmp, members=members)
        try:
            os.replace(tmp, destination)
        except OSError:
            if not destination.is_dir():  # another run may have unpacked it at the same time
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return destination


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


def _is_hidden(path: Path) -> bool:
    """Hidden files and the folders/files that systems add beside photos (``.DS_Store``,
    macOS's ``._IMG_0001.jpg`` AppleDouble files, ``__MACOSX/`` in zips made on a Mac)."""
    name = path.name
    return name.startswith(".") or name.lower() in _IGNORED_NAMES or name.lower() in _IGNORED_FOLDERS


def _real(path: str | os.PathLike) -> str:
    """An absolute, symlink-free path for comparisons; never raises on a symlink loop."""
    try:
        return os.path.realpath(path)
    except (OSError, RuntimeError, ValueError):  # pragma: no cover - realpath(strict=False) rarely raises
        return os.path.abspath(path)


def _entries(folder: Path) -> list[Path]:
    """The entries of ``folder``, sorted; empty when it cannot be read."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def class_folders(root: str | os.PathLike) -> list[Path]:
    """The class sub-folders of ``root`` (sorted by name; hidden folders and ``__MACOSX`` skipped)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [p for p in _entries(root) if p.is_dir() and not _is_hidden(p)]


def list_images(
    root: str | os.PathLike, *, skip: Iterable[str | os.PathLike] = ()
) -> tuple[list[Path], np.ndarray, list[str]]:
    """List the image files of a one-folder-per-class tree.

    Returns ``(paths, labels, class_names)``; ``labels[i]`` indexes ``class_names``. Only
    files directly inside a class folder with an image extension are listed; hidden files
    (such as macOS's ``._IMG_0001.jpg``), ``__MACOSX`` folders and links that lead nowhere are
    left out, as :func:`validate_image_folder` does. ``skip`` names files to leave out (for
    example those :func:`validate_image_folder` found unusable). Class folders without any
    image are left out of ``class_names``.
    """
    skipped = {_real(p) for p in skip}
    paths: list[Path] = []
    labels: list[int] = []
    names: list[str] = []
    for folder in class_folders(root):
        files = [
            p for p in _entries(folder)
            if _is_image_name(p) and not _is_hidden(p) and p.is_file() and _real(p) not in skipped
        ]
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
        return f"{level} {self.kind}: {show_path(self.path)}: {self.message}"


@dataclass
class ValidationReport:
    """What :func:`validate_image_folder` found. Nothing on disk is changed."""

    root: Path
    class_counts: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    #: groups of byte-identical usable files (two or more paths each), in folder order
    duplicate_groups: list[list[Path]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the folder can be trained on (possibly after skipping some files)."""
        return not any(i.fatal for i in self.issues)

    @property
    def skipped(self) -> list[Path]:
        """Files that training must leave out."""
        return [i.path for i in self.issues if i.skip]

    def summary(self) -> str:
        lines = [f"Checked {show_path(self.root)}: {len(self.class_counts)} classes, "
                 f"{sum(self.class_counts.values())} usable images"]
        for name, count in self.class_counts.items():
            lines.append(f"  {show_path(name)}: {count}")
        if self.issues:
            lines.append(f"{len(self.issues)} problem(s):")
            lines.extend(f"  {issue}" for issue in self.issues)
        else:
            lines.append("No problems found.")
        if self.duplicate_groups:
            lines.append(f"{len(self.duplicate_groups)} group(s) of byte-identical files (the split keeps each "
                         "group in one set; training sees such a photo more than once):")
            lines.extend("  " + " = ".join(show_path(p) for p in group) for group in self.duplicate_groups)
        return "\n".join(lines)

    def raise_if_fatal(self) -> None:
        """Raise :class:`ImageFolderError` listing every fatal problem, if there is one."""
        fatal = [i for i in self.issues if i.fatal]
        if fatal:
            raise ImageFolderError(
                f"{show_path(self.root)} cannot be used for training:\n"
                + "\n".join(f"  {show_path(i.path)}: {i.message}" for i in fatal)
            )

    def __str__(self) -> str:
        return self.summary()


def _broken_link(path: Path) -> Issue | None:
    """An issue for a symbolic link that leads nowhere (missing target or a loop), else None."""
    try:
        os.stat(path)
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            why = "is a symbolic link that points back to itself (a loop)"
        elif os.path.islink(path):
            why = f"is a symbolic link to {show_path(os.readlink(path))}, which does not exist"
        else:
            why = f"cannot be read ({exc.strerror})"
        return Issue(path, "broken-link", f"{why}; it is skipped. Remove the link or point it at a photo",
                     skip=True)


def _too_large_message(width: int, height: int, limit: int) -> str:
    return (f"is {width} x {height} = {width * height:,} pixels, over the limit of {limit:,} "
            f"(COURSE_MAX_PIXELS); it is skipped without being decoded. Shrink it (any photo editor "
            f"can), or set COURSE_MAX_PIXELS={width * height} if you have the memory for it")


def _open_image(path: Path):
    """Open an image with Pillow, reading only its header, and refuse it when it is too large.

    Raises :class:`ImageTooLargeError` (with the size, the limit and the fix) before any
    pixel is decoded; Pillow's own ``DecompressionBombError`` is turned into the same error.
    """
    from PIL import Image

    limit = max_pixels()
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit  # the user raised the limit on purpose: let Pillow open it
    try:
        img = Image.open(path)
    except Image.DecompressionBombError as exc:  # Pillow's own check, at twice its limit (above ours)
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageTooLargeError(path, f"has {pixels}, over the limit of {limit:,} (COURSE_MAX_PIXELS); it is "
                                 "skipped without being decoded. Shrink it (any photo editor can), or raise "
                                 "COURSE_MAX_PIXELS if you have the memory for it") from None
    width, height = img.size
    if width * height > limit:
        img.close()
        raise ImageTooLargeError(path, _too_large_message(width, height, limit))
    return img


def _orientation(img) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block is not worth failing for
        return 1
    return value if 1 <= value <= 8 else 1


_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _check_image(path: Path) -> list[Issue]:
    """Open one file with Pillow (read-only) and report what is wrong or odd about it."""
    from PIL import UnidentifiedImageError

    broken = _broken_link(path)
    if broken is not None:
        return [broken]
    if path.stat().st_size == 0:
        return [Issue(path, "empty-file", "the file is empty (0 bytes); remove or replace it", skip=True)]
    try:
        with _open_image(path) as img:
            fmt, mode, info = img.format, img.mode, dict(img.info)
            n_frames = getattr(img, "n_frames", 1)
            orientation = _orientation(img)
            img.load()  # decodes fully: truncated files fail here
    except ImageTooLargeError as exc:
        return [Issue(path, "too-large", exc.reason, skip=True)]
    except UnidentifiedImageError:
        return [Issue(path, "not-an-image", "not an image, despite its extension; remove it or rename it", skip=True)]
    except PermissionError:
        return [Issue(path, "unreadable", "cannot be read (permission denied); fix its permissions "
                      "(chmod u+r) or copy it", skip=True)]
    except (OSError, SyntaxError, ValueError) as exc:
        return [Issue(path, "corrupt", f"cannot be decoded ({exc}); re-export or replace it", skip=True)]
    issues: list[Issue] = []
    expected = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF", ".webp": "WEBP"}
    if expected.get(path.suffix.lower()) not in (None, fmt):
        issues.append(Issue(path, "wrong-extension", f"is a {fmt} file with a {path.suffix} extension; "
                            "it is read correctly, but renaming it avoids confusion"))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in info):
        issues.append(Issue(path, "rgba", f"has an alpha channel ({mode}); it is converted to RGB "
                            "on a black background when loaded"))
    elif mode in _SIXTEEN_BIT_MODES:
        issues.append(Issue(path, "16-bit", f"is a 16-bit grayscale image ({mode}); it is scaled to "
                            "8 bits and converted to RGB when loaded"))
    elif mode in ("L", "1", "F"):
        issues.append(Issue(path, "grayscale", f"is grayscale ({mode}); it is converted to RGB when loaded"))
    elif mode == "CMYK":
        issues.append(Issue(path, "cmyk", "is CMYK; it is converted to RGB when loaded (colours may shift)"))
    if n_frames > 1:
        issues.append(Issue(path, "animated", f"is animated ({n_frames} frames); only the first frame is used"))
    if orientation != 1:
        issues.append(Issue(path, "rotated", f"has EXIF orientation {orientation} (the camera was turned); "
                            "it is turned upright when loaded, as photo viewers show it"))
    return issues


def validate_image_folder(root: str | os.PathLike, *, min_per_class: int = 1) -> ValidationReport:
    """Check a one-folder-per-class image tree and report every problem by path.

    Reported: files that are empty, corrupt, unreadable, over the pixel limit
    (:func:`max_pixels`) or not images despite an image extension, and links that lead
    nowhere (all skipped); convertible formats (RGBA, grayscale, 16-bit, CMYK, animated,
    EXIF-rotated: reported, not fatal); files nested one level too deep or directly in the
    root (ignored), non-image files, duplicate files by content (reported), class folders
    with no usable image and fewer than two usable classes (fatal). Hidden files, macOS's
    ``._*`` files and ``__MACOSX`` folders are ignored silently, as by :func:`list_images`.
    Files are only read: nothing is changed, moved or deleted.
    """
    root = Path(root)
    report = ValidationReport(root=root)
    if not root.is_dir():
        report.issues.append(Issue(root, "missing-folder", "is not a folder; give the folder that holds one "
                                   "sub-folder per class", fatal=True))
        return report
    for item in _entries(root):
        if _is_hidden(item):
            continue
        broken = _broken_link(item)
        if broken is not None:
            report.issues.append(broken)
        elif item.is_file():
            hint = "move it into the folder of its class" if _is_image_name(item) else "it is ignored"
            report.issues.append(Issue(item, "not-in-class-folder", f"is directly in the root folder; {hint}"))
    groups: dict[str, list[Path]] = {}  # content digest -> usable files with it, the first one first
    for folder in class_folders(root):
        usable = 0
        try:
            items = sorted(folder.iterdir())
        except OSError as exc:
            report.issues.append(Issue(folder, "unreadable", f"cannot be read ({exc.strerror}); fix its "
                                       "permissions or leave it out", fatal=True))
            continue
        for item in items:
            if _is_hidden(item):
                continue
            if item.is_dir():
                nested = [p for p in item.rglob("*") if _is_image_name(p) and not _is_hidden(p) and p.is_file()]
                if nested:
                    report.issues.append(Issue(item, "nested-too-deep", f"holds {len(nested)} image(s) one level "
                                               f"too deep; move them up into {show_path(folder)} to use them"))
                continue
            if not _is_image_name(item):
                broken = _broken_link(item)
                report.issues.append(broken or Issue(item, "not-an-image-extension",
                                                     "is not an image file; it is ignored"))
                continue
            problems = _check_image(item)
            report.issues.extend(problems)
            if any(p.skip for p in problems):
                continue
            try:
                digest = file_digest(item)
            except OSError as exc:
                report.issues.append(Issue(item, "unreadable", f"cannot be read ({exc.strerror})", skip=True))
                continue
            if digest in groups:
                first = groups[digest][0]
                where = ("" if first.parent == item.parent else
                         f" in another class folder ({show_path(first.parent.name)}): at most one label is right")
                report.issues.append(Issue(item, "duplicate", f"has the same content as {show_path(first)}{where}; "
                                           "the split keeps byte-identical files in one set, so they cannot leak "
                                           "from training into test, but the photo counts twice"))
                groups[digest].append(item)
            else:
                groups[digest] = [item]
            usable += 1
        if usable < min_per_class:
            report.issues.append(Issue(folder, "empty-class", f"has {usable} usable image(s); add images or "
                                       "remove the folder", fatal=True))
        else:
            report.class_counts[folder.name] = usable
    report.duplicate_groups = [group for group in groups.values() if len(group) > 1]
    if len(report.class_counts) < 2:
        found = ", ".join(show_path(n) for n in report.class_counts) or "none"
        report.issues.append(Issue(root, "too-few-classes", f"needs at least two class folders with images "
                                   f"(found: {found}); a classifier needs something to tell apart", fatal=True))
    return report


# --------------------------------------------------------------------------- splits

_MAX_PER_CLASS = 2**27 - 1  # as in TensorFlow for Poets' retrain.py


def split_of_digest(digest: str, validation_percentage: float = 10, testing_percentage: float = 10) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for a file with this SHA-256 (hex) of its content.

    The digest is read as a number and scaled to 0-100: below ``validation_percentage`` goes to
    validation, below the sum of both percentages to test, the rest to training.
    """
    value = int(digest, 16) % (_MAX_PER_CLASS + 1)
    percent = value * 100.0 / _MAX_PER_CLASS
    if percent < validation_percentage:
        return "validation"
    if percent < validation_percentage + testing_percentage:
        return "test"
    return "train"


def which_split(path: str | os.PathLike, validation_percentage: float = 10, testing_percentage: float = 10) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for one file, from a hash of its *content*.

    The decision depends only on the file's bytes (SHA-256, :func:`course_utils.files.file_digest`),
    never on its name or on the other files: byte-identical copies always land in the same set,
    a renamed or moved photo stays where it was, and adding photos later does not move existing
    ones between sets. (TensorFlow for Poets hashed the file *name*, so a copy saved under
    another name could land in training while the original was in test.)
    """
    return split_of_digest(file_digest(path), validation_percentage, testing_percentage)


def split_by_hash(
    paths: Sequence[str | os.PathLike], validation_percentage: float = 10, testing_percentage: float = 10
) -> dict[str, list[int]]:
    """Indices of ``paths`` in each split, decided by :func:`which_split` (a hash of each file's content).

    A file that cannot be read (permissions, a broken link) is left out of every split with a
    warning naming it; :func:`validate_image_folder` reports such files before training.
    """
    out: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for i, path in enumerate(paths):
        try:
            key = which_split(path, validation_percentage, testing_percentage)
        except OSError as exc:
            _warn(f"{show_path(path)} cannot be read ({exc.strerror or exc}); it is left out of the split. "
                  "Fix its permissions or remove the file")
            continue
        out[key].append(i)
    return out


def duplicate_groups(paths: Iterable[str | os.PathLike]) -> list[list[Path]]:
    """Groups of byte-identical files among ``paths`` (two or more each, in the order given).

    Files that cannot be read are left out. Nothing is changed on disk.
    """
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        try:
            groups[file_digest(path)].append(Path(path))
        except OSError:
            continue
    return [group for group in groups.values() if len(group) > 1]


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
    train_per_class: int | None = None,
) -> dict[str, Split]:
    """Split a one-folder-per-class tree into ``train``/``validation``/``test`` by a hash of each file's content.

    ``per_class`` keeps at most that many images per class *in each split* (fast mode uses
    it); ``train_per_class`` caps the training split only, leaving validation and test whole
    (lesson 06 retrains on fewer photos but tests on the same ones as lesson 05). The choice
    is deterministic.
    """
    paths, labels, names = list_images(root, skip=skip)
    if len(names) < 2:
        raise ImageFolderError(f"{show_path(root)} needs at least two class folders with images (found {len(names)}).")
    parts = split_by_hash(paths, validation_percentage, testing_percentage)
    out = {}
    for key, indices in parts.items():
        if per_class is not None:
            share = {"train": 1.0}.get(key, max(validation_percentage, testing_percentage) / 100 * 2)
            indices = _subsample(indices, labels, max(2, int(per_class * share)) if key != "train" else per_class)
        if key == "train" and train_per_class is not None:
            indices = _subsample(indices, labels, train_per_class)
        out[key] = Split([paths[i] for i in indices], labels[indices], names)
    return out


# --------------------------------------------------------------------------- decoding


def _to_8bit(img):
    """16-bit (and 32-bit integer/float) grayscale to 8-bit ``L``, scaled, not clipped."""
    from PIL import Image

    values = np.asarray(img)
    if img.mode == "F":
        scaled = np.clip(values, 0, 255)
    else:  # 16-bit samples, 0-65535: 65535 / 257 = 255
        scaled = (values.astype(np.uint32) + 128) // 257
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def _read_rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Decode one file to an RGB uint8 array of ``size`` (height, width) with Pillow.

    The image is turned upright by its EXIF orientation; 16-bit grayscale is scaled to 8
    bits; a GIF gives its first frame; alpha is composited on black. Images over
    :func:`max_pixels` raise :class:`ImageTooLargeError` before any pixel is decoded, and
    large images are reduced right after decoding, so memory stays near the file's own
    decoded size.
    """
    from PIL import Image, ImageOps

    with _open_image(path) as opened:
        img = opened
        img.draft("RGB", (size[1] * 2, size[0] * 2))  # JPEG: decode at reduced scale, much faster
        orientation = _orientation(img)
        img.load()
        factor = min(img.size[0] // (2 * size[1]), img.size[1] // (2 * size[0]))
        if factor >= 2:
            try:
                img = img.reduce(factor)  # box filter: cheap, frees the large image early
            except (ValueError, NotImplementedError):
                pass
        if img.mode in _SIXTEEN_BIT_MODES or img.mode == "F":
            img = _to_8bit(img)
        if orientation != 1:
            img.getexif()[0x0112] = orientation  # reduce() drops EXIF; exif_transpose reads it here
            img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")
            background = Image.new("RGBA", img.size, (0, 0, 0, 255))
            img = Image.alpha_composite(background, img)
        img = img.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def _cache_key(paths: Sequence[Path], size: tuple[int, int]) -> str:
    """Key of the decoded-array cache: the files' *contents* (SHA-256), their order, the size
    and the decoder version. A photo rewritten in place is decoded again whatever its
    modification time says; a renamed or moved one is found again."""
    digest = hashlib.sha256(f"v{_DECODER_VERSION}|{size}".encode())
    for path in paths:
        digest.update(f"{file_digest(path)}\n".encode())
    return digest.hexdigest()[:24]


def _protected_root(paths: Sequence[Path], folder: Path) -> Path | None:
    """The image folder that ``folder`` lies inside, if any (None when writing there is fine).

    An image folder is the parent of a class folder (two levels above each image). Home and
    the file-system root are never treated as image folders, so that photos kept directly
    in ``~/cats/`` do not forbid the default cache in ``~/.cache``.
    """
    target = _real(folder)
    home = _real(Path.home())
    for root in {_real(Path(p).parent.parent) for p in paths}:
        if root == os.path.dirname(root) or home == root or home.startswith(root.rstrip(os.sep) + os.sep):
            continue
        if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
            return Path(root)
    return None


def check_cache_dir(image_dir: str | os.PathLike, cache: str | os.PathLike | None = None) -> None:
    """Raise :class:`ImageFolderError` when the cache (``COURSE_CACHE_DIR``) is inside ``image_dir``.

    The course never writes into a folder of photos: arrays there would change the user's
    folder and show up as files (or a class) the next time it is read. Call it before any
    work; the message says what to set instead.
    """
    cache = Path(cache) if cache is not None else config.cache_dir(create=False)
    root, target = _real(image_dir), _real(cache)
    if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
        raise ImageFolderError(
            f"the course cache {show_path(cache)} (COURSE_CACHE_DIR) is inside the image folder "
            f"{show_path(image_dir)}; the course never writes into your photos' folder. Set "
            "COURSE_CACHE_DIR to a folder outside it (or unset it to use the default cache)."
        )


def save_array_atomic(target: Path, array: np.ndarray) -> bool:
    """Write ``array`` to ``target`` (``.npy``) atomically; True when it was written.

    The array goes to a temporary file with a name unique to this process and call, in the
    same folder, which is then renamed over ``target``: a reader sees the old file or the
    new one, two runs at once never share a temporary file, and when the write fails (a
    full disk, a read-only cache) the temporary file is removed, a warning says why, and
    nothing else changes.
    """
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, target)
        return True
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        hint = ("the disk is full: free some space or set COURSE_CACHE_DIR to a disk with room"
                if exc.errno == errno.ENOSPC else "set COURSE_CACHE_DIR to a folder you can write to")
        _warn(f"could not write the cache file {show_path(target)} ({exc.strerror or exc}); going on "
              f"without caching it ({hint})")
        return False


def _load_cached_array(target: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        value = np.load(target, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return value if value.shape == shape and value.dtype == np.uint8 else None


def load_image_arrays(
    paths: Sequence[str | os.PathLike], image_size: int | tuple[int, int], *, cache: bool = True
) -> np.ndarray:
    """Decode images to one ``uint8`` array of shape ``(n, height, width, 3)``.

    The result is cached in the course cache, keyed by the files' contents (SHA-256) and the
    image size, so a second call loads it in a fraction of a second and a photo rewritten in
    place is decoded again. The cache is written atomically (safe for two runs at once) and
    never inside the images' own folder: when ``COURSE_CACHE_DIR`` points there, nothing is
    cached and a warning says so. uint8 takes a quarter of the memory of float32: scale in
    the model (``keras.layers.Rescaling``) or batch by batch, not here.

    Raises :class:`ImageTooLargeError` for a file over :func:`max_pixels`, and Pillow's
    ``OSError``/``ValueError`` for files it cannot decode (validate the folder first with
    :func:`validate_image_folder` to skip them).
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    files = [Path(p) for p in paths]
    shape = (len(files), size[0], size[1], 3)
    folder = config.cache_dir(create=False) / "arrays"
    if cache:
        inside = _protected_root(files, folder)
        if inside is not None:
            _warn(f"COURSE_CACHE_DIR ({show_path(folder.parent)}) is inside the image folder "
                  f"{show_path(inside)}; decoded images are not cached there (the course never writes into "
                  "your photos' folder). Set COURSE_CACHE_DIR to a folder outside it.")
            cache = False
    if cache:
        target = folder / f"images-{size[0]}x{size[1]}-{_cache_key(files, size)}.npy"
        cached = _load_cached_array(target, shape)
        if cached is not None:
            return cached
    out = np.empty(shape, dtype=np.uint8)
    for i, path in enumerate(files):
        out[i] = _read_rgb(path, size)
    if cache:
        save_array_atomic(target, out)
    return out


def load_flower_arrays(
    image_size: int = 96, *, per_class: int | None = None, root: str | os.PathLike | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]] | dict:
    """The flower photos as uint8 arrays, split by a hash of each file's content (80/10/10).

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


# --------------------------------------------------------------------------- uploads


def _max_upload_bytes() -> int:
    value = os.environ.get("COURSE_MAX_UPLOAD_BYTES", "").strip()
    try:
        return int(float(value)) if value else DEFAULT_MAX_UPLOAD_BYTES
    except ValueError:
        raise ValueError(f"COURSE_MAX_UPLOAD_BYTES={value!r} is not a number of bytes") from None


def _zip_member_ignored(name: str) -> bool:
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    return any(p.lower() in _IGNORED_FOLDERS or p.startswith("._") or p.lower() in _IGNORED_NAMES for p in parts)


def unpack_image_zip(
    zip_path: str | os.PathLike, destination: str | os.PathLike, *, max_bytes: int | None = None
) -> Path:
    """Unpack a zip of photos (one folder per class) and return the folder that holds the classes.

    Made for uploads (lesson 08): ``__MACOSX/`` and macOS's ``._*`` files are left out; a zip
    of the folder itself (one extra top folder) is handled by returning that folder; members
    that would land outside ``destination`` stop it before anything is written; the total
    unpacked size is checked against ``max_bytes`` (default ``COURSE_MAX_UPLOAD_BYTES`` or
    :data:`DEFAULT_MAX_UPLOAD_BYTES`) before anything is written. The zip is unpacked into a
    temporary folder renamed into place at the end. ``destination`` must not exist yet or be
    empty: nothing already there is ever overwritten. Raises :class:`ImageFolderError` with
    the file and the fix.
    """
    zip_path, destination = Path(zip_path), Path(destination)
    limit = _max_upload_bytes() if max_bytes is None else int(max_bytes)
    if not zip_path.is_file():
        raise ImageFolderError(f"{show_path(zip_path)} does not exist; upload the zip again")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ImageFolderError(f"{show_path(destination)} already exists and is not empty; nothing is "
                               "overwritten. Remove it, or unpack into another folder")
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImageFolderError(f"{show_path(zip_path)} is not a zip file, or it is damaged ({exc}); "
                               "zip the folder again (right-click > Compress) and upload it again") from None
    with archive:
        members = []
        for info in archive.infolist():
            why = _unsafe_member(info.filename)
            if why is not None:
                raise ImageFolderError(f"{show_path(zip_path)} holds {info.filename!r}, {why}; nothing was "
                                       "unpacked. Zip the folder of photos itself")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ImageFolderError(f"{show_path(zip_path)} holds a link, {info.filename!r}; nothing was "
                                       "unpacked. Zip the photos themselves")
            if not _zip_member_ignored(info.filename):
                members.append(info)
        total = sum(i.file_size for i in members)
        if total > limit:
            raise ImageFolderError(
                f"{show_path(zip_path)} unpacks to {total / 1e6:,.0f} MB, over the limit of {limit / 1e6:,.0f} MB "
                "(COURSE_MAX_UPLOAD_BYTES); nothing was unpacked. Upload fewer or smaller photos (about 100 "
                "per class is plenty), or raise COURSE_MAX_UPLOAD_BYTES if the disk has room")
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.parent / f".{destination.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            archive.extractall(tmp, members=members)
            if destination.exists():
                destination.rmdir()  # checked empty above
            os.replace(tmp, destination)
        except OSError as exc:
            raise ImageFolderError(f"could not unpack {show_path(zip_path)} into {show_path(destination)} "
                                   f"({exc.strerror or exc}); free some disk space or choose another folder") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return class_root(destination)


def class_root(folder: str | os.PathLike) -> Path:
    """The folder that holds the class folders: ``folder`` itself, or its only sub-folder when
    ``folder`` holds nothing else and that sub-folder holds folders but no images (a zip of
    the photo folder itself unpacks that way)."""
    folder = Path(folder)
    top = [p for p in _entries(folder) if not _is_hidden(p)]
    if len(top) == 1 and top[0].is_dir() and class_folders(top[0]) and not any(
        _is_image_name(p) for p in _entries(top[0])
    ):
        return top[0]
    return folder


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
    is a file or disabled. ``tf.io.decode_image`` does not apply EXIF orientation; the
    course's tools decode with Pillow (:func:`load_image_arrays`), which does.
    """
    import tensorflow as tf

    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    files = tf.constant([os.fsencode(p) for p in paths])  # bytes: any file name, UTF-8 or not
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


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)
