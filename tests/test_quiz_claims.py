"""Every checkable claim the quizzes make, checked against the installed TensorFlow/Keras.

Each test is registered with ``@backs("question-id", ...)`` for the questions it covers, and
computes, by running the library, the truth of **every option** of those questions. It hands
the verdicts to :func:`marks`, which matches each verdict to exactly one option (by a piece of
its text) and compares all of them with the ``correct`` marks of the bank: editing a question,
or moving or flipping one of its marks, without the facts agreeing fails here.
``test_every_claim_has_a_test`` ties the registry to the ``claim: true`` flags in the YAML
banks, in both directions, and ``test_zz_every_mutated_mark_is_caught`` (last in this file)
flips and moves every mark of every claim question and checks that the verdicts catch it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import math
import os
import subprocess
import sys
import time
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
#: question id -> {option index: truth computed by its test}, filled as the tests run
VERDICTS: dict[str, dict[int, bool]] = {}


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


def match_verdicts(q: Question, truths: dict[str, bool]) -> dict[int, bool]:
    """Map each ``piece of option text -> truth`` to the one option whose text contains it."""
    verdicts: dict[int, bool] = {}
    for needle, truth in truths.items():
        hits = [i for i, o in enumerate(q.options) if needle in o.text]
        assert len(hits) == 1, f"{q.id}: {needle!r} matches {len(hits)} options, not exactly one"
        assert hits[0] not in verdicts, f"{q.id}: two verdicts for option {q.letter(hits[0])}"
        verdicts[hits[0]] = bool(truth)
    missing = [q.letter(i) for i in range(len(q.options)) if i not in verdicts]
    assert not missing, f"{q.id}: no computed truth for option(s) {missing}"
    return verdicts


def compare(q: Question, verdicts: dict[int, bool]) -> None:
    """Fail unless every option's ``correct`` mark equals the truth the code computed."""
    wrong_marks = [f"{q.letter(i)}) marked {q.options[i].correct}, computed {truth}: {q.options[i].text!r}"
                   for i, truth in sorted(verdicts.items()) if q.options[i].correct != truth]
    assert not wrong_marks, f"{q.id}: marks disagree with the code:\n  " + "\n  ".join(wrong_marks)


def marks(qid: str, truths: dict[str, bool]) -> None:
    """Check every option of ``qid`` against the truths computed by the calling test."""
    q = question(qid)
    verdicts = match_verdicts(q, truths)
    VERDICTS[qid] = verdicts
    compare(q, verdicts)


def answer_is(qid: str, computed: str) -> None:
    """For questions whose options are candidate values: only the computed one is true."""
    q = question(qid)
    marks(qid, {o.text: o.text == computed for o in q.options})


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
    shape = inception_top.input_shape
    assert inception_top.output_shape == (None, 1000)
    softmax = inception_top.layers[-1].activation.__name__ == "softmax"
    x = np.random.default_rng(0).uniform(-1, 1, (1, 299, 299, 3)).astype("float32")
    probs = np.asarray(inception_top(x, training=False))[0]
    top3 = np.sort(probs)[-3:]
    all_sum_to_one = bool(probs.min() >= 0 and abs(probs.sum() - 1) < 1e-4)
    marks("q00-top3", {
        "only three classes": probs.size == 3,
        "share of the image covered": not softmax,  # a softmax over classes, not areas
        "always add up to 1": abs(top3.sum() - 1) < 1e-4,
        "three largest of 1000": softmax and probs.size == 1000 and all_sum_to_one,
    })
    # another size: the convolutional network builds (weights=None), the ImageNet weights refuse it
    other = keras.applications.InceptionV3(weights=None, input_shape=(150, 150, 3))
    with pytest.raises(ValueError, match="299"):
        keras.applications.InceptionV3(weights="imagenet", input_shape=(150, 150, 3))  # checked before any download
    assert other.input_shape == (None, 150, 150, 3)
    marks("q00-inception-input", {
        "299 x 299 colour": shape == (None, 299, 299, 3),
        "224 x 224": shape == (None, 224, 224, 3),
        "Any size at all": False,  # with its ImageNet weights, 150 px raised above
        "grayscale": shape[-1] == 1,
    })
    # the wrong option's feedback: other ImageNet networks default to 224 x 224
    assert keras.applications.MobileNetV2(weights=None).input_shape == (None, 224, 224, 3)


@backs("q00-preprocess")
def test_inception_preprocess_maps_pixels_to_minus_one_one(keras):
    x = np.array([0.0, 127.5, 255.0])
    out = np.asarray(keras.applications.inception_v3.preprocess_input(x.copy()))
    marks("q00-preprocess", {
        "keeps the 0..255 scale": out.max() > 100,
        "range 0 to 1": np.allclose(out, x / 255),
        "range -1 to 1": np.allclose(out, [-1.0, 0.0, 1.0]),
        "Nothing;": np.allclose(out, x),
    })
    caffe = keras.applications.resnet50.preprocess_input(np.full((1, 2, 2, 3), 255.0))
    assert caffe.max() > 100  # "caffe" style keeps the 0..255 scale (the wrong option's text)


