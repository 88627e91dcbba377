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
``NBGRADER_EXECUTION``
    Set by nbgrader while autograding; treated like fast mode.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "SEED",
    "Environment",
    "allow_random_weights",
    "cache_dir",
    "data_dir",
    "detect_environment",
    "fast_mode",
    "grading_mode",
    "native_stderr_silenced",
    "import_tensorflow_quietly",
    "pick",
    "quiet_tensorflow",
    "set_seeds",
]

#: The seed every lesson uses, so that a rerun gives the same numbers on the same machine.
SEED = 42

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


def cache_dir() -> Path:
    """The course's cache folder (created on demand).

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


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter; call before importing TensorFlow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what native (C/C++) code writes to file descriptor 2 to the null device, for a while.

    TensorFlow's start-up notices (the oneDNN note, "Could not find cuda drivers", a failed
    ``cuInit`` on a machine without a GPU) are written there by its C++ logger, whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says, and a notebook shows them as a red box that alarms
    students. Python exceptions and ``sys.stderr`` writes made after the block are
    unaffected. Where file descriptor 2 cannot be duplicated it does nothing.
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


def import_tensorflow_quietly() -> Any:
    """Import TensorFlow without its C++ start-up notices, for the command-line tools.

    Runs :func:`quiet_tensorflow`, imports TensorFlow and touches the devices once inside
    :func:`native_stderr_silenced`, and returns the module. An import error still raises.
    """
    quiet_tensorflow()
    with native_stderr_silenced():
        import tensorflow as tf

        tf.constant(1.0) + 1.0  # the first operation probes the devices (more notices)
    return tf


def set_seeds(seed: int = SEED) -> None:
    """Seed Python, NumPy and (if imported or importable) Keras/TensorFlow.

    Uses ``keras.utils.set_random_seed`` when Keras is already imported, so calling this
    from a quiz-only notebook does not pull in TensorFlow.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)


# --------------------------------------------------------------------------- lesson set-up

REPO_URL = "https://github.com/pixels-to-poets/pixels-to-poets"


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def lesson_setup(*, tensorflow: bool = True, quiet: bool = False) -> Environment:
    """The set-up every lesson runs first: versions, platform, CPU/GPU, data, modes, seeds.

    Prints a short report (unless ``quiet``), warns about versions that are too old, seeds
    every random generator with :data:`SEED` and returns the detected
    :class:`Environment`. With ``tensorflow=False`` TensorFlow is not imported (lessons
    that only use NumPy and scikit-learn start faster).
    """
    quiet_tensorflow()
    env = detect_environment()
    lines = [f"Running on: {env}"]
    for name in ("numpy", "scikit-learn", "matplotlib", "ipywidgets"):
        lines.append(f"  {name:<13} {_version(name) or 'not installed'}")
    if tensorflow:
        tf = import_tensorflow_quietly()  # no C++ start-up notices in the notebook; errors still raise
        import keras

        gpus = tf.config.list_physical_devices("GPU")
        lines.append(f"  {'tensorflow':<13} {tf.__version__}")
        lines.append(f"  {'keras':<13} {keras.__version__}")
        lines.append(f"  devices       {'GPU x%d' % len(gpus) if gpus else 'CPU only'}")
        major, minor = (int(x) for x in tf.__version__.split(".")[:2])
        if (major, minor) < (2, 16) or not keras.__version__.startswith("3"):
            lines.append("  WARNING: this course needs TensorFlow 2.16+ with Keras 3; "
                         "run `pip install -r requirements.txt`.")
    configured = data_dir()
    lines.append(f"  data          {'COURSE_DATA_DIR=' + str(configured) if configured else 'downloaded on first use into ' + str(cache_dir())}")
    modes = [m for m, on in (("FAST (small subsets, few epochs)", fast_mode()),
                             ("grading", grading_mode()),
                             ("random weights allowed", allow_random_weights())) if on]
    lines.append(f"  mode          {', '.join(modes) if modes else 'full'}")
    set_seeds()
    from course_utils import plots  # figures: no axis offsets, alternative text for screen readers

    plots.use_course_style()
    if not quiet:
        print("\n".join(lines))
    return env
