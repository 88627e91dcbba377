"""Test-taking tricks must not pass the quizzes.

A student who knows nothing but always picks the longest option, or always the same letter in
the order text mode shows, should score near chance; and "choose all that apply" must not
always mean "two of them".
"""

from __future__ import annotations

from collections import Counter

from course_utils.quiz import Question, lessons, load_bank


def all_questions() -> list[Question]:
    return [q for lesson in lessons() for q in load_bank(lesson)]


def singles() -> list[Question]:
    return [q for q in all_questions() if not q.multiple]


def longest_pick_score(questions: list[Question]) -> float:
    """Share of single-answer questions a 'pick the longest option' student gets right (ties count as a hit)."""
    hits = 0
    for q in questions:
        longest = max(len(o.text) for o in q.options)
        hits += len(q.options[q.correct_indices[0]].text) == longest
    return hits / len(questions)


def test_picking_the_longest_option_scores_at_most_30_percent():
    score = longest_pick_score(singles())
    assert score <= 0.30, f"always picking the longest option scores {score:.0%} on single-answer questions"


def test_no_letter_is_right_more_than_30_percent_of_the_time():
    letters = Counter(q.letter(q.correct_indices[0]) for q in singles())
    share = max(letters.values()) / sum(letters.values())
    assert share <= 0.30, f"right letters in text-mode order: {dict(sorted(letters.items()))}"


def test_multi_answer_questions_vary_how_many_options_are_right():
    counts = Counter(len(q.correct_indices) for q in all_questions() if q.multiple)
    assert len(counts) >= 3, f"number of right options per multi-answer question: {dict(counts)}"
    assert max(counts.values()) <= 0.6 * sum(counts.values()), dict(counts)
    assert all(len(q.correct_indices) < len(q.options) for q in all_questions() if q.multiple), \
        "a question where every option is right rewards ticking everything"


def test_the_heuristic_scores_are_measured_on_a_biased_bank():
    """The checks above can fail: a bank where the right answer is always the longest and always 'b'."""
    from course_utils.quiz import Option

    biased = [Question(f"x{i}", "?", (Option("no", False, "f"), Option("the long right answer", True, "f"),
                                       Option("nah", False, "f"))) for i in range(4)]
    assert longest_pick_score(biased) == 1.0
    assert Counter(q.letter(q.correct_indices[0]) for q in biased) == {"b": 4}
