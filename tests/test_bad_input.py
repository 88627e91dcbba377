"""A student's own folders: every bad input from issue 13, one test each.

Each test builds its bad files itself (Pillow, NumPy, zipfile, tarfile); nothing binary is
committed. None of them imports TensorFlow, so the file runs in a few seconds.
"""

from __future__ import annotations

import errno
import hashlib
import io
import multiprocessing
import os
import struct
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils import data
from messy import LocalServer, fingerprint

RED, BLUE = (230, 20, 20), (20, 20, 230)


def _two_classes(root: Path, per_class: int = 4, size: int = 24) -> Path:
    return data.make_synthetic_dataset(root, per_class=per_class, image_size=size, classes=("circles", "squares"))


def _kinds(report: data.ValidationReport, path: Path) -> set[str]:
    return {i.kind for i in report.issues if i.path == path}


def _non_utf8(folder: Path, stem: bytes) -> Path:
    """A path in ``folder`` whose file name is not valid UTF-8 (as made by old or foreign tools)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + stem))


# --------------------------------------------------------------------------- GIF


def test_gif_still_and_animated_are_read_first_frame(tmp_path):
    root = _two_classes(tmp_path / "photos")
    still, animated = root / "circles" / "still.gif", root / "squares" / "moving.gif"
    Image.new("RGB", (30, 30), RED).save(still)
    frames = [Image.new("RGB", (30, 30), c) for c in (RED, BLUE, (20, 230, 20))]
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100)

    report = data.validate_image_folder(root)
    assert report.ok and report.skipped == []
    assert "animated" in _kinds(report, animated) and "animated" not in _kinds(report, still)
    assert "3 frames" in next(i.message for i in report.issues if i.path == animated)
    arrays = data.load_image_arrays([still, animated], 16, cache=False)
    for picture in arrays:  # the first frame, red
        assert picture[..., 0].mean() > 180 and picture[..., 2].mean() < 60


# --------------------------------------------------------------------------- macOS leftovers


def test_appledouble_files_and_macosx_folder_are_ignored(tmp_path):
    root = _two_classes(tmp_path / "photos")
    (root / "circles" / "._circles_000.jpg").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 80)  # AppleDouble
    (root / "__MACOSX" / "circles").mkdir(parents=True)
    (root / "__MACOSX" / "circles" / "._circles_001.jpg").write_bytes(b"\x00\x05\x16\x07")
    (root / "._squares").write_bytes(b"\x00\x05\x16\x07")

    paths, labels, names = data.list_images(root)
    assert names == ["circles", "squares"] and len(paths) == 8
    assert not any(p.name.startswith("._") for p in paths)
    report = data.validate_image_folder(root)
    assert report.ok and report.issues == [], report.summary()
    assert set(data.split_folder(root)["train"].class_names) <= {"circles", "squares"}


# --------------------------------------------------------------------------- file names


def test_non_utf8_file_names_are_split_reported_and_shown_reversibly(tmp_path, isolated_cache):
    root = _two_classes(tmp_path / "photos")
    original = root / "circles" / "circles_000.jpg"
    odd = _non_utf8(root / "circles", b"zz_caf\xe9.jpg")  # Latin-1 name
    odd.write_bytes(original.read_bytes())  # also a duplicate: its message names both files
    junk = _non_utf8(root / "squares", b"\xff\xfe.jpg")
    junk.write_text("not an image")

    report = data.validate_image_folder(root)
    assert "duplicate" in _kinds(report, odd) and "not-an-image" in _kinds(report, junk)
    summary = report.summary()
    summary.encode("utf-8")  # no UnicodeEncodeError: printable anywhere
    assert "caf\\xe9.jpg" in summary
    for issue in report.issues:
        str(issue).encode("utf-8")
    shown = data.show_path(odd)
    assert data.path_from_shown(shown) == odd and os.fsencode(data.path_from_shown(shown)).endswith(b"caf\xe9.jpg")
    splits = data.split_folder(root, skip=report.skipped)
    assert odd in [p for s in splits.values() for p in s.paths]
    assert data.load_image_arrays([odd], 12).shape == (1, 12, 12, 3)


def test_show_path_escapes_terminal_controls_and_round_trips():
    for raw in (b"plain/photo.jpg", b"a\\b.jpg", b"evil\x1b[31mred.jpg", b"new\nline.jpg", b"\xe9\xff.jpg",
                "caf\u00e9 \u202eгпj.jpg".encode()):
        path = Path(os.fsdecode(raw))
        shown = data.show_path(path)
        assert not any(ord(c) < 32 or ord(c) == 0x7F or 0x202A <= ord(c) <= 0x202E for c in shown), shown
        shown.encode("utf-8")
        assert os.fsencode(data.path_from_shown(shown)) == raw
    assert data.show_path("/photos/caf\u00e9.jpg") == "/photos/caf\u00e9.jpg"  # ordinary names unchanged


# --------------------------------------------------------------------------- links


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX symbolic links")
def test_symlink_loops_and_dangling_links_are_reported_not_fatal(tmp_path):
    root = _two_classes(tmp_path / "photos")
    loop, dangling, loop_no_ext = root / "circles" / "loop.jpg", root / "squares" / "gone.jpg", root / "circles" / "x"
    os.symlink("loop.jpg", loop)
    os.symlink("/nonexistent/photo.jpg", dangling)
    os.symlink("x", loop_no_ext)
    os.symlink("nowhere", root / "lost_class")  # a class folder link that leads nowhere

    report = data.validate_image_folder(root)
    assert report.ok
    for path in (loop, dangling, loop_no_ext, root / "lost_class"):
        assert "broken-link" in _kinds(report, path), report.summary()
    assert "loop" in next(i.message for i in report.issues if i.path == loop)
    assert "does not exist" in next(i.message for i in report.issues if i.path == dangling)
    paths, _, _ = data.list_images(root, skip=[i.path for i in report.issues])  # resolving a loop must not raise
    assert loop not in paths and dangling not in paths and len(paths) == 8
    data.split_folder(root, skip=[loop, loop_no_ext])


# --------------------------------------------------------------------------- size limits


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that *declares* width x height but holds (almost) no pixel data: decoding it would fail."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [12000, 15000])  # under and over Pillow's own "decompression bomb" error
def test_huge_images_are_skipped_from_the_header_before_decoding(tmp_path, side):
    root = _two_classes(tmp_path / "photos")
    huge = _png_header_only(root / "circles" / "huge.png", side, side)
    with pytest.warns() if side < 13000 else _no_warning_check():
        report = data.validate_image_folder(root)
    issue = next(i for i in report.issues if i.path == huge)
    assert issue.kind == "too-large" and issue.skip, issue  # not "corrupt": nothing was decoded
    assert "COURSE_MAX_PIXELS" in issue.message and f"{side * side:,}" in issue.message
    assert report.ok and huge in report.skipped
    with pytest.raises(data.ImageTooLargeError, match="COURSE_MAX_PIXELS"):
        data.load_image_arrays([huge], 16, cache=False)


class _no_warning_check:  # noqa: N801 - a do-nothing context manager
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_pixel_limit_is_settable(tmp_path, monkeypatch):
    picture = tmp_path / "p.png"
    Image.new("RGB", (50, 40), RED).save(picture)
    assert data.max_pixels() == data.DEFAULT_MAX_PIXELS
    monkeypatch.setenv("COURSE_MAX_PIXELS", "1999")
    with pytest.raises(data.ImageTooLargeError, match="50 x 40 = 2,000 pixels, over the limit of 1,999"):
        data.load_image_arrays([picture], 8, cache=False)
    monkeypatch.setenv("COURSE_MAX_PIXELS", "2e3")
    assert data.load_image_arrays([picture], 8, cache=False).shape == (1, 8, 8, 3)
    monkeypatch.setenv("COURSE_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="COURSE_MAX_PIXELS"):
        data.max_pixels()


# --------------------------------------------------------------------------- pixels


def test_exif_orientation_is_applied_and_reported(tmp_path):
    root = _two_classes(tmp_path / "photos")
    stored = np.zeros((20, 40, 3), np.uint8)  # as stored: left half red, right half blue
    stored[:, :20], stored[:, 20:] = RED, BLUE
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the stored left becomes the top
    turned = root / "circles" / "portrait.jpg"
    Image.fromarray(stored).save(turned, exif=exif.tobytes(), quality=95)

    report = data.validate_image_folder(root)
    assert "rotated" in _kinds(report, turned) and report.ok
    upright = data.load_image_arrays([turned], 16, cache=False)[0].astype(int)
    assert upright[:6, :, 0].mean() > 180 and upright[:6, :, 2].mean() < 60  # top: red
    assert upright[-6:, :, 2].mean() > 180 and upright[-6:, :, 0].mean() < 60  # bottom: blue


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    deep = tmp_path / "c" / "deep.png"
    deep.parent.mkdir()
    Image.fromarray(ramp).save(deep)
    with Image.open(deep) as img:
        assert img.mode.startswith("I"), img.mode  # Pillow reads it as 16-bit

    picture = data.load_image_arrays([deep], 64, cache=False)[0]
    assert picture[..., 0].min() <= 5 and picture[..., 0].max() >= 250
    assert (picture == 255).mean() < 0.05, "16-bit values were clipped to 255"
    assert abs(float(picture.mean()) - 127.5) < 8
    (tmp_path / "d").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "d" / "x.png")
    assert "16-bit" in _kinds(data.validate_image_folder(tmp_path), deep)


# --------------------------------------------------------------------------- the decoded-image cache


def test_cache_is_keyed_by_content_not_size_and_mtime(tmp_path, isolated_cache):
    photo = tmp_path / "photos" / "c" / "photo.bmp"  # BMP: same size in bytes whatever the pixels
    photo.parent.mkdir(parents=True)
    Image.new("RGB", (16, 16), RED).save(photo)
    first = data.load_image_arrays([photo], 8)
    stat = photo.stat()
    Image.new("RGB", (16, 16), BLUE).save(photo)
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert photo.stat().st_size == stat.st_size and photo.stat().st_mtime_ns == stat.st_mtime_ns
    second = data.load_image_arrays([photo], 8)
    assert first[0, 0, 0, 0] > 200 and second[0, 0, 0, 2] > 200, "the cache served the old pixels"


def test_cache_never_writes_inside_the_image_folder(tmp_path, monkeypatch):
    root = _two_classes(tmp_path / "photos")
    before = fingerprint(root)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(root / "cache"))
    paths, _, _ = data.list_images(root)
    with pytest.warns(UserWarning, match="inside the image folder"):
        arrays = data.load_image_arrays(paths, 12)
    assert arrays.shape == (8, 12, 12, 3)
    assert fingerprint(root) == before and not (root / "cache").exists()
    with pytest.raises(data.ImageFolderError, match="COURSE_CACHE_DIR"):
        data.check_cache_dir(root)
    data.check_cache_dir(root, tmp_path / "elsewhere")  # outside: fine


def test_full_disk_while_caching_leaves_no_partial_file(tmp_path, isolated_cache, monkeypatch):
    root = _two_classes(tmp_path / "photos")
    paths, _, _ = data.list_images(root)
    real_save = np.save

    def save_then_fill_the_disk(handle, array, **kwargs):
        real_save(io.BytesIO(), array)
        handle.write(b"\x93NUMPY partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(data.np, "save", save_then_fill_the_disk)
    with pytest.warns(UserWarning, match="disk is full"):
        arrays = data.load_image_arrays(paths, 12)
    assert arrays.shape == (8, 12, 12, 3)
    left = [p.name for p in isolated_cache.rglob("*") if p.is_file()]
    assert left == [], f"partial cache files left behind: {left}"
    monkeypatch.setattr(data.np, "save", real_save)
    np.testing.assert_array_equal(data.load_image_arrays(paths, 12), arrays)
    assert len(list((isolated_cache / "arrays").glob("*.npy"))) == 1


def _load_in_child(args):
    paths, cache = args
    os.environ["COURSE_CACHE_DIR"] = cache
    return hashlib.sha256(data.load_image_arrays(paths, 12).tobytes()).hexdigest()


def test_two_runs_at_once_share_the_cache_safely(tmp_path):
    root = _two_classes(tmp_path / "photos", per_class=15, size=64)
    paths, _, _ = data.list_images(root)
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with context.Pool(4) as pool:
        for trial in range(3):  # each trial: four processes write the same cache entry at once
            cache = str(tmp_path / f"cache{trial}")
            digests = pool.map(_load_in_child, [(paths, cache)] * 4)
            assert len(set(digests)) == 1
            files = [p.name for p in Path(cache).rglob("*") if p.is_file()]
            assert len(files) == 1 and files[0].endswith(".npy") and not files[0].startswith("."), files


# --------------------------------------------------------------------------- archives


def _tar_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_download_refuses_members_outside_the_target(tmp_path, isolated_cache):
    payload = _tar_with({"photos/a/x.txt": b"fine", "../escaped.txt": b"evil"})
    with LocalServer(payload, "evil.tgz") as server:
        with pytest.raises(data.UnsafeArchiveError, match=r"\.\./escaped\.txt"):
            data.download(server.url, hashlib.sha256(payload).hexdigest(), extract=True)
    downloads = isolated_cache / "downloads"
    assert not (downloads / "escaped.txt").exists() and not (isolated_cache / "escaped.txt").exists()
    assert not (downloads / "evil.tgz.d").exists(), "nothing may be unpacked from an unsafe archive"
    assert [p.name for p in downloads.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("kind", ["absolute", "symlink", "zip-dotdot"])
def test_extract_archive_refuses_absolute_paths_links_and_zip_escapes(tmp_path, kind):
    archive = tmp_path / ("a.zip" if kind.startswith("zip") else "a.tgz")
    if kind == "absolute":
        archive.write_bytes(_tar_with({"/tmp/absolute.txt": b"x"}))
    elif kind == "symlink":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            link = tarfile.TarInfo("photos/link")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc"
            tar.addfile(link)
        archive.write_bytes(buffer.getvalue())
    else:
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("../../outside.txt", "x")
    with pytest.raises(data.UnsafeArchiveError):
        data.extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == [archive.name]


# --------------------------------------------------------------------------- lesson 08's zip upload


def _photo_bytes(colour, seed: int) -> bytes:
    noise = np.random.default_rng(seed).integers(0, 40, (16, 16, 3))
    buffer = io.BytesIO()
    Image.fromarray((np.array(colour) * 0.8 + noise).astype(np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_uploaded_mac_zip_with_one_top_folder_unpacks_to_the_classes(tmp_path):
    upload = tmp_path / "my_photos.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for cls, colour in (("ripe", RED), ("unripe", BLUE)):
            for i in range(3):
                zf.writestr(f"my_photos/{cls}/IMG_{i}.jpg", _photo_bytes(colour, seed=i))
                zf.writestr(f"__MACOSX/my_photos/{cls}/._IMG_{i}.jpg", b"\x00\x05\x16\x07")
            zf.writestr(f"my_photos/{cls}/._IMG_9.jpg", b"\x00\x05\x16\x07")
        zf.writestr("my_photos/.DS_Store", b"\x00\x00\x00\x01Bud1")
    folder = data.unpack_image_zip(upload, tmp_path / "unpacked")
    assert folder == tmp_path / "unpacked" / "my_photos"
    assert not (tmp_path / "unpacked" / "__MACOSX").exists()
    report = data.validate_image_folder(folder)
    assert report.ok and report.issues == [] and report.class_counts == {"ripe": 3, "unripe": 3}
    with pytest.raises(data.ImageFolderError, match="not empty"):  # a second upload never overwrites
        data.unpack_image_zip(upload, tmp_path / "unpacked")


def test_uploaded_zip_too_large_damaged_or_escaping_is_refused_clearly(tmp_path):
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/x.jpg", b"\x00" * 3_000_000)  # compresses to almost nothing: size counted unpacked
    with pytest.raises(data.ImageFolderError, match="over the limit of 2 MB.*COURSE_MAX_UPLOAD_BYTES"):
        data.unpack_image_zip(big, tmp_path / "out", max_bytes=2_000_000)
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(data.ImageFolderError, match="not a zip file"):
        data.unpack_image_zip(damaged, tmp_path / "out")
    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as zf:
        zf.writestr("photos/../../evil.txt", "x")
    with pytest.raises(data.ImageFolderError, match="leads out of the folder"):
        data.unpack_image_zip(escaping, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.txt").exists()


# --------------------------------------------------------------------------- permissions


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions as a non-root user")
def test_unreadable_photo_is_skipped_with_the_fix(tmp_path):
    root = _two_classes(tmp_path / "photos")
    locked = root / "circles" / "circles_001.jpg"
    locked.chmod(0)
    try:
        report = data.validate_image_folder(root)
        issue = next(i for i in report.issues if i.path == locked)
        assert issue.kind == "unreadable" and issue.skip and "permission" in issue.message
        assert report.ok
    finally:
        locked.chmod(0o644)
