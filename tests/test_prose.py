"""The lessons' prose against the facts: no measured number typed into Markdown, benchmark
figures quoted as the range ``benchmarks/results.json`` holds, and the README's syllabus times
and assignment timing agreeing with the notebooks.

A number a student is about to see must be printed by the code; a number from elsewhere must be
the benchmark's measured range, and say so. The detector below looks for numbers with a unit of
measurement (%, seconds, minutes, MB, photos, epochs, weights, ...) in the Markdown cells of the
lessons; code spans are skipped (they are the code's own constants). Every remaining hit must be
a quoted benchmark range (checked against ``results.json``) or in ``ALLOWED`` with its reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RESULTS = json.loads((ROOT / "benchmarks" / "results.json").read_text())

NUM = r"(?<![\w.])\d[\d,.]*"
UNIT = (r"(?:\s?%|\s?(?:s|seconds?|ms|minutes?|min|hours?)\b|\s?(?:MB|GB|KB|MiB|GiB)\b"
        r"|\s(?:(?:training|validation|test|held-out|new|decoded|flower|ImageNet)\s)?(?:photos?|images?)\b"
        r"|\s(?:epochs?|weights|parameters|points)\b|\stimes\s(?:faster|slower|more|fewer|cheaper))")
MEASURE = re.compile(NUM + UNIT)

#: (lesson number, the number as the detector finds it) -> why it may stand in the prose
ALLOWED: dict[tuple[str, str], str] = {
    ("00", "218 MB"): "size of the published archive, a constant of the download (data.py checks its checksum)",
    ("00", "92 MB"): "size of the published Inception V3 weights file, a constant of the download",
    ("00", "100 %"): "arithmetic: probabilities add up to 100 %",
    ("01", "1,797 images"): "size of scikit-learn's digits dataset, a constant of the dataset (printed below it)",
    ("01", "8 image"): "the digits' image size, a constant of the dataset",
    ("01", "64 weights"): "arithmetic: one weight per pixel of an 8 x 8 image",
    ("02", "100 %"): "the top of the accuracy scale, not a measurement",
    ("03", "6 image"): "the size of the hand-made example image, a constant of the code",
    ("03", "8 image"): "the digits' image size, a constant of the dataset",
    ("03", "9 weights"): "arithmetic: a 3 x 3 kernel",
    ("03", "16 weights"): "arithmetic of the layer shapes (the summary prints the same counts)",
    ("03", "3 weights"): "part of '3 x 3 weights', the kernel size",
    ("04", "90 %"): "a hypothetical class share in an example, not a measurement",
    ("04", "10 %"): "the split's configured percentages, constants of the code",
    ("04", "80 %"): "the split's configured percentages, constants of the code",
    ("04", "100 images"): "advice (about 100 per class) and the sizes of the learning-curve experiment, constants",
    ("04", "3 photo"): "part of '4:3 photo', an aspect ratio",
    ("04", "2 GB"): "Binder's memory limit, a property of the service",
    ("05", "17,500 weights"): "arithmetic: 128*9 + 128*128",
    ("05", "5 weights"): "arithmetic: 256 x 5 head weights",
    ("05", "10 %"): "RandomRotation(0.1) means 10 % of a full turn: the code's constant",
    ("05", "20 %"): "RandomZoom(0.2): the code's constant",
    ("05", "40 %"): "Dropout(0.4): the code's constant",
    ("05", "92 %"): "arithmetic of label_smoothing=0.1 over five classes",
    ("05", "2 %"): "arithmetic of label_smoothing=0.1 over five classes",
    ("05", "100 %"): "a one-hot target, not a measurement",
    ("06", "90 MB"): "size of the published Inception V3 weights file, a constant of the download",
    ("06", "299 photos"): "part of '299 x 299 photos', the network's input size",
    ("06", "2 GB"): "Binder's memory limit, a property of the service",
    ("06", "5 weights"): "arithmetic: 2,048 x 5 head weights",
    ("06", "20 photos"): "an exercise's suggested setting",
    ("07", "80 %"): "a rhetorical example and an exercise's target, not a measurement",
    ("07", "90 %"): "a rhetorical example of a confidence, not a measurement",
    ("07", "100 %"): "the top of the accuracy scale, not a measurement",
    ("08", "100 photos"): "advice: about 100 photos per class to start",
    ("08", "80 %"): "the split's configured percentages, constants of the code",
    ("08", "10 %"): "the split's configured percentages, constants of the code",
}

def _lesson_seconds(stem: str, mode: str = "full") -> dict:
    entry = RESULTS["lessons"][stem][mode]
    return {**entry["seconds"], "seeds": entry.get("seeds", [])}


#: lessons whose headers also quote their two-core time (three seeds each; lessons 00, 07 and 08 quote no time)
TWO_CORE_QUOTED = ("01_pixels_as_features", "02_first_neural_network", "03_cnn_from_scratch", "04_preparing_image_data",
                   "05_cnn_on_flowers", "06_retraining_inception")


def _extraction_speed() -> dict:
    runs = RESULTS["extraction"]["runs"]
    speeds = [run["images_per_second"] for run in runs]
    return {"min": min(speeds), "max": max(speeds), "runs": len(speeds), "seeds": [run.get("seed") for run in runs]}


def _ladder_accuracy(key: str) -> dict:
    row = next(r for r in RESULTS["ladder"]["rows"] if r["key"] == key)
    acc = row["accuracy"]
    return {"min": 100 * acc["min"], "max": 100 * acc["max"], "runs": acc["runs"], "seeds": row.get("seeds", [])}


#: benchmark figures quoted in a lesson: (lesson file stem, where in results.json, its range, the wording)
QUOTED: list[tuple[str, str, dict, str]] = [
    (stem, f"lessons/{stem}/full-1cpu/seconds", _lesson_seconds(stem, "full-1cpu"),
     "between {min:.0f} and {max:.0f} s on one core")
    for stem in ("01_pixels_as_features", "02_first_neural_network", "03_cnn_from_scratch",
                 "04_preparing_image_data", "05_cnn_on_flowers", "06_retraining_inception")
] + [
    (stem, f"lessons/{stem}/full/seconds", _lesson_seconds(stem), "between {min:.0f} and {max:.0f} s on two cores")
    for stem in TWO_CORE_QUOTED
] + [
    ("06_retraining_inception", "extraction/runs/*/images_per_second", _extraction_speed(),
     "between {min:.1f} and {max:.1f} photos per second"),
    ("05_cnn_on_flowers", "ladder/cnn_augmented/accuracy", _ladder_accuracy("cnn_augmented"),
     "between {min:.1f} and {max:.1f} %"),
]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def markdown(path: Path) -> list[str]:
    return [" ".join("".join(c["source"]).split()) for c in cells(path) if c["cell_type"] == "markdown"]


def measured_numbers(text: str) -> list[str]:
    text = re.sub(r"`[^`]*`", "``", text)  # code spans hold the code's own constants
    text = re.sub(r"\]\([^)]*\)", "]()", text)  # link targets
    return [m.group(0) for m in MEASURE.finditer(text)]


def quoted(stem: str) -> list[str]:
    return [fmt.format(**figures) for s, _, figures, fmt in QUOTED if s == stem]


def header_minutes(path: Path) -> int:
    match = re.search(r"\*\*Estimated time:\*\* (\d+) minutes", "".join(cells(path)[0]["source"]))
    assert match, f"{path.name}: the first cell has no '**Estimated time:** N minutes'"
    return int(match.group(1))


def test_measured_numbers_detector_finds_typed_results():
    assert measured_numbers("the augmented network got **80 %** of the 234 test photos right") == ["80 %", "234 test photos"]
    assert measured_numbers("an epoch takes 16 s; extraction manages 10 to 16 photos per second") == ["16 s", "16 photos"]
    assert measured_numbers("`Dropout(0.4)` and `IMAGE_SIZE = 96`") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_measured_number_typed_into_lesson_prose(path: Path):
    lesson = path.stem[:2]
    problems = []
    for text in markdown(path):
        for quote in quoted(path.stem):
            text = text.replace(quote, "(quoted benchmark range)")
        text = re.sub(r"\*\*Estimated time:\*\* \d+ minutes", "", text)  # checked against the README below
        problems += [hit for hit in measured_numbers(text) if (lesson, hit) not in ALLOWED]
    assert not problems, (
        f"{path.name}: numbers typed into the prose {problems}. Print them from the code, or quote the "
        "benchmark's measured range (QUOTED in this file); constants and arithmetic go into ALLOWED with a reason.")


@pytest.mark.parametrize(("stem", "where", "figures", "fmt"), QUOTED, ids=[q[1] for q in QUOTED])
def test_quoted_benchmark_ranges_match_results_json(stem: str, where: str, figures: dict, fmt: str):
    seeds = {seed for seed in figures["seeds"] if seed is not None}
    assert len(seeds) >= 3 and figures["runs"] == len(figures["seeds"]), (
        f"{where}: a quoted range must be measured over at least three seeds, one run each; results.json "
        f"records seeds {figures['seeds']} for {figures['runs']} run(s). Run benchmarks/run.py (its --seeds).")
    text = " ".join(markdown(ROOT / "notebooks" / f"{stem}.ipynb"))
    wording = fmt.format(**figures)
    assert wording in text, f"{stem}: the prose should quote {wording!r} (from results.json {where})"
    sentence = text[max(0, text.index(wording) - 200): text.index(wording) + 200]
    assert "benchmark" in sentence, f"{stem}: the quoted range {wording!r} must say it comes from the benchmark"
    assert "three seeds" in sentence, f"{stem}: the quoted range {wording!r} must say it spans three seeds"


def test_allowed_entries_are_still_used():
    used = set()
    for path in NOTEBOOKS:
        for text in markdown(path):
            used |= {(path.stem[:2], hit) for hit in measured_numbers(text)}
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f"ALLOWED entries no lesson uses any more (remove them): {stale}"


def readme_syllabus() -> dict[str, int]:
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\d\d) \| \[[^]]+\]\(notebooks/(\d\d_\w+)\.ipynb\) \|.*\| (\d+) min \|$", readme, re.M)
    assert rows, "README.md: no syllabus table found"
    return {stem: int(minutes) for _, stem, minutes in rows}


def test_readme_lesson_times_match_the_notebook_headers():
    syllabus = readme_syllabus()
    assert sorted(syllabus) == sorted(p.stem for p in NOTEBOOKS)
    disagree = {p.stem: (syllabus[p.stem], header_minutes(p)) for p in NOTEBOOKS if syllabus[p.stem] != header_minutes(p)}
    assert not disagree, f"README minutes vs notebook header minutes: {disagree}"


def _lessons_named(text: str) -> set[int]:
    """Lesson numbers in '01-02', '03 to 05', '01 and 02', '06 and 07'."""
    found: set[int] = set()
    for a, b in re.findall(r"(\d\d)\s*(?:-|to)\s*(\d\d)", text):
        found |= set(range(int(a), int(b) + 1))
    found |= {int(n) for n in re.findall(r"\b(\d\d)\b", text)}
    return found


def test_readme_lesson_00_and_the_assignments_agree_on_when_each_assignment_fits():
    readme = (ROOT / "README.md").read_text()
    welcome = "".join("".join(c["source"]) for c in cells(ROOT / "notebooks" / "00_welcome.ipynb"))
    for ps in ("ps1_pixels", "ps2_cnn", "ps3_transfer"):
        in_readme = re.search(rf"`{ps}` \(after (?:lessons )?([^)]*)\)", readme)
        in_welcome = re.search(rf"`{ps}`: after lessons? ([^(;\n]*)", welcome)
        assert in_readme and in_welcome, ps
        assert _lessons_named(in_readme.group(1)) == _lessons_named(in_welcome.group(1)), (
            ps, in_readme.group(1), in_welcome.group(1))
        header = "".join(cells(ROOT / "solutions" / ps / f"{ps}.ipynb")[0]["source"])
        in_assignment = re.search(r"\*After lessons? ([^·*]*)", header)
        assert in_assignment, f"solutions/{ps}: no '*After lessons ...' in its first cell"
        assert _lessons_named(in_assignment.group(1)) == _lessons_named(in_readme.group(1)), (
            ps, in_assignment.group(1), in_readme.group(1))


def test_readme_benchmark_figures_are_the_latest_results():
    """The README's figures are generated from results.json; a stale block means someone edited one side only."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmark_run", ROOT / "benchmarks" / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    readme = (ROOT / "README.md").read_text()
    assert run.README_START in readme and run.README_END in readme, "the README lost its benchmark markers"
    block = readme.split(run.README_START, 1)[1].split(run.README_END, 1)[0]
    assert block == "\n" + run.render_readme(RESULTS), (
        "README's benchmark block differs from benchmarks/results.json: run `python benchmarks/run.py --render`")
