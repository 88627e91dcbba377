"""Every checkable claim the quizzes make, checked against the installed TensorFlow/Keras.

Each test is registered with ``@backs("question-id", ...)`` for the questions whose right
(and, where it matters, wrong) answers it verifies, and most tests also assert that the
bank's correct option states what the code just measured, so editing a question without
fixing the facts fails here. ``test_every_claim_has_a_test`` ties the registry to the
``claim: true`` flags in the YAML banks, in both directions.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.quiz import Question, lessons, load_bank  # noqa: E402

pytestmark = pytest.mark.slow

#: question id -> names of the tests that back its claims
CLAIMS: dict[str, list[str]] = {}


def backs(*question_ids: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a test as the evidence for the claims of the given questions."""

    def register(test: Callable[..., None]) -> Callable[..., None]:
        for qid in question_ids:
            CLAIMS.setdefault(qid, []).append(test.__name__)
        test.backs = question_ids  # type: ignore[attr-defined]
        return test

    return register


def question(qid: str) -> Question:
    for lesson in lessons():
        for q in load_bank(lesson):
            if q.id == qid:
                return q
    raise KeyError(qid)


def right(qid: str) -> str:
    """The text of the correct option(s) of a question."""
    q = question(qid)
    return " | ".join(q.options[i].text for i in q.correct_indices)


def wrong(qid: str) -> str:
    q = question(qid)
    return " | ".join(o.text for o in q.options if not o.correct)


@pytest.fixture(scope="module")
def keras():
    import keras as _keras

    _keras.utils.set_random_seed(0)
    return _keras


@pytest.fixture(scope="module")
def inception_top(keras):
    return keras.applications.InceptionV3(weights=None)


@pytest.fixture(scope="module")
def inception_base(keras):
    return keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg")


def summary_text(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    return "\n".join(lines)


# --------------------------------------------------------------------------- registry


def test_every_claim_has_a_test():
    flagged = {q.id for lesson in lessons() for q in load_bank(lesson) if q.claim}
    assert len(flagged) >= 20
    missing = sorted(flagged - set(CLAIMS))
    assert not missing, f"questions flagged claim: true without a test here: {missing}"
    unflagged = sorted(set(CLAIMS) - flagged)
    assert not unflagged, f"tests back questions that are not flagged claim: true (or do not exist): {unflagged}"


# --------------------------------------------------------------------------- 00 welcome


@backs("q00-top3", "q00-inception-input")
def test_inception_v3_input_and_softmax_over_1000_classes(keras, inception_top):
    assert inception_top.input_shape == (None, 299, 299, 3)
    assert "299 x 299" in right("q00-inception-input") and "(batch, 299, 299, 3)" in right("q00-inception-input")
    assert inception_top.output_shape == (None, 1000)
    assert inception_top.layers[-1].activation.__name__ == "softmax"
    x = np.random.default_rng(0).uniform(-1, 1, (1, 299, 299, 3)).astype("float32")
    probs = np.asarray(inception_top(x, training=False))[0]
    assert probs.min() >= 0 and probs.sum() == pytest.approx(1.0, abs=1e-4)
    top3 = np.sort(probs)[-3:]
    assert top3.sum() < 1.0  # only all 1000 sum to one (the wrong option)
    assert "1000" in right("q00-top3") and "add up to 1" in right("q00-top3")
    # the wrong option's feedback: other ImageNet networks default to 224 x 224
    assert keras.applications.MobileNetV2(weights=None).input_shape == (None, 224, 224, 3)


@backs("q00-preprocess")
def test_inception_preprocess_maps_pixels_to_minus_one_one(keras):
    out = keras.applications.inception_v3.preprocess_input(np.array([0.0, 127.5, 255.0]))
    np.testing.assert_allclose(out, [-1.0, 0.0, 1.0])
    assert "-1 to 1" in right("q00-preprocess")
    caffe = keras.applications.resnet50.preprocess_input(np.full((1, 2, 2, 3), 255.0))
    assert caffe.max() > 100  # "caffe" style keeps the 0..255 scale (the wrong option's feedback)


@backs("q00-fast-mode")
def test_course_fast_selects_small_settings(monkeypatch):
    from course_utils import config

    # CI itself sets COURSE_ALLOW_RANDOM_WEIGHTS=1; the claim is that COURSE_FAST alone does
    # not turn it on, so start from an environment without it.
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("COURSE_ALLOW_RANDOM_WEIGHTS", raising=False)
    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.fast_mode() and config.pick(50, 2) == 2
    assert not config.allow_random_weights()  # "Pretrained weights are replaced": wrong option
    monkeypatch.delenv("COURSE_FAST")
    assert not config.fast_mode() and config.pick(50, 2) == 50
    monkeypatch.setenv("COURSE_ALLOW_RANDOM_WEIGHTS", "1")
    assert config.allow_random_weights() and not config.fast_mode()


# --------------------------------------------------------------------------- 01 pixels


@backs("q01-array-shape")
def test_jpeg_as_array_is_height_width_channels_uint8(tmp_path):
    from PIL import Image

    Image.new("RGB", (240, 180), (200, 30, 60)).save(tmp_path / "photo.jpg")
    arr = np.asarray(Image.open(tmp_path / "photo.jpg"))
    assert arr.shape == (180, 240, 3) and arr.dtype == np.uint8
    assert "`(180, 240, 3)` and `uint8`" == right("q01-array-shape")
    Image.new("L", (240, 180)).save(tmp_path / "gray.jpg")
    assert np.asarray(Image.open(tmp_path / "gray.jpg")).shape == (180, 240)


@backs("q01-uint8-wrap")
def test_uint8_arithmetic_wraps_around():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy warns about scalar overflow
        assert np.uint8(250) + np.uint8(10) == 4
    a = np.array([250, 5], dtype=np.uint8)
    b = np.array([10, 10], dtype=np.uint8)
    assert (a + b).tolist() == [4, 15] and (b - a).tolist() == [16, 5]
    assert a.astype("float32").nbytes == 4 * a.nbytes  # floats take more memory, not less
    assert "`np.uint8(250) + np.uint8(10)` is `4`" in right("q01-uint8-wrap")


@backs("q01-digits-features")
def test_logistic_regression_on_flattened_digits_works():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    assert digits.images.shape[1:] == (8, 8) and digits.data.shape[1] == 64
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.3, random_state=0, stratify=digits.target)
    acc = LogisticRegression(max_iter=2000).fit(x_train, y_train).score(x_test, y_test)
    assert acc > 0.9
    assert right("q01-digits-features").startswith("64 features") and "above 90%" in right("q01-digits-features")


