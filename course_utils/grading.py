"""Readable checks for the test cells of the graded assignments (nbgrader).

A test cell calls these instead of bare ``assert`` statements, so that a failing check says
*what was checked, what was expected and what was found*::

    from course_utils.grading import check_shape, check_close, passed

    check_shape("flatten_images(images)", flat, (1797, 64))
    check_close("normalise(x)[0]", normalised[0], expected_row)
    passed("flatten_images")

Each failed check raises :class:`GradingError` (an ``AssertionError``), so nbgrader scores the
cell zero. Checks inside ``### BEGIN HIDDEN TESTS`` blocks pass ``reveal=False``: their
messages then describe what the student's value looks like and what went wrong, but never
quote the hidden expected value (or threshold), so feedback does not give hidden tests away.

:func:`install` (called once by each assignment's first, read-only cell) makes failures show
as one short line instead of a traceback, and sends Python warnings to standard output:
nbgrader gives zero points to a test cell that writes *anything* to standard error, and a
correct answer should not lose its points because a library printed a warning.

Importing this module imports NumPy only; :func:`start_tensorflow` imports TensorFlow when called.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import sys
import warnings
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

__all__ = [
    "GradingError",
    "check",
    "check_at_least",
    "check_at_most",
    "check_between",
    "check_close",
    "check_dtype",
    "check_equal",
    "check_shape",
    "check_type",
    "check_by_hand",
    "describe",
    "forbid",
    "install",
    "library_use",
    "passed",
    "sklearn_metric_functions",
    "start_tensorflow",
]

_MAX_REPR = 160
_HIDDEN_NOTE = "(a hidden check, run on data you have not seen)"


class GradingError(AssertionError):
    """A check in a test cell failed. The message says what was expected and what was found."""


# --------------------------------------------------------------------------- formatting


def _short(text: str, limit: int = _MAX_REPR) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """A short, human description of ``value`` for feedback messages.

    Arrays are summarised (shape, dtype, range) instead of printed in full.
    """
    if value is None:
        return "None"
    if isinstance(value, np.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype")):
        try:
            arr = np.asarray(value)
        except Exception:  # a symbolic tensor, for example
            return f"{type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}"
        if arr.ndim == 0:
            return _short(repr(arr.item()))
        if arr.size <= 8:
            body = np.array2string(arr, precision=4, separator=", ", threshold=8)
            return _short(f"array {body} (dtype {arr.dtype})")
        text = f"array of shape {arr.shape}, dtype {arr.dtype}"
        if arr.size and np.issubdtype(arr.dtype, np.number):
            finite = arr[np.isfinite(arr)] if np.issubdtype(arr.dtype, np.floating) else arr
            if finite.size:
                text += f", values from {_num(finite.min())} to {_num(finite.max())}"
            if finite.size < arr.size:
                text += f", {arr.size - finite.size} NaN/inf"
        return text
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"{type(value).__name__} of length {len(value)}"
    if isinstance(value, float):
        return _num(value)
    return _short(repr(value))


def _num(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return _short(repr(x))
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def _fail(name: str, problem: str, hint: str = "", *, reveal: bool = True) -> None:
    message = f"{name}: {problem}"
    if not reveal:
        message += f" {_HIDDEN_NOTE}"
    if hint:
        message += f". Hint: {hint}"
    raise GradingError(message)


def _as_array(name: str, value: Any, hint: str = "") -> np.ndarray:
    if value is None:
        _fail(name, "expected an array, found None (did your function forget to `return`?)", hint)
    try:
        return np.asarray(value)
    except Exception:
        _fail(name, f"expected an array, found {type(value).__name__} that NumPy cannot convert", hint)
    raise AssertionError("unreachable")  # pragma: no cover


def _index(flat_index: int, shape: tuple[int, ...]) -> str:
    if not shape:
        return ""
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat_index, shape)) + "]"


# --------------------------------------------------------------------------- checks


def check(condition: Any, message: str) -> None:
    """Fail with ``message`` unless ``condition`` is true."""
    if not condition:
        raise GradingError(message)


def check_type(name: str, value: Any, types: type | tuple[type, ...], *, hint: str = "") -> None:
    """``value`` must be an instance of ``types``."""
    if not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        _fail(name, f"expected a {wanted}, found {type(value).__name__} ({describe(value)})", hint)


def check_shape(
    name: str, value: Any, expected: Sequence[int | None], *, reveal: bool = True, hint: str = ""
) -> None:
    """``value`` must have shape ``expected`` (``None`` matches any size on that axis)."""
    shape = getattr(value, "shape", None)
    if shape is None:
        if value is None or not isinstance(value, (list, tuple)):
            _fail(name, f"expected an array of shape {tuple(expected)}, found {describe(value)}", hint,
                  reveal=reveal)
        shape = np.shape(value)
    shape = tuple(None if s is None else int(s) for s in shape)
    expected = tuple(expected)
    ok = len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))
    if not ok:
        if reveal:
            _fail(name, f"expected shape {expected}, found shape {shape}", hint)
        _fail(name, f"has the wrong shape {shape}", hint, reveal=False)


def check_dtype(name: str, value: Any, kind: str, *, hint: str = "") -> None:
    """``value``'s dtype must be of ``kind``: ``"floating"``, ``"integer"`` or ``"bool"``."""
    kinds = {"floating": np.floating, "integer": np.integer, "bool": np.bool_}
    arr = _as_array(name, value, hint)
    if not np.issubdtype(arr.dtype, kinds[kind]):
        words = {"floating": "floating-point numbers", "integer": "integers", "bool": "booleans"}[kind]
        _fail(name, f"expected {words}, found dtype {arr.dtype}", hint)


