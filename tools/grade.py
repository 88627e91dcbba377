#!/usr/bin/env python
"""Autograde submissions and write a report that says, per student and assignment, what happened.

Usage, from the course directory (the folder holding nbgrader_config.py)::

    python tools/grade.py                      # every assignment in exercises/
    python tools/grade.py ps1_pixels --force   # one assignment, regrading what was graded before
    python tools/grade.py ps2_cnn -- --Execute.timeout=120   # anything after -- goes to nbgrader

For each assignment this

1. finds hand-ins saved under another name -- ``Copy of ps1_pixels.ipynb`` (Colab),
   ``ps1_pixels (1).ipynb`` (a second download), ``ps1_pixels-Copy1.ipynb`` or
   ``ps1_pixels-2.ipynb`` -- and, when the expected notebook is missing, copies the newest
   such file to the expected name (the student's file stays as it is) and says so;
2. runs ``nbgrader autograde`` once for all students, and once more for a submission whose
   kernel died while starting (that says nothing about the submission);
3. writes ``grading_report.csv`` (or ``--report``): one row per student (from the gradebook's
   class list and the submitted/ folder) and assignment, with ``status`` ``graded``,
   ``missing`` (nothing handed in) or ``failed`` (handed in, but nbgrader could not grade it,
   with the reason), the raw score, the late penalty, the score after it (as ``nbgrader
   export`` computes it), the maximum, and notes: renamed hand-ins,
   repaired cell ids, edited locked cells, the notebook time limit.

The report is written atomically; an old report is replaced only when the new one is complete.
Grades themselves stay in nbgrader's gradebook (``nbgrader export`` makes grades.csv).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

FIELDS = ["student_id", "assignment", "status", "raw_score", "late_penalty", "score", "max_score", "notes"]
_COPY_PATTERNS = [
    r"copy of {name}",            # Colab: File -> Save a copy in Drive
    r"{name} ?\(\d+\)",           # a browser's second download
    r"{name}-copy\d*",            # JupyterLab's Duplicate
    r"{name}[-_ ]\d+",            # ps1_pixels-2
    r"{name} ?- ?copy( ?\d+)?",   # Windows Explorer
]


def renamed_candidates(folder: Path, notebook: str) -> list[Path]:
    """Notebooks in ``folder`` that look like ``notebook`` saved under another name, newest first."""
    name = re.escape(notebook.lower())
    patterns = [re.compile(p.format(name=name) + r"\.ipynb$") for p in _COPY_PATTERNS]
    found = [p for p in folder.glob("*.ipynb") if any(pat.fullmatch(p.name.lower()) for pat in patterns)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def expected_notebooks(course: Path, assignment: str) -> list[str]:
    release = course / "exercises" / assignment
    return sorted(p.stem for p in release.glob("*.ipynb"))


def fix_names(course: Path, assignment: str, notes: dict) -> None:
    """Copy renamed hand-ins to the name nbgrader expects (never moving or deleting a file)."""
    submitted = course / "submitted"
    if not submitted.is_dir():
        return
    names = expected_notebooks(course, assignment)
    for folder in sorted(submitted.glob(f"*/{assignment}")):
        student = folder.parent.name
        for name in names:
            target = folder / f"{name}.ipynb"
            if target.exists():
                continue
            candidates = renamed_candidates(folder, name)
            if candidates:
                shutil.copy2(candidates[0], target)
                note = f"graded '{candidates[0].name}' as '{target.name}'"
                if len(candidates) > 1:
                    note += f" (the newest of {len(candidates)} copies)"
                notes[(student, assignment)].append(note)
                print(f"{student}/{assignment}: {note}")


def _student_of(line: str) -> str | None:
    match = re.search(r"student (\S+?):? ", line)
    return match.group(1) if match else None


def autograde(course: Path, assignment: str, extra: list[str], force: bool, notes: dict,
              failures: dict) -> int:
    cmd = [sys.executable, "-m", "nbgrader", "autograde", assignment, *(["--force"] if force else []), *extra]
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    print("$", " ".join(cmd[2:]), flush=True)
    proc = subprocess.Popen(cmd, cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    log = io.StringIO()
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        log.write(line)
    code = proc.wait()
    current = None  # the submission nbgrader is working on
    lines = log.getvalue().splitlines()
    for i, line in enumerate(lines):
        match = re.search(r"submitted[/\\]([^/\\]+)[/\\]" + re.escape(assignment), line)
        if match and ("Processing" in line or "Sanitizing" in line or "Autograding" in line or "ERROR" in line):
            current = match.group(1)
        if "[course]" in line:
            who = _student_of(line) or current
            text = line.split("[course]", 1)[1].strip()
            text = re.sub(r"^(TAMPERED )?student \S+?:? ", lambda m: m.group(1) or "", text)
            if who:
                notes[(who, assignment)].append(text)
        if "There was an error processing assignment" in line and match:
            reason = ""
            for follow in lines[i + 1:]:
                if follow.startswith("[") and "App |" in follow and "Traceback" not in follow:
                    break
                if follow.strip():
                    reason = follow.strip()
            failures[(match.group(1), assignment)] = reason or "nbgrader could not grade it (see its log)"
    return code


NOTES_FILE = "grading_notes.txt"
_KERNEL_FAILED = re.compile(r"Kernel died|kernel_info|UnresponsiveKernel|Kernel didn't respond")


def keep_notes(course: Path, assignment: str, since: float, notes: dict) -> None:
    """Store this run's notes beside each notebook it graded; read back the older ones.

    The notes live in ``autograded/<student>/<assignment>/grading_notes.txt``, so they last as
    long as the graded notebook does (``--force`` regrades and rewrites both).
    """
    for folder in sorted((course / "autograded").glob(f"*/{assignment}")):
        key = (folder.parent.name, assignment)
        notebooks = list(folder.glob("*.ipynb"))
        fresh = notebooks and max(p.stat().st_mtime for p in notebooks) >= since
        path = folder / NOTES_FILE
        if fresh:
            path.write_text("".join(f"{note}\n" for note in dict.fromkeys(notes.get(key, []))), encoding="utf-8")
        elif path.is_file():
            notes[key] = path.read_text(encoding="utf-8").splitlines() + notes.get(key, [])


def report_rows(course: Path, assignments: list[str], notes: dict, failures: dict) -> list[dict]:
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    db = course / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:
        students = {s.id for s in gb.students}
        students |= {p.parent.name for a in assignments for p in (course / "submitted").glob(f"*/{a}")}
        for assignment in assignments:
            try:
                max_score = gb.find_assignment(assignment).max_score
            except MissingEntry:
                max_score = ""
            for student in sorted(students):
                row = {"student_id": student, "assignment": assignment, "raw_score": "", "score": "",
                       "max_score": max_score, "late_penalty": "", "notes": "; ".join(dict.fromkeys(notes.get((student, assignment), [])))}
                handed_in = (course / "submitted" / student / assignment).is_dir()
                graded = all((course / "autograded" / student / assignment / f"{nb}.ipynb").is_file()
                             for nb in expected_notebooks(course, assignment))
                if not handed_in:
                    row["status"] = "missing"
                elif (student, assignment) in failures or not graded:
                    row["status"] = "failed"
                    folder = course / "submitted" / student / assignment
                    wanted = [f"{nb}.ipynb" for nb in expected_notebooks(course, assignment)]
                    present = sorted(p.name for p in folder.glob("*.ipynb"))
                    if not set(wanted) & set(present):
                        reason = f"no notebook named {', '.join(wanted)} (found: {', '.join(present) or 'none'})"
                    else:
                        reason = failures.get((student, assignment), "not autograded (run again, or see nbgrader's log)")
                    row["notes"] = "; ".join(filter(None, [reason, row["notes"]]))
                else:
                    try:
                        submission = gb.find_submission(assignment, student)
                        row["status"] = "graded"
                        penalty = submission.late_submission_penalty or 0.0
                        row["raw_score"] = round(submission.score, 2)
                        row["late_penalty"] = round(penalty, 2)
                        row["score"] = round(max(0.0, submission.score - penalty), 2)
                    except MissingEntry:
                        row["status"] = "failed"
                        row["notes"] = "; ".join(filter(None, ["not in the gradebook", row["notes"]]))
                rows.append(row)
    return rows


def write_report(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{os.getpid()}.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignments to grade (default: all in exercises/)")
    parser.add_argument("--course-dir", type=Path, default=Path.cwd(), help="the course directory (default: here)")
    parser.add_argument("--report", type=Path, default=None,
                        help="where to write the report (default: grading_report.csv in the course directory)")
    parser.add_argument("--force", action="store_true", help="regrade submissions that were graded before")
    args = parser.parse_args(argv)
    course = args.course_dir.resolve()
    if not (course / "nbgrader_config.py").is_file():
        parser.error(f"{course} has no nbgrader_config.py: run this from the course directory or pass --course-dir")
    known = sorted(p.name for p in (course / "exercises").iterdir() if p.is_dir()) if (course / "exercises").is_dir() else []
    names = args.assignments or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"no such assignment in exercises/: {', '.join(unknown)} (have: {', '.join(known) or 'none'})")
    notes: dict = defaultdict(list)
    failures: dict = {}
    worst = 0
    for assignment in names:
        fix_names(course, assignment, notes)
        if any((course / "submitted").glob(f"*/{assignment}")):
            since = time.time() - 1
            code = autograde(course, assignment, extra, args.force, notes, failures)
            # A kernel that died while starting (a busy machine, a port taken by another
            # kernel) says nothing about the submission: try those once more.
            for student in [s for (s, a), why in failures.items() if a == assignment and _KERNEL_FAILED.search(why)]:
                del failures[(student, assignment)]
                print(f"{student}/{assignment}: the kernel failed to start; grading again", flush=True)
                again = autograde(course, assignment, ["--student", student, *extra], args.force, notes, failures)
                if (student, assignment) not in failures:
                    notes[(student, assignment)].append("graded on the second try (the kernel failed to start)")
                if again == 0 and not any(a == assignment for (_, a) in failures):
                    code = 0
            worst = max(worst, code)
            keep_notes(course, assignment, since, notes)
        else:
            print(f"{assignment}: nothing submitted")
    if not (course / "gradebook.db").is_file():
        print("no gradebook yet: nothing was graded", file=sys.stderr)
        return 1
    rows = report_rows(course, names, notes, failures)
    report = args.report or course / "grading_report.csv"
    write_report(report, rows)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("graded", "missing", "failed")}
    print(f"wrote {report}: {counts['graded']} graded, {counts['missing']} missing, {counts['failed']} failed")
    return 1 if counts["failed"] or worst else 0


if __name__ == "__main__":
    raise SystemExit(main())
