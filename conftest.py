"""Repository-wide pytest set-up: fast mode and a quiet TensorFlow for every test,
including the lesson notebooks that nbval executes (their kernels inherit this
environment)."""

import os

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

# Most tests start TensorFlow (in the test process, a notebook kernel or a command-line tool) at
# one to two GB each, so `-n auto` (pyproject.toml) runs at most this many pytest-xdist workers.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per core this process may use, at most MAX_WORKERS."""
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                      MAX_WORKERS))


# The test files that take longest (`pytest --durations=0` on a 2-core machine: 150 to 300 s for
# autograding ps2 and ps3, 50 to 150 s for each of the others) go to the workers first,
# so that no worker is left alone with one of them at the end. Everything else keeps pytest's
# order; the lesson notebooks stay last, in course order.
LONGEST_FIRST = ("tests/test_autograde_cnn.py", "tests/test_cli.py", "tests/test_autograde.py",
                 "tests/test_nbgrader.py", "tests/test_hub.py", "tests/test_quiz_browser.py", "tests/test_quiz_claims.py")


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(LONGEST_FIRST)))  # a stable sort