@backs("q00-fast-mode")
def test_course_fast_selects_small_settings(monkeypatch):
    from course_utils import config

    # CI itself sets COURSE_ALLOW_RANDOM_WEIGHTS=1; the claim is that COURSE_FAST alone does
    # not turn it on, so start from an environment without it.
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("COURSE_ALLOW_RANDOM_WEIGHTS", raising=False)
    monkeypatch.setenv("COURSE_FAST", "1")
    small = config.fast_mode() and config.pick(50, 2) == 2
    random_weights = config.allow_random_weights()
    outside_nbgrader = config.fast_mode()  # NBGRADER_EXECUTION is not set
    monkeypatch.setenv("COURSE_FAST", "true")
    true_spelling = config.fast_mode()
    monkeypatch.delenv("COURSE_FAST")
    assert not config.fast_mode() and config.pick(50, 2) == 50
    marks("q00-fast-mode", {
        "`config.pick(full, fast)` returns `fast`": small,
        "implies `COURSE_ALLOW_RANDOM_WEIGHTS=1`": random_weights,
        "unless the notebook runs under nbgrader": not outside_nbgrader,
        "`COURSE_FAST=true` is ignored": not true_spelling,
    })


# --------------------------------------------------------------------------- 01 pixels


@backs("q01-array-shape")
def test_jpeg_as_array_is_height_width_channels_uint8(tmp_path):
    from PIL import Image

    Image.new("RGB", (240, 180), (200, 30, 60)).save(tmp_path / "photo.jpg")
    arr = np.asarray(Image.open(tmp_path / "photo.jpg"))
    answer_is("q01-array-shape", f"`{arr.shape}` and `{arr.dtype}`")
    Image.new("L", (240, 180)).save(tmp_path / "gray.jpg")
    assert np.asarray(Image.open(tmp_path / "gray.jpg")).shape == (180, 240)


@backs("q01-uint8-wrap")
def test_uint8_arithmetic_wraps_around(keras, tmp_path):
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy warns about scalar overflow
        wraps = np.uint8(250) + np.uint8(10) == 4
        negative_wraps = np.uint8(10) - np.uint8(250) == 16
    a = np.array([250, 5], dtype=np.uint8)
    b = np.array([10, 10], dtype=np.uint8)
    assert (a + b).tolist() == [4, 15] and (b - a).tolist() == [16, 5]

    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    fig, ax = plt.subplots()
    shown = ax.imshow(image).get_array()  # matplotlib displays uint8 images directly
    plt.close(fig)
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(image).save(path)
    size_before = path.stat().st_size
    _ = np.asarray(Image.open(path)).astype("float32") / 255
    file_unchanged = path.stat().st_size == size_before

    # the same small network, the same seed, on digits scaled 0..1 and 0..255
    x, y = load_digits(return_X_y=True)
    losses = {}
    for scale in (1 / 16, 255 / 16):
        keras.utils.set_random_seed(13)
        model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        losses[scale] = model.fit((x * scale).astype("float32"), y, epochs=3, batch_size=64, verbose=0
                                  ).history["loss"][-1]
    marks("q01-uint8-wrap", {
        "`b - a` with `b` smaller": negative_wraps,
        "cannot be displayed with matplotlib": np.asarray(shown).dtype != np.uint8,
        "train better on small values": losses[1 / 16] < losses[255 / 16],
        "`np.uint8(250) + np.uint8(10)` is `4`": wraps,
        "makes the image file on disk smaller": not file_unchanged,
    })


@backs("q01-digits-features")
def test_logistic_regression_on_flattened_digits_works():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    assert digits.images.shape[1:] == (8, 8)
    n = digits.data.shape[1]
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.3, random_state=0, stratify=digits.target)
    acc = LogisticRegression(max_iter=2000).fit(x_train, y_train).score(x_test, y_test)
    marks("q01-digits-features", {
        "8 features": n == 8,
        "64 features; about 10%": n == 64 and abs(acc - 0.1) < 0.05,
        "64 features; well above 90%": n == 64 and acc > 0.9,
        "192 features": n == 192,
    })


@backs("q01-flatten-size")
def test_flattened_rgb_size(keras):
    model = keras.Sequential([keras.Input(shape=(64, 64, 3)), keras.layers.Flatten()])
    answer_is("q01-flatten-size", f"{model.output_shape[1]:,}")


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
    try:
        history = model.fit(x_train, y_train, epochs=40, batch_size=50, verbose=0)
        raised = False
    except Exception:  # noqa: BLE001 - the claim under test is "fit raises"
        raised = True
    assert not raised
    train_acc = model.evaluate(x_train, y_train, verbose=0)[1]
    test_acc = model.evaluate(x_test, y_test, verbose=0)[1]
    marks("q02-random-labels", {
        "held-out data stays near 1/K": abs(test_acc - 1 / k) < 0.05,
        "can climb far above 10%": train_acc > 0.5,
        "`fit` raises an error": raised,
        "In the first epoch": history.history["accuracy"][0] < 2 / k,  # near chance, far below what it reaches
        "stuck at exactly 10%": train_acc == 1 / k,
    })


