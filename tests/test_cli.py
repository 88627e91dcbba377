"""course-retrain and course-classify, end to end on synthetic and messy folders.

Runs that must show a real exit status go through ``sys.executable -m ...`` in a subprocess;
the rest run in-process (TensorFlow is already imported there, which saves seconds).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils import data, models
from course_utils.cli import classify, retrain
from messy import fingerprint, make_messy_folder

ROOT = Path(__file__).resolve().parents[1]


def _cli(module: str, *args: str, env_extra: dict[str, str] | None = None, drop: tuple[str, ...] = (),
         timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for name in drop:
        env.pop(name, None)
    env.update(env_extra or {})
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _tiny_cnn():
    from course_utils import training

    return training.build_small_cnn(2, 24, widths=(4,))


def _offline() -> bool:
    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=3).close()
        return False
    except OSError:
        return True


@pytest.fixture(autouse=True)
def full_mode(monkeypatch):
    """These tests pass their own small sizes; COURSE_FAST would cap images per class."""
    monkeypatch.delenv("COURSE_FAST", raising=False)


@pytest.fixture
def shapes(tmp_path):
    """Three easy classes of synthetic shapes, 60 images each (no download)."""
    return data.make_synthetic_dataset(tmp_path / "shapes", per_class=60, image_size=48)


# --------------------------------------------------------------------------- small_cnn, end to end


def test_small_cnn_retrain_then_classify(shapes, tmp_path, isolated_cache, capsys):
    out = tmp_path / "model"
    status = retrain.main(["--image_dir", str(shapes), "--architecture", "small_cnn", "--image_size", "40",
                           "--epochs", "12", "--batch_size", "16", "--output_dir", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    for name in retrain.OUTPUT_FILES:
        assert (out / name).is_file(), name
    assert (out / "labels.txt").read_text().split() == ["circles", "squares", "triangles"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["architecture"] == "small_cnn" and metrics["random_weights"] is False
    from course_utils import training

    recipe = json.loads(json.dumps(training.SMALL_CNN_RECIPE))  # lesson 05's recipe, options on top
    assert metrics["small_cnn"] == recipe and metrics["image_size"] == 40 and metrics["epochs"] == 12
    assert metrics["number_format"] == "float32"
    assert metrics["test_accuracy"] >= 0.8  # chance is 1/3
    assert set(metrics["test"]["per_class"]) == {"circles", "squares", "triangles"}
    assert np.asarray(metrics["test"]["confusion_matrix"]).sum() == metrics["test"]["n_images"]
    assert metrics["counts"]["test"]["total"] == metrics["test"]["n_images"] > 0
    assert {"validate", "train", "evaluate", "save", "total"} <= set(metrics["times_seconds"])
    assert "test accuracy" in printed.out and "MEANINGLESS" not in printed.out
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Classify the held-out test images with the saved model: same answers as the metrics.
    test = data.split_folder(shapes)["test"]
    assert classify.main(["--model", str(out), "--json", "--top_k", "2", *map(str, test.paths)]) == 0
    result = json.loads(capsys.readouterr().out)
    predicted = [r["predictions"][0]["label"] for r in result["results"]]
    truth = [test.class_names[i] for i in test.labels]
    assert len(predicted) == len(truth) and all(len(r["predictions"]) == 2 for r in result["results"])
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    assert accuracy == pytest.approx(metrics["test_accuracy"])
    assert result["random_weights"] is False and result["errors"] == []


def test_retrain_function_in_fast_mode_end_to_end(shapes, tmp_path, isolated_cache, monkeypatch, capsys):
    """retrain() from Python with COURSE_FAST=1: capped images and epochs, every output written."""
    monkeypatch.setenv("COURSE_FAST", "1")
    out = tmp_path / "fast"
    metrics = retrain.retrain(shapes, architecture="small_cnn", image_size=32, batch_size=8, output_dir=str(out),
                              quiet=True)
    assert json.loads((out / "metrics.json").read_text())["test"] == json.loads(json.dumps(metrics["test"]))
    cap = retrain.FAST_DEFAULTS["max_images_per_class"]
    for split in ("train", "validation", "test"):
        assert all(n <= cap for n in metrics["counts"][split]["per_class"].values())
    assert metrics["epochs"] == retrain.FAST_DEFAULTS["small_cnn_epochs"]
    assert len(metrics["history"]["loss"]) == metrics["epochs"] == len(metrics["epoch_seconds"])
    assert metrics["best_epoch"] is None or 1 <= metrics["best_epoch"] <= metrics["epochs"]
    assert sorted(p.name for p in out.iterdir()) == sorted(retrain.OUTPUT_FILES)  # no temporary file left
    assert "COURSE_FAST=1" not in capsys.readouterr().out  # --quiet
    with pytest.raises(TypeError, match="no_such_option"):
        retrain.retrain(shapes, no_such_option=1)


# --------------------------------------------------------------------------- pretrained, random weights


def test_inception_pipeline_with_random_weights_reuses_the_cache(tmp_path, isolated_cache, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ALLOW_RANDOM_WEIGHTS", "1")
    images = data.make_synthetic_dataset(tmp_path / "few", per_class=8, image_size=48)
    out = tmp_path / "inception"
    argv = ["--image_dir", str(images), "--image_size", "75", "--epochs", "3", "--output_dir", str(out)]
    assert retrain.main(argv) == 0
    first = capsys.readouterr()
    if "RANDOM WEIGHTS" not in first.err:
        pytest.skip("real ImageNet weights were found: this test covers the offline fallback")
    assert "Bottlenecks: 24 images extracted, 0 from the cache" in first.out
    assert "MEANINGLESS" in first.out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["architecture"] == "inception_v3" and metrics["image_size"] == 75
    assert metrics["random_weights"] is True and metrics["accuracy_is_meaningful"] is False
    assert metrics["bottlenecks"]["extracted"] == 24
    assert "inception_v3-75px-random" in metrics["bottlenecks"]["folder"]
    for name in retrain.OUTPUT_FILES:
        assert (out / name).is_file(), name

    assert retrain.main(argv + ["--quiet"]) == 0  # second run: everything from the cache
    second = capsys.readouterr()
    assert "0 extracted, 24 reused from the cache" in second.out
    again = json.loads((out / "metrics.json").read_text())
    assert again["bottlenecks"]["extracted"] == 0 and again["bottlenecks"]["cached"] == 24
    assert again["times_seconds"]["bottlenecks"] < 5

    # The saved model takes raw images end to end: classify needs nothing else.
    assert classify.main(["--model", str(out), str(images / "circles")]) == 0
    printed = capsys.readouterr()
    assert "circles_000.jpg" in printed.out and "RANDOM weights" in printed.err


def test_mobilenet_fine_tune_runs(tmp_path, isolated_cache, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ALLOW_RANDOM_WEIGHTS", "1")
    images = data.make_synthetic_dataset(tmp_path / "few", per_class=6, image_size=40)
    out = tmp_path / "mobilenet"
    status = retrain.main(["--image_dir", str(images), "--architecture", "mobilenet_v2", "--image_size", "32",
                           "--epochs", "2", "--fine_tune", "--fine_tune_epochs", "1", "--augment",
                           "--output_dir", str(out), "--quiet"])
    assert status == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fine_tuned"] is True and metrics["fine_tune_from"] == models.ARCHITECTURES["mobilenet_v2"].fine_tune_from
    assert "fine_tune" in metrics["times_seconds"]
    loaded = classify.load_classifier(out)
    assert loaded.image_size == 32 and loaded.labels == ["circles", "squares", "triangles"]


def test_without_permission_the_missing_weights_are_named(tmp_path, isolated_cache):
    if not _offline():
        pytest.skip("this machine is online: the weights would download")
    images = data.make_synthetic_dataset(tmp_path / "few", per_class=4, image_size=40)
    keras_home = tmp_path / "keras"
    done = _cli("course_utils.cli.retrain", "--image_dir", str(images), "--image_size", "75",
                "--output_dir", str(tmp_path / "out"),
                env_extra={"KERAS_HOME": str(keras_home), "COURSE_CACHE_DIR": str(isolated_cache)},
                drop=("COURSE_ALLOW_RANDOM_WEIGHTS",))
    assert done.returncode == 1
    arch = models.ARCHITECTURES["inception_v3"]
    assert arch.weights_file_notop in done.stderr
    assert arch.url_base + arch.weights_file_notop in done.stderr
    assert str(keras_home / "models") in done.stderr
    assert "COURSE_ALLOW_RANDOM_WEIGHTS" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- bad folders


def test_messy_folder_skips_bad_files_and_changes_nothing(tmp_path, isolated_cache):
    root = tmp_path / "messy"
    cases = make_messy_folder(root)
    shutil.rmtree(cases.pop("empty-class"))  # an empty class stops the run: tested below
    before = fingerprint(root)
    out = tmp_path / "out"
    done = _cli("course_utils.cli.retrain", "--image_dir", str(root), "--architecture", "small_cnn",
                "--image_size", "32", "--epochs", "2", "--output_dir", str(out),
                env_extra={"COURSE_CACHE_DIR": str(isolated_cache)})
    assert done.returncode == 0, done.stderr[-3000:]
    skipped_txt = (out / "skipped_files.txt").read_text()
    for kind in ("corrupt", "empty-file", "not-an-image", "nested-too-deep", "duplicate"):
        assert str(cases[kind]) in done.stderr, kind
        assert str(cases[kind]) in skipped_txt, kind
    for kind in ("rgba", "grayscale", "cmyk"):  # converted and used, not skipped
        assert str(cases[kind]) not in skipped_txt, kind
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["skipped_files"] == 5
    used = sum(c["total"] for c in metrics["counts"].values())
    assert used == 2 * 12 + 3  # 12 good images per class + alpha, gray and CMYK
    assert fingerprint(root) == before  # nothing changed, moved or deleted
    # TensorFlow's C++ start-up notices (printed whatever TF_CPP_MIN_LOG_LEVEL says) stay out
    # of the tool's output, so the warnings above are what a user reads first.
    for notice in ("oneDNN custom operations", "Could not find cuda drivers", "cuInit"):
        assert notice not in done.stderr, notice


def test_empty_class_and_single_class_stop_with_a_clear_message(tmp_path, isolated_cache):
    root = tmp_path / "messy"
    make_messy_folder(root)
    before = fingerprint(root)
    done = _cli("course_utils.cli.retrain", "--image_dir", str(root), "--output_dir", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "empty_class" in done.stderr and "0 usable image" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    assert fingerprint(root) == before

    single = data.make_synthetic_dataset(tmp_path / "single", per_class=5, image_size=32, classes=("circles",))
    done = _cli("course_utils.cli.retrain", "--image_dir", str(single), "--output_dir", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "at least two class folders" in done.stderr and "Traceback" not in done.stderr

    done = _cli("course_utils.cli.retrain", "--image_dir", str(tmp_path / "nowhere"))
    assert done.returncode == 1 and "not a folder" in done.stderr


def test_output_inside_the_image_folder_is_refused(shapes, capsys):
    assert retrain.main(["--image_dir", str(shapes), "--output_dir", str(shapes / "model")]) == 1
    assert "inside --image_dir" in capsys.readouterr().err
    assert not (shapes / "model").exists()


# --------------------------------------------------------------------------- classify


def test_classify_reports_unreadable_files_and_fails_only_when_nothing_worked(tmp_path, capsys):
    import keras

    out = tmp_path / "model"
    out.mkdir()
    model = _tiny_cnn()
    model.save(out / "model.keras")
    (out / "labels.txt").write_text("cats\ndogs\n")
    images = data.make_synthetic_dataset(tmp_path / "imgs", per_class=2, image_size=30, classes=("circles",))
    good = sorted(images.rglob("*.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_text("no pixels here")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.jpg"

    assert classify.main(["--model", str(out), str(broken), str(images), str(empty), str(missing)]) == 0
    printed = capsys.readouterr()
    for path in (broken, empty, missing):
        assert f"cannot classify {path}" in printed.err
    for path in good:
        assert str(path) in printed.out
    assert printed.out.count("cats") == len(good) and "2 image(s) classified, 3 could not be read" in printed.err

    assert classify.main(["--model", str(out), "--json", str(broken), str(missing)]) == 1
    printed = capsys.readouterr()
    assert json.loads(printed.out)["errors"][0]["path"] == str(broken)
    assert "none of the 2 file(s) could be classified" in printed.err

    assert classify.main(["--model", str(tmp_path / "nothing_here"), str(good[0])]) == 1
    assert "no model at" in capsys.readouterr().err
    assert isinstance(keras.models.load_model(out / "model.keras"), keras.Model)


def test_classify_cli_exit_status(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    _tiny_cnn().save(out / "model.keras")
    (out / "labels.txt").write_text("a\nb\n")
    bad = tmp_path / "bad.jpg"
    bad.write_text("text")
    done = _cli("course_utils.cli.classify", "--model", str(out), str(bad))
    assert done.returncode == 1 and f"cannot classify {bad}" in done.stderr and "Traceback" not in done.stderr
    for notice in ("oneDNN custom operations", "Could not find cuda drivers", "cuInit"):
        assert notice not in done.stderr, notice  # TensorFlow's C++ start-up notices stay hidden


def test_expand_inputs_keeps_files_and_lists_image_folders(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    for name in ("b.jpg", "A.PNG", "sub/c.jpeg", ".hidden/d.jpg", "notes.txt", "sub/e.webp"):
        (folder / name).write_bytes(b"x")
    given = tmp_path / "single.gif"
    missing = tmp_path / "missing.jpg"
    expanded = classify.expand_inputs([str(given), folder, str(missing)])
    assert expanded == [given, folder / "A.PNG", folder / "b.jpg", folder / "sub" / "c.jpeg",
                        folder / "sub" / "e.webp", missing]
    assert classify.expand_inputs([tmp_path / "empty_folder_that_does_not_exist"]) == [
        tmp_path / "empty_folder_that_does_not_exist"]