def check_equal(name: str, value: Any, expected: Any, *, reveal: bool = True, hint: str = "") -> None:
    """``value`` must equal ``expected`` exactly (arrays element by element, same shape)."""
    if isinstance(expected, np.ndarray) or isinstance(value, np.ndarray):
        arr = _as_array(name, value, hint)
        exp = np.asarray(expected)
        check_shape(name, arr, exp.shape, reveal=reveal, hint=hint)
        wrong = arr != exp
        if np.any(wrong):
            first = int(np.flatnonzero(wrong)[0])
            where = _index(first, exp.shape)
            count = int(wrong.sum())
            if reveal:
                _fail(name, f"{count} of {exp.size} entries differ; at {where} expected "
                      f"{_num(exp.flat[first])}, found {_num(arr.flat[first])}", hint)
            _fail(name, f"{count} of {exp.size} entries are wrong (first at {where}, where you have "
                  f"{_num(arr.flat[first])})", hint, reveal=False)
        return
    equal = value == expected
    if isinstance(equal, np.ndarray):  # pragma: no cover - guarded above
        equal = bool(np.all(equal))
    if not equal:
        if reveal:
            _fail(name, f"expected {describe(expected)}, found {describe(value)}", hint)
        _fail(name, f"found {describe(value)}, which is not right", hint, reveal=False)


def check_close(
    name: str,
    value: Any,
    expected: Any,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    reveal: bool = True,
    hint: str = "",
) -> None:
    """``value`` must be close to ``expected`` (``numpy.allclose`` with ``rtol``/``atol``)."""
    arr = _as_array(name, value, hint)
    exp = np.asarray(expected, dtype=float)
    if exp.ndim:
        check_shape(name, arr, exp.shape, reveal=reveal, hint=hint)
    elif arr.size != 1:
        _fail(name, f"expected a single number, found {describe(value)}", hint, reveal=reveal)
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
        _fail(name, f"expected numbers, found {describe(value)}", hint, reveal=reveal)
    arr = arr.astype(float).reshape(exp.shape)
    bad = ~np.isclose(arr, exp, rtol=rtol, atol=atol)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        count = int(bad.sum())
        if exp.ndim == 0:
            if reveal:
                _fail(name, f"expected {_num(exp)}, found {_num(arr)}", hint)
            _fail(name, f"found {_num(arr)}, which is not right", hint, reveal=False)
        where = _index(first, exp.shape)
        diff = float(np.nanmax(np.abs(arr - exp))) if np.isfinite(arr).any() else float("nan")
        if reveal:
            _fail(name, f"{count} of {exp.size} values differ (largest difference {_num(diff)}); at {where} "
                  f"expected {_num(exp.flat[first])}, found {_num(arr.flat[first])}", hint)
        _fail(name, f"{count} of {exp.size} values are wrong (first at {where}, where you have "
              f"{_num(arr.flat[first])})", hint, reveal=False)


