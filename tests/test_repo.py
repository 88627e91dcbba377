"""Repository hygiene: the layout, Binder in sync with requirements, stripped notebooks."""

from __future__ import annotations

import json
import re
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_layout_is_complete():
    for name in ("README.md", "requirements.txt", "notebooks", "solutions", "exercises", "course_utils",
                 "tests", "binder", "nbgrader_config.py", "pyproject.toml", ".ci/run"):
        assert (ROOT / name).exists(), f"{name} is missing"


def _requirements(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_binder_requirements_match_student_requirements():
    assert _requirements(ROOT / "binder" / "requirements.txt") == _requirements(ROOT / "requirements.txt")


def test_binder_postbuild_prefetches_data_and_weights():
    text = (ROOT / "binder" / "postBuild").read_text()
    assert "course_utils.prefetch" in text
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_requirements_cover_the_package_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!\[ ]", r)[0].lower() for r in _requirements(ROOT / "requirements.txt")}
    for dep in project["dependencies"]:
        assert re.split(r"[<>=!\[ ]", dep)[0].lower() in names, f"{dep} missing from requirements.txt"
    assert "tensorflow" in names and "jupyterlab" in names


def test_readme_documents_commands_variables_and_syllabus():
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r requirements.txt && jupyter lab notebooks/" in readme
    command = "python -m pytest"
    assert f'pip install -r requirements.txt -e ".[test]" && {command}' in readme
    ci = (ROOT / ".ci" / "run").read_text()
    # CI installs the README's requirements with uv's pip interface (pip where uv is unavailable)
    assert '$installer install -q $compile -r requirements.txt -e ".[test]"' in ci and f"\n{command}\n" in ci
    assert 'installer="pip"' in ci and 'installer="uv pip"' in ci and 'compile="--compile-bytecode"' in ci
    for var in ("COURSE_DATA_DIR", "COURSE_FAST", "COURSE_ALLOW_RANDOM_WEIGHTS"):
        assert var in readme
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{nb.name}" in readme, f"{nb.name} missing from the README's syllabus"


def test_lessons_are_numbered_in_order_and_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks, "no lesson notebooks found in notebooks/"
    assert [nb.name[:2] for nb in notebooks] == [f"{i:02d}" for i in range(len(notebooks))], \
        "lessons are numbered 00, 01, ... without gaps"
    for nb in notebooks:
        cells = json.loads(nb.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{nb.name} has stored outputs"
                assert cell.get("execution_count") is None, f"{nb.name} has execution counts"


def test_no_large_or_binary_data_files_are_committed():
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for name in files:
        assert not name.endswith((".h5", ".keras", ".npz", ".npy", ".tgz", ".jpg", ".jpeg", ".png")), name
        path = ROOT / name
        if path.is_file():
            assert path.stat().st_size < 1_000_000, f"{name} is over 1 MB"
