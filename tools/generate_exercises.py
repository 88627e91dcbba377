#!/usr/bin/env python
"""Regenerate exercises/ (the student versions) from solutions/ with nbgrader.

Usage, from anywhere inside the repository::

    python tools/generate_exercises.py               # every assignment in solutions/
    python tools/generate_exercises.py ps2_cnn       # just one
    python tools/generate_exercises.py --check       # change nothing; exit 1 if exercises/ is stale

For each assignment this runs ``nbgrader generate_assignment <assignment> --force`` with the
course's ``nbgrader_config.py``, in a temporary copy of the course directory, so that the
gradebook (``gradebook.db``) and nbgrader's log are created there and never in the
repository. The release nbgrader writes is then copied into ``exercises/<assignment>/``
unchanged (the old folder is replaced, so files deleted from a solution disappear from its
exercise too). Regenerating all assignments also removes exercise folders whose solution is
gone. ``exercises/`` is never edited by hand: CI (tests/test_nbgrader.py) fails when it
differs from what nbgrader makes.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


def assignments(root: Path = ROOT) -> list[str]:
    """The assignments in solutions/ (folders holding at least one notebook)."""
    return sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader creates the gradebook with the `alembic` command: make the one installed
    # next to this Python findable even when its virtual environment is not activated.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("NBGRADER_EXECUTION", None)
    # nbgrader_config.py imports course_utils.nbgrader_plugins: use this checkout's.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def generate(names: list[str], workdir: Path, root: Path = ROOT) -> Path:
    """Run nbgrader on a copy of the course in ``workdir``; return its exercises/ folder."""
    course = workdir / "course"
    course.mkdir()
    shutil.copy2(root / "nbgrader_config.py", course / "nbgrader_config.py")
    (course / "solutions").mkdir()
    for name in names:
        shutil.copytree(root / "solutions" / name, course / "solutions" / name, ignore=_IGNORE)
    for name in names:
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"]
        done = subprocess.run(cmd, cwd=course, env=_env(), capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"nbgrader generate_assignment {name} failed (exit {done.returncode})")
        print(f"generated {name}", flush=True)
    return course / "exercises"


def differences(generated: Path, committed: Path) -> list[str]:
    """Relative paths that differ between two release folders (added, removed or changed)."""
    out: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        out.extend(f"{prefix}{name} (only in the new release)" for name in cmp.left_only)
        out.extend(f"{prefix}{name} (only in exercises/)" for name in cmp.right_only)
        for name in cmp.common_files:
            if not filecmp.cmp(Path(cmp.left) / name, Path(cmp.right) / name, shallow=False):
                out.append(f"{prefix}{name} (changed)")
        out.extend(f"{prefix}{name} (file/folder mismatch)" for name in cmp.common_funny)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    if not committed.is_dir():
        return [f"{committed.name}/ (missing from exercises/)"]
    walk(filecmp.dircmp(generated, committed, ignore=[".ipynb_checkpoints", "__pycache__"]), "")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignments to regenerate (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="only compare with exercises/; exit 1 if anything differs")
    parser.add_argument("--course-dir", type=Path, default=ROOT,
                        help="the course directory (default: this repository)")
    args = parser.parse_args(argv)
    root = args.course_dir.resolve()
    exercises = root / "exercises"

    known = assignments(root)
    names = args.assignments or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"no such assignment in solutions/: {', '.join(unknown)} (have: {', '.join(known)})")
    stale = [] if args.assignments else sorted(
        p.name for p in exercises.iterdir() if p.is_dir() and p.name not in known
    ) if exercises.is_dir() else []

    with tempfile.TemporaryDirectory(prefix="generate-exercises-") as tmp:
        released = generate(names, Path(tmp), root)
        if args.check:
            problems = [f"{name}/{d}" for name in names for d in differences(released / name, exercises / name)]
            problems += [f"{name}/ (no solution in solutions/)" for name in stale]
            if problems:
                print("exercises/ is out of date; run `python tools/generate_exercises.py`:")
                print("\n".join(f"  {p}" for p in problems))
                return 1
            print(f"exercises/ matches solutions/ ({', '.join(names)})")
            return 0
        exercises.mkdir(exist_ok=True)
        for name in names:
            target = exercises / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(released / name, target)
            print(f"wrote exercises/{name}/")
        for name in stale:
            shutil.rmtree(exercises / name)
            print(f"removed exercises/{name}/ (its solution is gone)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
