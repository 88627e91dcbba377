"""One score per quiz: widgets and answer() share it, "Show answers" ends first-try credit,
and answers survive re-running the quiz cell and restarting the kernel (a progress file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import quiz as qz
from course_utils.quiz import Quiz, answer, check, load_bank, score

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "lesson": "98_scoring",
    "title": "Scoring quiz",
    "questions": [
        {"id": "s-single", "text": "Pick beta", "options": [
            {"text": "alpha", "correct": False, "feedback": "No."},
            {"text": "beta", "correct": True, "feedback": "Yes."},
            {"text": "gamma", "correct": False, "feedback": "No."}]},
        {"id": "s-multi", "text": "Pick one and three", "multiple": True, "options": [
            {"text": "one", "correct": True, "feedback": "Yes."},
            {"text": "two", "correct": False, "feedback": "No."},
            {"text": "three", "correct": True, "feedback": "Yes."},
            {"text": "four", "correct": False, "feedback": "No."}]},
    ],
}


@pytest.fixture
def small() -> Quiz:
    return Quiz.from_dict(SMALL)


@pytest.fixture(autouse=True)
def progress(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "quiz-progress"
    monkeypatch.setenv("COURSE_QUIZ_PROGRESS", str(folder))
    qz._SCOREBOARDS.clear()
    yield folder
    qz._SCOREBOARDS.clear()


def _restart() -> None:
    """What a kernel restart does to this module's memory."""
    qz._SCOREBOARDS.clear()


@pytest.mark.parametrize("spelling", ["ac", "a,c", "a c", " A, C ", ["a", "c"], ("a", "c"), [0, 2]])
def test_text_mode_accepts_several_letters_in_every_spelling(small, spelling):
    result = check(small["s-multi"], spelling)
    assert result.correct and result.selected == (0, 2)


def test_an_option_whose_text_looks_like_letters_is_still_found():
    quiz = Quiz.from_dict({"lesson": "97_x", "title": "x", "questions": [
        {"id": "x", "text": "?", "multiple": True, "options": [
            {"text": "a", "correct": True, "feedback": "."}, {"text": "b", "correct": False, "feedback": "."},
            {"text": "ab", "correct": True, "feedback": "."}]}]})
    assert check(quiz["x"], "ab").selected == (2,)  # the exact text of an option wins
    assert check(quiz["x"], "a b").selected == (0, 1)
    assert check(quiz["x"], "a,c").selected == (0, 2)


def test_several_letters_on_a_single_answer_question_is_a_clear_error(small, capsys):
    answer(small, "s-single", "ab")
    assert "exactly one right answer" in capsys.readouterr().out
    assert score(small).answered == 0


def test_widgets_and_answer_share_one_score(small):
    widget = small.widget(shuffle=False)
    widget["s-single"].select("b")
    widget["s-single"].check_button.click()
    answer(small, "s-multi", "ac")
    s = score(small)
    assert (s.correct, s.first_try, s.answered) == (2, 2, 2)
    assert widget.score().correct == 2
    again = small.widget(shuffle=False)  # the widget shows the text-mode answer too
    assert "Score: 2 / 2 correct, 2 on the first try" in again.summary.value


def test_show_answers_ends_first_try_credit(small):
    widget = small.widget(shuffle=False)
    qw = widget["s-single"]
    qw.reveal_button.click()
    assert "no longer counts as a first try" in qw.status.value
    qw.select("b")
    qw.check_button.click()
    assert "Correct!" in qw.status.value
    s = score(small)
    assert (s.correct, s.first_try) == (1, 0)
    # the same through answer() after a reveal in the widget
    widget["s-multi"].reveal_button.click()
    answer(small, "s-multi", "a,c")
    assert (score(small).correct, score(small).first_try) == (2, 0)


def test_score_as_a_cells_last_line_shows_once(small, capsys):
    answer(small, "s-single", "b")
    capsys.readouterr()
    s = score(small)
    assert capsys.readouterr().out == ""
    assert repr(s) == str(s) == "Quiz 98 (Scoring quiz): Score: 1 / 2 correct, 1 on the first try (1 of 2 attempted)"


