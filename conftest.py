"""Repository-wide pytest set-up: fast mode and a quiet TensorFlow for every test,
including the lesson notebooks that nbval executes (their kernels inherit this
environment)."""

import os

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
