"""course-retrain and course-classify on bad input and failures (issue 13), one test per case.

The runs are tiny (a few 16-pixel images, one epoch) so that the file stays quick; failures
are simulated by replacing the function that writes the outputs.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils import data
from course_utils.cli import classify, retrain
from messy import fingerprint

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--architecture", "small_cnn", "--image_size", "16", "--epochs", "1", "--batch_size", "8", "--quiet"]


def _cli(module: str, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(autouse=True)
def full_mode(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)


@pytest.fixture
def odd_folder(tmp_path):
    """Two classes of small shapes plus the odd files of real folders: a non-UTF-8 name that is
    also a duplicate, macOS leftovers, a GIF, an EXIF-rotated JPEG and a 16-bit PNG."""
    root = data.make_synthetic_dataset(tmp_path / "photos", per_class=10, image_size=24, classes=("circles", "squares"))
    circles = root / "circles"
    first = sorted(circles.glob("*.jpg"))[0]
    Path(os.fsdecode(os.fsencode(circles) + b"/zz_caf\xe9.jpg")).write_bytes(first.read_bytes())
    (circles / "._circles_000.jpg").write_bytes(b"\x00\x05\x16\x07")
    (root / "__MACOSX").mkdir()
    Image.new("RGB", (20, 20), (200, 30, 30)).save(circles / "still.gif")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (30, 20), (30, 30, 200)).save(root / "squares" / "turned.jpg", exif=exif.tobytes())
    Image.fromarray(np.tile(np.linspace(0, 65535, 24).astype(np.uint16), (24, 1))).save(root / "squares" / "deep.png")
    return root


def _previous_model(folder: Path) -> str:
    folder.mkdir()
    for name in retrain.OUTPUT_FILES:
        (folder / name).write_text(f"previous {name}")
    return fingerprint(folder)


# --------------------------------------------------------------------------- retrain


def test_odd_files_train_and_the_output_says_what_was_skipped(odd_folder, tmp_path, isolated_cache, capsys):
    before = fingerprint(odd_folder)
    out = tmp_path / "model"
    assert retrain.main(["--image_dir", str(odd_folder), "--output_dir", str(out), *TINY]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    skipped = (out / "skipped_files.txt").read_text(encoding="utf-8")
    assert "zz_caf\\xe9.jpg\tduplicate" in skipped and "zz_caf\\xe9.jpg" in err  # shown reversibly
    assert "._circles_000" not in skipped + err and "__MACOSX" not in skipped + err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["class_names"] == ["circles", "squares"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "model", "photos"], "staging folder left behind"
    assert fingerprint(odd_folder) == before


def _quick_training(args, inputs, clock, say):
    """Stands in for small_cnn's training (the subject here is what happens after it)."""
    import keras

    k = len(inputs.class_names)
    x = keras.Input((16, 16, 3))
    model = keras.Model(x, keras.layers.Dense(k, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))
    probabilities = {key: np.full((len(inputs.splits[key]), k), 1 / k) for key in ("test", "validation")}
    clock.lap("train")
    return model, probabilities, {"image_size": 16}


