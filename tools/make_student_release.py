#!/usr/bin/env python
"""Build the student-facing copy of the course: everything a student needs, no answers.

Usage, from anywhere inside the (private) instructor repository::

    python tools/make_student_release.py OUT_DIR [--repo OWNER/NAME] [--branch main]

``OUT_DIR`` must not exist or be empty; it receives the lessons (``notebooks/``), the
released assignments (``exercises/``, exactly as nbgrader generated them), the helper package
(``course_utils/``), ``binder/``, ``requirements.txt``, ``pyproject.toml`` and a student
README. It never receives ``solutions/``, the tests, ``nbgrader_config.py``, the tools or the
instructor docs. Publish ``OUT_DIR`` as its own repository; with ``--repo`` the lessons'
and the README's Binder and Colab badges (and Colab's install line) point at it.

The exercises are copied byte for byte so that grading (against the instructor's gradebook)
sees the notebooks it released; if their badges point at another repository, the tool says
how to change that in ``solutions/`` and regenerate.

Before finishing, the tool checks the copy: no ``### BEGIN SOLUTION`` or hidden-test marker
line and no solution's or hidden test's code anywhere, and in ``exercises/`` no line that
only occurs inside a solution or a hidden test of ``solutions/``.
It exits 1 (and removes the half-built copy) if anything leaked.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_REPO = "pixels-to-poets/pixels-to-poets"
COPIED = ["notebooks", "exercises", "course_utils", "binder", "requirements.txt", "pyproject.toml"]
OPTIONAL = ["LICENSE", "LICENSE.txt", "LICENSE.md"]
_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", "*.egg-info")
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)


def _regions(solutions: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(secret lines -> notebook, secret regions -> notebook) of the instructor's notebooks.

    A secret line (12+ characters) occurs only inside solution or hidden-test regions; a
    secret region is a whole region's code, whitespace collapsed (40+ characters).
    """
    inside: dict[str, str] = {}
    outside: set[str] = set()
    regions: dict[str, str] = {}
    for path in sorted(solutions.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for cell in nbformat.read(str(path), as_version=4).cells:
            for match in _REGION.finditer(cell.source):
                code = " ".join(match.group(2).split())
                if len(code) >= 40:
                    regions.setdefault(code, path.name)
                for line in match.group(2).splitlines():
                    inside.setdefault(line.strip(), path.name)
            outside.update(line.strip() for line in _REGION.sub("", cell.source).splitlines())
    lines = {line: nb for line, nb in inside.items() if len(line) >= 12 and line not in outside}
    return lines, regions


def leaks(release: Path, solutions: Path) -> list[str]:
    """What in ``release`` gives away a solution or a hidden test (empty when nothing does).

    Everywhere: a line that starts with an nbgrader solution or hidden-test marker, and the
    whole code of any solution or hidden-test region. In exercises/ also any single line
    that only occurs inside those regions.
    """
    found = []
    if (release / "solutions").exists():
        found.append("solutions/ is in the release")
    secret_lines, regions = _regions(solutions)
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(release)
        if path.suffix == ".ipynb":
            text = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        lines = {line.strip() for line in text.splitlines()}
        found += [f"{rel}: contains {marker!r}" for marker in MARKERS
                  if any(line.startswith(marker) for line in lines)]
        flat = " ".join(text.split())
        found += [f"{rel}: contains a whole solution or hidden test of {nb}: {code[:60]!r}..."
                  for code, nb in regions.items() if code in flat]
        if rel.parts[0] == "exercises":
            found += [f"{rel}: contains a line of the {secret_lines[line]} solution: {line!r}"
                      for line in sorted(lines & set(secret_lines))]
    return found


def student_readme(repo: str, branch: str, lessons: list[str], exercises: list[str]) -> str:
    binder = f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/notebooks"
    colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/00_welcome.ipynb"
    lines = [
        "# Pixels to Poets — image classification, from pixels to a retrained Inception V3",
        "",
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder}) "
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})",
        "",
        "Open the course on Binder or Colab with the badges above, or on your own machine:",
        "",
        "```bash",
        "python -m pip install -r requirements.txt",
        "jupyter lab notebooks/00_welcome.ipynb",
        "```",
        "",
        "## Lessons (`notebooks/`)",
        "",
        *[f"- `{name}`" for name in lessons],
        "",
        "## Graded exercises (`exercises/`)",
        "",
        *[f"- `{name}`" for name in exercises],
        "",
        "Write your answers where a cell says `# YOUR CODE HERE`. Cells marked",
        "`# 🔒 LOCKED TEST CELL` check your work: do not edit them (grading runs the originals, with",
        "more checks on data you have not seen). Before handing in, restart the kernel and run all",
        "cells, or press *Validate* in JupyterLab. Your instructor says how to hand in.",
        "",
    ]
    return "\n".join(lines)


def build(out: Path, repo: str | None, branch: str, root: Path = ROOT) -> list[str]:
    """Build the release in ``out``; return notes for the instructor. Raises SystemExit on leaks."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: choose a new folder (nothing was written)")
    if out.resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"{out} is inside the course repository: choose a folder outside it")
    notes: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".student-release-", dir=out.parent))
    try:
        for name in COPIED + [n for n in OPTIONAL if (root / n).exists()]:
            source = root / name
            if not source.exists():
                raise SystemExit(f"{source} is missing: run this from a complete course checkout")
            if source.is_dir():
                shutil.copytree(source, staging / name, ignore=_IGNORE)
            else:
                shutil.copy2(source, staging / name)
        slug = repo or ORIGINAL_REPO
        if repo:
            for path in [*(staging / "notebooks").glob("*.ipynb"), *(staging / "course_utils").rglob("*.py")]:
                text = path.read_text(encoding="utf-8")
                if ORIGINAL_REPO in text:
                    path.write_text(text.replace(ORIGINAL_REPO, repo), encoding="utf-8")
            stale = sorted(str(p.relative_to(staging)) for p in (staging / "exercises").rglob("*.ipynb")
                           if ORIGINAL_REPO in p.read_text(encoding="utf-8"))
            if stale and repo != ORIGINAL_REPO:
                notes.append(
                    f"the exercises' badges still point at {ORIGINAL_REPO} ({', '.join(stale)}). They are copied "
                    "unchanged so that grading matches; to change them, in your private copy replace "
                    f"'{ORIGINAL_REPO}' by '{repo}' in solutions/*/*.ipynb, run "
                    "`python tools/generate_exercises.py`, commit, and build the release again.")
        lessons = sorted(p.name for p in (staging / "notebooks").glob("*.ipynb"))
        exercises = sorted(str(p.relative_to(staging / "exercises")) for p in (staging / "exercises").rglob("*.ipynb"))
        (staging / "README.md").write_text(student_readme(slug, branch, lessons, exercises), encoding="utf-8")
        problems = leaks(staging, root / "solutions")
        if problems:
            raise SystemExit("the release would give answers away (nothing was written):\n  " + "\n  ".join(problems))
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="a new (or empty) folder for the release, outside the repository")
    parser.add_argument("--repo", help="OWNER/NAME of the public student repository (for the badges)")
    parser.add_argument("--branch", default="main", help="its branch (default: main)")
    args = parser.parse_args(argv)
    if args.repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repo):
        parser.error(f"--repo should look like OWNER/NAME, found {args.repo!r}")
    notes = build(args.out, args.repo, args.branch)
    print(f"wrote the student release to {args.out} (no solutions, no hidden tests: checked)")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