@backs("q01-flatten-size")
def test_flattened_rgb_size(keras):
    assert np.zeros((64, 64, 3)).reshape(-1).size == 12_288
    model = keras.Sequential([keras.Input(shape=(64, 64, 3)), keras.layers.Flatten()])
    assert model.output_shape == (None, 12_288)
    assert right("q01-flatten-size") == "12,288"


# --------------------------------------------------------------------------- 02 first network


@backs("q02-random-labels")
def test_random_labels_memorised_but_chance_on_held_out_data(keras):
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(1)
    x, _ = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    k = 10
    y = np.random.default_rng(1).integers(0, k, len(x))  # labels with no information
    x_train, y_train, x_test, y_test = x[:400], y[:400], x[400:], y[400:]
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(k, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=40, batch_size=50, verbose=0)  # no error
    train_acc = model.evaluate(x_train, y_train, verbose=0)[1]
    test_acc = model.evaluate(x_test, y_test, verbose=0)[1]
    assert history.history["accuracy"][0] < 0.2
    assert train_acc > 0.5, f"training accuracy {train_acc:.2f} did not climb well above 1/K"
    assert abs(test_acc - 1 / k) < 0.05, f"held-out accuracy {test_acc:.3f} is not near 1/K"
    assert "1/K = 10%" in right("q02-random-labels") and "memorises" in right("q02-random-labels")
    assert "stuck at exactly 10%" in wrong("q02-random-labels")


@backs("q02-dense-params")
def test_dense_parameter_count(keras):
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(128)])
    assert model.count_params() == 784 * 128 + 128 == 100_480
    assert right("q02-dense-params") == "100,480"


@backs("q02-softmax-output", "q08-unknown-class")
def test_softmax_outputs_are_a_distribution_and_sparse_labels_train(keras):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=(12,)), keras.layers.Dense(5, activation="softmax")])
    x = np.random.default_rng(2).normal(0, 5, (64, 12)).astype("float32")  # any input, even a "car"
    probs = model.predict(x, verbose=0)
    assert probs.min() >= 0 and probs.max() <= 1
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, np.arange(64) % 5, epochs=1, verbose=0)  # integer labels 0..4 are accepted
    assert "add up to 1" in right("q02-softmax-output")
    assert "`sparse_categorical_crossentropy`" in right("q02-softmax-output")
    assert "add up to 1" in right("q08-unknown-class")