def test_a_failed_save_keeps_the_previous_model_and_says_so(odd_folder, tmp_path, isolated_cache, capsys,
                                                              monkeypatch):
    monkeypatch.setattr(retrain, "_train_small_cnn", _quick_training)
    out = tmp_path / "model"
    before = _previous_model(out)
    real = retrain._write_outputs

    def disk_fills_up(staged, *args):
        (staged / "model.keras").write_bytes(b"PK\x03\x04 half a model")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(retrain, "_write_outputs", disk_fills_up)
    assert retrain.main(["--image_dir", str(odd_folder), "--output_dir", str(out), *TINY]) == 1
    err = capsys.readouterr().err
    assert "disk is full" in err and "previous model there is intact" in err and "Traceback" not in err
    assert fingerprint(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "staging folder left behind"

    def interrupted(staged, *args):
        (staged / "labels.txt").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(retrain, "_write_outputs", interrupted)
    assert retrain.main(["--image_dir", str(odd_folder), "--output_dir", str(out), *TINY]) == 130
    assert "previous model there is intact" in capsys.readouterr().err
    assert fingerprint(out) == before

    monkeypatch.setattr(retrain, "_write_outputs", real)
    assert retrain.main(["--image_dir", str(odd_folder), "--output_dir", str(out), *TINY]) == 0
    assert fingerprint(out) != before and (out / "model.keras").read_bytes()[:2] == b"PK"


def test_unwritable_output_fails_before_any_training(odd_folder, tmp_path, isolated_cache):
    (tmp_path / "a_file").write_text("x")
    for target, says in ((tmp_path / "a_file", "is a file"), (Path("/proc/course_model"), "cannot write beside"),
                         (tmp_path / "a_file" / "model", "a_file is a file")):
        done = _cli("course_utils.cli.retrain", "--image_dir", str(odd_folder), "--output_dir", str(target), *TINY,
                    env_extra={"COURSE_CACHE_DIR": str(isolated_cache)})
        assert done.returncode == 1 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "Checked" not in done.stdout, "the folder was checked before the output"
    assert not isolated_cache.exists() or not any(isolated_cache.rglob("*.npy"))


def test_cache_inside_the_image_folder_is_refused(odd_folder, tmp_path):
    before = fingerprint(odd_folder)
    done = _cli("course_utils.cli.retrain", "--image_dir", str(odd_folder), "--output_dir", str(tmp_path / "m"),
                *TINY, env_extra={"COURSE_CACHE_DIR": str(odd_folder / "cache")})
    assert done.returncode == 1 and "COURSE_CACHE_DIR" in done.stderr and "Traceback" not in done.stderr
    assert fingerprint(odd_folder) == before and not (tmp_path / "m").exists()


# --------------------------------------------------------------------------- classify


@pytest.fixture
def tiny_model(tmp_path):
    import keras

    out = tmp_path / "model"
    out.mkdir()
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)).save(out / "model.keras")
    (out / "labels.txt").write_text("\x1b[2J\x1b[31mroses\x1b[0m\nsun\u202eflowers\x07\n", encoding="utf-8")
    return out


def _photo(path: Path) -> Path:
    Image.new("RGB", (20, 20), (10, 200, 10)).save(path, "JPEG")
    return path


def test_classify_labels_are_safe_for_the_terminal(tiny_model, tmp_path, capsys):
    assert classify.main(["--model", str(tiny_model), str(_photo(tmp_path / "a.jpg"))]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "roses" in out and "sunflowers" in out


def test_classify_json_escapes_paths_reversibly(tiny_model, tmp_path, capsys):
    odd = _photo(Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.jpg")))
    assert classify.main(["--model", str(tiny_model), "--json", str(odd)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] is None and data.path_from_shown(doc["results"][0]["path"]) == odd


@pytest.mark.parametrize("case", ["missing-model", "broken-model", "top_k-0", "batch_size-0", "no-images"])
def test_classify_json_always_prints_one_document(case, tiny_model, tmp_path, capsys):
    photo = str(_photo(tmp_path / "a.jpg"))
    argv = ["--model", str(tiny_model), "--json", photo]
    if case == "missing-model":
        argv[1] = str(tmp_path / "nowhere")
    elif case == "broken-model":
        (tiny_model / "model.keras").write_bytes(b"PK\x03\x04 not really a model")
    elif case in ("top_k-0", "batch_size-0"):
        argv += [f"--{case.split('-')[0]}", "0"]
    else:
        argv[-1] = str(tmp_path / "empty_folder")
        (tmp_path / "empty_folder").mkdir()
    status = classify.main(argv)
    out = capsys.readouterr().out
    doc = json.loads(out)  # exactly one JSON document, nothing else on stdout
    assert status != 0 and doc["error"], doc
    assert doc["results"] == []


def test_classify_options_must_be_positive_without_json(tiny_model, tmp_path, capsys):
    photo = str(_photo(tmp_path / "a.jpg"))
    assert classify.main(["--model", str(tiny_model), "--top_k", "0", photo]) == 2
    assert "--top_k" in capsys.readouterr().err
    assert classify.main(["--model", str(tiny_model), "--batch_size", "-3", photo]) == 2
    assert "at least 1" in capsys.readouterr().err