def test_rerunning_the_cell_shows_answers_again(small):
    first = small.widget(shuffle=True, seed=7)
    qw = first["s-single"]
    qw.select("a")
    qw.check_button.click()
    qw.select("b")
    qw.check_button.click()
    again = small.widget(shuffle=True, seed=7)  # the cell is run again in the same kernel
    restored = again["s-single"]
    assert restored.selected == (1,)
    assert "Correct!" in restored.status.value and "from before" in restored.status.value
    assert "Score: 1 / 2 correct, 0 on the first try" in again.summary.value


def test_answers_survive_a_kernel_restart(small, progress):
    widget = small.widget(shuffle=False)
    widget["s-multi"].select(["a", "b"])
    widget["s-multi"].check_button.click()
    widget["s-single"].reveal_button.click()
    saved = json.loads((progress / "98_scoring.json").read_text())
    assert saved["lesson"] == "98_scoring"
    assert saved["questions"]["s-multi"]["selected"] == [0, 1]
    assert saved["questions"]["s-single"]["revealed"] is True

    _restart()
    back = small.widget(shuffle=False)
    assert back["s-multi"].selected == (0, 1)
    assert "Not quite" in back["s-multi"].status.value
    assert all(note.value for note in back["s-single"].feedback)  # answers still shown
    answer(small, "s-single", "b")  # right, but after Show answers: no first-try credit
    answer(small, "s-multi", "ac")  # right on the second try
    s = score(small)
    assert (s.correct, s.first_try, s.answered) == (2, 0, 2)


def test_answers_survive_a_real_new_process(progress):
    code = ("from course_utils.quiz import answer, score; import sys;"
            "answer('03', 'q03-no-input', sys.argv[1]) if len(sys.argv) > 1 else None;"
            "print(score('03'))")
    env = {**__import__("os").environ, "COURSE_QUIZ_PROGRESS": str(progress), "PYTHONPATH": str(ROOT)}
    right = "".join(load_bank("03")["q03-no-input"].letter(i)
                    for i in load_bank("03")["q03-no-input"].correct_indices)
    first = subprocess.run([sys.executable, "-c", code, right], capture_output=True, text=True, env=env,
                           timeout=60, check=True)
    assert "Correct!" in first.stdout
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=60, check=True)
    assert "Score: 1 / " in second.stdout and "1 on the first try" in second.stdout


def test_saving_can_be_turned_off(small, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_QUIZ_PROGRESS", "0")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    assert qz.progress_dir() is None
    answer(small, "s-single", "b")
    assert score(small).correct == 1  # still counted in this kernel
    assert not any(tmp_path.rglob("*.json"))


def test_default_folder_is_in_the_course_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_QUIZ_PROGRESS")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    assert qz.progress_dir() == tmp_path / "cache" / "quiz-progress"


def test_a_damaged_progress_file_is_reported_and_not_fatal(small, progress, capsys):
    progress.mkdir(parents=True)
    bad = progress / "98_scoring.json"
    bad.write_text("{ not json", encoding="utf-8")
    widget = small.widget(shuffle=False)
    err = capsys.readouterr().err
    assert str(bad) in err and "COURSE_QUIZ_PROGRESS" in err
    assert widget.score().answered == 0
    answer(small, "s-single", "b")
    assert json.loads(bad.read_text())["questions"]["s-single"]["solved"] is True


def test_stale_entries_from_an_edited_bank_are_ignored(small, progress):
    progress.mkdir(parents=True)
    (progress / "98_scoring.json").write_text(json.dumps({"lesson": "98_scoring", "version": 1, "questions": {
        "gone": {"attempts": 3, "solved": True, "selected": [0]},
        "s-single": {"attempts": 1, "solved": True, "first_try": True, "selected": [7]},  # no option 7
        "s-multi": {"attempts": 2, "solved": True, "first_try": False, "selected": [0, 2]},
    }}))
    s = score(small)
    assert (s.answered, s.correct, s.first_try) == (1, 1, 0)


def test_forget_answers_starts_afresh(small, progress):
    answer(small, "s-single", "b")
    assert (progress / "98_scoring.json").is_file()
    qz.forget_answers(small)
    assert not (progress / "98_scoring.json").exists()
    assert score(small).answered == 0


def test_no_temporary_files_are_left_behind(small, progress):
    for choice in ("a", "c", "b"):
        answer(small, "s-single", choice)
    assert sorted(p.name for p in progress.iterdir()) == ["98_scoring.json"]
