"""Measure the course's costs on this machine and write benchmarks/RESULTS.md (+ results.json).

Usage (from the repository root, with the test extras installed)::

    python benchmarks/run.py --all                  # everything below (takes an hour or more)
    python benchmarks/run.py --lessons --modes fast             # one pass per seed (42 1 2)
    python benchmarks/run.py --lessons --modes full --only 05 06 --seeds 42
    python benchmarks/run.py --ladder               # accuracy ladder from full-mode lesson runs
    python benchmarks/run.py --extraction --autograde
    python benchmarks/run.py --ci                   # times `bash .ci/run` in a fresh clone
    taskset -c 0 python benchmarks/run.py --lessons --modes full --cpus 1 --seeds 42   # one core (Binder)
    python benchmarks/run.py --peer --cpus 1        # the tensorflow/docs tutorial's model vs small_cnn
    python benchmarks/run.py --bf16                 # bfloat16 against float32 on this processor

Each section replaces its own entries in ``benchmarks/results.json`` and the Markdown report
is rebuilt from all of them, so sections can be measured at different times. The benchmark
reports; it never asserts. Set COURSE_DATA_DIR to use a local copy of the flower photos.

Lesson passes run once per seed (``--seeds``, default three): each pass sets ``COURSE_SEED``, so
a range over the passes shows how far a figure moves between seeds, not only between runs.
The seeds are recorded beside every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "benchmarks" / "results.json"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
README = ROOT / "README.md"
README_START = "<!-- benchmark:start -->"
README_END = "<!-- benchmark:end -->"
BUDGET_SECONDS = 600
BUDGET_BYTES = 2 * 1024**3


# --------------------------------------------------------------------------- helpers


def hardware() -> dict:
    info = {
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),  # the machine's cores (a pass pinned with taskset still runs on this machine)
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import tensorflow as tf  # noqa: F401  (only for the version string)

        info["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return info


def summarise(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
        "values": values,
    }


class PeakRSS:
    """Sample the resident memory of a process tree from outside, every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.2, match: str | None = None):
        self.pid, self.interval, self.match = pid, interval, match
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _roots(self) -> list[psutil.Process]:
        try:
            top = psutil.Process(self.pid)
            procs = [top] + top.children(recursive=True)
        except psutil.Error:
            return []
        if self.match is None:
            return procs
        return [p for p in procs if self._matches(p)]

    def _matches(self, proc: psutil.Process) -> bool:
        try:
            return any(self.match in part for part in proc.cmdline())
        except psutil.Error:
            return False

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for root in self._roots():
                try:
                    tree = [root] + (root.children(recursive=True) if self.match else [])
                    total += sum(p.memory_info().rss for p in tree)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def results_lock():
    """Hold an exclusive lock on results.json's lock file (passes may run side by side)."""
    import fcntl

    with open(RESULTS_JSON.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_results() -> dict:
    if RESULTS_JSON.exists():
        return json.loads(RESULTS_JSON.read_text())
    return {}


def save_results(results: dict) -> None:
    RESULTS_JSON.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    RESULTS_MD.write_text(render(results))
    update_readme(results)


def update_section(name: str, value) -> dict:
    """Set one top-level section of results.json, as the file is now (under the lock); return all results."""
    with results_lock():
        results = load_results()
        results["hardware"] = hardware()
        results[name] = value
        save_results(results)
    return results


def update_readme(results: dict) -> None:
    """Replace the README's block between the benchmark markers with :func:`render_readme`."""
    text = README.read_text()
    if README_START not in text or README_END not in text:
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    README.write_text(head + README_START + "\n" + render_readme(results) + README_END + tail)


# --------------------------------------------------------------------------- lessons


DEFAULT_SEEDS = [42, 1, 2]


def pinned(cpus: int | None):
    """A ``preexec_fn`` that pins a child process (and the kernels it starts) to its first ``cpus`` cores:
    how a one-CPU Binder or a small laptop runs the lessons. ``None``: all cores."""
    if not cpus:
        return None
    allowed = sorted(os.sched_getaffinity(0))[:cpus]
    return lambda: os.sched_setaffinity(0, allowed)


def mode_key(mode: str, cpus: int | None) -> str:
    """``"full"`` on all cores, ``"full-1cpu"`` pinned to one core."""
    return mode if not cpus else f"{mode}-{cpus}cpu"


def run_notebook(path: Path, mode: str, workdir: Path, cache: Path, seed: int, cpus: int | None = None) -> dict:
    """Execute one notebook in a fresh kernel as a student would; time it and sample memory.

    ``cache`` becomes the kernel's COURSE_CACHE_DIR, so a pass over the lessons shares one
    cache (lesson 07 reads lesson 05's model from it) while separate passes start empty.
    ``cpus`` pins nbconvert and its kernel to that many cores (:func:`pinned`).
    """
    env = dict(os.environ)
    env.pop("COURSE_FAST", None)
    env.pop("NBGRADER_EXECUTION", None)
    if mode == "fast":
        env["COURSE_FAST"] = "1"
    env["COURSE_CACHE_DIR"] = str(cache)
    env["COURSE_SEED"] = str(seed)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("MPLBACKEND", "Agg")
    out = workdir / f"{path.stem}-{mode_key(mode, cpus)}-{seed}.ipynb"
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           "--ExecutePreprocessor.timeout=1800", f"--output={out}", str(path)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=path.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=pinned(cpus))
    with PeakRSS(proc.pid, match="ipykernel") as sampler:
        log, _ = proc.communicate()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_bytes": sampler.peak, "ok": proc.returncode == 0, "seed": seed, "cpus": cpus,
            "error": None if proc.returncode == 0 else log[-2000:]}


