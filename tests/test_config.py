"""Configuration: environment variables, platform detection, and a cheap import."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from course_utils import config


def test_import_course_utils_does_not_import_tensorflow():
    code = "import course_utils, course_utils.data, course_utils.models, course_utils.config, sys; " \
           "print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode_flag(monkeypatch, value, expected):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("COURSE_FAST", value)
    assert config.fast_mode() is expected
    assert config.pick("full", "fast") == ("fast" if expected else "full")


def test_grading_implies_fast_mode(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert config.fast_mode() and config.grading_mode()


def test_data_dir_is_resolved(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path.resolve()
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert config.data_dir() is None


def test_cache_dir_follows_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


@pytest.mark.parametrize("var,where", [("COLAB_RELEASE_TAG", "colab"), ("BINDER_SERVICE_HOST", "binder"),
                                       ("KAGGLE_KERNEL_RUN_TYPE", "kaggle")])
def test_detects_platform(monkeypatch, var, where):
    for name in ("COLAB_RELEASE_TAG", "BINDER_SERVICE_HOST", "BINDER_LAUNCH_HOST", "BINDER_REPO_URL",
                 "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    assert config.detect_environment().platform == "local"
    monkeypatch.setenv(var, "x")
    assert config.detect_environment().platform == where


def test_lesson_setup_reports_mode_and_data(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    config.lesson_setup(tensorflow=False)
    out = capsys.readouterr().out
    assert "FAST" in out and str(tmp_path.resolve()) in out and "numpy" in out


def _native_notices(text: str) -> set[str]:
    """TensorFlow's C++ log lines (``I0000 00:00:... file.cc:12] message``), without timestamps."""
    return {line.split("] ", 1)[-1] for line in text.splitlines()
            if re.match(r"[IWEF]\d{4} \d", line) or line.startswith("WARNING: All log messages before absl")}


@pytest.mark.slow
def test_lesson_setup_keeps_tensorflow_start_up_notices_out_of_the_notebook():
    """What TensorFlow's C++ logger prints when imported directly never reaches lesson_setup's stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    direct = subprocess.run([sys.executable, "-c", "import tensorflow as tf; tf.constant(1.0) + 1.0"],
                            capture_output=True, text=True, env=env, check=True)
    if not _native_notices(direct.stderr):
        pytest.skip("TensorFlow printed no C++ start-up notices on this machine: there is nothing to hide")
    setup = subprocess.run([sys.executable, "-c",
                            "import sys; from course_utils import config; config.lesson_setup(tensorflow=True);"
                            " sys.stderr.write('after the set-up\\n')"],
                           capture_output=True, text=True, env=env, check=True)
    assert "tensorflow" in setup.stdout and "devices" in setup.stdout
    assert not _native_notices(direct.stderr) & _native_notices(setup.stderr), setup.stderr
    assert "after the set-up" in setup.stderr  # standard error works again afterwards
