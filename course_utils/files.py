"""Writing and fingerprinting files safely: the one home for atomic writes and digests.

Every file the course writes (cached arrays and bottlenecks, results, the outputs of
``course-retrain``) goes through :func:`atomic_write` or :func:`atomic_save_npy`: the data is
written to a temporary file beside the target, whose name is unique per process and call
(pid + random), then moved over the target with :func:`os.replace`. A reader (another run,
another kernel) sees the old file or the new one, never half of one; a failure at any point
(full disk, killed process, an exception while serialising) leaves the target as it was and
removes the temporary file.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from pathlib import Path
from typing import Any, Iterable

__all__ = ["atomic_save_npy", "atomic_write", "file_digest", "folder_fingerprint"]


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def atomic_write(path: str | os.PathLike, data: bytes | str, *, encoding: str = "utf-8", durable: bool = True) -> Path:
    """Write ``data`` (bytes, or text encoded with ``encoding``) to ``path`` atomically.

    Creates the parent folder if needed and returns the path written. A reader sees the old
    file or the whole new one, never part of it. ``durable=False`` skips the ``fsync`` that
    makes the new content survive a power cut: for cache entries that are checked when read
    and recomputed when damaged, where waiting for the disk once per entry would slow the
    work the cache is there to speed up.
    """
    target = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(target)
    try:
        with open(tmp, "xb") as handle:
            handle.write(payload)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_save_npy(path: str | os.PathLike, array: Any, *, durable: bool = True) -> Path:
    """Save a NumPy array in ``.npy`` format to ``path`` atomically (no pickled objects);
    ``durable`` as for :func:`atomic_write`."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return atomic_write(path, buffer.getvalue(), durable=durable)


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks (memory stays flat for large files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_fingerprint(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> str:
    """One SHA-256 (hex) over names and contents, to prove that nothing changed.

    ``paths`` is a folder (every file and sub-folder below it counts, named relative to it)
    or a collection of files. Renaming, moving, deleting, adding or editing any file changes
    the fingerprint; so does adding or removing a folder.
    """
    if isinstance(paths, (str, os.PathLike)) and Path(paths).is_dir():
        root = Path(paths)
        entries = [(str(p.relative_to(root)), p) for p in sorted(root.rglob("*"))]
    else:
        items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        entries = [(str(Path(p)), Path(p)) for p in sorted(items, key=str)]
    digest = hashlib.sha256()
    for name, path in entries:
        content = "dir" if path.is_dir() else (file_digest(path) if path.exists() else "missing")
        digest.update(f"{name}\0{content}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