def split_sizes() -> dict:
    """Photos in each part of the course's split of the flower photos (full mode), for the report."""
    from course_utils import data

    return {key: len(part) for key, part in data.split_folder(data.flower_photos()).items()}


def _lesson_entry(done: list[dict]) -> dict:
    """One lesson's figures in one mode from its runs (one per seed)."""
    return {
        "seconds": summarise([r["seconds"] for r in done]),
        "peak_rss_mib": summarise([r["peak_rss_bytes"] / 1024**2 for r in done]),
        "seeds": [r["seed"] for r in done],
        "cpus": done[-1].get("cpus"),
        "ok": all(r["ok"] for r in done),
        "errors": [r["error"] for r in done if r.get("error")],
        "runs": done,
        "measured": max(r.get("measured") or now() for r in done),
        "data": "COURSE_DATA_DIR (no download)" if os.environ.get("COURSE_DATA_DIR") else "downloaded",
        "random_weights_allowed": os.environ.get("COURSE_ALLOW_RANDOM_WEIGHTS") == "1",
    }


def _runs_of(entry: dict) -> list[dict]:
    """The per-seed runs of an entry (entries written before runs were kept hold them as lists)."""
    if "runs" in entry:
        return list(entry["runs"])
    seconds, memory = entry["seconds"]["values"], entry["peak_rss_mib"]["values"]
    return [{"seconds": s, "peak_rss_bytes": m * 1024**2, "seed": seed, "ok": entry["ok"], "error": None,
             "measured": entry.get("measured")} for s, m, seed in zip(seconds, memory, entry.get("seeds", []))]


def merge_lesson_run(stem: str, key: str, run: dict, recorded: dict | None) -> None:
    """Add one lesson run to results.json (replacing that seed's earlier run), under a lock.

    Passes may run at the same time in separate processes (one pinned to each core), so each
    run is merged into the file as it is now rather than into a copy read at start.
    """
    with results_lock():
        results = load_results()
        results["hardware"] = hardware()
        lesson = results.setdefault("lessons", {}).setdefault(stem, {})
        runs = [r for r in _runs_of(lesson[key]) if r["seed"] != run["seed"]] if key in lesson else []
        lesson[key] = _lesson_entry(sorted(runs + [run], key=lambda r: DEFAULT_SEEDS.index(r["seed"])
                                           if r["seed"] in DEFAULT_SEEDS else len(DEFAULT_SEEDS) + r["seed"]))
        if recorded:
            by_seed = results.setdefault("recorded_accuracies", {}).setdefault("by_seed", {})
            by_seed.setdefault(str(run["seed"]), {}).update(recorded)
            results["recorded_accuracies"]["measured"] = now()
        save_results(results)


def bench_lessons(results: dict, modes: list[str], seeds: list[int], only: list[str] | None,
                  cpus: int | None = None) -> None:
    """One pass per seed and mode; each pass runs the lessons in course order with an empty cache.

    An empty cache per pass is what a new student meets: decoded images and bottleneck
    features are computed once in the pass (lesson 06 pays for its extraction every pass).
    With ``cpus`` every kernel is pinned to that many cores (``full-1cpu`` in the results).
    The accuracies the lessons record in each full-mode pass feed the accuracy ladder.
    """
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        notebooks = [nb for nb in notebooks if nb.name[:2] in only]
    with results_lock():
        fresh = load_results()
        fresh["split"] = {"sizes": split_sizes(), "measured": now()}
        save_results(fresh)
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            key = mode_key(mode, cpus)
            for i, seed in enumerate(seeds):
                cache = Path(tmp) / f"cache-{key}-{seed}"
                cache.mkdir()
                for nb in notebooks:
                    print(f"[lessons] {key} pass {i + 1}/{len(seeds)} (seed {seed}): {nb.name} ...", flush=True)
                    run = run_notebook(nb, mode, Path(tmp), cache, seed, cpus)
                    run["measured"] = now()
                    print(f"          {run['seconds']:.0f} s, peak {run['peak_rss_bytes'] / 1024**2:.0f} MiB,"
                          f" {'ok' if run['ok'] else 'FAILED'}", flush=True)
                    recorded_file = cache / "results.json"
                    recorded = None
                    # The ladder takes whole passes only: a partial one (--only) leaves the recorded accuracies alone.
                    if mode == "full" and not only and recorded_file.exists():  # everything recorded so far
                        recorded = {k: {**entry, "seed": seed, "cpus": cpus}
                                    for k, entry in json.loads(recorded_file.read_text()).items()}
                    merge_lesson_run(nb.stem, key, run, recorded)
    results.clear()
    results.update(load_results())


# --------------------------------------------------------------------------- accuracy ladder

