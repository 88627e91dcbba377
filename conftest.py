"""Repository-wide pytest set-up: fast mode and a quiet TensorFlow for every test,
including the lesson notebooks that nbval executes (their kernels inherit this
environment)."""

import os

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (``-n 2 --dist loadgroup``, as in CI): each test file runs on one worker (its
    module-scoped fixtures are built once), and the lesson notebooks run one after another, in course
    order, on one worker (lesson 07 looks in the cache for the model lesson 05 saved)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    import pytest

    for item in items:
        path = str(item.fspath)
        group = "lesson-notebooks" if path.endswith(".ipynb") else os.path.basename(path)
        item.add_marker(pytest.mark.xdist_group(group))
