"""Output folders of the command-line tools: checked before training, swapped in at the end."""

from __future__ import annotations

import argparse
import errno
import os
import subprocess
import sys

import pytest

from course_utils.cli import outputs

FILES = ("model.keras", "labels.txt", "metrics.json")


def _previous_model(folder):
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text(f"old {name}")
    return {name: (folder / name).read_text() for name in FILES}


def test_output_that_is_a_file_or_holds_other_files_is_refused_before_work(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(outputs.OutputError, match="is a file"):
        outputs.check_output_dir(tmp_path / "a_file", FILES)
    (tmp_path / "desktop").mkdir()
    (tmp_path / "desktop" / "holiday.jpg").write_text("x")
    with pytest.raises(outputs.OutputError, match="holiday.jpg"):
        outputs.check_output_dir(tmp_path / "desktop", FILES)
    _previous_model(tmp_path / "model")
    assert outputs.check_output_dir(tmp_path / "model", FILES) == tmp_path / "model"
    assert outputs.check_output_dir(tmp_path / "new" / "deeper", FILES) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new" / "deeper").exists(), "the check itself must not create the folder"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions as a non-root user")
def test_unwritable_output_is_refused_before_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(outputs.OutputError, match="cannot write beside"):
            outputs.check_output_dir(locked / "model", FILES)
    finally:
        locked.chmod(0o700)


def test_full_disk_at_the_check_is_refused_before_work(tmp_path, monkeypatch):
    real_open = open

    def full(path, mode="r", *args, **kwargs):
        if "probe" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(outputs.OutputError, match="disk is full"):
        outputs.check_output_dir(tmp_path / "model", FILES)
    monkeypatch.undo()
    with pytest.raises(outputs.OutputError, match="MB free"):
        outputs.check_output_dir(tmp_path / "model", FILES, min_free_bytes=1 << 62)


def test_a_failed_run_leaves_the_previous_model_intact(tmp_path):
    before = _previous_model(tmp_path / "model")
    with pytest.raises(KeyboardInterrupt):
        with outputs.StagedOutput(tmp_path / "model") as stage:
            (stage.path / "model.keras").write_bytes(b"")  # half written when Ctrl-C came
            raise KeyboardInterrupt
    assert {n: (tmp_path / "model" / n).read_text() for n in FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "no staging folder may be left"
    assert "intact" in stage.outcome() and not stage.committed


def test_a_full_disk_while_writing_leaves_the_previous_model_intact(tmp_path):
    before = _previous_model(tmp_path / "model")
    stage = outputs.StagedOutput(tmp_path / "model")
    with pytest.raises(OSError):
        with stage:
            (stage.path / "labels.txt").write_text("new")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert {n: (tmp_path / "model" / n).read_text() for n in FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_commit_replaces_the_whole_folder(tmp_path):
    _previous_model(tmp_path / "model")
    with outputs.StagedOutput(tmp_path / "model") as stage:
        (stage.path / "model.keras").write_text("new model")
        (stage.path / "labels.txt").write_text("a\nb\n")
        stage.commit()
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["labels.txt", "model.keras"]
    assert (tmp_path / "model" / "model.keras").read_text() == "new model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with outputs.StagedOutput(tmp_path / "fresh") as stage:
        stage.commit()
    assert (tmp_path / "fresh").is_dir()


def test_leftovers_of_a_killed_run_are_cleaned_and_a_moved_model_put_back(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited
    before = _previous_model(tmp_path / f".model.old-{pid}-abcd")
    (tmp_path / f".model.new-{pid}-abcd").mkdir()
    said = []
    outputs.check_output_dir(tmp_path / "model", FILES, say=said.append)
    assert {n: (tmp_path / "model" / n).read_text() for n in FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"] and "put back" in said[0]


@pytest.mark.parametrize("label, shown", [
    ("\x1b[2J\x1b[31mroses\x1b[0m", "roses"),
    ("tulips\x07\x08", "tulips"),
    ("\x1b]0;owned\x07daisy", "daisy"),
    ("sun\u202eflowers", "sunflowers"),
    ("caf\u00e9 au lait", "caf\u00e9 au lait"),
    ("two\nlines", "two lines"),
])
def test_labels_are_made_safe_for_a_terminal(label, shown):
    assert outputs.terminal_safe(label) == shown


def test_counts_must_be_at_least_one():
    parser = argparse.ArgumentParser()
    parser.add_argument("--top_k", type=outputs.positive_int, default=3)
    assert parser.parse_args(["--top_k", "2"]).top_k == 2
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--top_k", bad])
