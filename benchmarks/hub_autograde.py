"""Grading at scale: autograde a class's submissions of ps1 with 1, 2, 4 parallel workers against a
PostgreSQL gradebook, and write benchmarks/hub_autograde.md (+ .json) with the measured speed-up.

    python benchmarks/hub_autograde.py                      # 60 submissions, workers 1 2 4
    python benchmarks/hub_autograde.py --submissions 12 --workers 1 2

It starts its own throwaway PostgreSQL cluster (Debian's postgresql package; see
deploy/jupyterhub/course_hub.py: LocalPostgres), builds a course directory in a temporary
folder from solutions/ (nbgrader generate_assignment records the assignment in the gradebook),
and fills the class's submissions from the solution: two students in three answer everything,
every third leaves the last answer out. Each worker is one process that autogrades its share of
the students through nbgrader's own API (NbGraderAPI.autograde, as the formgrader does), all
writing to the one gradebook. It reports, it never asserts; it does check that every submission
was graded with the expected score, and says so.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy" / "jupyterhub"))
import course_hub  # noqa: E402

ASSIGNMENT = "ps1_pixels"


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _answers(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def make_course(folder: Path, db_url: str, env: dict) -> Path:
    course = folder / "course"
    course.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
                    f"--CourseDirectory.db_url={db_url}"], cwd=course, env=env, check=True,
                   capture_output=True)
    return course


def make_submissions(course: Path, n: int) -> dict[str, bool]:
    """n submissions; returns student -> whether it answers everything."""
    import nbformat

    solution = nbformat.read(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    released = nbformat.read(course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {_grade_id(c): "\n".join(line for line in c.source.splitlines()
                                      if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
               for c in _answers(solution)}
    last = _grade_id(_answers(solution)[-1])
    complete = {}
    for i in range(n):
        student = f"student{i + 1:03d}"
        complete[student] = i % 3 != 2
        nb = copy.deepcopy(released)
        for cell in _answers(nb):
            if complete[student] or _grade_id(cell) != last:
                cell.source = answers[_grade_id(cell)]
        target = course / "submitted" / student / ASSIGNMENT
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{ASSIGNMENT}.ipynb")
        (target / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")
    return complete


def _worker(course: str, db_url: str, students: list[str]) -> list[tuple[str, bool, float]]:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    os.chdir(course)
    config = Config()
    config.CourseDirectory.root = course
    config.CourseDirectory.db_url = db_url
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    # The course's nbgrader_config.py (timeouts, ignore patterns, feedback settings).
    api.config.merge(_course_config(course))
    done = []
    for student in students:
        start = time.perf_counter()
        result = api.autograde(ASSIGNMENT, student)
        done.append((student, bool(result.get("success")), time.perf_counter() - start))
        if not result.get("success"):
            print(result.get("log", "")[-2000:], file=sys.stderr)
    return done


def _course_config(course: str):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=course).load_config()


def run(course: Path, db_url: str, students: list[str], workers: int) -> dict:
    shares = [students[i::workers] for i in range(workers)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = [r for part in pool.map(_worker, [str(course)] * workers, [db_url] * workers, shares)
                   for r in part]
    seconds = time.perf_counter() - start
    return {"workers": workers, "seconds": seconds, "ok": sum(ok for _, ok, _ in results),
            "per_submission": sorted(s for _, _, s in results)}


def check_scores(db_url: str, complete: dict[str, bool]) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        scores = {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(ASSIGNMENT)}
    wrong = [s for s, full in complete.items()
             if s not in scores or (scores[s][0] == scores[s][1]) != full]
    if wrong:
        return f"UNEXPECTED scores for {len(wrong)} submissions: {wrong[:5]}"
    return (f"all {len(scores)} graded as expected ({sum(complete.values())} full marks, "
            f"{len(complete) - sum(complete.values())} missing the last answer)")


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "hub_autograde.md")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the .md from the .json of the last run")
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads(args.out.with_suffix(".json").read_text())
        atomic_write(args.out, render(data))
        return 0

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "OPENBLAS_NUM_THREADS": "1"}
    os.environ.update(env)
    folder = Path(tempfile.mkdtemp(prefix="hub-autograde-"))
    os.chmod(folder, 0o755)
    pg = course_hub.LocalPostgres(folder / "postgres")
    try:
        pg.start()
        course = make_course(folder, pg.url, env)
        complete = make_submissions(course, args.submissions)
        students = sorted(complete)
        runs = []
        for workers in args.workers:
            load = os.getloadavg()[0]
            result = run(course, pg.url, students, workers)
            result["load_before"] = load
            result["check"] = check_scores(pg.url, complete)
            runs.append(result)
            print(f"{workers} worker(s): {result['seconds']:.0f} s for {len(students)} submissions "
                  f"({result['ok']} ok; load before {load:.1f}); {result['check']}", flush=True)
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    data = {"measured": stamp, "cpus": os.cpu_count(), "submissions": len(students),
            "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
            "nbgrader": _nbgrader_version(), "runs": runs}
    atomic_write(args.out.with_suffix(".json"), json.dumps(data, indent=1) + "\n")
    atomic_write(args.out, render(data))
    print(f"wrote {args.out}")
    return 0


def render(data: dict) -> str:
    runs, cpus, n = data["runs"], data["cpus"], data["submissions"]
    base = runs[0]["seconds"]
    rows = [f"| {r['workers']} | {r['seconds']:.0f} s | {60 * n / r['seconds']:.1f} | "
            f"{base / r['seconds']:.2f} x | {r['per_submission'][len(r['per_submission']) // 2]:.1f} s | "
            f"{r['load_before']:.1f} | {r['check']} |" for r in runs]
    loaded = [r for r in runs if r["load_before"] > cpus]
    caveat = ""
    if loaded:
        beyond = [r for r in runs if r["workers"] > cpus and base / r["seconds"] > 1]
        caveat = (f"""

