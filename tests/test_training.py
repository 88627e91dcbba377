"""course_utils.training: generated from the lessons' #@save cells, and the recipes themselves."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import sync_lessons  # noqa: E402


def test_training_module_matches_the_lessons():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_lessons.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_fails_on_drift(tmp_path, monkeypatch):
    target = tmp_path / "training.py"
    target.write_text(sync_lessons.render(sync_lessons.saved_cells()).replace("label_smoothing=0.1", "label_smoothing=0.2"))
    monkeypatch.setattr(sync_lessons, "TARGET", target)
    monkeypatch.setattr(sync_lessons, "ROOT", tmp_path)
    assert sync_lessons.main(["--check"]) == 1
    assert sync_lessons.main([]) == 0  # rewrites it
    assert sync_lessons.main(["--check"]) == 0


def test_every_saved_cell_comes_from_a_lesson_and_defines_something():
    cells = sync_lessons.saved_cells()
    lessons = {name for name, _ in cells}
    assert lessons == {"05_cnn_on_flowers.ipynb", "06_retraining_inception.ipynb", "07_evaluating_a_classifier.ipynb"}
    for name, code in cells:
        for statement in ast.parse(code).body:  # functions, or a constant in capitals (the recipe)
            assert isinstance(statement, ast.FunctionDef) or (
                isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper()
                                                          for t in statement.targets)), (name, ast.dump(statement)[:80])


def test_lesson_05_and_course_retrain_share_one_recipe(training):
    """The recipe is written once, in lesson 05; the command-line tool reads it from the package."""
    import nbformat

    lesson = nbformat.read(ROOT / "notebooks" / "05_cnn_on_flowers.ipynb", as_version=4)
    code = "\n".join(c.source for c in lesson.cells if c.cell_type == "code")
    assert code.count("SMALL_CNN_RECIPE = {") == 1
    for key in ("image_size", "widths", "convs_per_stage", "separable", "augment", "dropout", "epochs",
                "batch_size", "learning_rate", "weight_decay", "label_smoothing"):
        assert f'SMALL_CNN_RECIPE["{key}"]' in code, f"lesson 05 does not use the recipe's {key}"
    source = (ROOT / "course_utils" / "cli" / "retrain.py").read_text()
    assert "training.SMALL_CNN_RECIPE" in source and "SMALL_CNN_DEFAULTS" not in source


def test_lesson_07_stand_in_trains_with_the_recipe():
    """Lesson 07's prose says its stand-in (trained when lesson 05's model is not cached) uses lesson 05's recipe."""
    import nbformat

    lesson = nbformat.read(ROOT / "notebooks" / "07_evaluating_a_classifier.ipynb", as_version=4)
    code = next(c.source for c in lesson.cells if c.cell_type == "code" and "QUICK_EPOCHS" in c.source)
    stand_in = code[code.index("\nelse:"):]
    assert "recipe = training.SMALL_CNN_RECIPE" in stand_in
    for key in ("image_size", "widths", "convs_per_stage", "separable", "augment", "dropout", "batch_size",
                "learning_rate", "weight_decay", "label_smoothing"):
        assert f'recipe["{key}"]' in stand_in, f"lesson 07's stand-in does not use the recipe's {key}"
    assert "compile_small_cnn(" in stand_in and "warmup_cosine(" in stand_in


@pytest.fixture(scope="module")
def training():
    from course_utils import training

    return training


def test_small_cnn_shapes_and_inference_without_augmentation(training):
    import keras

    model = training.build_small_cnn(4, 32, widths=(8, 16), separable=False,
                                     augmentation=training.augmentation_layers(rotation=0.1))
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 4)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    first, second = model.predict(images, verbose=0), model.predict(images, verbose=0)
    np.testing.assert_allclose(first, second)  # augmentation is inactive at inference
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-5)
    assert not any(isinstance(layer, keras.layers.SeparableConv2D) for layer in model.layers)
    lesson = training.build_small_cnn(3, 32, widths=(8, 16), convs_per_stage=(1, 2))
    convs = [layer for layer in lesson.layers if isinstance(layer, keras.layers.SeparableConv2D)]
    assert len(convs) == 3  # one in the first stage, two in the second
    with pytest.raises(ValueError):
        training.build_small_cnn(1, 32)
    with pytest.raises(ValueError):
        training.build_small_cnn(3, 32, widths=(8, 16), convs_per_stage=(1,))