def check_between(
    name: str, value: Any, low: float, high: float, *, reveal: bool = True, hint: str = ""
) -> None:
    """Every entry of ``value`` must lie in ``[low, high]`` (NaN fails)."""
    arr = _as_array(name, value, hint).astype(float)
    if arr.size == 0:
        _fail(name, "expected values, found an empty array", hint, reveal=reveal)
    if np.isnan(arr).any():
        _fail(name, f"found {int(np.isnan(arr).sum())} NaN value(s)", hint, reveal=reveal)
    lo, hi = float(arr.min()), float(arr.max())
    if lo < low or hi > high:
        found = f"values from {_num(lo)} to {_num(hi)}" if arr.size > 1 else _num(arr.item())
        if reveal:
            _fail(name, f"expected values between {_num(low)} and {_num(high)}, found {found}", hint)
        _fail(name, f"is out of range: found {found}", hint, reveal=False)


def check_at_least(name: str, value: Any, threshold: float, *, reveal: bool = True, hint: str = "") -> None:
    """``value`` (a number) must be at least ``threshold``."""
    number = _scalar(name, value, hint, reveal)
    if not number >= threshold:
        if reveal:
            _fail(name, f"expected at least {_num(threshold)}, found {_num(number)}", hint)
        _fail(name, f"is too low: found {_num(number)}", hint, reveal=False)


def check_at_most(name: str, value: Any, threshold: float, *, reveal: bool = True, hint: str = "") -> None:
    """``value`` (a number) must be at most ``threshold``."""
    number = _scalar(name, value, hint, reveal)
    if not number <= threshold:
        if reveal:
            _fail(name, f"expected at most {_num(threshold)}, found {_num(number)}", hint)
        _fail(name, f"is too high: found {_num(number)}", hint, reveal=False)


def _scalar(name: str, value: Any, hint: str, reveal: bool) -> float:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.size != 1:
        _fail(name, f"expected a single number, found {describe(value)}", hint, reveal=reveal)
    return float(arr.reshape(()))


def passed(what: str) -> None:
    """Print the line a test cell ends with when all its checks passed."""
    print(f"\u2714 {what}: all checks in this cell passed.")


# --------------------------------------------------------------------------- work done by hand

_LIBRARY_PREFIXES = ("keras", "tensorflow", "sklearn", "scipy", "torch", "jax")


def _code_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def library_use(func: Callable, libraries: Sequence[str], *, _seen: set[int] | None = None) -> list[str]:
    """How ``func`` refers to any of ``libraries`` (module names such as ``"sklearn"``).

    Looks at the names its code uses (its nested functions included): a name equal to a
    library's, a global that is one of the library's modules or functions, and, through
    functions defined in the same notebook, what those use in turn. Returns one short
    description per finding (empty when there is none). Used by hidden tests of questions
    that ask for a computation *by hand*; a call made some other way is caught by
    :func:`forbid` while the function runs.
    """
    seen = _seen if _seen is not None else set()
    code = getattr(func, "__code__", None)
    if code is None or id(code) in seen:
        return []
    seen.add(id(code))
    found: list[str] = []
    libs = tuple(libraries)
    namespace = getattr(func, "__globals__", {})
    for name in sorted(_code_names(code)):
        if name in libs:
            found.append(f"uses {name}")
            continue
        value = namespace.get(name)
        if value is None:
            continue
        origin = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        if isinstance(origin, str) and origin.split(".")[0] in libs:
            found.append(f"uses {name} (from {origin.split('.')[0]})")
        elif inspect.isfunction(value) and value is not func:
            found += library_use(value, libs, _seen=seen)
    return found


class _Forbidden:
    def __init__(self, label: str, calls: list[str]) -> None:
        self.label, self.calls = label, calls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(self.label)
        raise GradingError(f"{self.label} is not allowed in this answer")


@contextlib.contextmanager
def forbid(targets: Iterable[str], what: str, *, reveal: bool = False) -> Iterator[list[str]]:
    """Make the functions named in ``targets`` fail while the block runs, then check.

    Each target is ``"module.path:attribute"`` or ``"module.path:Class.attribute"``. Modules
    that are not imported yet are skipped (the student's code cannot have used them without
    importing them, and :func:`library_use` sees an import). Inside the block every call to a
    target raises; after the block a :class:`GradingError` says which forbidden function
    ``what`` called, even if the student's code caught the first error and carried on.
    """
    calls: list[str] = []
    patched: list[tuple[Any, str, Any]] = []
    for target in targets:
        module_name, _, attr_path = target.partition(":")
        module = sys.modules.get(module_name)
        if module is None:
            continue
        *owners, attr = attr_path.split(".")
        owner: Any = module
        for part in owners:
            owner = getattr(owner, part, None)
        if owner is None or not hasattr(owner, attr):
            continue
        label = target.replace(":", ".").replace(".src", "")
        own = attr in vars(owner)
        patched.append((owner, attr, vars(owner)[attr] if own else None, own))
        setattr(owner, attr, _Forbidden(label, calls))
    try:
        yield calls
    finally:
        for owner, attr, original, own in reversed(patched):
            if own:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)
    if calls:
        _fail(what, f"calls {calls[0]}, which this question asks you not to use", reveal=reveal)


