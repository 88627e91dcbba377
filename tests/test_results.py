"""course_utils.results: the running record of held-out accuracies (lesson 07's table)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils import results


def test_record_load_and_table_round_trip(isolated_cache, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    saved = results.record("flowers_dense", np.float32(0.4), np.int64(234), "dense 256-128")
    assert saved.mode == "fast" and not saved.random_weights
    assert results.results_path() == isolated_cache / "results.json"
    monkeypatch.delenv("COURSE_FAST")
    results.record("digits_pixels_logreg", 0.962, 450)
    results.record("inception_head", 0.2, 234, random_weights=True)
    results.record("my_extra_model", 0.5, 10)
    loaded = results.load()
    # known keys in course order first, other keys after them
    assert list(loaded) == ["digits_pixels_logreg", "flowers_dense", "inception_head", "my_extra_model"]
    assert loaded["flowers_dense"].accuracy == pytest.approx(0.4)
    assert loaded["digits_pixels_logreg"].mode == "full"
    text = results.table()
    assert "96.2%" in text and "| 450 |" in text
    assert "meaningless" in text and "20.0%" not in text  # random-weight numbers are never shown as results
    assert "fast (small subset)" in text
    assert json.loads(results.results_path().read_text())["flowers_dense"]["n_images"] == 234


def test_record_replaces_and_clear_forgets(isolated_cache):
    results.record("cnn_scratch", 0.5, 100)
    results.record("cnn_scratch", 0.6, 100)
    assert results.load()["cnn_scratch"].accuracy == pytest.approx(0.6)
    assert results.table(keys=["flowers_dense"]).startswith("No results recorded yet")
    results.clear()
    assert results.load() == {}


@pytest.mark.parametrize("accuracy, n_images", [(1.5, 10), (-0.1, 10), (float("nan"), 10), (0.5, 0), (0.5, 2.5)])
def test_record_rejects_nonsense(isolated_cache, accuracy, n_images):
    with pytest.raises(ValueError):
        results.record("flowers_dense", accuracy, n_images)


def test_a_corrupt_file_does_not_break_a_lesson(isolated_cache):
    isolated_cache.mkdir(parents=True, exist_ok=True)
    (isolated_cache / "results.json").write_text("{not json")
    assert results.load() == {}
    results.record("flowers_dense", 0.4, 234)
    assert list(results.load()) == ["flowers_dense"]