@backs("q02-dense-params")
def test_dense_parameter_count(keras):
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(128)])
    n = model.count_params()
    marks("q02-dense-params", {"128, one per unit": n == 128, "100,352": n == 100_352,
                               "3,584": n == 3_584, "100,480": n == 100_480})


@backs("q02-softmax-output", "q08-unknown-class")
def test_softmax_outputs_are_a_distribution_and_sparse_labels_train(keras):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=(12,)), keras.layers.Dense(5, activation="softmax")])
    x = np.random.default_rng(2).normal(0, 5, (64, 12)).astype("float32")  # any input, even a "car"
    probs = model.predict(x, verbose=0)
    distribution = bool(probs.min() >= 0 and probs.max() <= 1 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5))
    second = np.sort(probs, axis=1)[:, -2]
    labels = np.arange(64) % 5

    def trains_with(loss: str) -> bool:
        m = keras.Sequential([keras.Input(shape=(12,)), keras.layers.Dense(5, activation="softmax")])
        m.compile("adam", loss)
        try:
            m.fit(x, labels, epochs=1, verbose=0)
        except ValueError:
            return False
        return True

    assert trains_with("sparse_categorical_crossentropy")
    marks("q02-softmax-output", {
        "`binary_crossentropy`": trains_with("binary_crossentropy"),
        "`categorical_crossentropy`": trains_with("categorical_crossentropy"),
        "several can be close to 1": bool((second > 0.5).any()),
        "between 0 and 1 and add up to 1": distribution,
    })
    two = keras.Sequential([keras.Input(shape=(12,)), keras.layers.Dense(2, activation="softmax")])
    car = two.predict(x, verbose=0)  # no error, whatever the photo shows
    marks("q08-unknown-class", {
        "An error": False,  # predict returned above
        '"unknown"': car.shape[1] != 2,
        "Zero probability for both": bool(np.allclose(car, 0)),
        "still add up to 1": bool(np.allclose(car.sum(axis=1), 1.0, atol=1e-5)),
    })


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
    first = model.evaluate(x / 16.0, y, verbose=0)  # untrained network
    marks("q02-initial-loss", {"About 0.1": abs(first - 0.1) < 0.3, "About 2.3": abs(first - 2.3) < 0.3,
                               "Exactly 0": first == 0, "About 10": abs(first - 10) < 1})


# --------------------------------------------------------------------------- 03 CNN


@backs("q03-declare-input")
def test_keras_input_builds_at_once_and_input_shape_only_warns(keras):
    def clean_and_built(make) -> bool:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = make()
            except ValueError:  # the batch axis given twice: the layer sees a 5-D input
                return False
        return model.built and model.output_shape == (None, 178, 178, 16) and not caught

    marks("q03-declare-input", {
        "keras.layers.Conv2D(16, 3, input_shape=(180, 180, 3))": clean_and_built(
            lambda: keras.Sequential([keras.layers.Conv2D(16, 3, input_shape=(180, 180, 3))])),
        "keras.Input(shape=(180, 180, 3))": clean_and_built(
            lambda: keras.Sequential([keras.Input(shape=(180, 180, 3)), keras.layers.Conv2D(16, 3)])),
        "input_shape=(None, 180, 180, 3)": clean_and_built(
            lambda: keras.Sequential([keras.layers.Conv2D(16, 3, input_shape=(None, 180, 180, 3))])),
        "reads the image size from the files": keras.Sequential([keras.layers.Conv2D(16, 3)]).built,
    })


@backs("q03-no-input")
def test_without_input_the_model_builds_lazily_and_fit_works(keras):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    before = summary_text(model)
    unbuilt = not model.built and "unbuilt" in before and "?" in before and "224" not in before
    with pytest.raises(ValueError):
        model.count_params()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(4).random((8, 12, 12, 3)).astype("float32")  # 12 px, not 224
    try:
        history = model.fit(x, np.arange(8) % 5, epochs=1, batch_size=4, verbose=0)
        fit_works = len(history.history["loss"]) == 1 and bool(np.isfinite(history.history["loss"][0]))
    except ValueError:
        fit_works = False
    counts = model.count_params() == (3 * 3 * 3 * 16 + 16) + (10 * 10 * 16 * 5 + 5)
    marks("q03-no-input", {
        "`model.fit(...)` works": fit_works and model.built,
        "raises a `ValueError`": not fit_works,
        "assumes 224 x 224 x 3": not fit_works,  # 12 x 12 images trained above
        "`model.count_params()` works": counts,
        "shows the layers as unbuilt": unbuilt,
    })


