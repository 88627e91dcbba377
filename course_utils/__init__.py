"""Pixels to Poets: the helper package for the course notebooks.

``import course_utils`` is cheap: it does not import TensorFlow. The heavy modules
(:mod:`course_utils.data` pipelines, :mod:`course_utils.models`) import TensorFlow only
inside the functions that need it.

Modules, one per concern:

- :mod:`course_utils.config` -- environment variables, cache paths, seeds, platform detection
- :mod:`course_utils.data` -- datasets (flowers, digits, synthetic), folder validation,
  deterministic splits, tf.data pipelines
- :mod:`course_utils.models` -- pretrained networks (Inception V3, MobileNetV2) and the
  course's small CNN
- :mod:`course_utils.features` -- cached bottleneck features for retraining
- :mod:`course_utils.plots` -- the pictures the lessons show
- :mod:`course_utils.quiz` -- multiple-choice quizzes on core ipywidgets
- :mod:`course_utils.grading` -- readable checks for nbgrader test cells
- :mod:`course_utils.retrain`, :mod:`course_utils.classify` -- command-line tools
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
