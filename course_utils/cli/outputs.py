"""What the command-line tools write and print, made safe against failures and odd input.

Output folders
    :func:`check_output_dir` runs before any training: it refuses a path that is a file, a
    folder holding files the tool did not make, a parent it cannot write to, or a nearly
    full disk, each with the fix. :class:`StagedOutput` then receives every output file in
    a temporary folder beside the target, which replaces the target only when all of them
    are written: a run that fails or is interrupted (Ctrl-C, a full disk) leaves the
    previous model folder exactly as it was and no partial file behind.

Text
    :func:`terminal_safe` strips escape sequences and control characters from text that came
    from a file (class names in ``labels.txt``), so that printing it cannot restyle or
    rewrite the user's terminal. Paths are printed with :func:`course_utils.data.show_path`.

Options
    :func:`positive_int` is an ``argparse`` type for counts that must be at least 1.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Iterable

from course_utils.cli.common import UserError
from course_utils.data import show_path

__all__ = ["OutputError", "StagedOutput", "check_output_dir", "positive_int", "terminal_safe"]

#: Free space asked for beside the output folder before training starts.
DEFAULT_MIN_FREE_BYTES = 200 * 1024**2


class OutputError(UserError):
    """The output folder cannot receive the results (the message says why and what to do)."""


def _staging_prefix(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _leftovers(target: Path, kind: str) -> list[tuple[Path, int]]:
    """Staging folders of ``kind`` ("new" or "old") left beside ``target`` by runs that died."""
    found = []
    prefix = _staging_prefix(target, kind)
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(prefix):
            try:
                pid = int(entry.name[len(prefix):].split("-", 1)[0])
            except ValueError:
                continue
            if not _pid_alive(pid):
                found.append((entry, pid))
    return found


def check_output_dir(
    path: str | os.PathLike,
    expected: Iterable[str],
    *,
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
    say=print,
) -> Path:
    """Make sure ``path`` can receive the tool's output files, before any work is done.

    ``expected`` names the files the tool writes; an existing folder may hold only those
    (it is a previous result, replaced as a whole at the end). Creates the parent folders,
    writes and removes a probe file beside ``path``, and checks the free space. A previous
    result moved aside by a run killed at the last moment is put back (and said so); the
    temporary folders of killed runs are removed. Raises :class:`OutputError`.
    """
    target = Path(path).expanduser()
    shown = show_path(target)
    for leftover, _ in _leftovers(target, "old"):
        if not target.exists():
            os.replace(leftover, target)
            say(f"note: put back the previous {shown} that an interrupted run had moved aside")
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover, _ in _leftovers(target, "new"):
        shutil.rmtree(leftover, ignore_errors=True)
    if target.exists() and not target.is_dir():
        raise OutputError(f"--output_dir {shown} is a file, not a folder; give the name of a new folder "
                          "(it is created) or of a previous model folder")
    if target.is_dir():
        try:
            others = sorted(p.name for p in target.iterdir() if p.name not in set(expected))
        except OSError as exc:
            raise OutputError(f"--output_dir {shown} cannot be read ({exc.strerror}); choose another folder") from None
        if others:
            listed = ", ".join(show_path(n) for n in others[:5]) + (" ..." if len(others) > 5 else "")
            raise OutputError(f"--output_dir {shown} holds files this tool did not write ({listed}); it replaces "
                              "the whole folder at the end, so give an empty or new folder instead")
    parent = target.parent
    for above in parent.parents if not parent.exists() else ():
        if above.exists() and not above.is_dir():
            raise OutputError(f"--output_dir {shown} cannot be made: {show_path(above)} is a file, not a folder; "
                              "nothing was trained. Choose another --output_dir")
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"--output_dir {shown} cannot be made: {show_path(parent)} is a file, not a folder; "
                          "nothing was trained. Choose another --output_dir")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{target.name}.probe-{os.getpid()}-{secrets.token_hex(4)}"
        with open(probe, "xb") as handle:
            handle.write(b"probe")
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()
    except OSError as exc:
        why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise OutputError(f"cannot write beside --output_dir {shown} ({why}); nothing was trained. Choose a "
                          "folder you can write to (for example in your home folder), or free some space") from None
    free = shutil.disk_usage(parent).free
    if free < min_free_bytes:
        raise OutputError(f"only {free / 1e6:.0f} MB free on the disk of --output_dir {shown}, under the "
                          f"{min_free_bytes / 1e6:.0f} MB a model needs; nothing was trained. Free some space or "
                          "choose a folder on another disk")
    return target


class StagedOutput:
    """A temporary folder beside ``target`` that replaces it only when :meth:`commit` is called.

    Use as a context manager: write every output into :attr:`path`, then call
    :meth:`commit`. Leaving the block without committing (an exception, Ctrl-C) removes the
    temporary folder and leaves ``target`` untouched; :attr:`committed` says which happened.
    """

    def __init__(self, target: str | os.PathLike):
        self.target = Path(target).expanduser()
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.path = self.target.parent / f"{_staging_prefix(self.target, 'new')}{token}"
        self._old = self.target.parent / f"{_staging_prefix(self.target, 'old')}{token}"
        self.committed = False
        self.had_previous = self.target.exists()

    def __enter__(self) -> "StagedOutput":
        self.path.mkdir(parents=True)
        return self

    def __exit__(self, *exc) -> bool:
        if not self.committed:
            self.discard()
        return False

    def commit(self) -> Path:
        """Swap the staged folder in: the previous ``target`` (if any) is replaced as a whole."""
        moved = False
        if self.target.exists():
            os.replace(self.target, self._old)
            moved = True
        try:
            os.replace(self.path, self.target)
        except BaseException:
            if moved:
                os.replace(self._old, self.target)
            raise
        self.committed = True
        if moved:
            shutil.rmtree(self._old, ignore_errors=True)
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def outcome(self) -> str:
        """A truthful sentence about ``target`` for a run that did not commit."""
        shown = show_path(self.target)
        if self.committed:
            return f"the results were written to {shown}"
        if self.had_previous:
            return f"{shown} was not changed: the previous model there is intact"
        return f"nothing was written to {shown}"


# --------------------------------------------------------------------------- text and options

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def terminal_safe(text: str) -> str:
    """``text`` without escape sequences, control characters or bidirectional overrides.

    For text read from files (class names in ``labels.txt``) before it is printed: an ANSI
    sequence in a label could otherwise recolour, clear or rewrite the terminal. Tabs and
    new lines become spaces; everything printable is kept.
    """
    text = _ANSI.sub("", text)
    text = "".join(" " if c in "\t\n\r" else c for c in text
                   if c in "\t\n\r" or (c.isprintable() and ord(c) not in _BIDI))
    return text


def positive_int(value: str) -> int:
    """``argparse`` type: an integer of at least 1, with a message naming the value."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {number})")
    return number