@backs("q03-valid-same")
def test_conv2d_output_shapes_valid_and_same(keras):
    x = keras.Input(shape=(32, 32, 3))
    valid = tuple(keras.layers.Conv2D(16, 3)(x).shape[1:])  # padding="valid" is the default
    same = tuple(keras.layers.Conv2D(16, 3, padding="same")(x).shape[1:])
    answer_is("q03-valid-same", f"valid: `{valid}`; same: `{same}`")


@backs("q03-pooling")
def test_max_pooling_halves_and_has_no_parameters(keras):
    model = keras.Sequential([keras.Input(shape=(30, 30, 16)), keras.layers.MaxPooling2D(2)])
    x = np.arange(4 * 4, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(np.asarray(model.layers[0](x))[0, :, :, 0], [[5, 7], [13, 15]])
    answer_is("q03-pooling", f"Output `{tuple(model.output_shape[1:])}`; {model.count_params()} parameters")


@backs("q03-conv-params")
def test_conv_parameters_do_not_depend_on_image_size(keras):
    counts = {
        size: keras.Sequential([keras.Input(shape=(size, size, 3)), keras.layers.Conv2D(16, 3)]).count_params()
        for size in (32, 200)
    }
    n = counts[32]
    marks("q03-conv-params", {"144": n == 144, "448": n == 448, "432": n == 432,
                              "depends on the height and width": counts[32] != counts[200]})


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
    flipped = np.array([[(image[i:i + 3, j:j + 3] * k[::-1, ::-1]).sum() for j in range(7)] for i in range(5)])
    marks("q03-by-hand", {
        "kernel rotated by 180 degrees": np.allclose(out, flipped, atol=1e-3),
        "A single number": out.size == 1,
        "Exactly the same numbers": np.allclose(out, by_hand, rtol=1e-5, atol=1e-5),
        "A larger image": out.shape[0] > image.shape[0],
    })


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
    runs = []
    for seed in (1, 2):
        with contextlib.redirect_stdout(io.StringIO()):
            ds = keras.utils.image_dataset_from_directory(tmp_path, image_size=(16, 16), batch_size=6,
                                                          shuffle=True, seed=seed)
        runs.append(ds.class_names)
    daisy = runs[0].index("daisy")
    marks("q04-folder-classes", {
        "0: Keras sorts the folder names": daisy == 0 and runs[0] == sorted(runs[0]),
        "2, because it is the second folder": daisy == 2,
        "A random number": runs[0] != runs[1],
        "1, because labels start at 1": daisy == 1,
    })
    # code-point order: capitals sort first (the correct option's feedback)
    _write_images(tmp_path / "Roses", 2)
    with contextlib.redirect_stdout(io.StringIO()):
        ds = keras.utils.image_dataset_from_directory(tmp_path, image_size=(16, 16), batch_size=6)
    assert ds.class_names[0] == "Roses"


def _name_hash_split(path: Path) -> str:
    """TensorFlow for Poets' rule: the set from a SHA-1 of the file *name* (the question's contrast)."""
    from course_utils import data

    return data.split_of_digest(hashlib.sha1(path.name.encode()).hexdigest())


@backs("q04-hash-split")
def test_content_hash_split_keeps_copies_together_and_never_moves_photos(tmp_path):
    from PIL import Image

    from course_utils import data

    rng = np.random.default_rng(0)
    folder, copies = tmp_path / "daisy", tmp_path / "holiday"
    folder.mkdir()
    copies.mkdir()
    photos = []
    for i in range(60):
        photo = folder / f"photo_{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(photo, quality=90)
        photos.append(photo)
    renamed = []
    for photo in photos:
        copy = copies / f"{photo.stem} (copy).jpg"
        copy.write_bytes(photo.read_bytes())
        renamed.append(copy)
    content_together = all(data.which_split(c) == data.which_split(p) for c, p in zip(renamed, photos))
    name_apart = any(_name_hash_split(c) != _name_hash_split(p) for c, p in zip(renamed, photos))

    # adding photos: does any existing photo move, under either rule?
    added = []
    for i in range(60, 120):
        photo = folder / f"photo_{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(photo, quality=90)
        added.append(photo)
    before_content = data.split_by_hash(photos)
    after_content = data.split_by_hash(photos + added)
    moved_content = any(i not in after_content[key] for key, indices in before_content.items() for i in indices)
    names_before = {p: _name_hash_split(p) for p in photos}  # the name rule, asked again after the additions
    moved_name = any(_name_hash_split(p) != names_before[p] for p in photos + added if p in names_before)

    # an edited copy: cropped by one pixel, or re-saved at another JPEG quality
    edited_same = []
    for photo in photos:
        with Image.open(photo) as img:
            pixels = img.convert("RGB")
        for k, edit in enumerate((pixels.crop((1, 1, 24, 24)), pixels)):
            target = tmp_path / f"{photo.stem}_edit{k}.jpg"
            edit.save(target, quality=70)
            edited_same.append(data.which_split(target) == data.which_split(photo))

    # the built-in hash() of the same bytes in two processes
    code = "import sys; print(hash(open(sys.argv[1], 'rb').read()))"
    builtin = {subprocess.run([sys.executable, "-c", code, str(photos[0])], capture_output=True, text=True,
                              check=True, env={"PYTHONHASHSEED": seed, "PATH": os.environ.get("PATH", "")}).stdout
               for seed in ("1", "2")}
    marks("q04-hash-split", {
        "saved under another name lands in the same set": content_together and name_apart,
        "Adding photos to the folder moves some existing photos": moved_content or moved_name,
        "cropped, or re-saved as a JPEG, keeps its set": all(edited_same),
        "built-in `hash()` of the bytes would work": len(builtin) == 1,
    })


@backs("q04-odd-files")
def test_validator_skips_broken_files_and_converts_odd_modes(tmp_path):
    from PIL import Image, UnidentifiedImageError

    from course_utils import data

    roses = tmp_path / "photos" / "roses"
    _write_images(roses, 3)
    _write_images(tmp_path / "photos" / "tulips", 3)
    Image.new("RGB", (1600, 1200), (10, 200, 30)).save(roses / "large.jpg")
    Image.new("RGBA", (10, 8), (1, 2, 3, 128)).save(roses / "alpha.png")
    Image.new("L", (10, 8), 77).save(roses / "gray.jpg")
    whole = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(whole, "JPEG")
    (roses / "cut_off.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    (roses / "notes.jpg").write_text("this is not a picture\n")
    with pytest.raises(UnidentifiedImageError):
        Image.open(roses / "notes.jpg")
    with Image.open(roses / "alpha.png") as img:
        assert img.mode == "RGBA" and np.asarray(img.convert("RGB")).shape == (8, 10, 3)

    report = data.validate_image_folder(tmp_path / "photos")
    skipped = {p.name for p in report.skipped}
    marks("q04-odd-files", {
        "larger than the others": "large.jpg" in skipped,
        "mode RGBA": "alpha.png" in skipped,
        "cut off half-way": "cut_off.jpg" in skipped,
        "mode L": "gray.jpg" in skipped,
        "`UnidentifiedImageError`": "notes.jpg" in skipped,
    })
    assert (roses / "notes.jpg").exists()  # reported, never deleted


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
    decoded_once = epochs[0] == epochs[1] == epochs[2] == [0.0, 2.0, 4.0, 6.0, 8.0] and len(calls) == 5
    calls.clear()
    for _ in range(3):
        list(base.map(load))
    assert len(calls) == 15  # without the cache: once per epoch

    images = tf.data.Dataset.from_tensor_slices(np.random.default_rng(12).random((3, 8, 8, 1), dtype="float32"))
    rotate = keras.layers.RandomRotation(0.3, seed=12)

    def epoch(ds):
        return np.stack([np.asarray(v) for v in ds])

    fresh = images.cache().map(lambda x: rotate(x, training=True))  # augmentation after the cache
    assert not np.allclose(epoch(fresh), epoch(fresh))
    frozen = images.map(lambda x: rotate(x, training=True)).cache()  # augmentation before the cache
    frozen_same = bool(np.array_equal(epoch(frozen), epoch(frozen)))

    produced = []

    def produce():
        for i in range(6):
            produced.append(i)
            yield i

    ahead = tf.data.Dataset.from_generator(produce, output_signature=tf.TensorSpec((), tf.int32)).prefetch(3)
    iterator = iter(ahead)
    first = int(next(iterator))
    deadline = time.monotonic() + 30
    while len(produced) < 3 and time.monotonic() < deadline:  # wait on the state, not a fixed time
        time.sleep(0.01)
    ran_ahead = first == 0 and len(produced) >= 3
    same_elements = [int(v) for v in tf.data.Dataset.range(4).prefetch(2)] == [0, 1, 2, 3]
    marks("q04-cache-prefetch", {
        "downloads the next images": not same_elements,  # only what the pipeline already makes
        "`cache()` keeps the decoded": decoded_once,
        "freezes it": frozen_same,
        "prepares the next batches": ran_ahead,
    })


@backs("q04-normalise")
def test_rescaling_maps_uint8_to_zero_one(keras):
    x = np.array([[0, 51, 255, 100]], dtype="uint8")
    out = np.asarray(keras.layers.Rescaling(1.0 / 255)(x.astype("float32")))
    standardised = (x - x.mean()) / x.std()
    marks("q04-normalise", {
        "float values from 0 to 1": out.dtype == np.float32 and np.allclose(out, x / 255, atol=1e-6),
        "Resizes it": out.shape != x.shape,
        "Subtracts the mean": np.allclose(out, standardised, atol=1e-3),
        "Rounds every value": set(np.unique(out).tolist()) <= {0.0, 1.0},
    })


# --------------------------------------------------------------------------- 05 CNN on flowers


@backs("q05-augment-inference")
def test_augmentation_layers_only_act_in_training(keras, tmp_path, monkeypatch):
    x = np.random.default_rng(6).random((2, 24, 24, 3)).astype("float32")
    flip = keras.layers.RandomFlip("horizontal", seed=6)
    rotate = keras.layers.RandomRotation(0.1, seed=6)
    off = all(np.allclose(np.asarray(layer(x, training=False)), x) for layer in (flip, rotate))
    rotated = [np.asarray(rotate(x, training=True)) for _ in range(2)]
    fresh = not np.allclose(rotated[0], x) and not np.allclose(rotated[0], rotated[1])

    model = keras.Sequential([keras.Input(shape=(24, 24, 3)), flip, rotate, keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    monkeypatch.chdir(tmp_path)
    history = model.fit(x, np.array([0, 1]), epochs=2, batch_size=2, verbose=0)
    nothing_written = not any(tmp_path.iterdir())
    repeatable = np.allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert len(history.history["loss"]) == 2
    marks("q05-augment-inference", {
        "randomise predictions": not repeatable,
        "write the augmented images to disk": not nothing_written,
        "pass images through unchanged": off and repeatable,
        "each batch gets new random flips": fresh,
    })


@backs("q05-call-modes")
def test_only_inference_calls_are_repeatable(keras):
    keras.utils.set_random_seed(14)
    model = keras.Sequential([
        keras.Input(shape=(24, 24, 3)),
        keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1),
        keras.layers.Flatten(), keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax"),
    ])
    x = np.random.default_rng(14).random((4, 24, 24, 3)).astype("float32")

    def repeatable(call) -> bool:
        return bool(np.allclose(np.asarray(call()), np.asarray(call())))

    marks("q05-call-modes", {
        "`model(x, training=False)`": repeatable(lambda: model(x, training=False)),
        "called directly without a `training=` argument": repeatable(lambda: model(x)),
        "`model.predict_on_batch(x)`": repeatable(lambda: model.predict_on_batch(x)),
        "`model.predict(x)`": repeatable(lambda: model.predict(x, verbose=0)),
        "`model(x, training=True)`": repeatable(lambda: model(x, training=True)),
    })


@backs("q05-dropout")
def test_dropout_scales_in_training_and_is_off_at_inference(keras):
    layer = keras.layers.Dropout(0.5, seed=7)
    ones = np.ones((4, 2000), dtype="float32")
    off = np.array_equal(np.asarray(layer(ones, training=False)), ones)
    out = np.asarray(layer(ones, training=True))
    halves = set(np.unique(out).tolist()) == {0.0, 2.0} and 0.4 < (out == 0).mean() < 0.6
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(6), layer, keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(0.1)
    model.compile(optimizer, "mse")
    model.fit(np.ones((8, 8), "float32"), np.zeros((8, 2), "float32"), epochs=3, verbose=0)
    marks("q05-dropout", {
        "permanently removes half": model.layers[0].kernel.shape[1] != 6 or bool(layer.weights),
        "drops half of the training images": out.shape[0] != ones.shape[0],
        "doubles the rest": halves and off,
        "halves the learning rate": not math.isclose(float(optimizer.learning_rate), 0.1, rel_tol=1e-6),
    })


# --------------------------------------------------------------------------- 06 retraining


@backs("q06-feature-size")
def test_inception_bottleneck_has_2048_features(inception_base):
    n = inception_base.output_shape[1]
    marks("q06-feature-size", {"1,000": n == 1000, "2,048": n == 2048, "268,203": n == 268_203,
                               "5: one per flower": n == 5})


@backs("q06-head-params")
def test_frozen_base_leaves_only_the_head_trainable(keras, inception_base):
    inception_base.trainable = False
    model = keras.Sequential([keras.Input(shape=(299, 299, 3)), inception_base,
                              keras.layers.Dense(5, activation="softmax")])
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert 21.7e6 < model.count_params() < 21.9e6  # the whole model (the first option's number)
    marks("q06-head-params", {"About 21.8 million": 21.7e6 < trainable < 21.9e6, "10,240": trainable == 10_240,
                              "10,245": trainable == 10_245, "0, because": trainable == 0})


@backs("q06-cache-valid")
def test_frozen_base_features_are_repeatable(keras, inception_base):
    inception_base.trainable = False
    x = np.random.default_rng(8).uniform(-1, 1, (2, 299, 299, 3)).astype("float32")
    first = np.asarray(inception_base(x, training=False))
    during_fit = np.asarray(inception_base(x, training=True))  # frozen: still inference mode
    head = keras.Sequential([keras.Input(shape=(2048,)), keras.layers.Dense(5, activation="softmax")])
    head.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    head.fit(first, np.array([0, 1]), epochs=3, verbose=0)  # the head learns ...
    again = np.asarray(inception_base(x, training=False))  # ... the features stay put
    repeatable = np.allclose(first, again, atol=1e-6) and np.allclose(during_fit, first, rtol=1e-5, atol=1e-6)
    has_batchnorm = any(isinstance(layer, keras.layers.BatchNormalization) for layer in inception_base.layers)

    import tensorflow as tf

    runs = []

    def count(v):
        runs.append(1)
        return v

    class Counted(keras.layers.Layer):  # a frozen "base" that counts how often it really runs
        def call(self, v):
            out = tf.numpy_function(count, [v], tf.float32)
            out.set_shape(v.shape)
            return out

    counted = keras.Sequential([keras.Input(shape=(4,)), Counted(), keras.layers.Dense(2, activation="softmax")])
    counted.compile("adam", "sparse_categorical_crossentropy")
    counted.fit(np.ones((4, 4), "float32"), np.array([0, 1, 0, 1]), epochs=3, batch_size=4, verbose=0)
    marks("q06-cache-valid", {
        "exactly the same features for the same image": repeatable,
        "the features change as the head learns": not repeatable,
        "has no `BatchNormalization` layers": not has_batchnorm,
        "caches them automatically inside `fit`": len(runs) <= 1,
    })


@backs("q06-frozen-batchnorm")
def test_frozen_batchnorm_runs_in_inference_mode(keras):
    x = np.random.default_rng(9).normal(5.0, 3.0, (32, 4)).astype("float32")
    frozen = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input(shape=(4,)), frozen, keras.layers.Dense(1)])
    frozen.trainable = False
    mean_before = np.asarray(frozen.moving_mean).copy()
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((32, 1), "float32"), epochs=2, verbose=0)
    updated = not np.array_equal(np.asarray(frozen.moving_mean), mean_before)
    inference = np.allclose(np.asarray(frozen(x, training=True)), np.asarray(frozen(x, training=False)))
    live = keras.layers.BatchNormalization()  # control: a trainable layer behaves differently
    live.build((None, 4))
    assert not np.allclose(np.asarray(live(x, training=True)), np.asarray(live(x, training=False)))
    marks("q06-frozen-batchnorm", {
        "keep updating their moving mean": updated,
        "removed from the model": frozen not in model.layers,
        "turn into dropout layers": isinstance(frozen, keras.layers.Dropout),
        "run in inference mode": inference and not updated,
    })


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
    p, r = precision_score(y_true, y_pred), recall_score(y_true, y_pred)
    answer_is("q07-precision-recall", f"precision {p:.1f}, recall {r:.1f}")