def ladder_stages() -> list[tuple[str, str]]:
    """The flower stages of :data:`course_utils.results.KNOWN_KEYS`, in course order."""
    from course_utils import results

    return [(key, label) for key, label in results.KNOWN_KEYS.items() if " flowers: " in label]


def bench_ladder(results: dict) -> None:
    """The held-out accuracies the lessons recorded in the full-mode passes of ``--lessons``.

    Each pass (one seed) starts from an empty cache and records every stage once on the same
    content-hash test set; the ladder reports the median over the seeds and the range.
    """
    results.update(load_results())  # passes may have been recorded by other processes since this one started
    recorded = results.get("recorded_accuracies", {})
    passes = list(recorded["by_seed"].values()) if "by_seed" in recorded else recorded.get("passes", [])
    rows = []
    for key, label in ladder_stages():
        entries = [p[key] for p in passes if key in p]
        row = {"key": key, "label": label}
        if not entries:
            row["why_missing"] = "not recorded: run `--lessons --modes full` first"
        elif any(e.get("random_weights") for e in entries):
            row["why_missing"] = ("ImageNet weights unavailable on this machine (offline; random weights): "
                                  "no transfer-learning accuracy can be measured here")
        elif any(e.get("mode") != "full" for e in entries):
            row["why_missing"] = "only fast-mode runs were recorded"
        else:
            row.update(accuracy=summarise([float(e["accuracy"]) for e in entries]),
                       seeds=[e.get("seed") for e in entries],
                       n_images=int(entries[0]["n_images"]), note=entries[-1].get("note", ""))
        rows.append(row)
    results["ladder"] = {"rows": rows, "measured": now()}
    update_section("ladder", results["ladder"])


# --------------------------------------------------------------------------- feature extraction


def bench_extraction(results: dict, images: int, seeds: list[int]) -> None:
    """One run per seed, each on its own random sample of the flower photos."""
    from extraction import benchmark_extraction  # benchmarks/ is on sys.path when run as a script

    runs = [benchmark_extraction(n_images=images, seed=seed) for seed in seeds]
    results["extraction"] = {"runs": runs, "measured": now()}
    update_section("extraction", results["extraction"])


# --------------------------------------------------------------------------- the peer row and quoted anchors

#: Figures other courses and tutorials publish. Quoted, not measured here: other splits, other data, often
#: ImageNet weights this machine cannot download. Shown beside the measured peer row for orientation only.
QUOTED_ANCHORS = [
    {"name": "TensorFlow for Poets (Google codelab)",
     "setting": "pretrained network (Inception V3 or MobileNet), last layer retrained on the 3,670 flower photos",
     "figure": "85 % to 99 % final test accuracy (what its text tells students to expect)",
     "source": "https://codelabs.developers.google.com/codelabs/tensorflow-for-poets/"},
    {"name": "TensorFlow's retraining tutorial (retrain.py, the code behind TF for Poets)",
     "setting": "Inception V3 at 299 px, last layer retrained, the flower photos",
     "figure": "90 % to 95 % (what its text tells readers to expect)",
     "source": "https://github.com/tensorflow/hub/blob/0163eda91cb6d4c96ff104dd67faa3bc62ff3adc/docs/tutorials/"
               "image_retraining.md"},
    {"name": "Keras guide: Transfer learning & fine-tuning",
     "setting": "ImageNet Xception, cats vs dogs (two classes, not flowers), 150 px",
     "figure": "no accuracy in its text; its recorded output shows about 94 % test accuracy after fine-tuning",
     "source": "https://keras.io/guides/transfer_learning/"},
    {"name": "tensorflow/docs tutorial: Image classification (the peer model's source)",
     "setting": "its CNN from scratch on the 3,670 flower photos, its own 80/20 split",
     "figure": "around 60 % validation accuracy before augmentation and dropout; no figure given after",
     "source": "https://www.tensorflow.org/tutorials/images/classification"},
]


def _run_json(cmd: list[str], cpus: int | None) -> tuple[dict, float]:
    """Run a benchmark helper script (pinned with ``cpus``); return its last JSON line and peak memory in MiB."""
    env = dict(os.environ)
    env.pop("COURSE_FAST", None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=pinned(cpus))
    with PeakRSS(proc.pid) as sampler:
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out[-2000:]}\n{err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1]), sampler.peak / 1024**2


def bench_peer(seeds: list[int], cpus: int | None) -> None:
    """Per seed: the tensorflow/docs tutorial's model and course-retrain's small_cnn on the course split.

    Both train on the same training photos and are tested on the same test photos, one after the
    other on the same cores; train time counts ``fit`` only (decoding is cached beforehand).
    """
    for seed in seeds:
        for model in ("tutorial", "small_cnn"):
            print(f"[peer] {model}, seed {seed}{f', {cpus} core(s)' if cpus else ''} ...", flush=True)
            run, peak = _run_json([sys.executable, str(ROOT / "benchmarks" / "peer.py"), model, "--seed", str(seed)],
                                  cpus)
            run.update(cpus=cpus or hardware()["cpus"], peak_rss_mib=round(peak), measured=now())
            print(f"       test accuracy {run['test_accuracy']:.1%}, training {run['train_seconds']:.0f} s", flush=True)
            with results_lock():
                results = load_results()
                section = results.setdefault("peer", {"runs": []})
                section["runs"] = [r for r in section["runs"]
                                   if (r["model"], r["seed"], r["cpus"]) != (model, seed, run["cpus"])] + [run]
                section["measured"] = now()
                save_results(results)