**This machine was busy.** {len(loaded)} of {len(runs)} runs started with a load average above
its {cpus} cores (other jobs were running). Under such load each worker process gets a share of
the CPUs, so a run with more workers also takes a larger share from the other jobs: """
                  + (f"the speed-up with {', '.join(str(r['workers']) for r in beyond)} workers, "
                     f"more than the {cpus} cores, comes from that, not from faster grading. "
                     if beyond else "")
                  + "On an idle machine expect the speed-up to stop near the number of cores. "
                  "Rerun on an idle machine for clean figures.")
    return f"""# Autograding a class against PostgreSQL (`benchmarks/hub_autograde.py`)

{n} submissions of `{ASSIGNMENT}` autograded by nbgrader {data.get('nbgrader', '')} with
several worker processes at once, all writing to one PostgreSQL gradebook (a throwaway cluster of
Debian's postgresql package, started by the benchmark). Machine: {cpus} CPU cores
({data.get('machine', '')}), Python {data.get('python', '')}; measured {data['measured']}.
"Load before" is the 1-minute load average when the run started.

| workers | wall time | submissions / minute | speed-up over 1 worker | median per submission | load before | check |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + f"""

**What limits it.** Each autograde starts a fresh Python kernel, imports the course's libraries and
runs the notebook: CPU-bound work, one core per worker. The speed-up therefore stops at the number
of cores ({cpus} here); more workers than cores only share them, which shows as a longer median
time per submission. All workers wrote to the one PostgreSQL gradebook at once and every
submission was recorded with the expected score (the "check" column); nbgrader's default SQLite
gradebook is one file with one writer at a time, which is why a class with several graders or
parallel workers uses PostgreSQL. On a hub, give the grading server as many workers as it has
cores (see docs/jupyterhub.md).{caveat}
"""


def _nbgrader_version() -> str:
    import nbgrader

    return nbgrader.__version__


if __name__ == "__main__":
    raise SystemExit(main())