@backs("q07-precision-or-recall")
def test_precision_and_recall_in_the_extreme_cases():
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import precision_score, recall_score

    y_true = np.array([1] * 10 + [0] * 30)
    always = np.ones_like(y_true)
    never = np.zeros_like(y_true)
    with pytest.warns(UndefinedMetricWarning):
        never_precision = precision_score(y_true, never)
    balanced_true = np.array([1] * 20 + [0] * 20)
    balanced_pred = np.array([1] * 10 + [0] * 10 + [1] * 5 + [0] * 15)
    marks("q07-precision-or-recall", {
        "perfect recall": recall_score(y_true, always) == 1.0,
        # a false alarm lowers precision and leaves recall alone; a miss lowers recall only
        "false alarms are expensive": precision_score(y_true, np.r_[y_true[:10], [1] * 5, y_true[15:]]) < 1
        and recall_score(y_true, np.r_[y_true[:10], [1] * 5, y_true[15:]]) == 1,
        "always equal when the classes are balanced":
            precision_score(balanced_true, balanced_pred) == recall_score(balanced_true, balanced_pred),
        "missing a case is expensive": recall_score(y_true, np.r_[[0] * 5, y_true[5:]]) < 1
        and precision_score(y_true, np.r_[[0] * 5, y_true[5:]]) == 1,
        "never predicts a class": never_precision == 0,
    })


