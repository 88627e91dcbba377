"""nbgrader plug-ins that keep grading going when submissions are not what nbgrader expects.

Registered in the course's ``nbgrader_config.py`` (see docs/instructors.md):

- :class:`RepairGradeIds` (autograde, first sanitising step): a cell whose ``grade_id`` a
  student renamed or deleted gets its id back when it can be matched to the released notebook
  (by cell id, or by its unchanged source); one that cannot be matched loses its nbgrader
  metadata and becomes an ordinary cell, and the original test cell is put back. Without it
  nbgrader stops with ``KeyError: 'grade_id'`` and the whole submission scores 0.
- :class:`RepairingOverwriteCells` (autograde, sanitising step) tells real tampering apart
  from the expected: every test cell of every submission differs
  from the instructor's version (the hidden tests were cut from the release), so nbgrader's
  "checksum has changed" warning says nothing; this logs ``[course] TAMPERED`` only when a
  locked cell differs from the *released* version.
- :class:`TimeLimitedExecute` (autograde): a per-notebook time limit beside nbgrader's
  per-cell ``Execute.timeout``. Once a notebook has run ``notebook_timeout`` seconds, each
  remaining cell gets an error output instead of running, and scores zero.
- :class:`StrictValidator` (``nbgrader validate`` on the command line): exits with status 1
  when validation fails, and fails loudly when the set-up cell itself raised.
- :class:`PercentPerDayLate`: a late-submission penalty of ``percent_per_day`` (10 by
  default) of the score per started day late.

Log lines meant for the instructor start with ``[course]`` so that ``tools/grade.py`` can
collect them into its report.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, OverwriteCells
from nbgrader.validator import Validator
from traitlets import Float, Integer

TAG = "[course]"


def _nbgrader_meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _same_source(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def _released_cells(preprocessor: Any, resources: dict) -> dict[str, NotebookNode]:
    """The released notebook's cells that carry nbgrader metadata, by grade_id."""
    coursedir = CourseDirectory(config=preprocessor.config)
    assignment = resources["nbgrader"]["assignment"]
    notebook = resources["nbgrader"]["notebook"]
    path = Path(coursedir.format_path(coursedir.release_directory, ".", assignment)) / f"{notebook}.ipynb"
    if not path.is_file():
        preprocessor.log.warning("%s no released notebook at %s: locked cells are compared with the "
                                 "instructor's version only", TAG, path)
        return {}
    released = nbformat.read(str(path), as_version=4)
    return {m["grade_id"]: cell for cell in released.cells if (m := _nbgrader_meta(cell)).get("grade_id")}


class RepairGradeIds(NbGraderPreprocessor):
    """Give renamed cells their grade_id back, or make unknown ones ordinary cells.

    Runs first when autograding. A cell whose nbgrader ``grade_id`` is unknown to the gradebook
    (renamed, deleted, or the cell was copied from another notebook) gets the id of the released
    cell it matches -- by cell id, else by unchanged source -- when that id is not in the
    notebook already. Otherwise its nbgrader metadata is removed: it runs as an ordinary cell,
    and a test cell it replaced is put back by nbgrader (``OverwriteCells.add_missing_cells``).
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        student = resources["nbgrader"].get("student", "?")
        released = _released_cells(self, resources)
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            source = gb.find_notebook(resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"])
            known = {cell.name for cell in source.source_cells}
        by_cell_id = {cell.get("id"): gid for gid, cell in released.items() if cell.get("id")}
        present = {_nbgrader_meta(c).get("grade_id") for c in nb.cells} & known
        for cell in nb.cells:
            meta = _nbgrader_meta(cell)
            if not meta or meta.get("grade_id") in known:
                continue
            gid = meta.get("grade_id")
            guess = by_cell_id.get(cell.get("id"))
            if guess is None or guess in present:
                guess = next((name for name, rel in released.items()
                              if name in known and name not in present and _same_source(cell.source, rel.source)),
                             None)
            if guess is not None and guess not in present:
                what = f"cell id {gid!r} was renamed" if gid else "a cell lost its id"
                self.log.warning("%s student %s: %s; graded as %r (its id in the release)", TAG, student, what, guess)
                meta["grade_id"] = guess
                present.add(guess)
            else:
                self.log.warning("%s student %s: a cell with the unknown id %r is graded as an ordinary cell "
                                 "(a test cell it replaced is put back)", TAG, student, gid)
                del cell.metadata["nbgrader"]
                for key in ("deletable", "editable"):
                    cell.metadata.pop(key, None)
        return nb, resources


class RepairingOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells, reporting only real edits of locked cells as tampering."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self._student = resources["nbgrader"].get("student", "?")
        self._released = _released_cells(self, resources)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        self._current_source = cell.source
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name: str, attr: str, old: Any, new: Any) -> None:
        if attr == "checksum" and name in self._released:
            if _same_source(self._current_source, self._released[name].source):
                # The submitted cell is the released one: only the hidden tests differ.
                self.log.debug("%s %s: hidden tests put back (expected)", TAG, name)
                return
            self.log.warning("%s TAMPERED student %s: locked cell %s was edited; the original was graded",
                             TAG, self._student, name)
            return
        if attr == "cell_type":
            self.log.warning("%s TAMPERED student %s: cell %s was changed from %s to %s; changed back",
                             TAG, self._student, name, old, new)
        super().report_change(name, attr, old, new)


class TimeLimitedExecute(Execute):
    """nbgrader's Execute with a time limit for the whole notebook as well as for each cell."""

    notebook_timeout = Integer(
        240, help="Seconds one notebook may run in all (kernel start included); later cells are not run."
    ).tag(config=True)
    setup_timeout = Integer(
        180, help="Seconds the locked set-up cell (grade_id 'setup') may run: on a cold cache ps3's "
        "extracts bottleneck features. Instructor code, restored if edited; the notebook limit still applies."
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, *args: Any, **kwargs: Any):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._skipped = 0
        return super().preprocess(nb, resources, *args, **kwargs)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        remaining = getattr(self, "_deadline", math.inf) - time.monotonic()
        if remaining <= 0:
            if self._skipped == 0:
                self.log.warning("%s notebook time limit (%d s) reached: the remaining cells are not run",
                                 TAG, self.notebook_timeout)
            self._skipped += 1
            message = (f"the notebook ran past its time limit of {self.notebook_timeout} s while grading, "
                       "so this cell was not run")
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="NotebookTimeLimit", evalue=message,
                traceback=[f"\x1b[0;31mNotebookTimeLimit\x1b[0m: {message}"])]
            cell.execution_count = None
            return cell, resources
        saved = self.timeout
        limit = saved
        if limit is not None and cell.metadata.get("nbgrader", {}).get("grade_id") == "setup":
            limit = max(limit, self.setup_timeout)
        self.timeout = max(1, math.ceil(remaining if limit is None else min(limit, remaining)))
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            self.timeout = saved


