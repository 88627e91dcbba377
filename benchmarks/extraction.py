"""The feature-extraction benchmark: the cached pipeline against the network's raw speed.

Used by ``benchmarks/run.py --extraction``; importable on its own (``tests/test_features.py``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from course_utils import config, data, features, models

__all__ = ["benchmark_extraction", "choose_photos"]


def choose_photos(paths: list[Path], labels: Any, n_images: int, seed: int | None = None) -> list[Path]:
    """``n_images`` photos, classes taken in turn: the first ones, or with ``seed`` a seeded random sample."""
    by_class: list[list[Path]] = [[p for p, y in zip(paths, labels) if y == c] for c in sorted(set(labels.tolist()))]
    chosen: list[Path] = [p for group in zip(*by_class) for p in group]
    if seed is not None:
        import numpy as np

        picked = np.random.default_rng(seed).choice(len(chosen), size=min(n_images, len(chosen)), replace=False)
        chosen = [chosen[i] for i in sorted(picked)]
    return chosen[:n_images]


def benchmark_extraction(
    n_images: int = 320,
    *,
    architecture: str = "inception_v3",
    input_size: int | None = None,
    batch_size: int = 32,
    image_dir: str | os.PathLike | None = None,
    raw_batches: int = 3,
    verbose: int = 0,
    seed: int | None = None,
) -> dict[str, Any]:
    """Measure the cached extraction pipeline against the network's raw forward speed.

    Takes ``n_images`` files of ``image_dir`` (default: the flower photos) chosen by
    :func:`choose_photos` (with ``seed``, a different sample per seed), extracts their
    bottlenecks into an empty temporary cache, times the network alone on random tensors of the same batch size,
    then runs the extraction again (everything cached). Returns a flat dict for the
    benchmark report: ``images_per_second`` (pipeline), ``raw_images_per_second``,
    ``ratio`` (pipeline / raw; the course aims at 0.95 or more),
    ``cached_run_seconds`` and ``cached_extracted`` (0 when the cache works). Random
    weights (``COURSE_ALLOW_RANDOM_WEIGHTS=1``) are fine here: speed does not depend on
    the weights; the dict says which were used.
    """
    models.start_tensorflow()
    root = Path(image_dir) if image_dir is not None else data.flower_photos()
    paths, labels, _ = data.list_images(root)
    chosen = choose_photos(paths, labels, n_images, seed)
    config.set_seeds(seed)
    net = models.pretrained_base(architecture, input_size=input_size)
    _, forward = features.feature_extractor(net)
    raw = features.forward_speed(forward, net.input_size, batch_size=batch_size, batches=raw_batches)
    with tempfile.TemporaryDirectory(prefix="bottlenecks-") as tmp:
        first = features.extract_features(chosen, net, batch_size=batch_size, bottleneck_dir=tmp, verbose=verbose,
                                 forward=forward)
        second = features.extract_features(chosen, net, batch_size=batch_size, bottleneck_dir=tmp, verbose=verbose,
                                  forward=forward)
    pipeline = first.images_per_second
    return {
        "architecture": architecture,
        "seed": seed,
        "input_size": net.input_size,
        "batch_size": batch_size,
        "random_weights": net.random_weights,
        "n_images": len(chosen),
        "images_per_second": round(pipeline, 2),
        "raw_images_per_second": round(raw, 2),
        "ratio": round(pipeline / raw, 3),
        "first_run_seconds": round(first.seconds, 1),
        "cached_run_seconds": round(second.seconds, 2),
        "cached_extracted": second.n_extracted,
        "failed": len(first.failed),
    }