def peer_summary(results: dict) -> list[dict]:
    """Per core count: both models' accuracy and training time over the seeds both were run with."""
    runs = results.get("peer", {}).get("runs", [])
    out = []
    for cpus in sorted({r["cpus"] for r in runs}):
        mine = {r["seed"]: r for r in runs if r["cpus"] == cpus and r["model"] == "small_cnn"}
        theirs = {r["seed"]: r for r in runs if r["cpus"] == cpus and r["model"] == "tutorial"}
        seeds = sorted(set(mine) & set(theirs))
        if not seeds:
            continue
        row = {"cpus": cpus, "seeds": seeds, "n_test": mine[seeds[0]]["n_test"]}
        for name, by_seed in (("small_cnn", mine), ("tutorial", theirs)):
            row[name] = {"accuracy": summarise([by_seed[s]["test_accuracy"] for s in seeds]),
                         "train_seconds": summarise([by_seed[s]["train_seconds"] for s in seeds])}
            row[name]["accuracy"]["mean"] = statistics.mean(row[name]["accuracy"]["values"])
            row[name]["train_seconds"]["mean"] = statistics.mean(row[name]["train_seconds"]["values"])
        row["accuracy_ratio"] = row["small_cnn"]["accuracy"]["mean"] / row["tutorial"]["accuracy"]["mean"]
        row["time_ratio"] = row["small_cnn"]["train_seconds"]["mean"] / row["tutorial"]["train_seconds"]["mean"]
        row["settings"] = {"small_cnn": {k: mine[seeds[0]].get(k) for k in ("epochs", "image_size")},
                           "tutorial": theirs[seeds[0]].get("settings", {})}
        out.append(row)
    return out


def _peer_lines(results: dict) -> list[str]:
    lines = []
    for row in peer_summary(results):
        mine, theirs = row["small_cnn"], row["tutorial"]

        def cell(stat, fmt, scale=1.0):
            return (f"{format(scale * stat['mean'], fmt)} ({format(scale * stat['min'], fmt)}-"
                    f"{format(scale * stat['max'], fmt)})")

        lines += [f"On {row['cpus']} core(s), seeds {', '.join(map(str, row['seeds']))}, {row['n_test']} test photos "
                  "(mean (range) over the seeds):", "",
                  "| model | test accuracy (%) | training time (s) |", "|---|---|---|",
                  f"| course-retrain --architecture small_cnn (lesson 05's recipe, "
                  f"{row['settings']['small_cnn'].get('image_size')} px, {row['settings']['small_cnn'].get('epochs')} "
                  f"epochs) | {cell(mine['accuracy'], '.1f', 100)} | {cell(mine['train_seconds'], '.0f')} |",
                  f"| tensorflow/docs tutorial model (180 px, 15 epochs) | {cell(theirs['accuracy'], '.1f', 100)} | "
                  f"{cell(theirs['train_seconds'], '.0f')} |",
                  f"| ratio, course / tutorial | {row['accuracy_ratio']:.2f} x | {row['time_ratio']:.2f} x |", ""]
    return lines


def bench_bf16() -> None:
    """Float32 against bfloat16 mixed precision on this processor, each in its own process."""
    from course_utils import config

    supported, why = config.bfloat16_support()
    script = [sys.executable, str(ROOT / "benchmarks" / "bf16.py")]
    float32, _ = _run_json(script + ["float32"], None)
    bfloat16, _ = _run_json(script + ["mixed_bfloat16"], None)
    from bf16 import compare  # benchmarks/bf16.py (benchmarks/ is first on sys.path as a script)

    section = {"supported": supported, "why": why, "measured": now(), **compare(float32, bfloat16),
               "float32": {k: v for k, v in float32.items() if k != "features"},
               "bfloat16": {k: v for k, v in bfloat16.items() if k != "features"}}
    print(f"[bf16] {why}: Inception V3 x{section['inception_speed_ratio']}, small CNN training "
          f"x{section['small_cnn_speed_ratio']}, feature cosine >= {section['feature_cosine_min']}", flush=True)
    update_section("bf16", section)


# --------------------------------------------------------------------------- autograding


def bench_autograde(results: dict, repeat: int) -> None:
    """Seconds for `nbgrader autograde` of one (correct) submission, per assignment."""
    section = {}
    env = dict(os.environ)
    env.pop("COURSE_FAST", None)
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        course.mkdir()
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "solutions", course / "solutions")
        for assignment in sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
            nbgrader = [sys.executable, "-m", "nbgrader"]
            subprocess.run(nbgrader + ["generate_assignment", assignment, "--force"], cwd=course, env=env,
                           check=True, capture_output=True)
            times = []
            for i in range(repeat):
                student = f"bench{i}"
                target = course / "submitted" / student / assignment
                shutil.copytree(course / "solutions" / assignment, target)
                start = time.perf_counter()
                done = subprocess.run(nbgrader + ["autograde", assignment, "--student", student, "--force"],
                                      cwd=course, env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - start)
                if done.returncode != 0:
                    print(done.stdout[-2000:], done.stderr[-2000:])
            section[assignment] = summarise(times)
            print(f"[autograde] {assignment}: median {section[assignment]['median']:.1f} s", flush=True)
    results["autograde"] = {"assignments": section, "measured": now()}
    update_section("autograde", results["autograde"])


