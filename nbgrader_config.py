"""nbgrader configuration for Pixels to Poets (see docs/instructors.md).

Run nbgrader from the repository root (the course directory):

    nbgrader generate_assignment ps1_pixels --force     # solutions/ -> exercises/
    nbgrader autograde ps1_pixels                       # submitted/ -> autograded/
    nbgrader generate_feedback ps1_pixels               # autograded/ -> feedback/
    nbgrader export                                     # gradebook -> grades.csv

To regenerate every released assignment exactly as CI checks it, use
``python tools/generate_exercises.py`` (it keeps the gradebook out of the repository).
"""

import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from course_utils.nbgrader_plugins import (
    PercentPerDayLate,
    RepairGradeIds,
    RepairingOverwriteCells,
    TimeLimitedExecute,
    install_validator,
)


class ShortErrorsInTestCells(NbGraderPreprocessor):
    """Feedback only: show an error in a test cell as its one-line message.

    A traceback quotes the source lines around the failing line, and in a test cell those can
    be hidden tests. The message itself (for the course's checks: what was expected and what
    was found) is kept; the autograded notebooks keep full tracebacks for the instructor.
    """

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"\x1b[0;31m{output.ename}\x1b[0m: {output.evalue}"]
        return cell, resources


c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# --------------------------------------------------------------------------- course layout
c.CourseDirectory.course_id = "pixels-to-poets"
# nbgrader's "source" (instructor versions: solutions and hidden tests) and "release"
# (student versions) steps live in the course's solutions/ and exercises/ folders.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# submitted/, autograded/, feedback/ and gradebook.db keep nbgrader's default names (all
# gitignored). Folders nbgrader never copies into a release:
# (grading_notes.txt: tools/grade.py's notes beside each autograded notebook, for the
# instructor, kept out of the feedback.)
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store",
                            "grading_notes.txt"]

# --------------------------------------------------------------------------- student version
# What replaces `### BEGIN SOLUTION ... ### END SOLUTION` in the exercises.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Replace this line with your answer, then run the tests below.")',
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --------------------------------------------------------------------------- autograding
# Seconds per cell. Grading runs in fast mode (course_utils.config.fast_mode() is true while
# NBGRADER_EXECUTION is set): small data, few epochs; every cell of a correct solution then
# takes a few seconds. A cell that runs longer (an endless loop, a huge training run) is
# interrupted and scored like a cell that raised; the other cells are still graded.
c.Execute.timeout = 60
# ... and seconds per notebook (kernel start included): a submission that loops in several
# cells costs at most this long; cells after the limit are not run and score zero.
c.TimeLimitedExecute.notebook_timeout = 240
# The locked set-up cell may take longer: on a cold cache ps3's extracts the bottleneck
# features of its photos once (later submissions read them from the cache).
c.TimeLimitedExecute.setup_timeout = 180
# nbgrader's steps, with two of the course's (course_utils/nbgrader_plugins.py):
# - RepairGradeIds: a renamed or deleted grade_id (a student copying cells, Colab) no longer
#   stops grading with KeyError: 'grade_id';
# - RepairingOverwriteCells: real edits of locked cells are logged as "[course] TAMPERED",
#   while the expected difference (hidden tests cut from the release) is not reported;
# - TimeLimitedExecute: the per-notebook limit above.
c.Autograde.sanitize_preprocessors = [
    RepairGradeIds, ClearOutput, DeduplicateIds, OverwriteKernelspec, RepairingOverwriteCells, CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    TimeLimitedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
# Late submissions (due dates: docs/instructors.md) lose 10% of their score per started day.
c.AssignLatePenalties.plugin_class = PercentPerDayLate
c.PercentPerDayLate.percent_per_day = 10.0
# Test cells a student deleted are put back (from the gradebook) and graded, with a note
# saying so, instead of silently scoring zero. Changed types and contents of test cells are
# always restored by nbgrader.
c.OverwriteCells.add_missing_cells = True
# nbgrader scores a test cell zero when it writes anything to standard error. TensorFlow's C++
# logging (absl) writes start-up and device messages there whenever it first needs them;
# drop those (and only those) from the graded notebook. The assignments also start
# TensorFlow in their set-up cell, and course_utils.grading.install() sends Python warnings
# to standard output, so real errors still fail a cell.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\] )"
)

# Single-threaded BLAS in the grading kernels: NumPy/scikit-learn's OpenBLAS threads
# busy-wait and can slow a small fit down 50-fold when the CPUs are shared (several kernels,
# or other jobs on a 2-core runner). Kernels inherit this process's environment.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# --------------------------------------------------------------------------- validate
# `nbgrader validate` exits with status 1 when a notebook fails, and names a failing set-up
# cell first; what Validate says when a student edited a locked test cell:
install_validator()
c.Validator.changed_warning = (
    "THE CONTENTS OF {num_changed} LOCKED TEST CELL(S) WERE EDITED. Grading ignores such edits "
    "and runs the original test cells (with hidden checks), so passing here says little. Undo the "
    "edits, or copy your answers into a fresh copy of the notebook.\n"
)

# --------------------------------------------------------------------------- feedback
# nbgrader shows hidden tests in feedback by default; this course keeps them hidden so that
# assignments can be reused: they are cut from the test cells, and errors in test cells are
# shown as their message without the traceback (which would quote nearby hidden lines).
# Students still see every failure message (the course's checks never quote hidden expected
# values). Delete this line to show hidden tests and full tracebacks in feedback.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, ShortErrorsInTestCells, CSSHTMLHeaderPreprocessor]

# --------------------------------------------------------------------------- exchange
# For a class on a shared JupyterHub, point every user's config at one exchange folder
# (see docs/instructors.md), for example in /etc/jupyter/nbgrader_config.py:
#     c.Exchange.root = "/srv/nbgrader/exchange"
#     c.CourseDirectory.root = "/home/instructor/pixels-to-poets"
