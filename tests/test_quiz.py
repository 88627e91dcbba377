"""Tests of the quiz module and of every question bank's structure (no TensorFlow needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from course_utils import quiz as qz
from course_utils.quiz import (
    Question,
    Quiz,
    QuizFormatError,
    answer,
    check,
    load_bank,
    option_order,
    show_quiz,
)

ROOT = Path(__file__).resolve().parents[1]
BANK_DIR = ROOT / "course_utils" / "quizzes"
#: The lessons, discovered from the notebooks: adding a lesson is a notebook plus its bank.
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def raw_bank(lesson: str) -> dict:
    with open(BANK_DIR / f"{lesson}.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def all_questions() -> list[Question]:
    return [q for lesson in LESSONS for q in load_bank(lesson)]


SMALL = {
    "lesson": "99_test",
    "title": "Test quiz",
    "questions": [
        {
            "id": "t-single",
            "text": "Pick `b` and $x^2$",
            "options": [
                {"text": "alpha", "correct": False, "feedback": "alpha is wrong because A."},
                {"text": "beta", "correct": True, "feedback": "beta is right because B."},
                {"text": "gamma", "correct": False, "feedback": "gamma is wrong because C."},
            ],
        },
        {
            "id": "t-multi",
            "text": "Pick a and c",
            "multiple": True,
            "options": [
                {"text": "one", "correct": True, "feedback": "one is right."},
                {"text": "two", "correct": False, "feedback": "two is wrong."},
                {"text": "three", "correct": True, "feedback": "three is right."},
                {"text": "four", "correct": False, "feedback": "four is wrong."},
            ],
        },
    ],
}


@pytest.fixture
def small() -> Quiz:
    return Quiz.from_dict(SMALL)


@pytest.fixture(autouse=True)
def _fresh_scores(tmp_path, monkeypatch):
    """Every test starts with no answers, saved in its own folder."""
    monkeypatch.setenv("COURSE_QUIZ_PROGRESS", str(tmp_path / "quiz-progress"))
    qz._SCOREBOARDS.clear()
    yield
    qz._SCOREBOARDS.clear()


# --------------------------------------------------------------------------- bank schema


def test_one_bank_per_lesson_and_nothing_else():
    assert LESSONS, "no lesson notebooks found in notebooks/"
    files = sorted(p.stem for p in BANK_DIR.glob("*.yaml"))
    assert files == LESSONS, "every notebooks/NN_name.ipynb needs course_utils/quizzes/NN_name.yaml and vice versa"
    assert qz.lessons() == LESSONS


@pytest.mark.parametrize("lesson", LESSONS)
def test_bank_schema(lesson: str):
    data = raw_bank(lesson)
    assert set(data) == {"lesson", "title", "questions"}
    assert data["lesson"] == lesson
    assert isinstance(data["title"], str) and data["title"].strip()
    questions = data["questions"]
    assert len(questions) >= 4, f"{lesson} has only {len(questions)} questions"
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), f"duplicate ids in {lesson}: {ids}"
    for q in questions:
        assert q["id"].startswith(f"q{lesson[:2]}-"), q["id"]
        assert set(q) <= {"id", "text", "multiple", "claim", "options"}, q["id"]
        assert isinstance(q["text"], str) and q["text"].strip(), q["id"]
        multiple = q.get("multiple", False)
        assert isinstance(multiple, bool)
        options = q["options"]
        assert len(options) >= 3, q["id"]
        correct = [o["correct"] for o in options]
        assert all(isinstance(c, bool) for c in correct), q["id"]
        assert sum(correct) >= 1, f"{q['id']} has no correct option"
        if multiple:
            assert sum(correct) >= 2 or sum(correct) < len(options), q["id"]
        else:
            assert sum(correct) == 1, f"single-answer {q['id']} has {sum(correct)} correct options"
        for o in options:
            assert set(o) == {"text", "correct", "feedback"}, (q["id"], o)
            assert str(o["text"]).strip(), q["id"]
            assert isinstance(o["feedback"], str) and len(o["feedback"].strip()) >= 20, (
                f"{q['id']}: option {o['text']!r} needs real feedback"
            )
    # the parser agrees with the schema
    assert len(load_bank(lesson)) == len(questions)


def test_ids_unique_across_all_banks_and_enough_questions():
    ids = [q.id for q in all_questions()]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, dupes
    assert len(ids) >= 36


@pytest.mark.parametrize("lesson", LESSONS)
def test_right_answer_is_not_always_in_the_same_place(lesson: str):
    # text mode shows options in bank order, so "always a)" would give answers away
    positions = {q.correct_indices[0] for q in load_bank(lesson) if not q.multiple}
    assert len(positions) >= 2, f"{lesson}: every single-answer question has its answer at {positions}"


def test_both_kinds_of_question_exist():
    kinds = Counter(q.multiple for q in all_questions())
    assert kinds[True] >= 5 and kinds[False] >= 20


@pytest.mark.parametrize(
    ("qid", "needles"),
    [
        ("q00-what-for", ["label"]),
        ("q03-declare-input", ["keras.Input(shape="]),
        ("q03-no-input", ["unbuilt", "first batch"]),
        ("q02-random-labels", ["1/K", "memorises"]),
        ("q05-small-data", ["RandomFlip", "RandomRotation"]),
        ("q06-why-less", ["pretrained", "head"]),
        ("q07-precision-recall", ["precision", "recall"]),
    ],
)
def test_required_topics_are_covered(qid: str, needles: list[str]):
    q = next(q for q in all_questions() if q.id == qid)
    corpus = q.text + " ".join(o.text + " " + o.feedback for o in q.options)
    for needle in needles:
        assert needle.lower() in corpus.lower(), (qid, needle)


def test_keras3_traps_are_answered_correctly_in_the_banks():
    q = load_bank("03")["q03-no-input"]
    correct_texts = " ".join(q.options[i].text for i in q.correct_indices)
    wrong_texts = " ".join(o.text for o in q.options if not o.correct)
    assert "fit(...)` works" in correct_texts
    assert "raises a `ValueError`" in wrong_texts
    r = load_bank("02")["q02-random-labels"]
    right = [r.options[i].text for i in r.correct_indices]
    assert any("held-out" in t and "1/K" in t for t in right)
    assert any("Training accuracy can climb" in t for t in right)


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("key", ["03", 3, "3", "03_cnn_from_scratch", "03_cnn_from_scratch.yaml"])
def test_load_bank_accepts_many_spellings(key):
    quiz = load_bank(key)
    assert quiz.lesson == "03_cnn_from_scratch"
    assert quiz.number == "03"


def test_load_bank_path_and_errors(tmp_path):
    path = tmp_path / "42_custom.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "lesson": "42_custom"}), encoding="utf-8")
    assert load_bank(path).lesson == "42_custom"
    with pytest.raises(FileNotFoundError, match="available: 00_welcome"):
        load_bank(42)
    with pytest.raises(TypeError):
        load_bank(3.5)  # type: ignore[arg-type]


def _broken(mutate) -> dict:
    import copy

    data = copy.deepcopy(SMALL)
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["questions"][0]["options"][0].pop("feedback"), "feedback"),
        (lambda d: d["questions"][0]["options"][0].update(correct=True), "exactly one correct"),
        (lambda d: [o.update(correct=False) for o in d["questions"][1]["options"]], "no option is marked"),
        (lambda d: d["questions"][1].update(id="t-single"), "duplicate id"),
        (lambda d: d["questions"][0].update(mutiple=True), "unknown keys"),
        (lambda d: d.update(lesson="quiz"), "lesson"),
        (lambda d: d["questions"][0]["options"][0].update(correct="yes"), "true or false"),
    ],
)
def test_malformed_banks_are_rejected(mutate, message):
    with pytest.raises(QuizFormatError, match=message):
        Quiz.from_dict(_broken(mutate))


# --------------------------------------------------------------------------- check / answer


def test_check_single_answer_by_index_letter_and_text(small):
    q = small["t-single"]
    for choice in (1, "b", "B", "b)", "beta", " Beta "):
        result = check(q, choice)
        assert result.correct, choice
        assert result.selected == (1,)
        assert result.message == "Correct!"
        assert result.feedback[0].feedback == "beta is right because B."
    wrong = check(q, "a")
    assert not wrong.correct
    assert [f.text for f in wrong.feedback] == ["alpha"]
    assert "alpha is wrong because A." in wrong.text()
    assert "Not quite" in wrong.message and wrong.missed == 1


def test_check_multi_answer_needs_exactly_the_correct_set(small):
    q = small["t-multi"]
    assert check(q, ["a", "c"]).correct
    assert check(q, "c,a").correct
    assert check(q, [0, "three"]).correct
    valid_same = load_bank("03")["q03-valid-same"]  # an option text with commas is not split
    assert check(valid_same, valid_same.options[0].text).selected == (0,)
    partial = check(q, ["a"])
    assert not partial.correct and partial.missed == 1
    assert "you missed 1 correct option" in partial.message
    extra = check(q, ["a", "b", "c"])
    assert not extra.correct and extra.missed == 0
    assert "1 of your choices is wrong" in extra.message
    assert {f.letter: f.correct for f in extra.feedback} == {"a": True, "b": False, "c": True}


@pytest.mark.parametrize("bad", [[], None, "z", 7, -1, True, ["a", "b"], 1.5])
def test_check_rejects_bad_choices(small, bad):
    with pytest.raises(ValueError):
        check(small["t-single"], bad)


def test_every_bank_question_is_right_only_with_its_correct_options():
    for q in all_questions():
        assert check(q, q.correct_indices).correct, q.id
        for i, option in enumerate(q.options):
            if not option.correct:
                assert not check(q, [i]).correct, q.id
                if q.multiple:
                    assert not check(q, [*q.correct_indices, i]).correct, q.id
        if q.multiple and len(q.correct_indices) > 1:  # "all that apply" may have one right option
            assert not check(q, q.correct_indices[:1]).correct, q.id


def test_answer_prints_feedback_and_keeps_score(small, capsys):
    answer(small, "t-single", "a")
    out = capsys.readouterr().out
    assert "[t-single] Not quite" in out and "alpha is wrong because A." in out
    answer(small, "t-single", "b")
    assert "Correct!" in capsys.readouterr().out
    answer(small, "t-multi", ["a", "c"])
    capsys.readouterr()
    result = qz.score(small)
    assert capsys.readouterr().out == ""  # shown once, as the cell's result, not printed too
    assert (result.correct, result.first_try, result.answered, result.total) == (2, 1, 2, 2)
    assert "Quiz 99 (Test quiz): Score: 2 / 2 correct, 1 on the first try" in repr(result)


def test_answer_is_forgiving_about_mistakes(small, capsys):
    answer(small, "nope", "a")
    assert "no question 'nope'" in capsys.readouterr().out
    answer(small, "t-single", "q")
    assert "is not an option" in capsys.readouterr().out
    answer(small, "t-single", ["a", "b"])
    assert "choose one option" in capsys.readouterr().out
    assert qz.score(small).answered == 0


def test_answer_on_a_real_bank(capsys):
    q = load_bank("03")["q03-no-input"]
    answer("03", "q03-no-input", [q.letter(i) for i in q.correct_indices])
    out = capsys.readouterr().out
    assert "Correct!" in out and "first batch" in out


# --------------------------------------------------------------------------- shuffling


def test_shuffling_is_deterministic_and_seed_dependent():
    questions = all_questions()
    orders = {q.id: option_order(q, seed=7) for q in questions}
    assert orders == {q.id: option_order(q, seed=7) for q in questions}
    assert any(option_order(q, seed=7) != option_order(q, seed=8) for q in questions)
    assert any(order != sorted(order) for order in orders.values())
    for q in questions:
        assert sorted(orders[q.id]) == list(range(len(q.options)))
        assert option_order(q, shuffle=False) == list(range(len(q.options)))


def test_shuffling_is_stable_across_processes():
    code = (
        "from course_utils.quiz import load_bank, option_order;"
        "print([option_order(q, seed=3) for q in load_bank('05')])"
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}, cwd=ROOT).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    assert runs.pop().strip() == str([option_order(q, seed=3) for q in load_bank("05")])


# --------------------------------------------------------------------------- rendering and text mode


def test_to_html_renders_code_bold_and_keeps_math():
    html = qz.to_html("Use `keras.Input(shape=(2,))` and **not** <b>\n```python\nx = a < b\n```\nmath $x^2$")
    assert re.search(r'<code style="background:[^"]+">keras\.Input\(shape=\(2,\)\)</code>', html)
    assert "<b>not</b>" in html
    assert "&lt;b&gt;" in html  # raw HTML from a bank is escaped
    assert "<pre" in html and "x = a &lt; b" in html
    assert "$x^2$" in html


def test_text_quiz_lists_every_question_and_option():
    quiz = load_bank("07")
    text = quiz.text()
    assert text.startswith("Quiz 07: Evaluating a classifier")
    assert 'answer("07", "q07-precision-recall", "a")' in text
    for n, q in enumerate(quiz, 1):
        assert f"Q{n} [{q.id}]" in text
        for i in range(len(q.options)):
            assert f"   {q.letter(i)}) " in text
    assert "(choose all that apply)" in text and "(choose one)" in text
    assert "**" not in text and "```" not in text


def test_text_mode_detection(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("COURSE_QUIZ_TEXT", "1")
    assert qz.text_mode()
    monkeypatch.setenv("COURSE_QUIZ_TEXT", "0")
    assert not qz.text_mode()
    monkeypatch.delenv("COURSE_QUIZ_TEXT")
    assert qz.text_mode()  # pytest: no IPython kernel
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert qz.text_mode()


def test_show_quiz_prints_text_without_a_kernel(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUIZ_TEXT", raising=False)
    shown = []
    monkeypatch.setattr(qz, "_display", shown.append)
    assert show_quiz("02") is None
    out = capsys.readouterr().out
    assert "Quiz 02: A first neural network" in out and "[q02-random-labels]" in out
    assert shown == []


def test_show_quiz_displays_widgets_when_forced(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(qz, "_display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setenv("COURSE_QUIZ_TEXT", "0")
    show_quiz(4, shuffle=False)
    assert capsys.readouterr().out == ""
    static, widget = shown  # a saved copy for reopened notebooks, then the live widgets
    assert "Run this cell to answer" in static["text/html"] and "course-quiz-static" in static["text/html"]
    assert static["text/plain"].startswith("Quiz 04")
    assert isinstance(widget, qz.QuizWidget)
    assert [q.order for q in widget.questions] == [list(range(len(q.options))) for q in load_bank(4)]
    with pytest.raises(ValueError, match="mode"):
        show_quiz(4, mode="html")


def test_headless_execution_of_a_script_does_not_block():
    code = "from course_utils.quiz import show_quiz; show_quiz('01'); show_quiz('08', mode='text')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "Quiz 01: Pixels as features" in proc.stdout and "Quiz 08" in proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_headless_notebook_execution_is_harmless(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv("COURSE_QUIZ_TEXT", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    dropout = load_bank("05")["q05-dropout"]
    right_letter = dropout.letter(dropout.correct_indices[0])
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('from course_utils.quiz import show_quiz, answer\nshow_quiz("05")'),
        nbformat.v4.new_code_cell('answer("05", "q05-dropout", "%s")' % right_letter),
    ]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    static, shown = nb.cells[0].outputs  # a saved copy, then the widgets
    assert static.output_type == shown.output_type == "display_data"
    assert "application/vnd.jupyter.widget-view+json" not in static.data
    assert "Run this cell to answer this quiz." in static.data["text/html"]
    for question in load_bank("05"):  # every question readable without a kernel
        assert qz.to_html(question.text) in static.data["text/html"]
    assert static.data["text/plain"].startswith("Quiz 05: A CNN on flowers")  # readable where HTML is not
    assert "application/vnd.jupyter.widget-view+json" in shown.data  # a kernel: widgets
    assert "Run this cell" in shown.data["text/plain"]
    (printed,) = nb.cells[1].outputs
    assert "[q05-dropout] Correct!" in printed.text


def test_import_does_not_pull_in_tensorflow_or_widgets():
    code = (
        "import sys, course_utils, course_utils.quiz as q;"
        "q.load_bank('03'); q.check(q.load_bank('03')[0], 'b');"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'ipywidgets' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "False"]


# --------------------------------------------------------------------------- widgets


def _status_text(qw: qz.QuestionWidget) -> str:
    return re.sub(r"<[^>]+>", "", qw.status.value)


def _visible_feedback(qw: qz.QuestionWidget) -> list[str]:
    return [note.value for note in qw.feedback if note.value]


def test_widget_structure(small):
    import ipywidgets as w

    quiz_widget = small.widget(shuffle=False)
    assert isinstance(quiz_widget.box, w.VBox)
    qw = quiz_widget["t-single"]
    assert len(qw.checkboxes) == 3 and all(isinstance(b, w.Checkbox) for b in qw.checkboxes)
    assert isinstance(qw.prompt, w.HTMLMath)
    assert re.search(r"<code[^>]*>b</code>", qw.prompt.value) and "$x^2$" in qw.prompt.value
    # every checkbox is labelled with its option (screen readers), the status is a live region
    assert [b.description for b in qw.checkboxes] == ["alpha", "beta", "gamma"]
    assert 'role="status"' in qw.status.value
    assert "(choose one)" in qw.prompt.value
    assert "(choose all that apply)" in quiz_widget["t-multi"].prompt.value
    assert [b.description for b in (qw.check_button, qw.retry_button, qw.reveal_button)] == [
        "Check", "Try again", "Show answers"]
    assert "Score: 0 / 2" in quiz_widget.summary.value
    bundle = quiz_widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Quiz 99: Test quiz")


def test_clicking_check_shows_feedback_and_updates_score(small):
    quiz_widget = small.widget(shuffle=False)
    qw = quiz_widget["t-single"]
    qw.check_button.click()
    assert "Pick an answer first" in qw.status.value
    assert qw.attempts == 0

    qw.checkboxes[0].value = True  # alpha, wrong
    qw.check_button.click()
    assert "Not quite" in qw.status.value
    assert _visible_feedback(qw) == [qw.feedback[0].value]
    assert "alpha is wrong because A." in qw.feedback[0].value and "Wrong" in qw.feedback[0].value
    assert "Score: 0 / 2 correct" in quiz_widget.summary.value

    qw.checkboxes[1].value = True  # single answer: ticking beta unticks alpha, clears feedback
    assert [b.value for b in qw.checkboxes] == [False, True, False]
    assert _visible_feedback(qw) == [] and _status_text(qw) == ""
    qw.check_button.click()
    assert "Correct!" in qw.status.value
    assert "beta is right because B." in qw.feedback[1].value
    assert "Score: 1 / 2 correct, 0 on the first try" in quiz_widget.summary.value

    multi = quiz_widget["t-multi"]
    multi.checkboxes[0].value = True
    multi.checkboxes[2].value = True
    assert [b.value for b in multi.checkboxes] == [True, False, True, False]
    multi.check_button.click()
    assert "Correct!" in multi.status.value
    assert len(_visible_feedback(multi)) == 2
    assert "Score: 2 / 2 correct, 1 on the first try" in quiz_widget.summary.value
    assert quiz_widget.score().correct == 2


def test_feedback_label_is_not_doubled():
    assert "<b>Right:</b>" not in qz._feedback_html(True, "Right. Because.")
    assert "<b>Wrong:</b>" in qz._feedback_html(False, "The size halves.")
    assert "&#10008;" in qz._feedback_html(False, "No: it halves.")


def test_retry_and_reveal_buttons(small):
    qw = small.widget(shuffle=False)["t-multi"]
    qw.select(["b"])
    qw.check_button.click()
    assert "you missed 2 correct options" in qw.status.value
    qw.retry_button.click()
    assert [b.value for b in qw.checkboxes] == [False] * 4
    assert _visible_feedback(qw) == [] and _status_text(qw) == ""
    qw.reveal_button.click()
    assert len(_visible_feedback(qw)) == 4
    assert sum("Right" in v for v in _visible_feedback(qw)) == 2
    assert qw.last_result is not None and not qw.last_result.correct


def test_shuffled_widget_maps_positions_back_to_options():
    quiz = load_bank("06")
    widget = quiz.widget(shuffle=True, seed=123)
    again = quiz.widget(shuffle=True, seed=123)
    assert [q.order for q in widget.questions] == [q.order for q in again.questions]
    assert any(q.order != sorted(q.order) for q in widget.questions)
    for qw in widget.questions:
        labels = [label.value for label in qw.labels]
        assert labels == [qz.to_html(qw.question.options[i].text) for i in qw.order]
        for position, index in enumerate(qw.order):
            if qw.question.options[index].correct:
                qw.checkboxes[position].value = True
        qw.check_button.click()
        assert "Correct!" in qw.status.value, qw.question.id
    assert widget.score().correct == len(quiz)
    assert widget.score().first_try == len(quiz)


def _contrast(fg: str, bg: str) -> float:
    def luminance(colour: str) -> float:
        rgb = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_feedback_colours_are_readable_in_light_and_dark_themes():
    """WCAG AA (4.5:1) against white and against JupyterLab Dark's page and cell backgrounds."""
    light_block, dark_block = re.findall(r"\{([^}]*--cq-ok[^}]*)\}", qz._STYLE)
    for block, backgrounds in ((light_block, ["#ffffff"]), (dark_block, ["#111111", "#212121"])):
        colours = dict(re.findall(r"--cq-(ok|bad|muted):\s*(#[0-9a-fA-F]{6})", block))
        assert set(colours) == {"ok", "bad", "muted"}
        for name, colour in colours.items():
            for bg in backgrounds:
                assert _contrast(colour, bg) >= 4.5, (name, colour, bg)
    # the inline fallbacks (no stylesheet, e.g. a sanitised page) are the light-theme colours
    for var in ("ok", "bad", "muted"):
        fallback = re.search(rf"var\(--cq-{var}, (#[0-9a-f]{{6}})\)", getattr(qz, {"ok": "_OK", "bad": "_BAD",
                                                                                  "muted": "_NEUTRAL"}[var]))
        assert fallback and _contrast(fallback.group(1), "#ffffff") >= 4.5


def test_static_copy_is_readable_and_reveals_nothing():
    quiz = load_bank("03")
    page = qz.quiz_html(quiz, shuffle=True, seed=1)
    assert page.count("Run this cell to answer this quiz.") == 1
    for q in quiz:
        assert qz.to_html(q.text) in page
        for option in q.options:
            assert qz.to_html(option.text) in page
            assert qz.to_html(option.feedback) not in page  # no answers given away
    assert "&#10004;" not in page
