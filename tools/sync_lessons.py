"""Write ``course_utils/training.py`` from the lesson cells marked ``#@save``.

The recipes the course teaches (the small CNN, its augmentation and schedule, the new head on
bottlenecks, fine-tuning, the evaluation metrics) are written out in the open in lessons
05-07. A code cell whose first line is ``#@save`` is package code: this tool copies those
cells, in lesson order, below a fixed header into ``course_utils/training.py``, which
``course-retrain`` runs. Edit the lesson, then run::

    python tools/sync_lessons.py           # rewrite course_utils/training.py
    python tools/sync_lessons.py --check   # exit 1 if it differs from the lessons (CI)

Every notebook in ``notebooks/`` is scanned, so a new lesson can add ``#@save`` cells too.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.files import atomic_write  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
TARGET = ROOT / "course_utils" / "training.py"
MARKER = "#@save"

HEADER = '''"""The recipes the course teaches: the small CNN (layers, augmentation, schedule), the new
head on bottleneck features, fine-tuning, and the evaluation metrics.

GENERATED FILE: every function below is a code cell of a lesson marked ``#@save`` (the
comment above each one names the lesson). Edit the lesson, then run
``python tools/sync_lessons.py``; CI runs it with ``--check`` and fails on any difference.

Importing this module starts TensorFlow (quietly, through
:func:`course_utils.models.start_tensorflow`).
"""

from __future__ import annotations

import numpy as np

from course_utils import config, models

models.start_tensorflow()  # before Keras, so that TensorFlow's start-up notices stay hidden

import keras  # noqa: E402
from keras import layers  # noqa: E402
'''


def saved_cells(folder: Path = NOTEBOOKS) -> list[tuple[str, str]]:
    """``(notebook name, cell code without the marker)`` for every ``#@save`` cell, in lesson order."""
    cells = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            lines = cell.source.splitlines()
            if cell.cell_type == "code" and lines and lines[0].strip() == MARKER:
                cells.append((path.name, "\n".join(lines[1:]).strip("\n")))
    return cells


def render(cells: list[tuple[str, str]]) -> str:
    """The text of ``training.py`` for these cells (with ``__all__`` listing their public names)."""
    names = []
    for _, code in cells:
        for node in ast.parse(code).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                names.append(node.name)
    listed = "".join(f'    "{name}",\n' for name in sorted(names))
    parts = [HEADER, f"__all__ = [\n{listed}]\n"]
    for notebook, code in cells:
        parts.append(f"\n# --------------------------------------------------------------------------- "
                     f"notebooks/{notebook}\n\n{code}\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if course_utils/training.py is out of date")
    args = parser.parse_args(argv)
    cells = saved_cells()
    if not cells:
        print(f"error: no code cell in {NOTEBOOKS} starts with {MARKER}", file=sys.stderr)
        return 1
    text = render(cells)
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if args.check:
        if current == text:
            print(f"{TARGET.relative_to(ROOT)} matches the {len(cells)} {MARKER} cells of the lessons")
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(TARGET.relative_to(ROOT)),
                                    "from the lessons", lineterm="", n=1)
        print("\n".join(list(diff)[:60]))
        print(f"error: {TARGET.relative_to(ROOT)} differs from the {MARKER} cells of the lessons; "
              "run `python tools/sync_lessons.py` and commit the result", file=sys.stderr)
        return 1
    if current != text:
        atomic_write(TARGET, text)
    print(f"wrote {TARGET.relative_to(ROOT)} from {len(cells)} {MARKER} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
