"""Download everything the course needs ahead of time (used by Binder's postBuild).

Usage::

    python -m course_utils.prefetch            # flower photos + Inception V3 + MobileNetV2 weights
    python -m course_utils.prefetch --no-weights

Each item goes through its cache with a checksum, so running it again downloads nothing.
"""

from __future__ import annotations

import argparse
import sys

from course_utils import data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.prefetch", description=__doc__.splitlines()[0])
    parser.add_argument("--no-weights", action="store_true", help="skip the ImageNet weights")
    args = parser.parse_args(argv)
    try:
        print(f"flower photos: {data.flower_photos()}", flush=True)
        if not args.no_weights:
            from course_utils import models

            models.start_tensorflow()
            for name in ("inception_v3", "mobilenet_v2"):
                for top in (False, True):
                    net = models.pretrained_base(name, include_top=top)
                    if net.random_weights:
                        raise models.WeightsUnavailableError(f"{name}: only random weights are available")
                    print(f"{name} weights ({'with' if top else 'without'} top): cached", flush=True)
            import numpy as np

            models.imagenet_top_k(np.eye(1000, dtype="float32")[:1])  # caches the ImageNet label file
    except (data.DataNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
