"""The benchmark's own machinery: merging runs measured side by side, the peer row, the peer model.

The benchmark reports and never asserts; these tests check that what it reports is put together
correctly (no timing is asserted here).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run(tmp_path, monkeypatch):
    """benchmarks/run.py writing into a temporary results.json (and Markdown/README copies)."""
    module = _load("run")
    monkeypatch.setattr(module, "RESULTS_JSON", tmp_path / "results.json")
    monkeypatch.setattr(module, "RESULTS_MD", tmp_path / "RESULTS.md")
    monkeypatch.setattr(module, "README", tmp_path / "README.md")
    monkeypatch.setattr(module, "hardware", lambda: {"cpus": 2, "cpu": "test CPU"})
    (tmp_path / "README.md").write_text(f"intro\n{module.README_START}\nold\n{module.README_END}\nend\n")
    return module


def _run(seed: int, seconds: float, cpus=1) -> dict:
    return {"seconds": seconds, "peak_rss_bytes": 500 * 1024**2, "ok": True, "seed": seed, "cpus": cpus,
            "error": None, "measured": "2026-12-07 20:00 UTC"}


def test_runs_from_passes_side_by_side_are_merged_per_seed(run):
    """Two processes, one per core, each add their seed's runs: nothing is lost, a rerun replaces its seed."""
    recorded = {"cnn_augmented": {"accuracy": 0.75, "n_images": 235, "mode": "full"}}

    def one_pass(seed):
        for stem in ("01_a", "05_b"):
            run.merge_lesson_run(stem, "full-1cpu", _run(seed, 100.0 + seed), recorded if stem == "05_b" else None)

    threads = [threading.Thread(target=one_pass, args=(seed,)) for seed in (42, 1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = json.loads(run.RESULTS_JSON.read_text())
    entry = results["lessons"]["05_b"]["full-1cpu"]
    assert entry["seeds"] == [42, 1, 2]  # every seed kept, in the benchmark's order
    assert entry["seconds"]["min"] == 101.0 and entry["seconds"]["max"] == 142.0 and entry["seconds"]["runs"] == 3
    assert sorted(results["recorded_accuracies"]["by_seed"]) == ["1", "2", "42"]
    run.merge_lesson_run("05_b", "full-1cpu", _run(1, 90.0), None)  # the same seed again: replaced, not added
    entry = json.loads(run.RESULTS_JSON.read_text())["lessons"]["05_b"]["full-1cpu"]
    assert entry["seeds"] == [42, 1, 2] and entry["seconds"]["min"] == 90.0
    readme = (run.README).read_text()
    assert "| 05_b | not measured | - | - | 102 (90-142) | 500 (500-500) | yes |" in readme


def test_older_entries_without_runs_are_kept_when_a_seed_is_added(run):
    old = {"seconds": run.summarise([10.0, 12.0]), "peak_rss_mib": run.summarise([300.0, 310.0]), "seeds": [42, 1],
           "ok": True, "measured": "2026-12-01 10:00 UTC"}
    run.RESULTS_JSON.write_text(json.dumps({"lessons": {"01_a": {"full": old}}}))
    run.merge_lesson_run("01_a", "full", _run(2, 11.0, cpus=None), None)
    entry = json.loads(run.RESULTS_JSON.read_text())["lessons"]["01_a"]["full"]
    assert entry["seeds"] == [42, 1, 2] and entry["seconds"]["values"] == [10.0, 12.0, 11.0]


def test_pinned_runs_a_child_on_the_first_cores_only(run):
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("os.sched_getaffinity is Linux-only")
    import subprocess
    import sys

    code = "import os; print(sorted(os.sched_getaffinity(0)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=run.pinned(1))
    assert json.loads(out.stdout) == sorted(os.sched_getaffinity(0))[:1]
    assert run.pinned(None) is None and run.mode_key("full", 1) == "full-1cpu" and run.mode_key("full", None) == "full"


def test_peer_summary_pairs_seeds_and_computes_ratios(run):
    def peer(model, seed, accuracy, seconds):
        return {"model": model, "seed": seed, "cpus": 1, "test_accuracy": accuracy, "train_seconds": seconds,
                "n_test": 235, "epochs": 32, "image_size": 64, "settings": {"epochs": 15}}

    results = {"peer": {"runs": [peer("small_cnn", 42, 0.76, 340.0), peer("tutorial", 42, 0.66, 1290.0),
                                 peer("small_cnn", 1, 0.74, 330.0), peer("tutorial", 1, 0.64, 1250.0),
                                 peer("small_cnn", 2, 0.75, 335.0)]}}  # seed 2 has no tutorial run yet: left out
    (row,) = run.peer_summary(results)
    assert row["seeds"] == [1, 42] and row["cpus"] == 1
    assert row["small_cnn"]["accuracy"]["mean"] == pytest.approx(0.75)
    assert row["accuracy_ratio"] == pytest.approx(0.75 / 0.65)
    assert row["time_ratio"] == pytest.approx(335.0 / 1270.0)
    text = run.render_readme(results) + run.render(results)
    assert "1.15 x the accuracy in 0.26 x the time" in text
    assert all(a["source"].startswith("https://") for a in run.QUOTED_ANCHORS)
    assert "Quoted anchors (not measured here)" in run.render(results)


def test_peer_model_is_the_tutorials_architecture():
    """Three 3x3 'same' ReLU convolutions (16, 32, 64 filters) with 2x2 pooling, dropout, a 128-unit layer,
    logits; the weight count follows from those shapes at 180 px."""
    peer = _load("peer")
    from course_utils import models

    models.start_tensorflow()
    model = peer.build_tutorial_model(5)
    size, (f1, f2, f3), dense = 180, peer.TUTORIAL["filters"], peer.TUTORIAL["dense"]
    convs = (3 * 9 + 1) * f1 + (f1 * 9 + 1) * f2 + (f2 * 9 + 1) * f3
    flat = (size // 8) * (size // 8) * f3
    assert model.count_params() == convs + (flat + 1) * dense + (dense + 1) * 5
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:3] == ["RandomFlip", "RandomRotation", "RandomZoom"] and kinds[3] == "Rescaling"
    assert kinds[-4:] == ["Dropout", "Flatten", "Dense", "Dense"]
    assert model.loss.get_config()["from_logits"] is True
