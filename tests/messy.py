"""Build a folder with every bad case from the course blueprint (used by several tests)."""

from __future__ import annotations

import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from course_utils import data
from course_utils.files import folder_fingerprint


def make_messy_folder(root: Path) -> dict[str, Path]:
    """Create a one-folder-per-class tree full of problems; return the problem files by kind."""
    data.make_synthetic_dataset(root, per_class=12, image_size=48, classes=("circles", "squares"))
    circles, squares = root / "circles", root / "squares"
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, size=(40, 40, 3), dtype=np.uint8)
    cases: dict[str, Path] = {}
    good = sorted(circles.glob("*.jpg"))[0]
    cases["corrupt"] = circles / "truncated.jpg"
    cases["corrupt"].write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    cases["rgba"] = circles / "alpha.png"
    Image.fromarray(np.dstack([pixels, np.full((40, 40), 128, np.uint8)]), "RGBA").save(cases["rgba"])
    cases["grayscale"] = squares / "gray.jpg"
    Image.fromarray(pixels[..., 0], "L").save(cases["grayscale"])
    cases["cmyk"] = squares / "cmyk.jpg"
    Image.fromarray(pixels, "RGB").convert("CMYK").save(cases["cmyk"])
    cases["empty-file"] = squares / "zero.jpg"
    cases["empty-file"].write_bytes(b"")
    cases["not-an-image"] = circles / "notes.jpg"
    cases["not-an-image"].write_text("these are my notes, not a photo\n")
    (root / "empty_class").mkdir()
    cases["empty-class"] = root / "empty_class"
    (squares / "deeper").mkdir()
    shutil.copy(sorted(squares.glob("*.jpg"))[0], squares / "deeper" / "nested.jpg")
    cases["nested-too-deep"] = squares / "deeper"
    cases["duplicate"] = circles / "zz_copy.jpg"
    shutil.copy(good, cases["duplicate"])
    return cases


def fingerprint(root: Path) -> str:
    """Names and contents of everything below ``root``, to prove nothing changed."""
    return folder_fingerprint(root)


class LocalServer:
    """A tiny HTTP server on 127.0.0.1 that serves one payload and counts requests."""

    def __init__(self, payload: bytes, filename: str = "flower_photos.tgz"):
        self.payload, self.filename = payload, filename
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.payload)))
                self.end_headers()
                self.wfile.write(outer.payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{self.filename}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
