"""Configuration: environment variables, platform detection, and a cheap import."""

from __future__ import annotations

import os
import random
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


def test_config_module_does_not_mention_tensorflow_imports():
    """config stays importable without TensorFlow: no function in it imports TensorFlow or Keras."""
    import inspect

    source = inspect.getsource(config)
    assert not re.search(r"^\s*(import|from)\s+(tensorflow|keras)\b", source, re.M)


def test_set_seeds_repeats_python_and_numpy_draws():
    import random

    import numpy as np

    config.set_seeds(7)
    first = (random.random(), np.random.rand(3).tolist())
    config.set_seeds(7)
    assert (random.random(), np.random.rand(3).tolist()) == first
    config.set_seeds(8)
    assert (random.random(), np.random.rand(3).tolist()) != first
    assert os.environ["PYTHONHASHSEED"] == "8"


def test_set_seeds_seeds_keras_when_it_is_imported():
    keras = pytest.importorskip("keras", reason="Keras (TensorFlow) is not installed")
    config.set_seeds(3)
    first = keras.ops.convert_to_numpy(keras.random.uniform((4,))).tolist()
    config.set_seeds(3)
    assert keras.ops.convert_to_numpy(keras.random.uniform((4,))).tolist() == first


@pytest.mark.parametrize(("value", "expected", "warns"), [("", 42, False), ("7", 7, False), ("seven", 42, True)])
def test_course_seed_sets_the_seed(value, expected, warns):
    code = ("import warnings; warnings.simplefilter('always'); import random; "
            "from course_utils import config; config.set_seeds(); print(config.SEED, random.random())")
    env = {**os.environ, "COURSE_SEED": value}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    seed, draw = done.stdout.split()
    random.seed(expected)
    assert int(seed) == expected and float(draw) == random.random()
    assert ("COURSE_SEED='seven' is not a whole number" in done.stderr) == warns


# --------------------------------------------------------------------------- bfloat16


def _cpuinfo(tmp_path, flags: str) -> set[str]:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    return config.cpu_flags(path)


def test_bfloat16_support_is_read_from_the_processor_flags(tmp_path):
    assert config.bfloat16_support(_cpuinfo(tmp_path, "fpu sse avx2 fma amx_bf16 amx_tile"))[0]
    assert config.bfloat16_support(_cpuinfo(tmp_path, "fpu avx512f avx512_bf16"))[0]
    supported, why = config.bfloat16_support(_cpuinfo(tmp_path, "fpu sse avx2 fma"))
    assert not supported and "emulated" in why
    supported, why = config.bfloat16_support(config.cpu_flags(tmp_path / "missing"))
    assert not supported and "could not be read" in why


def test_bfloat16_needs_the_variable_and_the_processor(monkeypatch, tmp_path):
    with_bf16, without = _cpuinfo(tmp_path, "avx2 amx_bf16"), {"avx2", "fma"}
    monkeypatch.delenv("COURSE_BF16", raising=False)
    assert not config.bfloat16_enabled(with_bf16)  # off unless asked for
    monkeypatch.setenv("COURSE_BF16", "1")
    assert config.bfloat16_enabled(with_bf16)
    with pytest.warns(UserWarning, match="keeping float32"):
        assert not config.bfloat16_enabled(without)


def test_this_machine_reports_its_bfloat16_support_with_a_reason():
    supported, why = config.bfloat16_support()
    assert isinstance(supported, bool) and why
    assert supported == bool(set(config.BFLOAT16_FLAGS) & config.cpu_flags())
