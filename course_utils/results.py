"""A running record of the held-out accuracy each lesson reaches, for lesson 07's comparison.

Lessons call :func:`record` once, at the end, with the accuracy of their final model on
held-out images; lesson 07 calls :func:`table` to compare every stage of the course. The
records live in one small JSON file in the course cache (``config.cache_dir() /
"results.json"``), so they survive kernel restarts and are shared by all lessons on one
machine. Nothing here imports TensorFlow or pandas.

Convention: the accuracy recorded is measured once, on the ``"test"`` part of the
content-hash split (:func:`course_utils.data.split_folder`), with the number of images it was
measured on, so that the numbers of different lessons can be compared.

Example::

    from course_utils import results
    results.record("flowers_pixels_logreg", 0.41, 240, "flatten 32x32 RGB + logistic regression")
    print(results.table())
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Mapping

from course_utils import config
from course_utils.files import atomic_write

__all__ = ["KNOWN_KEYS", "Result", "clear", "load", "record", "results_path", "table"]

#: The keys the lessons use, in course order, with a short description for the table.
KNOWN_KEYS: dict[str, str] = {
    "digits_pixels_logreg": "01 digits: raw pixels + logistic regression",
    "flowers_pixels_logreg": "01 flowers: raw pixels + logistic regression",
    "flowers_dense": "02 flowers: dense network on pixels",
    "cnn_scratch": "05 flowers: CNN trained from scratch",
    "cnn_augmented": "05 flowers: CNN + augmentation and dropout",
    "inception_head": "06 flowers: frozen Inception V3 + new softmax head",
    "inception_finetuned": "06 flowers: Inception V3 fine-tuned",
}


@dataclass(frozen=True)
class Result:
    """One recorded accuracy."""

    key: str
    accuracy: float  # fraction correct, 0..1
    n_images: int  # how many held-out images it was measured on
    note: str  # what was trained (free text)
    mode: str  # "fast" (COURSE_FAST / grading: small subsets) or "full"
    random_weights: bool  # True: a pretrained network had random weights; the number is meaningless
    timestamp: str  # when it was recorded (local time, ISO 8601)

    @property
    def meaningful(self) -> bool:
        """False for numbers that must not be presented as results (random weights)."""
        return not self.random_weights


def results_path() -> Path:
    """The JSON file holding the records: ``config.cache_dir() / "results.json"``."""
    return config.cache_dir() / "results.json"


def _read(path: Path) -> dict[str, dict]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):  # unreadable or half-written: start again rather than fail a lesson
        return {}
    return raw if isinstance(raw, dict) else {}


def record(
    key: str,
    accuracy: float,
    n_images: int,
    note: str = "",
    *,
    random_weights: bool = False,
    path: str | os.PathLike | None = None,
) -> Result:
    """Save (or replace) the held-out ``accuracy`` for ``key`` and return the record.

    ``accuracy`` is a fraction between 0 and 1 (NumPy and TensorFlow scalars are accepted),
    ``n_images`` the number of held-out images it was measured on. The mode (fast or
    full) is taken from :func:`course_utils.config.fast_mode`. Pass
    ``random_weights=True`` when a pretrained network had random weights (offline CI), so
    that the table marks the number as meaningless. Keys outside :data:`KNOWN_KEYS` are
    allowed (they are listed after the known ones).
    """
    if not isinstance(key, str) or not key.strip():
        raise ValueError("key must be a non-empty string, for example 'flowers_dense'")
    value = float(accuracy)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"accuracy must be a fraction between 0 and 1, got {accuracy!r}")
    count = int(n_images)
    if count != n_images or count <= 0:
        raise ValueError(f"n_images must be a positive whole number, got {n_images!r}")
    result = Result(
        key=key,
        accuracy=value,
        n_images=count,
        note=str(note),
        mode="fast" if config.fast_mode() else "full",
        random_weights=bool(random_weights),
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    target = Path(path) if path is not None else results_path()
    records = _read(target)
    records[key] = asdict(result)
    atomic_write(target, json.dumps(records, indent=2, sort_keys=True))  # a reader never sees half a file
    return result


def load(path: str | os.PathLike | None = None) -> dict[str, Result]:
    """All records, known keys first in course order, then the others alphabetically."""
    records = _read(Path(path) if path is not None else results_path())
    out: dict[str, Result] = {}
    order = [k for k in KNOWN_KEYS if k in records] + sorted(k for k in records if k not in KNOWN_KEYS)
    for key in order:
        item = records[key]
        try:
            out[key] = Result(
                key=key,
                accuracy=float(item["accuracy"]),
                n_images=int(item["n_images"]),
                note=str(item.get("note", "")),
                mode=str(item.get("mode", "full")),
                random_weights=bool(item.get("random_weights", False)),
                timestamp=str(item.get("timestamp", "")),
            )
        except (KeyError, TypeError, ValueError):  # a malformed entry is left out, not fatal
            continue
    return out


def clear(path: str | os.PathLike | None = None) -> None:
    """Forget every record (deletes the JSON file)."""
    target = Path(path) if path is not None else results_path()
    target.unlink(missing_ok=True)


def table(
    results: Mapping[str, Result] | Iterable[Result] | None = None,
    *,
    keys: Iterable[str] | None = None,
) -> str:
    """A Markdown table comparing the records (plain text; also readable when printed).

    ``results`` defaults to :func:`load`; ``keys`` limits and orders the rows. Numbers from
    random weights are shown as "meaningless"; fast-mode numbers are marked as such
    because they come from small subsets.
    """
    if results is None:
        results = load()
    items = dict(results) if isinstance(results, Mapping) else {r.key: r for r in results}
    if keys is not None:
        items = {k: items[k] for k in keys if k in items}
    if not items:
        return "No results recorded yet: run the lessons (01, 02, 05, 06) first."
    header = "| stage | accuracy | held-out images | mode | note |"
    rule = "|---|---:|---:|---|---|"
    rows = [header, rule]
    for key, r in items.items():
        stage = KNOWN_KEYS.get(key, key)
        accuracy = "meaningless (random weights)" if r.random_weights else f"{r.accuracy:.1%}"
        mode = "fast (small subset)" if r.mode == "fast" else r.mode
        note = r.note.replace("|", "/").replace("\n", " ")
        rows.append(f"| {stage} | {accuracy} | {r.n_images} | {mode} | {note} |")
    return "\n".join(rows)