def test_augmentation_layers_pick_what_is_asked(training):
    names = [layer.__class__.__name__ for layer in training.augmentation_layers(rotation=0.1, contrast=0.2).layers]
    assert names == ["RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast"]
    assert training.augmentation_layers(flip=False, zoom=0).layers == []


def test_warmup_cosine_rises_to_the_peak_then_decays(training):
    schedule = training.warmup_cosine(1e-2, epochs=10, steps_per_epoch=5)
    rate = [float(schedule(step)) for step in (0, 15, 50)]
    assert rate[0] == pytest.approx(1e-3)  # a tenth of the peak
    assert rate[1] == pytest.approx(1e-2)  # warm-up over three epochs
    assert rate[2] == pytest.approx(1e-4)  # 1 % of the peak at the end
    short = training.warmup_cosine(1e-2, epochs=1, steps_per_epoch=5)
    assert float(short(0)) == pytest.approx(1e-2)  # one epoch: no warm-up


def test_keep_best_weights_puts_back_the_best_epoch(training):
    import keras

    class Scripted(keras.callbacks.Callback):
        """Reports a fixed validation accuracy per epoch and moves the weights, so the best epoch is known."""

        def on_epoch_end(self, epoch, logs=None):
            logs["val_accuracy"] = [0.2, 0.9, 0.5, 0.4][epoch]

    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.arange(16) % 2
    head = training.new_head(3, 2)
    snapshots = []
    remember = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(head.get_weights()))
    best = training.keep_best_weights(4)
    head.fit(x, y, epochs=4, verbose=0, callbacks=[Scripted(), remember, best])
    assert best.best_epoch == 1
    for now, kept in zip(head.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(now, kept)


def test_new_head_end_to_end_and_unfreeze_top(training, monkeypatch):
    import keras

    from course_utils import models

    monkeypatch.setenv("COURSE_ALLOW_RANDOM_WEIGHTS", "1")
    net = models.pretrained_base("mobilenet_v2", input_size=32)
    head = training.new_head(1280, 3, dropout=0.1)
    assert head.output_shape == (None, 3) and head.count_params() == 1280 * 3 + 3
    model = training.end_to_end(net, head)
    assert model.input_shape == (None, 32, 32, 3) and model.name == "mobilenet_v2_retrained"
    photos = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    by_parts = head.predict(net.model.predict(net.preprocess(photos.copy()), verbose=0), verbose=0)
    np.testing.assert_allclose(model.predict(photos, verbose=0), by_parts, atol=1e-5)
    first = training.unfreeze_top(net, model, learning_rate=1e-5)
    assert net.model.layers[first].name == net.architecture.fine_tune_from
    trainable = [layer for layer in net.model.layers if layer.trainable and layer.weights]
    assert trainable and all(net.model.layers.index(layer) >= first for layer in trainable)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)
    net.model.trainable = False


def test_evaluate_predictions_by_hand(training):
    y_true = [0, 0, 1, 1, 2]
    probabilities = np.eye(3)[[0, 1, 1, 1, 0]]  # predicted 0, 1, 1, 1, 0
    result = training.evaluate_predictions(y_true, probabilities, ["a", "b", "c"])
    assert result["accuracy"] == pytest.approx(3 / 5) and result["n_images"] == 5
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert result["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert result["per_class"]["b"]["precision"] == pytest.approx(2 / 3) and result["per_class"]["b"]["recall"] == 1
    assert result["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert result["averages"]["macro"]["recall"] == pytest.approx((0.5 + 1 + 0) / 3)
    empty = training.evaluate_predictions([], np.zeros((0, 3)), ["a", "b", "c"])
    assert empty["accuracy"] is None and empty["confusion_matrix"] == [[0, 0, 0]] * 3