class StrictValidator(Validator):
    """``nbgrader validate`` that exits with status 1 when the notebook fails.

    nbgrader's own validator exits 0 whatever it finds, and only looks at test cells: a set-up
    cell that fails (no data, no weights, a missing package) shows up as every test failing,
    with the cause buried. This one names the failing set-up cell first.
    """

    def _preprocess(self, nb: NotebookNode) -> NotebookNode:
        nb = super()._preprocess(nb)
        self._executed = nb
        return nb

    def _failed_setup(self) -> list[tuple[str, str]]:
        failed = []
        for cell in getattr(self, "_executed", NotebookNode(cells=[])).cells:
            meta = _nbgrader_meta(cell)
            if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
                for out in cell.get("outputs", []):
                    if out.output_type == "error":
                        failed.append((meta.get("grade_id", "?"), f"{out.ename}: {out.evalue}"))
        return failed

    def validate_and_print(self, filename: str) -> None:
        self._executed = None
        results = self.validate(filename)
        setup = self._failed_setup() if self._executed is not None else []
        if setup:
            lines = ["=" * self.width, "THE SET-UP CELL FAILED, so the tests below could not run properly:"]
            lines += [f"{self.indent}cell {gid}: {error}" for gid, error in setup]
            lines += ["Fix that first (docs/instructors.md explains grading offline).", "=" * self.width, ""]
            self.stream.write("\n".join(lines))
        # nbgrader's own report of these results (its validate_and_print would run the notebook again)
        self.validate = lambda _filename: results
        try:
            super().validate_and_print(filename)
        finally:
            del self.validate
        bad = results.get("type_changed") or (results.get("changed") and not self.ignore_checksums)
        bad = bad or (results.get("passed") if self.invert else results.get("failed"))
        if setup or bad:
            raise SystemExit(1)


def install_validator() -> None:
    """Make ``nbgrader validate`` (the command) use :class:`StrictValidator`."""
    import nbgrader.apps.validateapp as validateapp

    validateapp.Validator = StrictValidator


class PercentPerDayLate(LateSubmissionPlugin):
    """Late penalty: ``percent_per_day`` of the score for each started day after the due date."""

    percent_per_day = Float(10.0, help="Percent of the score taken off per started day late.").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        if total_seconds_late <= 0:
            return None
        days = math.ceil(total_seconds_late / 86400)
        penalty = min(score, score * self.percent_per_day / 100.0 * days)
        self.log.warning("%s student %s is %d day(s) late: %.0f%% off, penalty %.2f points",
                         TAG, student_id, days, min(100.0, self.percent_per_day * days), penalty)
        return penalty
