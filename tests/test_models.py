"""Pretrained networks (the real loading path, its offline error, the random fallback), the quiet
TensorFlow start and the lesson set-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from course_utils import models


def _weights_cached(name: str) -> bool:
    return (models.keras_cache_dir() / models.ARCHITECTURES[name].weights_file_notop).exists()


def test_offline_without_permission_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_ALLOW_RANDOM_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # nothing cached there
    import socket

    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=3).close()
        pytest.skip("this machine is online: the weights would download (test needs an offline machine)")
    except OSError:
        pass
    with pytest.raises(models.WeightsUnavailableError) as info:
        models.pretrained_base("mobilenet_v2", input_size=96)
    message = str(info.value)
    arch = models.ARCHITECTURES["mobilenet_v2"]
    assert arch.weights_file_notop in message
    assert arch.url_base + arch.weights_file_notop in message
    assert str(tmp_path / "keras" / "models") in message
    assert "COURSE_ALLOW_RANDOM_WEIGHTS" in message


def test_random_weights_fallback_is_loud(monkeypatch, tmp_path, capsys):
    if _weights_cached("inception_v3"):
        pytest.skip("real ImageNet weights are cached here; the fallback is not exercised")
    monkeypatch.setenv("COURSE_ALLOW_RANDOM_WEIGHTS", "1")
    net = models.pretrained_base("inception_v3", input_size=75)
    assert net.random_weights
    assert "RANDOM WEIGHTS" in capsys.readouterr().err
    assert net.model.output_shape == (None, 2048)
    assert not net.model.trainable
    features = net.model(net.preprocess(np.random.uniform(0, 255, (2, 75, 75, 3)).astype("float32")))
    assert tuple(features.shape) == (2, 2048)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="inception_v3"):
        models.pretrained_base("resnet9000")


def test_top_k_labels_fall_back_offline():
    preds = np.zeros((1, 1000), dtype="float32")
    preds[0, [7, 3, 5]] = [0.5, 0.3, 0.2]
    top = models.imagenet_top_k(preds, k=3)
    assert [p for _, p in top[0]] == pytest.approx([0.5, 0.3, 0.2])
    # ImageNet class 7 is "cock" (label file cached or downloadable); offline it is named by number.
    assert [label for label, _ in top[0]] in (["cock", "tiger_shark", "electric_ray"],
                                               ["ImageNet class #7", "ImageNet class #3", "ImageNet class #5"])


def test_lesson_setup_reports_mode_and_data(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    models.lesson_setup(tensorflow=False)
    out = capsys.readouterr().out
    assert "FAST" in out and str(tmp_path.resolve()) in out and "numpy" in out
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.delenv("COURSE_ALLOW_RANDOM_WEIGHTS", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    models.lesson_setup(tensorflow=False)
    assert "mode          full" in capsys.readouterr().out


def test_lesson_setup_without_tensorflow_does_not_import_it():
    code = "import sys; from course_utils import models; models.lesson_setup(tensorflow=False); " \
           "print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def _native_notices(text: str) -> set[str]:
    """TensorFlow's C++ log lines (``I0000 00:00:... file.cc:12] message``), without timestamps."""
    return {line.split("] ", 1)[-1] for line in text.splitlines()
            if re.match(r"[IWEF]\d{4} \d", line) or line.startswith("WARNING: All log messages before absl")}


@pytest.mark.slow
def test_start_tensorflow_keeps_start_up_notices_out():
    """What TensorFlow's C++ logger prints when imported directly never reaches stderr after start_tensorflow."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    direct = subprocess.run([sys.executable, "-c", "import tensorflow as tf; tf.constant(1.0) + 1.0"],
                            capture_output=True, text=True, env=env, check=True)
    if not _native_notices(direct.stderr):
        pytest.skip("TensorFlow printed no C++ start-up notices on this machine: there is nothing to hide")
    setup = subprocess.run([sys.executable, "-c",
                            "import sys; from course_utils import models; models.lesson_setup(tensorflow=True);"
                            " sys.stderr.write('after the set-up\\n')"],
                           capture_output=True, text=True, env=env, check=True)
    assert "tensorflow" in setup.stdout and "devices" in setup.stdout
    assert not _native_notices(direct.stderr) & _native_notices(setup.stderr), setup.stderr
    assert "after the set-up" in setup.stderr  # standard error works again afterwards


def test_start_tensorflow_returns_tensorflow_and_is_repeatable():
    tf = models.start_tensorflow()
    assert tf.__name__ == "tensorflow" and models.start_tensorflow() is tf
    assert float(tf.constant(2.0) * 3.0) == 6.0


# --------------------------------------------------------------------------- prefetch (Binder's postBuild)


def _run_prefetch(*args, data_dir):
    env = dict(os.environ, COURSE_DATA_DIR=str(data_dir), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "course_utils.prefetch", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_prefetch_entry_point_finds_the_photos_or_says_why(tmp_path):
    from course_utils import data

    photos = data.make_synthetic_dataset(tmp_path / "flower_photos", per_class=2, image_size=16)
    done = _run_prefetch("--no-weights", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"flower photos: {photos.resolve()}"
    (tmp_path / "empty").mkdir()
    failed = _run_prefetch("--no-weights", data_dir=tmp_path / "empty")
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: COURSE_DATA_DIR is set to") and "Traceback" not in failed.stderr


@pytest.mark.parametrize("random", [False, True])
def test_prefetch_caches_every_network_and_refuses_random_weights(tmp_path, monkeypatch, capsys, random):
    from types import SimpleNamespace

    from course_utils import data, prefetch

    data.make_synthetic_dataset(tmp_path / "flower_photos", per_class=2, image_size=16)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    asked = []

    def fake_base(name, include_top=False):
        asked.append((name, include_top))
        return SimpleNamespace(random_weights=random)

    monkeypatch.setattr(models, "pretrained_base", fake_base)
    monkeypatch.setattr(models, "imagenet_top_k", lambda predictions: asked.append("labels"))
    status = prefetch.main([])
    printed = capsys.readouterr()
    if random:
        assert status == 1 and "only random weights" in printed.err and len(asked) == 1
    else:
        assert status == 0, printed.err
        assert asked == [("inception_v3", False), ("inception_v3", True), ("mobilenet_v2", False),
                         ("mobilenet_v2", True), "labels"]
        assert printed.out.count(": cached") == 4