@backs("q07-f1")
def test_f1_of_the_tulip_example():
    from sklearn.metrics import f1_score

    y_true, y_pred = _tulip_example()
    f1 = f1_score(y_true, y_pred)
    marks("q07-f1", {"0.65": abs(f1 - 0.65) < 0.005, "about 0.62": abs(f1 - 0.62) < 0.005,
                     "0.40": abs(f1 - 0.40) < 0.005, "0.5, the smaller": abs(f1 - 0.5) < 0.005})


@backs("q07-imbalanced")
def test_always_daisy_on_an_imbalanced_test_set():
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    y_true = np.array(["daisy"] * 95 + ["rose"] * 5)
    y_pred = np.array(["daisy"] * 100)
    acc = accuracy_score(y_true, y_pred)
    rose = recall_score(y_true, y_pred, pos_label="rose", zero_division=0)
    macro = f1_score(y_true, y_pred, average="macro", zero_division=0)
    marks("q07-imbalanced", {
        "Accuracy 50%": acc == 0.5,
        "so the model is good": acc == 0.95 and rose > 0,  # "good" would need it to find roses
        "Accuracy 5%": acc == 0.05 and rose == 1,
        "macro-averaged F1 below 0.5": acc == 0.95 and rose == 0 and macro < 0.5,
    })