@backs("q02-initial-loss")
def test_initial_loss_is_about_ln_k(keras):
    from sklearn.datasets import load_digits

    uniform = np.full((4, 10), 0.1, dtype="float32")
    loss = float(keras.losses.SparseCategoricalCrossentropy()(np.array([0, 3, 5, 9]), uniform))
    assert loss == pytest.approx(math.log(10), rel=1e-4)
    keras.utils.set_random_seed(3)
    x, y = load_digits(return_X_y=True)
    model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    assert abs(model.evaluate(x / 16.0, y, verbose=0) - math.log(10)) < 0.3  # untrained network
    assert "2.3" in right("q02-initial-loss") and "ln 10" in right("q02-initial-loss")


# --------------------------------------------------------------------------- 03 CNN


@backs("q03-declare-input")
def test_keras_input_builds_at_once_and_input_shape_only_warns(keras):
    model = keras.Sequential([keras.Input(shape=(180, 180, 3)), keras.layers.Conv2D(16, 3)])
    assert model.built
    assert model.output_shape == (None, 178, 178, 16)
    assert model.count_params() == 3 * 3 * 3 * 16 + 16
    with pytest.warns(UserWarning, match="input_shape"):
        layer = keras.layers.Conv2D(16, 3, input_shape=(180, 180, 3))
    old_style = keras.Sequential([layer])  # still runs: only a warning
    assert old_style.output_shape == (None, 178, 178, 16)
    assert "keras.Input(shape=(180, 180, 3))" in right("q03-declare-input")
    assert "input_shape=(180, 180, 3)" in wrong("q03-declare-input")


