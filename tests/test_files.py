"""course_utils.files: atomic writes that leave nothing behind on failure, digests, fingerprints."""

from __future__ import annotations

import errno
import hashlib
import os

import numpy as np
import pytest

from course_utils import files


def test_atomic_write_text_and_bytes(tmp_path):
    target = tmp_path / "deeper" / "out.txt"
    assert files.atomic_write(target, "héllo\n") == target
    assert target.read_bytes() == "héllo\n".encode()
    files.atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]  # no temporary file left


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch, fail_at):
    target = tmp_path / "out.json"
    target.write_text("old")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, fail_at, full_disk)
    with pytest.raises(OSError) as info:
        files.atomic_write(target, "new" * 1000)
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_temporary_names_are_unique_per_call_and_carry_the_pid(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", spy)
    for _ in range(5):
        files.atomic_write(tmp_path / "x", "data")
    assert len(set(seen)) == 5
    assert all(str(os.getpid()) in name and name.startswith(".x.") for name in seen)


def test_atomic_save_npy_round_trip_and_no_pickles(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = files.atomic_save_npy(tmp_path / "a.npy", array)
    np.testing.assert_array_equal(np.load(path), array)
    with pytest.raises(ValueError):
        files.atomic_save_npy(tmp_path / "b.npy", np.array([object()], dtype=object))
    assert not (tmp_path / "b.npy").exists() and len(list(tmp_path.iterdir())) == 1


def test_file_digest_is_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "big.bin"
    payload = os.urandom(3 * (1 << 20) + 17)  # spans several read blocks
    path.write_bytes(payload)
    assert files.file_digest(path) == hashlib.sha256(payload).hexdigest()


def test_folder_fingerprint_sees_every_kind_of_change(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "one.jpg").write_bytes(b"1")
    (root / "two.jpg").write_bytes(b"2")
    base = files.folder_fingerprint(root)
    assert files.folder_fingerprint(root) == base  # stable
    changes = [
        lambda: (root / "two.jpg").write_bytes(b"3"),  # edited
        lambda: (root / "two.jpg").rename(root / "three.jpg"),  # renamed
        lambda: (root / "a" / "one.jpg").unlink(),  # deleted
        lambda: (root / "empty").mkdir(),  # folder added
    ]
    seen = {base}
    for change in changes:
        change()
        now = files.folder_fingerprint(root)
        assert now not in seen
        seen.add(now)
    listed = files.folder_fingerprint([root / "three.jpg"])
    assert listed != files.folder_fingerprint([root / "missing.jpg"])