@backs("q07-confusion-matrix")
def test_confusion_matrix_rows_are_true_classes():
    from sklearn.metrics import confusion_matrix

    y_true = [0, 0, 0, 1, 2]
    y_pred = [1, 1, 0, 1, 2]
    cm = confusion_matrix(y_true, y_pred)
    counted = np.zeros((3, 3), int)
    for t, p in zip(y_true, y_pred):
        counted[t, p] += 1
    marks("q07-confusion-matrix", {
        "true class j predicted as class i": np.array_equal(cm, counted.T),
        "The probability": np.issubdtype(cm.dtype, np.floating) and np.allclose(cm.sum(axis=1), 1),
        "after j epochs": False,  # no epochs are involved: cm comes from two label lists alone
        "true class i predicted as class j": np.array_equal(cm, counted),
    })


# --------------------------------------------------------------------------- 08 own classifier


@backs("q08-save-reload")
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside Keras saving
def test_keras_format_round_trip_and_extension_required(keras, tmp_path):
    import zipfile

    keras.utils.set_random_seed(10)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(10).random((5, 6)).astype("float32")
    path = tmp_path / "flowers.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    round_trip = path.is_file() and np.allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    try:
        model.save(tmp_path / "flowers_model")
        saved_folder = (tmp_path / "flowers_model").is_dir()
    except ValueError:
        saved_folder = False
    with zipfile.ZipFile(path) as archive:
        stored = b"".join(archive.read(name) for name in archive.namelist())
    # a fresh Python without the code that built the model loads it all the same
    code = f"import keras; print(keras.models.load_model({str(path)!r}).count_params())"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    marks("q08-save-reload", {
        "class names are not stored": b"daisy" not in stored,  # the model only knows output numbers
        "saves a TensorFlow SavedModel folder": saved_folder,
        'model.save("flowers.keras")': round_trip,
        "rebuild the exact same Python code": fresh.stdout.strip() != str(model.count_params()),
    })