@backs("q03-no-input")
def test_without_input_the_model_builds_lazily_and_fit_works(keras):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    assert not model.built
    before = summary_text(model)
    assert "unbuilt" in before and "?" in before
    with pytest.raises(ValueError):
        model.count_params()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(4).random((8, 12, 12, 3)).astype("float32")
    history = model.fit(x, np.arange(8) % 5, epochs=1, batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    assert model.built
    assert model.count_params() == (3 * 3 * 3 * 16 + 16) + (10 * 10 * 16 * 5 + 5)
    assert "unbuilt" not in summary_text(model)
    assert "fit(...)` works" in right("q03-no-input") and "unbuilt" in right("q03-no-input")
    assert "`ValueError`" in wrong("q03-no-input")


@backs("q03-valid-same")
def test_conv2d_output_shapes_valid_and_same(keras):
    x = keras.Input(shape=(32, 32, 3))
    valid = keras.layers.Conv2D(16, 3)(x)  # padding="valid" is the default
    same = keras.layers.Conv2D(16, 3, padding="same")(x)
    assert tuple(valid.shape) == (None, 30, 30, 16)
    assert tuple(same.shape) == (None, 32, 32, 16)
    assert right("q03-valid-same") == "valid: `(30, 30, 16)`; same: `(32, 32, 16)`"


@backs("q03-pooling")
def test_max_pooling_halves_and_has_no_parameters(keras):
    model = keras.Sequential([keras.Input(shape=(30, 30, 16)), keras.layers.MaxPooling2D(2)])
    assert model.output_shape == (None, 15, 15, 16)
    assert model.count_params() == 0
    x = np.arange(4 * 4, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(np.asarray(model.layers[0](x))[0, :, :, 0], [[5, 7], [13, 15]])
    assert right("q03-pooling") == "Output `(15, 15, 16)`; 0 parameters"


@backs("q03-conv-params")
def test_conv_parameters_do_not_depend_on_image_size(keras):
    counts = {
        size: keras.Sequential([keras.Input(shape=(size, size, 3)), keras.layers.Conv2D(16, 3)]).count_params()
        for size in (32, 200)
    }
    assert counts == {32: 448, 200: 448}
    assert right("q03-conv-params") == "448"


@backs("q03-by-hand")
def test_conv2d_matches_the_numpy_sliding_window(keras):
    rng = np.random.default_rng(5)
    image = rng.random((7, 9)).astype("float32")
    k = rng.normal(size=(3, 3)).astype("float32")
    by_hand = np.array([[(image[i:i + 3, j:j + 3] * k).sum() for j in range(9 - 2)] for i in range(7 - 2)])
    layer = keras.layers.Conv2D(1, 3, padding="valid")
    layer.build((None, 7, 9, 1))
    layer.set_weights([k.reshape(3, 3, 1, 1), np.zeros(1, dtype="float32")])
    out = np.asarray(layer(image[None, :, :, None]))[0, :, :, 0]
    np.testing.assert_allclose(out, by_hand, rtol=1e-5, atol=1e-5)
    flipped = np.array([[(image[i:i + 3, j:j + 3] * k[::-1, ::-1]).sum() for j in range(7)] for i in range(5)])
    assert not np.allclose(out, flipped, atol=1e-3)
    assert right("q03-by-hand") == "Exactly the same numbers."


# --------------------------------------------------------------------------- 04 data


def _write_images(folder: Path, n: int, mode: str = "RGB", suffix: str = ".jpg") -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new(mode, (20, 16), (i * 40) if mode == "L" else (i * 40, 80, 120)).save(folder / f"img{i}{suffix}")


@backs("q04-folder-classes")
def test_class_names_come_from_sorted_folder_names(keras, tmp_path):
    for name in ("tulips", "daisy", "roses"):
        _write_images(tmp_path / name, 2)
    with contextlib.redirect_stdout(io.StringIO()):
        ds = keras.utils.image_dataset_from_directory(tmp_path, image_size=(16, 16), batch_size=6, shuffle=False)
    assert ds.class_names == ["daisy", "roses", "tulips"]
    labels = np.concatenate([np.asarray(y) for _, y in ds])
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]  # daisy first, label 0
    assert right("q04-folder-classes").startswith("0, because class names are sorted alphabetically")


@backs("q04-hash-split")
def test_hashlib_is_stable_across_processes_but_hash_is_not():
    name = "flower_photos/daisy/100080576_f52e8ee070_n.jpg"
    code = f"import hashlib; print(hash({name!r}), hashlib.sha1({name!r}.encode()).hexdigest())"
    outputs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": os.environ.get("PATH", "")}).stdout.split()
        for seed in ("1", "2")
    ]
    assert outputs[0][0] != outputs[1][0]  # built-in hash() is salted per process
    assert outputs[0][1] == outputs[1][1] == hashlib.sha1(name.encode()).hexdigest()
    assert "`hash(filename)`" in wrong("q04-hash-split")


@backs("q04-odd-files")
def test_pillow_reports_odd_files(tmp_path):
    from PIL import Image, UnidentifiedImageError

    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a picture\n")
    with pytest.raises(UnidentifiedImageError):
        Image.open(fake)
    Image.new("RGBA", (10, 8), (1, 2, 3, 128)).save(tmp_path / "alpha.png")
    with Image.open(tmp_path / "alpha.png") as img:
        assert img.mode == "RGBA" and np.asarray(img).shape == (8, 10, 4)
        assert np.asarray(img.convert("RGB")).shape == (8, 10, 3)
    Image.new("L", (10, 8), 77).save(tmp_path / "gray.jpg")
    with Image.open(tmp_path / "gray.jpg") as img:
        assert img.mode == "L" and np.asarray(img).ndim == 2
        rgb = np.asarray(img.convert("RGB"))
        assert rgb.shape == (8, 10, 3) and (rgb[..., 0] == rgb[..., 2]).all()
    for phrase in ("`UnidentifiedImageError`", "mode RGBA", "mode L"):
        assert phrase in right("q04-odd-files")


