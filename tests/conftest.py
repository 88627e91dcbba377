"""Shared fixtures. Tests run in fast mode unless the caller says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """Point the course cache at an empty temporary folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def flowers_dir():
    """The real flower photos, from COURSE_DATA_DIR or ../shared/data.

    CI sets COURSE_DATA_DIR, so this never skips there; elsewhere it skips with the reason.
    """
    from course_utils import config

    configured = config.data_dir()
    for base in filter(None, (configured, SHARED_DATA)):
        for candidate in (base / "flower_photos", base):
            if (candidate / "daisy").is_dir():
                return candidate
    if os.environ.get("CI"):
        pytest.fail("CI must provide the flower photos through COURSE_DATA_DIR")
    pytest.skip("flower photos not found: set COURSE_DATA_DIR to a folder holding flower_photos/")