@backs("q08-one-class")
@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy:SyntaxWarning")  # the point of the test
def test_softmax_over_one_class_is_always_one(keras, tmp_path):
    from course_utils import data

    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1, activation="softmax")])
    x = np.random.default_rng(11).normal(0, 10, (20, 8)).astype("float32")
    with pytest.warns(UserWarning, match="always return the value 1"):
        probs = model.predict(x, verbose=0)
        before = [np.asarray(w).copy() for w in model.get_weights()]
        model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
        model.fit(x, np.ones((20, 1), "float32"), epochs=3, verbose=0)
    learned = any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    _write_images(tmp_path / "one" / "cats", 6)
    _write_images(tmp_path / "two" / "cats", 1)
    _write_images(tmp_path / "two" / "dogs", 1)
    one_class_ok = data.validate_image_folder(tmp_path / "one").ok
    tiny_ok = data.validate_image_folder(tmp_path / "two").ok
    with contextlib.redirect_stdout(io.StringIO()):
        ds = keras.utils.image_dataset_from_directory(tmp_path / "one", image_size=(16, 16), batch_size=6)
    marks("q08-one-class", {
        "It trains fine and reaches 100%": learned,
        "too little data": not one_class_ok and not tiny_ok,  # 6 photos refused, 2 accepted
        "always outputs 1.0": bool(np.allclose(probs, 1.0, atol=1e-6)) and not learned,
        "cannot read a folder with one subfolder": ds.class_names != ["cats"],
    })


# --------------------------------------------------------------------------- mutation check


def test_zz_every_mutated_mark_is_caught(capsys):
    """Flip every mark, and move every single answer, of every claim question: the verdicts must object.

    Runs last (pytest keeps file order) and uses the verdicts the tests above computed.
    """
    flagged = sorted(q.id for lesson in lessons() for q in load_bank(lesson) if q.claim)
    missing = [qid for qid in flagged if qid not in VERDICTS]
    if missing:
        pytest.skip(f"needs the verdicts of the claim tests of {len(missing)} question(s), e.g. {missing[:3]}: "
                    "run the whole file")
    caught = total = 0
    escaped = []
    for qid in flagged:
        q = question(qid)
        compare(q, VERDICTS[qid])  # the bank as it is passes
        mutants: list[tuple[str, list[bool]]] = []
        marks_now = [o.correct for o in q.options]
        for i in range(len(q.options)):
            flipped = marks_now.copy()
            flipped[i] = not flipped[i]
            mutants.append((f"flip {q.letter(i)}", flipped))
            if not q.multiple and not marks_now[i]:
                moved = [j == i for j in range(len(q.options))]
                mutants.append((f"move to {q.letter(i)}", moved))
        for name, new_marks in mutants:
            options = tuple(dataclasses.replace(o, correct=m) for o, m in zip(q.options, new_marks))
            total += 1
            try:
                compare(dataclasses.replace(q, options=options), VERDICTS[qid])
            except AssertionError:
                caught += 1
            else:
                escaped.append(f"{qid}: {name}")
    with capsys.disabled():
        print(f"\nquiz claim mutations caught: {caught}/{total} over {len(flagged)} claim questions")
    assert not escaped, f"mutations the claim tests did not notice: {escaped}"
    assert caught == total
