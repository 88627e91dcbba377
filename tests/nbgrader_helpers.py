"""Helpers for tests/test_nbgrader.py: a throw-away course directory, real nbgrader runs,
and synthetic student submissions built from the released notebooks."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable, Mapping

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("ps1_pixels", "ps2_cnn", "ps3_transfer")

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def notebook_paths(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def grading_env(cache: Path) -> dict[str, str]:
    """The environment nbgrader (and the kernels it starts) runs in during the tests."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    # nbgrader creates its gradebook with the `alembic` command, found on PATH.
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(
        COURSE_FAST="1",
        COURSE_ALLOW_RANDOM_WEIGHTS="1",
        COURSE_CACHE_DIR=str(cache),
        TF_CPP_MIN_LOG_LEVEL="2",
        OPENBLAS_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("NBGRADER_EXECUTION", None)
    # nbgrader_config.py imports course_utils.nbgrader_plugins: use this checkout's.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def nbgrader(args: Iterable[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 600,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run `python -m nbgrader ARGS` in the course directory ``cwd``."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    done = subprocess.run(cmd, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd[2:])} exited with {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
            f"\n--- stderr\n{done.stderr[-6000:]}"
        )
    return done


def make_course(target: Path) -> Path:
    """A copy of the course's nbgrader files (config, solutions, exercises) in ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "nbgrader_config.py", target / "nbgrader_config.py")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copytree(ROOT / "solutions", target / "solutions", ignore=ignore)
    shutil.copytree(ROOT / "exercises", target / "committed_exercises", ignore=ignore)
    return target


# --------------------------------------------------------------------------- submissions


def strip_solution_markers(source: str) -> str:
    """The solution code of an answer cell, without its BEGIN/END SOLUTION lines."""
    return _MARKERS.sub("", source)


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_answers(source_notebook: Path) -> dict[str, str]:
    """Map each answer cell's grade_id to the instructor's solution code."""
    nb = nbformat.read(str(source_notebook), as_version=4)
    return {
        grade_id(cell): strip_solution_markers(cell.source)
        for cell in nb.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def build_submission(
    release_notebook: Path,
    answers: Mapping[str, str],
    *,
    delete: Iterable[str] = (),
    retype: Mapping[str, str] | None = None,
    replace: Mapping[str, str] | None = None,
    edit: Callable[[nbformat.NotebookNode], None] | None = None,
) -> nbformat.NotebookNode:
    """A student's version of a released notebook.

    ``answers`` fills answer cells (by grade_id; others stay blank); ``replace`` overwrites any
    cell's source (a student editing a locked test cell in a text editor); ``retype`` changes
    cell types (``{"q2_tests": "markdown"}``); ``delete`` removes cells by grade_id.
    """
    nb = nbformat.read(str(release_notebook), as_version=4)
    retype = dict(retype or {})
    replace = dict(replace or {})
    deleted = set(delete)
    cells = []
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in deleted:
            continue
        if gid in answers:
            cell.source = answers[gid]
        if gid in replace:
            cell.source = replace[gid]
        if gid in retype and retype[gid] != cell.cell_type:
            new_type = retype[gid]
            new = (nbformat.v4.new_markdown_cell if new_type == "markdown" else nbformat.v4.new_code_cell)(
                cell.source, id=cell.get("id"))
            new.metadata = cell.metadata
            cell = new
        cells.append(cell)
    nb.cells = cells
    if edit is not None:
        edit(nb)
    nbformat.validate(nb)
    return nb


def submit(course: Path, student: str, assignment: str, notebooks: Mapping[str, nbformat.NotebookNode]) -> Path:
    """Put a student's notebooks where `nbgrader collect` would: submitted/<student>/<assignment>/."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, str(folder / name))
    (folder / "timestamp.txt").write_text("2025-01-15 12:00:00.000000 UTC")
    return folder


# --------------------------------------------------------------------------- results


def read_grades(csv_path: Path) -> dict[tuple[str, str], tuple[float, float, bool]]:
    """``nbgrader export`` CSV -> {(assignment, student): (score, max_score, submitted)}.

    nbgrader exports a row for every student and assignment in the gradebook; a student who
    did not submit an assignment has no timestamp and a score of 0.
    """
    with open(csv_path, newline="") as handle:
        return {
            (row["assignment"], row["student_id"]): (float(row["score"]), float(row["max_score"]),
                                                     bool(row["timestamp"]))
            for row in csv.DictReader(handle)
        }


def cell_outputs_text(nb: nbformat.NotebookNode, gid: str) -> str:
    """All text output of the cell ``gid`` (streams, results, errors) as one string."""
    for cell in nb.cells:
        if grade_id(cell) == gid:
            parts = []
            for out in cell.get("outputs", []):
                if out.output_type == "stream":
                    parts.append(out.text)
                elif out.output_type == "error":
                    parts.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
                elif "data" in out:
                    parts.append(str(out.data.get("text/plain", "")))
            return "\n".join(parts)
    raise KeyError(gid)
