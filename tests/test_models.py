"""Pretrained networks: the real loading path, its offline error, and the random fallback."""

from __future__ import annotations

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
    assert len(top[0][0][0]) > 0
