"""Pixels to Poets: the helper package for the course notebooks.

``import course_utils`` is cheap: it does not import TensorFlow. The heavy modules
(:mod:`course_utils.data` pipelines, :mod:`course_utils.models`) import TensorFlow only
inside the functions that need it.

Modules, one per concern:

- :mod:`course_utils.config` -- environment variables, cache paths, seeds, platform detection
- :mod:`course_utils.files` -- atomic writes, content digests, folder fingerprints
- :mod:`course_utils.data` -- datasets (flowers, digits, synthetic), folder validation,
  deterministic splits, tf.data pipelines
- :mod:`course_utils.models` -- starting TensorFlow quietly, the lesson set-up, pretrained
  networks (Inception V3, MobileNetV2)
- :mod:`course_utils.features` -- cached bottleneck features for retraining
- :mod:`course_utils.plots` -- the pictures the lessons show
- :mod:`course_utils.quiz` -- multiple-choice quizzes on core ipywidgets
- :mod:`course_utils.grading` -- readable checks for nbgrader test cells
- :mod:`course_utils.cli` -- the command-line tools ``course-retrain`` and ``course-classify``
"""

from course_utils.config import (
    SEED,
    allow_random_weights,
    cache_dir,
    data_dir,
    detect_environment,
    fast_mode,
    pick,
    set_seeds,
)

__version__ = "0.1.0"

__all__ = [
    "SEED",
    "__version__",
    "allow_random_weights",
    "cache_dir",
    "data_dir",
    "detect_environment",
    "fast_mode",
    "pick",
    "set_seeds",
]
