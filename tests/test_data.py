"""The data layer: downloads, folder validation, splits, decoding and tf.data."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils import data
from messy import LocalServer as _Server
from messy import fingerprint, make_messy_folder


# --------------------------------------------------------------------------- downloads


def _small_tgz(tmp_path: Path) -> bytes:
    src = data.make_synthetic_dataset(tmp_path / "src" / "flower_photos", per_class=3, image_size=16,
                                      classes=("circles", "squares"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(src, arcname="flower_photos")
    return buffer.getvalue()


@pytest.fixture
def served_flowers(tmp_path, monkeypatch, isolated_cache):
    payload = _small_tgz(tmp_path)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    with _Server(payload) as server:
        monkeypatch.setattr(data, "FLOWERS_URL", server.url)
        monkeypatch.setattr(data, "FLOWERS_SHA256", hashlib.sha256(payload).hexdigest())
        yield server


def test_download_verifies_extracts_and_caches(served_flowers, isolated_cache):
    folder = data.flower_photos()
    assert served_flowers.requests == 1
    assert folder.name == "flower_photos" and str(folder).startswith(str(isolated_cache))
    paths, labels, names = data.list_images(folder)
    assert names == ["circles", "squares"] and len(paths) == 6
    again = data.flower_photos()
    assert again == folder
    assert served_flowers.requests == 1, "a second call must not download again"


def test_checksum_mismatch_is_a_clear_error_and_keeps_nothing(served_flowers, monkeypatch, isolated_cache):
    monkeypatch.setattr(data, "FLOWERS_SHA256", "0" * 64)
    with pytest.raises(data.DataNotFoundError, match="SHA-256") as info:
        data.flower_photos()
    assert served_flowers.url in str(info.value)
    downloads = isolated_cache / "downloads"
    leftovers = [p for p in downloads.rglob("*") if p.is_file()] if downloads.exists() else []
    assert leftovers == [], f"the corrupt download was kept: {leftovers}"


def test_offline_error_names_url_cache_and_variable(monkeypatch, isolated_cache):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/flower_photos.tgz"
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "FLOWERS_URL", url)
    with pytest.raises(data.DataNotFoundError) as info:
        data.flower_photos()
    message = str(info.value)
    assert url in message
    assert str(isolated_cache / "downloads") in message
    assert "COURSE_DATA_DIR" in message


def test_course_data_dir_wins_and_never_downloads(tmp_path, monkeypatch, isolated_cache):
    data.make_synthetic_dataset(tmp_path / "mydata" / "flower_photos", per_class=2, image_size=16)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mydata"))
    monkeypatch.setattr(data, "FLOWERS_URL", "http://127.0.0.1:9/never-fetched.tgz")
    assert data.flower_photos() == (tmp_path / "mydata" / "flower_photos").resolve()
    assert not (isolated_cache / "downloads").exists()


def test_course_data_dir_without_images_says_so(tmp_path, monkeypatch):
    (tmp_path / "nothing").mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nothing"))
    with pytest.raises(data.DataNotFoundError, match="COURSE_DATA_DIR"):
        data.flower_photos()


def test_real_flowers_are_found(flowers_dir):
    paths, labels, names = data.list_images(flowers_dir)
    assert names == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    assert len(paths) >= 2400
    assert np.bincount(labels).min() >= 400


def test_digits_ship_with_scikit_learn():
    images, labels, names = data.load_digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert names == [str(i) for i in range(10)]


# --------------------------------------------------------------------------- validation


def test_messy_folder_reports_every_problem_by_path_and_changes_nothing(tmp_path):
    root = tmp_path / "messy"
    cases = make_messy_folder(root)
    before = fingerprint(root)
    report = data.validate_image_folder(root)
    found = {(issue.kind, issue.path) for issue in report.issues}
    for kind, path in cases.items():
        assert (kind, path) in found, f"{kind} not reported for {path}; got {sorted(found)}"
    assert not report.ok, "an empty class folder must be fatal"
    assert set(report.skipped) == {cases["corrupt"], cases["empty-file"], cases["not-an-image"]}
    for convertible in ("rgba", "grayscale", "cmyk", "duplicate"):
        issue = next(i for i in report.issues if i.path == cases[convertible])
        assert not issue.fatal and not issue.skip, f"{convertible} should be reported, not skipped"
    summary = report.summary()
    for path in cases.values():
        assert str(path) in summary
    with pytest.raises(data.ImageFolderError, match="empty_class"):
        report.raise_if_fatal()
    assert fingerprint(root) == before, "validation must not change, move or delete any file"


def test_a_single_class_is_fatal(tmp_path):
    data.make_synthetic_dataset(tmp_path / "one", per_class=3, image_size=16, classes=("circles",))
    report = data.validate_image_folder(tmp_path / "one")
    assert [i.kind for i in report.issues if i.fatal] == ["too-few-classes"]


def test_a_clean_folder_has_no_problems(tmp_path):
    data.make_synthetic_dataset(tmp_path / "clean", per_class=4, image_size=16)
    report = data.validate_image_folder(tmp_path / "clean")
    assert report.ok and report.issues == []
    assert report.class_counts == {"circles": 4, "squares": 4, "triangles": 4}


def test_convertible_images_decode_to_rgb(tmp_path):
    cases = make_messy_folder(tmp_path / "m")
    arrays = data.load_image_arrays([cases["rgba"], cases["grayscale"], cases["cmyk"]], 24, cache=False)
    assert arrays.shape == (3, 24, 24, 3) and arrays.dtype == np.uint8


# --------------------------------------------------------------------------- splits


def _photo_files(folder: Path, count: int, start: int = 0) -> list[Path]:
    """``count`` small files with different contents (the split reads bytes, not pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"img_{i:04d}.jpg"
        path.write_bytes(f"photo number {i}".encode())
        paths.append(path)
    return paths


def test_split_is_stable_when_images_are_added(tmp_path):
    old = _photo_files(tmp_path / "daisy", 400)
    before = {p: data.which_split(p) for p in old}
    new = _photo_files(tmp_path / "daisy", 200, start=400)
    after = data.split_by_hash(old + new)
    moved = [old[i] for key, indices in after.items() for i in indices if i < len(old) and before[old[i]] != key]
    assert moved == []
    counts = {k: list(before.values()).count(k) for k in ("train", "validation", "test")}
    assert 280 <= counts["train"] <= 360 and 20 <= counts["test"] <= 60 and 20 <= counts["validation"] <= 60


def test_split_follows_content_not_name(tmp_path):
    photos = _photo_files(tmp_path / "a", 60)
    for i, photo in enumerate(photos):  # a copy under another name, in another folder, lands in the same set
        copy = tmp_path / "b" / f"renamed copy {i}.JPG"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(photo.read_bytes())
        assert data.which_split(copy) == data.which_split(photo)
    # ... and the decision really depends on the bytes: one name, sixty contents, all three sets
    target = tmp_path / "one_name.jpg"
    seen = set()
    for i in range(60):
        target.write_bytes(f"photo number {i}".encode())
        seen.add(data.which_split(target))
    assert seen == {"train", "validation", "test"}


def test_split_keeps_byte_identical_files_together_in_the_flowers(flowers_dir):
    groups = data.duplicate_groups(data.list_images(flowers_dir)[0])
    assert groups, "the course's flower copy holds byte-identical pairs (shared/data/README)"
    set_of = {str(p): key for key, split in data.split_folder(flowers_dir).items() for p in split.paths}
    for group in groups:
        assert len({set_of[str(p)] for p in group}) == 1, f"a duplicate group straddles two sets: {group}"


def test_split_leaves_out_a_file_it_cannot_read_and_says_which(tmp_path):
    photos = _photo_files(tmp_path / "cats", 5)
    broken = tmp_path / "cats" / "gone.jpg"
    broken.symlink_to(tmp_path / "nowhere.jpg")
    with pytest.warns(UserWarning, match="gone.jpg cannot be read"):
        parts = data.split_by_hash(photos + [broken])
    assert sorted(i for indices in parts.values() for i in indices) == list(range(len(photos)))


def test_validator_reports_duplicate_groups(tmp_path):
    data.make_synthetic_dataset(tmp_path / "s", per_class=4, image_size=24)
    circle = sorted((tmp_path / "s" / "circles").glob("*.jpg"))[0]
    for target in (tmp_path / "s" / "circles" / "copy1.jpg", tmp_path / "s" / "squares" / "copy2.jpg"):
        target.write_bytes(circle.read_bytes())
    report = data.validate_image_folder(tmp_path / "s")
    assert len(report.duplicate_groups) == 1 and len(report.duplicate_groups[0]) == 3
    assert set(report.duplicate_groups[0]) == {circle, tmp_path / "s" / "circles" / "copy1.jpg",
                                               tmp_path / "s" / "squares" / "copy2.jpg"}
    cross = [i for i in report.issues if i.kind == "duplicate" and i.path.name == "copy2.jpg"]
    assert cross and "another class folder" in cross[0].message
    assert "1 group(s) of byte-identical files" in report.summary()
    assert report.ok  # duplicates are reported, not fatal


def test_split_folder_on_real_flowers(flowers_dir):
    splits = data.split_folder(flowers_dir)
    sizes = {k: len(v) for k, v in splits.items()}
    assert sum(sizes.values()) == 2400
    assert set(map(str, splits["train"].paths)).isdisjoint(map(str, splits["test"].paths))
    assert 180 <= sizes["test"] <= 300 and 180 <= sizes["validation"] <= 300


def test_split_folder_per_class_limits_each_class(tmp_path):
    data.make_synthetic_dataset(tmp_path / "s", per_class=40, image_size=16)
    splits = data.split_folder(tmp_path / "s", per_class=5)
    assert max(splits["train"].counts().values()) <= 5
    assert splits["train"].class_names == ["circles", "squares", "triangles"]


# --------------------------------------------------------------------------- decoding and pipelines


def test_image_arrays_are_cached_uint8(tmp_path, isolated_cache):
    data.make_synthetic_dataset(tmp_path / "s", per_class=3, image_size=40)
    paths, labels, _ = data.list_images(tmp_path / "s")
    first = data.load_image_arrays(paths, 20)
    cached = list((isolated_cache / "arrays").glob("*.npy"))
    assert first.shape == (9, 20, 20, 3) and first.dtype == np.uint8 and len(cached) == 1
    np.testing.assert_array_equal(data.load_image_arrays(paths, 20), first)


def test_synthetic_dataset_is_deterministic_and_learnable_classes(tmp_path):
    a = data.make_synthetic_dataset(tmp_path / "a", per_class=2, image_size=32)
    b = data.make_synthetic_dataset(tmp_path / "b", per_class=2, image_size=32)
    for pa, pb in zip(sorted(a.rglob("*.jpg")), sorted(b.rglob("*.jpg"))):
        assert pa.read_bytes() == pb.read_bytes()
    with Image.open(next(a.rglob("*.jpg"))) as img:
        assert img.size == (32, 32) and img.mode == "RGB"


def test_tf_dataset_decodes_resizes_batches(tmp_path):
    cases = make_messy_folder(tmp_path / "m")
    good = sorted((tmp_path / "m" / "squares").glob("*.jpg"))[1]
    odd = Path(os.fsdecode(os.fsencode(good.parent) + b"/caf\xe9.jpg"))  # not valid UTF-8
    odd.write_bytes(good.read_bytes()[:-2] + b"\xff\xd9")
    report = data.validate_image_folder(tmp_path / "m")
    paths, labels, names = data.list_images(tmp_path / "m", skip=report.skipped)
    assert cases["corrupt"] not in paths and cases["rgba"] in paths and odd in paths
    ds = data.make_tf_dataset(paths, labels, 32, batch_size=8)
    seen = 0
    for images, batch_labels in ds:
        assert images.shape[1:] == (32, 32, 3) and images.dtype.name == "float32"
        seen += int(images.shape[0])
    assert seen == len(paths)


def test_train_per_class_caps_training_only(tmp_path):
    root = data.make_synthetic_dataset(tmp_path / "s", per_class=30, image_size=16)
    whole = data.split_folder(root)
    capped = data.split_folder(root, train_per_class=5)
    assert all(n <= 5 for n in capped["train"].counts().values()) and len(capped["train"]) < len(whole["train"])
    assert set(capped["train"].paths) <= set(whole["train"].paths)  # a subset of the same training photos
    for key in ("validation", "test"):  # untouched: the same held-out photos as without the cap
        assert capped[key].paths == whole[key].paths
    assert data.split_folder(root, train_per_class=5)["train"].paths == capped["train"].paths  # deterministic