def check_by_hand(what: str, func: Callable, libraries: Sequence[str] = _LIBRARY_PREFIXES) -> None:
    """``func`` must not refer to any of ``libraries`` (see :func:`library_use`)."""
    found = library_use(func, libraries)
    if found:
        _fail(what, "must be computed by hand, but " + "; ".join(dict.fromkeys(found)), reveal=False)


CONV_FUNCTIONS = (
    "keras.src.backend.tensorflow.nn:conv",
    "keras.src.backend.tensorflow.nn:depthwise_conv",
    "keras.src.backend.tensorflow.nn:separable_conv",
    "keras.src.layers.convolutional.base_conv:BaseConv.call",
    "keras.src.layers.convolutional.base_conv:BaseConv.compute_output_shape",
    "keras.src.layers.convolutional.base_conv:compute_conv_output_shape",
    "keras.src.ops.operation_utils:compute_conv_output_shape",
    "tensorflow.python.ops.gen_nn_ops:conv2d",
    "tensorflow.python.ops.nn_ops:convolution_v2",
    "tensorflow.python.ops.nn_ops:conv2d_v2",
    "tensorflow.raw_ops:Conv2D",
    "scipy.signal:correlate", "scipy.signal:correlate2d", "scipy.signal:convolve",
    "scipy.signal:convolve2d", "scipy.signal:fftconvolve", "scipy.signal:oaconvolve",
    "scipy.ndimage:correlate", "scipy.ndimage:convolve",
)
"""What :func:`forbid` switches off while a hand-written convolution is graded."""


def sklearn_metric_functions() -> list[str]:
    """Every public function of ``sklearn.metrics`` (and where it is defined), for :func:`forbid`."""
    metrics = sys.modules.get("sklearn.metrics")
    if metrics is None:
        return []
    targets = []
    for name in dir(metrics):
        value = getattr(metrics, name)
        if inspect.isfunction(value) and not name.startswith("_"):
            targets.append(f"sklearn.metrics:{name}")
            targets.append(f"{value.__module__}:{name}")
    return sorted(set(targets))


# --------------------------------------------------------------------------- notebook set-up


def _grading_error_handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None):
    # One line, no code context: the message says what was expected and what was found,
    # and the test cell's (possibly hidden) source is not quoted. IPython leaves displaying
    # to the handler; `_showtraceback` is what its own handlers use (ipykernel publishes an
    # "error" output and records the traceback for the execute reply).
    stb = [f"\x1b[0;31m\u2718 {etype.__name__}\x1b[0m: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def _warning_to_stdout(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))


def start_tensorflow() -> Any:
    """Start TensorFlow quietly (:func:`course_utils.models.start_tensorflow`); return ``keras``.

    TensorFlow prints start-up messages (CUDA probing, CPU features) to standard error when
    it first touches a device. Doing that in an assignment's set-up cell keeps them out of the
    test cells, where nbgrader would count them as a failure.
    """
    from course_utils import models

    models.start_tensorflow()
    import keras

    return keras


def install(*, quiet_loggers: Iterable[str] = ("tensorflow", "absl")) -> bool:
    """Set up an assignment notebook's kernel for readable grading.

    - a failed check (:class:`GradingError`) shows as one red line with its message, not a
      traceback;
    - Python warnings are written to standard output instead of standard error (nbgrader
      scores a test cell zero when it writes anything to standard error);
    - TensorFlow's and absl's Python loggers only report errors (no retracing warnings).

    Returns True when running inside IPython/Jupyter (the first point needs it) and False
    elsewhere; the other two apply everywhere. Safe to call more than once.
    """
    warnings.showwarning = _warning_to_stdout
    for name in quiet_loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((GradingError,), _grading_error_handler)
    return True