# --------------------------------------------------------------------------- CI


def bench_ci(results: dict) -> None:
    """Time `bash .ci/run` in a fresh clone of this repository with ../shared beside it."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # as a clone in a normal folder: the hub test runs servers as other users
        clone = Path(tmp) / "main"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        shared = ROOT.parent / "shared"
        if shared.exists():
            (Path(tmp) / "shared").symlink_to(shared)
        start = time.perf_counter()
        done = subprocess.run(["bash", ".ci/run"], cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    log = Path(tempfile.gettempdir()) / "pixels-to-poets-ci.log"  # the whole output, kept outside the clone
    log.write_text(done.stdout + done.stderr)
    print(f"[ci] {seconds:.0f} s, exit status {done.returncode}; output in {log}", flush=True)
    tail = [line for line in done.stdout.splitlines() if " passed" in line or " failed" in line][-1:]
    results["ci"] = {"seconds": seconds, "ok": done.returncode == 0, "summary": tail[0] if tail else "",
                     "measured": now()}
    if done.returncode != 0:  # keep what is needed to find out why (the clone is gone by now)
        problems = [line for line in done.stdout.splitlines() if line.startswith(("ERROR ", "FAILED "))]
        results["ci"]["problems"] = problems[:50]
        results["ci"]["output_tail"] = (done.stdout + done.stderr)[-4000:]
        print("\n".join(problems) or (done.stdout + done.stderr)[-4000:], flush=True)
    update_section("ci", results["ci"])


# --------------------------------------------------------------------------- report


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _fmt_spread(stat: dict, unit: str, digits: int = 0) -> str:
    if stat["runs"] == 1:
        return f"{stat['median']:.{digits}f} {unit} (1 run)"
    return f"{stat['median']:.{digits}f} {unit} ({stat['min']:.{digits}f}-{stat['max']:.{digits}f}, {stat['runs']} runs)"


def _seeds_note(lessons: dict) -> str:
    seeds = sorted({seed for lesson in lessons.values() for mode in lesson.values() for seed in mode.get("seeds", [])})
    return f" (seeds {', '.join(map(str, seeds))})" if seeds else ""


def _split_note(results: dict) -> str:
    sizes = results.get("split", {}).get("sizes")
    if not sizes:
        return "split sizes not recorded"
    return (f"the split gives {sizes['train']:,} training, {sizes['validation']:,} validation and "
            f"{sizes['test']:,} test photos in full mode")


def render(results: dict) -> str:
    hw = results.get("hardware", {})
    lines = ["# Benchmark results", "",
             "Produced by `python benchmarks/run.py` (see its docstring for the sections); the raw figures",
             "are in `results.json` beside this file. Figures are medians with the range over the runs; lesson",
             "runs use one seed each (`COURSE_SEED`, listed), so a range shows how far a figure moves between seeds.",
             "The benchmark reports and never asserts; the test suite holds no timing assertions.", "",
             "Reproduce everything (about two hours on two cores) from the repository root, with the test",
             "extras installed:", "",
             "```bash",
             "COURSE_DATA_DIR=../shared/data COURSE_ALLOW_RANDOM_WEIGHTS=1 python benchmarks/run.py --all",
             "```", "",
             "Drop `COURSE_ALLOW_RANDOM_WEIGHTS=1` on a machine that can download the ImageNet weights: the",
             "Inception rows of the accuracy ladder are then measured too.", "",
             "## Machine", ""]
    for key in ("cpu", "cpus", "memory_gb", "system", "python", "tensorflow"):
        if key in hw:
            lines.append(f"- {key}: {hw[key]}")
    lessons = results.get("lessons", {})
    if lessons:
        lines += ["", "## Lessons (fresh kernel, top to bottom)", "",
                  "Each run is a pass over the lessons in course order, as a new student makes it: every lesson in",
                  "a fresh kernel (`jupyter nbconvert --execute`), one course cache per pass that starts empty",
                  "(decoded images and bottleneck features are computed once per pass), one seed per pass"
                  + _seeds_note(lessons) + ". Data: the flower photos of `COURSE_DATA_DIR` (no download; "
                  + _split_note(results) + "; fast mode takes at most 40 training photos per class). Wall time is",
                  "the whole notebook, kernel start included; peak memory is the resident set size of the kernel",
                  "and its child processes, sampled every 0.2 s from outside."
                  + (" Offline, lessons 00 and 06 ran with random Inception V3 weights"
                     " (`COURSE_ALLOW_RANDOM_WEIGHTS=1`): the same computation as with ImageNet weights,"
                     " so the times and memory hold, but no accuracy does."
                     if any(m.get("random_weights_allowed") for lesson in lessons.values() for m in lesson.values())
                     else ""), "",
                  "Budget in full mode: under 10 minutes and under 2 GB peak memory per lesson.", "",
                  "Rows marked `full-1cpu` pin the notebook's kernel to one core (`os.sched_setaffinity`, like"
                  " `taskset -c 0`), as on a one-CPU Binder; when two such passes ran side by side, each on its own"
                  " core, they shared the memory bus and the last-level cache.", "",
                  "| lesson | mode | wall time | peak memory (kernel) | within budget |", "|---|---|---|---|---|"]
        for name in sorted(lessons):
            for mode in ("full", "full-1cpu", "fast"):
                entry = lessons[name].get(mode)
                if not entry:
                    continue
                secs, mem = entry["seconds"], entry["peak_rss_mib"]
                if not entry["ok"]:
                    verdict = "FAILED"
                elif mode.startswith("full"):
                    verdict = "yes" if secs["max"] < BUDGET_SECONDS and mem["max"] < BUDGET_BYTES / 1024**2 else "NO"
                else:
                    verdict = "-"
                lines.append(f"| {name} | {mode} | {_fmt_spread(secs, 's')} | {_fmt_spread(mem, 'MiB')} | {verdict} |")
    ladder = results.get("ladder")
    if ladder:
        lines += ["", "## Accuracy ladder (flower photos, the same content-hash test set)", "",
                  "Recorded by the lessons themselves in the full-mode passes above (each model trained once per",
                  "pass, with that pass's seed, and evaluated once on the test photos); median and range over the seeds.",
                  "",
                  "| model | held-out accuracy | test images |", "|---|---|---|"]
        for row in ladder["rows"]:
            if "accuracy" in row:
                acc = row["accuracy"]
                seeds = ", ".join(str(x) for x in row.get("seeds", []) if x is not None)
                spread = "" if acc["runs"] == 1 else f" ({acc['min']:.1%}-{acc['max']:.1%}, {acc['runs']} runs)"
                spread += f"; seeds {seeds}" if seeds else ""
                lines.append(f"| {row['label']} | {acc['median']:.1%}{spread} | {row['n_images']} |")
            else:
                lines.append(f"| {row['label']} | not measured: {row['why_missing']} | - |")
    extraction = results.get("extraction")
    if extraction:
        runs = extraction["runs"]
        first = runs[0]
        pick = lambda key: summarise([float(r[key]) for r in runs])  # noqa: E731
        lines += ["", "## Bottleneck feature extraction (retraining)", "",
                  f"{first['architecture']} at {first['input_size']} px, batch {first['batch_size']}, "
                  f"{first['n_images']} flower photos, an empty cache each run"
                  + (f", a different random sample of photos per seed (seeds {', '.join(str(r['seed']) for r in runs)})"
                     if all(r.get("seed") is not None for r in runs) else "")
                  + (" (random weights: speed does not depend on the weights)" if first["random_weights"] else "")
                  + f"; measured {extraction['measured']}.", "",
                  "| figure | value |", "|---|---|",
                  f"| course pipeline (decode, resize, forward, cache) | {_fmt_spread(pick('images_per_second'), 'images/s', 1)} |",
                  f"| raw forward pass on random tensors (the ceiling) | {_fmt_spread(pick('raw_images_per_second'), 'images/s', 1)} |",
                  f"| pipeline / raw | {_fmt_spread(pick('ratio'), 'x', 2)} (target: 0.95 x or more) |",
                  f"| first run, {first['n_images']} images | {_fmt_spread(pick('first_run_seconds'), 's', 1)} |",
                  f"| second run (everything cached) | {_fmt_spread(pick('cached_run_seconds'), 's', 2)};"
                  f" images sent through the network: {max(int(r['cached_extracted']) for r in runs)} |"]
    if results.get("peer"):
        lines += ["", "## Peer row: the tensorflow/docs tutorial's model on the course's split", "",
                  "Both models train on the same training photos and are tested on the same test photos, in the same",
                  "benchmark run, one after the other on the same cores (`benchmarks/peer.py`; the tutorial's model is",
                  "re-written from its description). Training time counts `fit` only.", ""] + _peer_lines(results)
    lines += ["", "## Quoted anchors (not measured here)", "",
              "Published figures for orientation: other splits, other data, mostly ImageNet weights. Not comparable",
              "number for number with the rows above.", "", "| source | setting | figure |", "|---|---|---|"]
    lines += [f"| [{a['name']}]({a['source']}) | {a['setting']} | {a['figure']} |" for a in QUOTED_ANCHORS]
    bf16 = results.get("bf16")
    if bf16:
        lines += ["", "## bfloat16 mixed precision (`COURSE_BF16=1`)", "",
                  f"Support on this processor: {'yes' if bf16['supported'] else 'no'} ({bf16['why']}); measured "
                  f"{bf16['measured']}. Against float32: Inception V3 forward pass ({bf16['float32']['inception_input_size']}"
                  f" px) x{bf16['inception_speed_ratio']:.2f} speed, lesson 05's network training "
                  f"x{bf16['small_cnn_speed_ratio']:.2f} speed; features agree to a cosine of at least "
                  f"{bf16['feature_cosine_min']:.4f}. "
                  + ("The course turns it on only with COURSE_BF16=1 on a processor that has it."
                     if bf16["supported"] else
                     "Without hardware support TensorFlow emulates bfloat16, so the course keeps float32 here even "
                     "when COURSE_BF16=1 is set (it warns).")]
    autograde = results.get("autograde")
    if autograde:
        lines += ["", "## Autograding (`nbgrader autograde`, one correct submission)", "",
                  "| assignment | seconds per submission |", "|---|---|"]
        for name, stat in sorted(autograde["assignments"].items()):
            lines.append(f"| {name} | {_fmt_spread(stat, 's', 1)} |")
    ci = results.get("ci")
    if ci:
        lines += ["", "## CI", "", f"`bash .ci/run` from a fresh clone: {ci['seconds'] / 60:.1f} min "
                  f"({'passed' if ci['ok'] else 'FAILED'}; pytest: {ci.get('summary', '').strip(' =')}), installs "
                  f"included, measured {ci['measured']}." + (f" Note: {ci['note']}." if ci.get("note") else "")]
    return "\n".join(lines) + "\n"


def _range(stat: dict, fmt: str, scale: float = 1.0) -> str:
    median, low, high = (scale * stat[k] for k in ("median", "min", "max"))
    if stat["runs"] == 1:
        return format(median, fmt)
    return f"{format(median, fmt)} ({format(low, fmt)}-{format(high, fmt)})"


def render_readme(results: dict) -> str:
    """The README's summary of the latest figures (generated; ``tests/test_prose.py`` checks it is current)."""
    hw = results.get("hardware", {})
    lines = ["(Generated from `benchmarks/results.json` by `python benchmarks/run.py --render`; edit the benchmark,",
             "not this block.)", ""]
    lessons = results.get("lessons", {})
    full = {name: entry["full"] for name, entry in lessons.items() if "full" in entry}
    one = {name: entry["full-1cpu"] for name, entry in lessons.items() if "full-1cpu" in entry}
    if full or one:
        both = list(full.values()) + list(one.values())
        seeds = sorted({seed for entry in both for seed in entry.get("seeds", [])})
        dates = sorted({entry["measured"][:10] for entry in both})

        def cells(entry: dict | None) -> str:
            if entry is None:
                return "not measured | - | -"
            within = (entry["ok"] and entry["seconds"]["max"] < BUDGET_SECONDS
                      and entry["peak_rss_mib"]["max"] < BUDGET_BYTES / 1024**2)
            return (f"{_range(entry['seconds'], '.0f')} | {_range(entry['peak_rss_mib'], '.0f')} | "
                    f"{'yes' if within else 'NO' if entry['ok'] else 'FAILED'}")

        lines += [f"Machine: {hw.get('cpus', '?')}-core {hw.get('cpu', 'CPU')}, {hw.get('memory_gb', '?')} GB, Python "
                  f"{hw.get('python', '?')}, TensorFlow {hw.get('tensorflow', '?')}. Lessons in full mode (fresh kernel, "
                  f"top to bottom, the flower photos; measured {', '.join(dates)}), one pass per seed "
                  f"({', '.join(map(str, seeds)) or 'not recorded'}): median (range), on all "
                  f"{hw.get('cpus', '?')} cores and with the kernel pinned to one core (a one-CPU Binder). Budget: "
                  "under 10 minutes and 2 GB each.", "",
                  "| lesson | 2 cores: wall time (s) | peak memory (MiB) | within budget | 1 core: wall time (s) | "
                  "peak memory (MiB) | within budget |", "|---|---|---|---|---|---|---|"]
        for name in sorted(set(full) | set(one)):
            lines.append(f"| {name} | {cells(full.get(name))} | {cells(one.get(name))} |")
        single = [f"{name[:2]} on {label} (seed {entry['seeds'][0]})" for label, group in (("two cores", full),
                  ("one core", one)) for name, entry in sorted(group.items()) if entry["seconds"]["runs"] == 1]
        if single:
            lines += ["", f"A figure without a range is a single run: {', '.join(single)}."]
        fast = [entry["fast"]["seconds"] for entry in lessons.values() if "fast" in entry]
        if fast:
            lines += ["", f"In `COURSE_FAST=1` mode each lesson takes {min(f['min'] for f in fast):.0f}-"
                          f"{max(f['max'] for f in fast):.0f} s."]
        if any(entry.get("random_weights_allowed") for entry in both):
            lines += ["", "Offline, lessons 00 and 06 ran with random Inception V3 weights: the computation and its cost "
                      "are the same as with ImageNet weights, but no accuracy from it is reported."]
    ladder = results.get("ladder")
    if ladder:
        measured = [row for row in ladder["rows"] if "accuracy" in row]
        missing = [row for row in ladder["rows"] if "accuracy" not in row]
        if measured:
            seeds = sorted({seed for row in measured for seed in row.get("seeds", []) if seed is not None})
            lines += ["", f"Accuracy ladder on the same {measured[0]['n_images']} held-out flower photos, median (range) "
                          f"over seeds {', '.join(map(str, seeds))}: "
                      + "; ".join(f"{row['label']} {_range(row['accuracy'], '.1f', 100)} %" for row in measured) + "."]
        if missing:
            reasons = sorted({row["why_missing"] for row in missing})
            lines += [f"Not measured: {', '.join(row['label'] for row in missing)} ({'; '.join(reasons)})."]
    for row in peer_summary(results):
        mine, theirs = row["small_cnn"], row["tutorial"]
        lines += ["", f"Peer row ({row['cpus']} core(s), seeds {', '.join(map(str, row['seeds']))}, the same "
                      f"{row['n_test']} test photos, mean (range)): `course-retrain --architecture small_cnn` "
                      f"{100 * mine['accuracy']['mean']:.1f} % ({100 * mine['accuracy']['min']:.1f}-"
                      f"{100 * mine['accuracy']['max']:.1f}) after {mine['train_seconds']['mean']:.0f} s of training; "
                      f"the tensorflow/docs tutorial's model {100 * theirs['accuracy']['mean']:.1f} % "
                      f"({100 * theirs['accuracy']['min']:.1f}-{100 * theirs['accuracy']['max']:.1f}) after "
                      f"{theirs['train_seconds']['mean']:.0f} s: {row['accuracy_ratio']:.2f} x the accuracy in "
                      f"{row['time_ratio']:.2f} x the time. Published figures (TF for Poets, Keras's guide) are "
                      "quoted, not measured, in benchmarks/RESULTS.md."]
    bf16 = results.get("bf16")
    if bf16:
        lines += ["", f"bfloat16 ({bf16['measured'][:10]}): {'supported' if bf16['supported'] else 'not supported'} "
                      f"here ({bf16['why']}); against float32 it ran Inception V3 at x{bf16['inception_speed_ratio']:.2f}"
                      f" and lesson 05's training at x{bf16['small_cnn_speed_ratio']:.2f} the speed, so the course "
                      + ("uses it only when COURSE_BF16=1." if bf16["supported"] else "keeps float32 on this machine.")]
    extraction = results.get("extraction")
    if extraction:
        runs = extraction["runs"]
        pick = lambda key: summarise([float(r[key]) for r in runs])  # noqa: E731
        lines += ["", f"Bottleneck extraction ({runs[0]['architecture']}, {runs[0]['input_size']} px, batch "
                      f"{runs[0]['batch_size']}, {runs[0]['n_images']} photos, {len(runs)} runs, "
                      f"{extraction['measured'][:10]}): {_range(pick('images_per_second'), '.1f')} images/s through "
                      f"the cached pipeline against {_range(pick('raw_images_per_second'), '.1f')} for the bare network "
                      f"({_range(pick('ratio'), '.2f')} x); a second, cached run takes "
                      f"{pick('cached_run_seconds')['max']:.2f} s at most and sends "
                      f"{max(int(r['cached_extracted']) for r in runs)} images through the network."]
    autograde = results.get("autograde")
    if autograde:
        lines += ["", f"Autograding one correct submission with `nbgrader autograde` ({autograde['measured'][:10]}): "
                      + ", ".join(f"{name} {_range(stat, '.1f')} s" for name, stat in sorted(autograde["assignments"].items()))
                      + "."]
    ci = results.get("ci")
    if ci:
        lines += ["", f"CI (`bash .ci/run` from a fresh clone, installs included, {ci['measured'][:10]}): "
                      f"{ci['seconds']:.0f} s, {'passed' if ci['ok'] else 'FAILED'} "
                      f"({ci.get('summary', '').strip(' =')})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--lessons", action="store_true")
    parser.add_argument("--modes", nargs="+", default=["fast", "full"], choices=["fast", "full"])
    parser.add_argument("--only", nargs="+", help="lesson numbers, e.g. 05 06")
    parser.add_argument("--ladder", action="store_true")
    parser.add_argument("--extraction", action="store_true")
    parser.add_argument("--extraction-images", type=int, default=320)
    parser.add_argument("--autograde", action="store_true")
    parser.add_argument("--ci", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the autograde section")
    parser.add_argument("--seeds", type=int, nargs="+", default=DEFAULT_SEEDS,
                        help="one pass over the lessons, and one extraction run, per seed; default: %(default)s")
    parser.add_argument("--cpus", type=int, default=None,
                        help="pin every lesson kernel (and the peer runs) to this many cores, e.g. 1 for a one-CPU "
                             "Binder; default: all cores. Start two passes side by side under `taskset -c 0` and "
                             "`taskset -c 1` to measure two seeds on one core each at once")
    parser.add_argument("--peer", action="store_true",
                        help="the tensorflow/docs tutorial's model against course-retrain's small_cnn, per seed")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 support and what it gives on this processor")
    parser.add_argument("--render", action="store_true", help="only rebuild RESULTS.md from results.json")
    args = parser.parse_args(argv)
    results = load_results()
    results["hardware"] = hardware()
    if args.lessons or args.all:
        bench_lessons(results, args.modes, args.seeds, args.only, args.cpus)
    if args.ladder or args.all:
        bench_ladder(results)
    if args.extraction or args.all:
        bench_extraction(results, args.extraction_images, args.seeds)
    if args.autograde or args.all:
        bench_autograde(results, args.repeat)
    if args.peer or args.all:
        bench_peer(args.seeds, args.cpus)
    if args.bf16 or args.all:
        bench_bf16()
    if args.ci or args.all:
        bench_ci(results)
    with results_lock():
        latest = load_results()
        latest["hardware"] = results["hardware"]
        save_results(latest)
    print(f"wrote {RESULTS_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