@backs("q04-cache-prefetch")
def test_cache_runs_the_map_once_and_later_randomness_stays_fresh(keras):
    import tensorflow as tf

    calls = []

    def slow_load(x):
        calls.append(1)
        return x * 2.0

    def load(x):
        return tf.numpy_function(slow_load, [x], tf.float32)

    base = tf.data.Dataset.from_tensor_slices(np.arange(5, dtype="float32"))
    cached = base.map(load).cache().prefetch(tf.data.AUTOTUNE)
    epochs = [[float(v) for v in cached] for _ in range(3)]
    assert epochs[0] == epochs[1] == epochs[2] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert len(calls) == 5  # decoded once, not once per epoch
    calls.clear()
    uncached = base.map(load)
    for _ in range(3):
        list(uncached)
    assert len(calls) == 15

    images = tf.data.Dataset.from_tensor_slices(np.random.default_rng(12).random((3, 8, 8, 1), dtype="float32"))
    rotate = keras.layers.RandomRotation(0.3, seed=12)

    def epoch(ds):
        return np.stack([np.asarray(v) for v in ds])

    fresh = images.cache().map(lambda x: rotate(x, training=True))  # augmentation after the cache
    assert not np.allclose(epoch(fresh), epoch(fresh))
    frozen = images.map(lambda x: rotate(x, training=True)).cache()  # augmentation before the cache
    np.testing.assert_array_equal(epoch(frozen), epoch(frozen))
    assert "`cache()` keeps" in right("q04-cache-prefetch") and "`prefetch` prepares" in right("q04-cache-prefetch")


@backs("q04-normalise")
def test_rescaling_maps_uint8_to_zero_one(keras):
    x = np.array([[0, 51, 255]], dtype="uint8")
    out = np.asarray(keras.layers.Rescaling(1.0 / 255)(x.astype("float32")))
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], atol=1e-6)
    assert out.dtype == np.float32
    assert "from 0 to 1" in right("q04-normalise")


# --------------------------------------------------------------------------- 05 CNN on flowers


