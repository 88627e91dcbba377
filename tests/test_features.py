"""Bottleneck features: cache keys, reuse, streaming extraction, and the small CNN builders."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from course_utils import data, features, files

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def random_weights(monkeypatch):
    monkeypatch.setenv("COURSE_ALLOW_RANDOM_WEIGHTS", "1")


@pytest.fixture(scope="module")
def tiny_mobilenet():
    """MobileNetV2 at 32 px: the cheapest pretrained base (random weights when offline)."""
    from course_utils import models

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_ALLOW_RANDOM_WEIGHTS", "1")
        return models.pretrained_base("mobilenet_v2", input_size=32)


# --------------------------------------------------------------------------- keys (no TensorFlow)


def test_digest_is_of_content_not_name(tmp_path):
    a, b, c = tmp_path / "a.jpg", tmp_path / "renamed.jpg", tmp_path / "c.jpg"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"other bytes")
    assert files.file_digest(a) == files.file_digest(b) != files.file_digest(c)


def test_cache_folder_separates_architecture_size_and_weights(isolated_cache):
    real = features.bottleneck_folder("inception_v3", 299, False)
    fake = features.bottleneck_folder("inception_v3", 299, True)
    assert real != fake
    assert "random" in fake.name and "imagenet" in real.name
    assert features.bottleneck_folder("inception_v3", 150, False) != real
    assert features.bottleneck_folder("mobilenet_v2", 299, False) != real
    assert real.is_relative_to(isolated_cache)
    assert features.bottleneck_folder("inception_v3", 299, False, "/elsewhere").parent.as_posix() == "/elsewhere"
    # bfloat16 features differ in the last digits: they never share a folder with float32 ones
    assert features.bottleneck_folder("inception_v3", 299, False, number_format="mixed_bfloat16") != real
    assert features.bottleneck_folder("inception_v3", 299, False, number_format="float32") == real


# --------------------------------------------------------------------------- extraction


def test_extraction_is_cached_by_content(tmp_path, isolated_cache, tiny_mobilenet):
    root = data.make_synthetic_dataset(tmp_path / "imgs", per_class=5, image_size=40)
    paths, _, _ = data.list_images(root)
    copy = tmp_path / "copy_with_another_name.jpg"
    shutil.copy(paths[0], copy)  # same bytes, different name: found in the cache
    bad = tmp_path / "broken.jpg"
    bad.write_text("not a jpeg")

    first = features.extract_features(paths + [bad], tiny_mobilenet, batch_size=4, verbose=0)
    assert first.features.shape == (16, 1280)
    assert first.n_extracted == 15 and first.n_cached == 0
    assert first.failed == [bad]
    assert first.ok.tolist() == [True] * 15 + [False]
    assert first.folder.name == f"mobilenet_v2-32px-random-v{features.PIPELINE_VERSION}"
    assert len(list(first.folder.rglob("*.npy"))) == 15

    second = features.extract_features(paths + [copy], tiny_mobilenet, batch_size=4, verbose=0)
    assert second.n_extracted == 0 and second.n_cached == 16
    np.testing.assert_array_equal(second.features[:15], first.features[:15])
    np.testing.assert_array_equal(second.features[15], first.features[0])

    # Features from random weights are never served as real ones (a different cache folder).
    as_if_real = replace(tiny_mobilenet, random_weights=False)
    third = features.extract_features(paths[:3], as_if_real, batch_size=4, verbose=0)
    assert third.n_extracted == 3 and "imagenet" in third.folder.name


def test_duplicates_in_one_call_are_extracted_once(tmp_path, isolated_cache, tiny_mobilenet):
    root = data.make_synthetic_dataset(tmp_path / "imgs", per_class=2, image_size=40, classes=("circles",))
    paths = sorted(root.rglob("*.jpg"))
    result = features.extract_features([paths[0], paths[1], paths[0]], tiny_mobilenet, verbose=0)
    assert result.n_extracted == 2
    np.testing.assert_array_equal(result.features[0], result.features[2])


def test_extraction_matches_the_network_on_the_same_pixels(tmp_path, isolated_cache, tiny_mobilenet):
    root = data.make_synthetic_dataset(tmp_path / "imgs", per_class=3, image_size=40, classes=("squares",))
    paths = sorted(root.rglob("*.jpg"))
    result = features.extract_features(paths, tiny_mobilenet, batch_size=2, verbose=0)
    pixels = data.load_image_arrays(paths, 32, cache=False).astype("float32")
    expected = tiny_mobilenet.model(tiny_mobilenet.preprocess(pixels), training=False).numpy()
    np.testing.assert_allclose(result.features, expected, rtol=1e-4, atol=1e-4)


def test_image_dataset_streams_batches_and_flags_failures(tmp_path):
    root = data.make_synthetic_dataset(tmp_path / "imgs", per_class=3, image_size=40, classes=("circles",))
    paths = sorted(root.rglob("*.jpg"))
    empty = tmp_path / "zero.jpg"
    empty.write_bytes(b"")
    batches = list(features.image_dataset(paths + [empty], 24, batch_size=3))
    assert [tuple(b[0].shape) for b in batches] == [(3, 24, 24, 3), (1, 24, 24, 3)]
    assert batches[0][0].dtype.name == "float32" and float(batches[0][0].numpy().max()) > 1
    assert batches[0][1].numpy().tolist() == [True, True, True]
    assert batches[1][1].numpy().tolist() == [False]


def test_progress_prints_lines_when_not_a_terminal(capsys):
    bar = features.Progress(10, "Working", verbose=1, interactive=False)
    for _ in range(10):
        bar.update(1)
    out = capsys.readouterr().out
    assert "Working: 10 images" in out and "10/10 images (100%)" in out
    quiet = features.Progress(10, "Silent", verbose=0, interactive=True)
    quiet.update(10)
    assert capsys.readouterr().out == ""


def _benchmarks_extraction():
    spec = importlib.util.spec_from_file_location("extraction", ROOT / "benchmarks" / "extraction.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_extraction_counts_reuse_and_failures(tmp_path, isolated_cache, random_weights):
    root = data.make_synthetic_dataset(tmp_path / "imgs", per_class=4, image_size=40)
    (root / "circles" / "aa_broken.jpg").write_bytes(b"not a jpeg")  # sorted first in its class
    benchmark = _benchmarks_extraction().benchmark_extraction
    result = benchmark(12, architecture="mobilenet_v2", input_size=32, batch_size=4, image_dir=root, raw_batches=2)
    assert result["n_images"] == 12 and result["input_size"] == 32
    assert result["failed"] == 1  # the broken file is counted, not fatal
    assert result["cached_extracted"] == 0  # the second pass read every feature from the cache
    assert result["images_per_second"] > 0 and result["raw_images_per_second"] > 0
    assert result["random_weights"] is not _weights_cached("mobilenet_v2")
    assert not list(isolated_cache.glob("bottlenecks/*"))  # the benchmark used a temporary cache


def test_benchmark_extraction_draws_one_sample_per_seed(tmp_path):
    root = data.make_synthetic_dataset(tmp_path / "imgs", per_class=10, image_size=16)
    paths, labels, _ = data.list_images(root)
    choose = _benchmarks_extraction().choose_photos
    first = choose(paths, labels, 9)
    assert [labels[paths.index(p)] for p in first] == [0, 1, 2] * 3  # classes in turn
    one, again, two = choose(paths, labels, 9, seed=1), choose(paths, labels, 9, seed=1), choose(paths, labels, 9, seed=2)
    assert one == again and one != two and len(set(one)) == len(set(two)) == 9


def _weights_cached(name: str) -> bool:
    from course_utils import models

    return (models.keras_cache_dir() / models.ARCHITECTURES[name].weights_file_notop).exists()


# --------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("name", ["inception_v3", "mobilenet_v2"])
def test_preprocessing_layer_equals_preprocess_input(name):
    import keras

    from course_utils import models

    x = np.random.default_rng(1).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    module = getattr(keras.applications, models.ARCHITECTURES[name].module)
    np.testing.assert_allclose(models.preprocessing_layer(name)(x), module.preprocess_input(x.copy()), atol=1e-6)


def test_decoded_batches_keep_order_and_flag_bad_files(tmp_path):
    root = data.make_synthetic_dataset(tmp_path / "s", per_class=3, image_size=20)
    paths, _, _ = data.list_images(root)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    files = paths[:4] + [broken] + paths[4:]
    batches = list(features.decoded_batches(files, 16, batch_size=4))
    assert [len(images) for images, _ in batches] == [4, 4, len(files) - 8]
    images = np.concatenate([b for b, _ in batches])
    ok = np.concatenate([o for _, o in batches])
    assert images.dtype == np.float32 and images.shape == (len(files), 16, 16, 3)
    assert ok.tolist() == [True] * 4 + [False] + [True] * (len(files) - 5)
    assert not images[4].any()  # the broken file: a black image, flagged
    for i in (0, 5, len(files) - 1):  # the same pixels as the shared decoder, in the same order
        assert np.array_equal(images[i], features.read_image(files[i], 16).astype(np.float32))
    assert list(features.decoded_batches([], 16)) == []
