"""Course configuration: environment variables, paths, platform detection and seeds.

This module imports nothing heavy (no TensorFlow), so quizzes and graders can use it
instantly.

Environment variables
---------------------
``COURSE_DATA_DIR``
    A folder that already holds the datasets (for example a copy of ``flower_photos/``).
    When set, nothing is downloaded.
``COURSE_FAST``
    ``1`` selects small subsets and few epochs so every notebook executes in seconds (CI).
``COURSE_ALLOW_RANDOM_WEIGHTS``
    ``1`` lets model loaders fall back to random weights when ImageNet weights can be
    neither found nor downloaded (offline CI only; a loud warning is printed).
``COURSE_CACHE_DIR``
    Where downloads, decoded images and bottleneck features are cached
    (default ``~/.cache/pixels-to-poets``).
``COURSE_SEED``
    The seed every lesson and tool uses (default 42). The benchmark sets it to measure how
    much a result moves from one seed to the next; a student normally leaves it alone.
``COURSE_BF16``
    ``1`` runs the course's training and feature extraction in bfloat16 mixed precision
    (Keras's ``mixed_bfloat16`` policy), ``0`` or unset keeps float32. Only processors with
    bfloat16 arithmetic (AMX or AVX-512 BF16, see :func:`bfloat16_support`) gain from it;
    elsewhere TensorFlow emulates it, slower than float32, so the course warns and keeps
    float32.
``NBGRADER_EXECUTION``
    Set by nbgrader while autograding; treated like fast mode.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SEED",
    "Environment",
    "allow_random_weights",
    "bfloat16_enabled",
    "bfloat16_support",
    "cache_dir",
    "data_dir",
    "detect_environment",
    "fast_mode",
    "grading_mode",
    "pick",
    "set_seeds",
]

DEFAULT_SEED = 42


def _seed_from_environment() -> int:
    raw = os.environ.get("COURSE_SEED", "").strip()
    if not raw:
        return DEFAULT_SEED
    try:
        return int(raw)
    except ValueError:
        import warnings

        warnings.warn(f"COURSE_SEED={raw!r} is not a whole number; using the default seed {DEFAULT_SEED}. "
                      "Set it to an integer such as COURSE_SEED=1, or unset it.", stacklevel=2)
        return DEFAULT_SEED


#: The seed every lesson uses, so that a rerun gives the same numbers on the same machine
#: (``COURSE_SEED`` when set, else 42).
SEED = _seed_from_environment()

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def grading_mode() -> bool:
    """True while nbgrader executes a notebook (``NBGRADER_EXECUTION`` is set)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def fast_mode() -> bool:
    """True when ``COURSE_FAST=1`` or while nbgrader is grading: use small data, few epochs."""
    return _flag("COURSE_FAST") or grading_mode()


def allow_random_weights() -> bool:
    """True when ``COURSE_ALLOW_RANDOM_WEIGHTS=1`` (offline CI only)."""
    return _flag("COURSE_ALLOW_RANDOM_WEIGHTS")


#: Processor features (Linux ``/proc/cpuinfo`` flags) that do bfloat16 arithmetic in hardware.
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> set[str]:
    """The processor's feature flags as Linux reports them (an empty set elsewhere)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.split(":", 1)[0].strip() in ("flags", "Features"):
            return set(line.split(":", 1)[1].split())
    return set()


def bfloat16_support(flags: set[str] | None = None) -> tuple[bool, str]:
    """``(supported, why)``: whether this processor does bfloat16 arithmetic in hardware."""
    flags = cpu_flags() if flags is None else flags
    found = [flag for flag in BFLOAT16_FLAGS if flag in flags]
    if found:
        return True, f"the processor has {' and '.join(found)}"
    if not flags:
        return False, "the processor's features could not be read (not Linux?)"
    return False, f"the processor has none of {', '.join(BFLOAT16_FLAGS)} (bfloat16 would be emulated, slower)"


def bfloat16_enabled(flags: set[str] | None = None) -> bool:
    """True when ``COURSE_BF16=1`` and the processor supports bfloat16 (otherwise warns and says no)."""
    if not _flag("COURSE_BF16"):
        return False
    supported, why = bfloat16_support(flags)
    if not supported:
        import warnings

        warnings.warn(f"COURSE_BF16=1 is set, but {why}: keeping float32. Unset COURSE_BF16 on this machine.",
                      stacklevel=2)
    return supported


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise (epochs, subset sizes, ...)."""
    return fast if fast_mode() else full


def data_dir() -> Path | None:
    """The folder named by ``COURSE_DATA_DIR``, or ``None`` when it is not set.

    A relative path is taken relative to the current working directory.
    """
    value = os.environ.get("COURSE_DATA_DIR", "").strip()
    if not value:
        return None
    return Path(value).expanduser().resolve()


def cache_dir(*, create: bool = True) -> Path:
    """The course's cache folder (created on demand; ``create=False`` only names it).

    ``COURSE_CACHE_DIR`` wins; otherwise ``$XDG_CACHE_HOME/pixels-to-poets`` or
    ``~/.cache/pixels-to-poets``. The data folder is treated as read-only, so caches never
    go there.
    """
    value = os.environ.get("COURSE_CACHE_DIR", "").strip()
    if value:
        path = Path(value).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME", "").strip()
        path = (Path(base) if base else Path.home() / ".cache") / "pixels-to-poets"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Environment:
    """Where the course is running."""

    platform: str  # "colab", "binder", "kaggle" or "local"
    python: str
    system: str
    cpus: int

    def __str__(self) -> str:
        return f"{self.platform} (Python {self.python}, {self.system}, {self.cpus} CPU)"


def detect_environment() -> Environment:
    """Detect Colab, Binder, Kaggle or a local machine from well-known markers."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        where = "colab"
    elif os.environ.get("BINDER_SERVICE_HOST") or os.environ.get("BINDER_LAUNCH_HOST") or os.environ.get(
        "BINDER_REPO_URL"
    ):
        where = "binder"
    elif os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
        where = "kaggle"
    else:
        where = "local"
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return Environment(where, platform.python_version(), platform.system(), cpus)


def set_seeds(seed: int | None = None) -> None:
    """Seed Python, NumPy and (if imported or importable) Keras/TensorFlow with ``seed``
    (default :data:`SEED`).

    Uses ``keras.utils.set_random_seed`` when Keras is already imported, so calling this
    from a quiz-only notebook does not pull in TensorFlow.
    """
    if seed is None:
        seed = SEED
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    if "keras" in sys.modules:  # already imported by the caller: seed it too, without importing it here
        sys.modules["keras"].utils.set_random_seed(seed)
    elif "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