@backs("q05-augment-inference")
def test_augmentation_layers_only_act_in_training(keras):
    x = np.random.default_rng(6).random((2, 24, 24, 3)).astype("float32")
    flip = keras.layers.RandomFlip("horizontal", seed=6)
    rotate = keras.layers.RandomRotation(0.1, seed=6)
    zoom = keras.layers.RandomZoom(0.2, seed=6)
    for layer in (flip, rotate, zoom):
        np.testing.assert_allclose(np.asarray(layer(x, training=False)), x)
    rotated = [np.asarray(rotate(x, training=True)) for _ in range(2)]
    assert not np.allclose(rotated[0], x) and not np.allclose(rotated[0], rotated[1])
    flips = [np.asarray(flip(x, training=True)) for _ in range(8)]
    assert any(np.allclose(f, x[:, :, ::-1]) or not np.allclose(f, x) for f in flips)

    model = keras.Sequential([keras.Input(shape=(24, 24, 3)), flip, rotate, keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert "unchanged" in right("q05-augment-inference")


@backs("q05-dropout")
def test_dropout_scales_in_training_and_is_off_at_inference(keras):
    layer = keras.layers.Dropout(0.5, seed=7)
    ones = np.ones((1, 2000), dtype="float32")
    np.testing.assert_array_equal(np.asarray(layer(ones, training=False)), ones)
    out = np.asarray(layer(ones, training=True))
    assert set(np.unique(out).tolist()) == {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6
    assert "doubles the rest" in right("q05-dropout") and "unchanged" in right("q05-dropout")


# --------------------------------------------------------------------------- 06 retraining


@backs("q06-feature-size")
def test_inception_bottleneck_has_2048_features(inception_base):
    assert inception_base.output_shape == (None, 2048)
    assert right("q06-feature-size") == "2,048"


@backs("q06-head-params")
def test_frozen_base_leaves_only_the_head_trainable(keras, inception_base):
    inception_base.trainable = False
    model = keras.Sequential([keras.Input(shape=(299, 299, 3)), inception_base,
                              keras.layers.Dense(5, activation="softmax")])
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == 2048 * 5 + 5 == 10_245
    assert 21.7e6 < model.count_params() < 21.9e6
    assert right("q06-head-params") == "10,245"
    assert "About 21.8 million" in wrong("q06-head-params")


@backs("q06-cache-valid")
def test_frozen_base_features_are_repeatable(inception_base):
    inception_base.trainable = False
    x = np.random.default_rng(8).uniform(-1, 1, (1, 299, 299, 3)).astype("float32")
    first = np.asarray(inception_base(x, training=False))
    again = np.asarray(inception_base(x, training=False))
    during_fit = np.asarray(inception_base(x, training=True))  # frozen: still inference mode
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(during_fit, first, rtol=1e-5, atol=1e-6)
    assert "exactly the same features" in right("q06-cache-valid")


@backs("q06-frozen-batchnorm")
def test_frozen_batchnorm_runs_in_inference_mode(keras):
    x = np.random.default_rng(9).normal(5.0, 3.0, (32, 4)).astype("float32")
    frozen = keras.layers.BatchNormalization()
    frozen.build((None, 4))
    frozen.trainable = False
    mean_before = np.asarray(frozen.moving_mean).copy()
    np.testing.assert_allclose(np.asarray(frozen(x, training=True)), np.asarray(frozen(x, training=False)))
    np.testing.assert_array_equal(np.asarray(frozen.moving_mean), mean_before)
    live = keras.layers.BatchNormalization()  # control: a trainable layer behaves differently
    live.build((None, 4))
    assert not np.allclose(np.asarray(live(x, training=True)), np.asarray(live(x, training=False)))
    assert not np.allclose(np.asarray(live.moving_mean), 0.0)
    assert "inference mode" in right("q06-frozen-batchnorm")


# --------------------------------------------------------------------------- 07 evaluation


def _tulip_example() -> tuple[np.ndarray, np.ndarray]:
    """16 tulips (label 1) among 50 photos; 10 predicted tulip, 8 of them correctly."""
    y_true = np.array([1] * 16 + [0] * 34)
    y_pred = np.array([1] * 8 + [0] * 8 + [1] * 2 + [0] * 32)
    assert (y_pred == 1).sum() == 10 and ((y_pred == 1) & (y_true == 1)).sum() == 8
    return y_true, y_pred


@backs("q07-precision-recall")
def test_precision_and_recall_of_the_tulip_example():
    from sklearn.metrics import precision_score, recall_score

    y_true, y_pred = _tulip_example()
    assert precision_score(y_true, y_pred) == pytest.approx(0.8)
    assert recall_score(y_true, y_pred) == pytest.approx(0.5)
    assert right("q07-precision-recall") == "precision 0.8, recall 0.5"


@backs("q07-f1")
def test_f1_of_the_tulip_example():
    from sklearn.metrics import f1_score

    y_true, y_pred = _tulip_example()
    f1 = f1_score(y_true, y_pred)
    assert f1 == pytest.approx(2 * 0.8 * 0.5 / 1.3)
    assert f"{f1:.2f}" in right("q07-f1")


@backs("q07-imbalanced")
def test_always_daisy_on_an_imbalanced_test_set():
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    y_true = np.array(["daisy"] * 95 + ["rose"] * 5)
    y_pred = np.array(["daisy"] * 100)
    assert accuracy_score(y_true, y_pred) == pytest.approx(0.95)
    assert recall_score(y_true, y_pred, pos_label="rose", zero_division=0) == 0
    assert f1_score(y_true, y_pred, average="macro", zero_division=0) < 0.5
    assert right("q07-imbalanced") == "Accuracy 95%, recall for roses 0, macro-averaged F1 below 0.5"


@backs("q07-confusion-matrix")
def test_confusion_matrix_rows_are_true_classes():
    from sklearn.metrics import confusion_matrix

    y_true = [0, 0, 0, 1, 2]
    y_pred = [1, 1, 0, 1, 2]
    cm = confusion_matrix(y_true, y_pred)
    assert cm[0, 1] == 2 and cm[1, 0] == 0  # two photos of class 0 predicted as 1
    assert cm.sum(axis=1).tolist() == [3, 1, 1]
    assert right("q07-confusion-matrix") == "The number of photos of true class i predicted as class j."


# --------------------------------------------------------------------------- 08 own classifier


@backs("q08-save-reload")
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside Keras saving
def test_keras_format_round_trip_and_extension_required(keras, tmp_path):
    keras.utils.set_random_seed(10)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(10).random((5, 6)).astype("float32")
    path = tmp_path / "flowers.keras"
    model.save(path)
    assert path.is_file()
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="extension"):
        model.save(tmp_path / "flowers_model")
    assert 'model.save("flowers.keras")' in right("q08-save-reload")
    assert "without an extension" in wrong("q08-save-reload")


@backs("q08-one-class")
def test_softmax_over_one_class_is_always_one(keras):
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1, activation="softmax")])
    x = np.random.default_rng(11).normal(0, 10, (20, 8)).astype("float32")
    with pytest.warns(UserWarning, match="always return the value 1"):
        probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs, 1.0, atol=1e-6)
    assert "always outputs 1.0" in right("q08-one-class")
