"""Multiple-choice quizzes that answer back, on core ipywidgets only.

Every lesson ends with a quiz whose questions live in ``course_utils/quizzes/NN_*.yaml``.
A quiz shows as widgets where a front end can draw them (JupyterLab, Notebook 7, VS Code,
Colab) and as plain text elsewhere (a console, ``COURSE_QUIZ_TEXT=1``, nbgrader grading);
in text mode students answer in code with :func:`answer`. Nothing here blocks or asks for
input, so executing a notebook headless (nbval, nbconvert, nbgrader) is harmless, and
nothing here imports TensorFlow, so quizzes appear instantly.

Usage in a lesson notebook::

    from course_utils.quiz import show_quiz, answer, score
    show_quiz("03")                        # widgets, options shuffled with the course seed
    # text mode / answering in code:
    answer("03", "q03-no-input", "ab")       # also "a,b", "a b" or ["a", "b"]
    score("03")                            # one score per quiz, widgets and answer() alike

Answers and the score are saved to ``quiz-progress/<lesson>.json`` in the course cache
(``COURSE_QUIZ_PROGRESS`` names another folder, ``0`` turns saving off), so re-running a
quiz cell, even after a kernel restart, shows a student's answers again. "Show answers"
ends first-try credit for that question.

Question bank format (YAML)::

    lesson: 03_cnn_from_scratch
    title: A CNN from scratch
    questions:
      - id: q03-valid-same            # unique across all banks
        text: "A `Conv2D(16, 3)` on a 32x32x3 input gives ...?"   # `code`, **bold**, $math$
        multiple: false               # true: choose all that apply
        claim: true                   # a test in tests/test_quiz_claims.py backs it
        options:
          - text: "(30, 30, 16)"
            correct: true
            feedback: "Why this is right."
          - text: "(32, 32, 16)"
            correct: false
            feedback: "Why this is wrong."
"""

from __future__ import annotations

import html
import os
import random
import re
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from course_utils.config import SEED, grading_mode

if TYPE_CHECKING:  # pragma: no cover - typing only
    import ipywidgets

__all__ = [
    "BANK_DIR",
    "Choice",
    "Option",
    "OptionFeedback",
    "Question",
    "QuestionWidget",
    "Quiz",
    "QuizFormatError",
    "QuizWidget",
    "Result",
    "Score",
    "Scoreboard",
    "answer",
    "check",
    "forget_answers",
    "lessons",
    "load_bank",
    "option_order",
    "progress_dir",
    "quiz_html",
    "score",
    "show_quiz",
    "text_mode",
    "to_html",
    "to_text",
]

#: Where the question banks live (shipped as package data).
BANK_DIR = Path(__file__).resolve().parent / "quizzes"

#: A choice names one option: its 0-based index (canonical order), its letter ("a", "b", ...)
#: or its exact text.
Choice = Union[int, str]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_TRUE = {"1", "true", "yes", "on"}
_LETTER_RUN = re.compile(r"[a-z](?:\s*[a-z])+")
_FALSE = {"0", "false", "no", "off"}


class QuizFormatError(ValueError):
    """A question bank breaks the format described in this module's docstring."""


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Option:
    """One answer option with the feedback shown when a student picks it."""

    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    """A single- or multi-answer question."""

    id: str
    text: str
    options: tuple[Option, ...]
    multiple: bool = False
    claim: bool = False

    @property
    def correct_indices(self) -> tuple[int, ...]:
        """Canonical indices of the correct options."""
        return tuple(i for i, o in enumerate(self.options) if o.correct)

    def letter(self, index: int) -> str:
        """The letter of the option at canonical ``index`` ("a" for 0)."""
        return _LETTERS[index]


@dataclass(frozen=True)
class Quiz:
    """The questions of one lesson."""

    lesson: str
    title: str
    questions: tuple[Question, ...]

    @property
    def number(self) -> str:
        """The two-digit lesson number, e.g. ``"03"``."""
        return self.lesson[:2]

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def __getitem__(self, key: int | str) -> Question:
        if isinstance(key, int):
            return self.questions[key]
        for q in self.questions:
            if q.id == key:
                return q
        ids = ", ".join(q.id for q in self.questions)
        raise KeyError(f"no question {key!r} in quiz {self.lesson}; its questions are: {ids}")

    def text(self) -> str:
        """The whole quiz as readable plain text (canonical option order, lettered)."""
        return quiz_text(self)

    def widget(self, *, shuffle: bool = True, seed: int = SEED) -> QuizWidget:
        """Build (but do not display) the widget for this quiz."""
        return QuizWidget(self, shuffle=shuffle, seed=seed)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> Quiz:
        """Build a quiz from parsed YAML, raising :class:`QuizFormatError` on bad data."""
        return _parse_quiz(data, source)


@dataclass(frozen=True)
class OptionFeedback:
    """The verdict on one option after a check."""

    index: int
    letter: str
    text: str
    correct: bool
    selected: bool
    feedback: str

    @property
    def right_call(self) -> bool:
        """True when the student treated this option correctly (picked iff correct)."""
        return self.correct == self.selected


@dataclass(frozen=True)
class Result:
    """What :func:`check` says about an answer."""

    question_id: str
    correct: bool
    selected: tuple[int, ...]
    #: Feedback on each selected option, in canonical order.
    feedback: tuple[OptionFeedback, ...]
    #: Correct options the student did not pick (multi-answer questions).
    missed: int
    multiple: bool

    @property
    def message(self) -> str:
        """A one-line verdict."""
        if self.correct:
            return "Correct!"
        if not self.multiple:
            return "Not quite. Read the feedback and try again."
        wrong = sum(1 for f in self.feedback if not f.correct)
        parts = []
        if wrong:
            parts.append(f"{wrong} of your choices {'is' if wrong == 1 else 'are'} wrong")
        if self.missed:
            parts.append(f"you missed {self.missed} correct option{'s' if self.missed > 1 else ''}")
        return "Not quite: " + " and ".join(parts) + ". Read the feedback and try again."

    def text(self) -> str:
        """The verdict and per-option feedback as plain text."""
        lines = [f"[{self.question_id}] {self.message}"]
        for f in self.feedback:
            mark = "RIGHT" if f.correct else "WRONG"
            lines.extend(_wrap(f"{f.letter}) {to_text(f.text)}", "  ", "     "))
            lines.extend(_wrap(f"{mark}: {to_text(f.feedback)}", "     ", "     "))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


# --------------------------------------------------------------------------- loading


def _parse_quiz(data: Any, source: str) -> Quiz:
    def fail(msg: str) -> QuizFormatError:
        return QuizFormatError(f"{source}: {msg}")

    if not isinstance(data, dict):
        raise fail("the top level must be a mapping with lesson, title and questions")
    lesson = data.get("lesson")
    if not isinstance(lesson, str) or not re.fullmatch(r"\d\d_\w+", lesson):
        raise fail(f"'lesson' must look like '03_cnn_from_scratch', got {lesson!r}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise fail("'title' must be a non-empty string")
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise fail("'questions' must be a non-empty list")
    questions: list[Question] = []
    seen: set[str] = set()
    for n, rq in enumerate(raw_questions, 1):
        if not isinstance(rq, dict):
            raise fail(f"question {n} must be a mapping")
        qid = rq.get("id")
        where = f"question {n} ({qid!r})"
        if not isinstance(qid, str) or not re.fullmatch(r"[A-Za-z0-9][\w-]*", qid):
            raise fail(f"{where}: 'id' must be a word like 'q03-valid-same'")
        if qid in seen:
            raise fail(f"{where}: duplicate id")
        seen.add(qid)
        text = rq.get("text")
        if not isinstance(text, str) or not text.strip():
            raise fail(f"{where}: 'text' must be a non-empty string")
        multiple = rq.get("multiple", False)
        claim = rq.get("claim", False)
        if not isinstance(multiple, bool) or not isinstance(claim, bool):
            raise fail(f"{where}: 'multiple' and 'claim' must be true or false")
        unknown = set(rq) - {"id", "text", "multiple", "claim", "options"}
        if unknown:
            raise fail(f"{where}: unknown keys {sorted(unknown)}")
        raw_options = rq.get("options")
        if not isinstance(raw_options, list) or len(raw_options) < 2:
            raise fail(f"{where}: needs at least two options")
        if len(raw_options) > len(_LETTERS):
            raise fail(f"{where}: too many options")
        options: list[Option] = []
        for m, ro in enumerate(raw_options, 1):
            if not isinstance(ro, dict):
                raise fail(f"{where}, option {m}: must be a mapping")
            otext, correct, feedback = ro.get("text"), ro.get("correct"), ro.get("feedback")
            if isinstance(otext, (int, float)) and not isinstance(otext, bool):
                otext = str(otext)
            if not isinstance(otext, str) or not otext.strip():
                raise fail(f"{where}, option {m}: 'text' must be a non-empty string")
            if not isinstance(correct, bool):
                raise fail(f"{where}, option {m}: 'correct' must be true or false")
            if not isinstance(feedback, str) or not feedback.strip():
                raise fail(f"{where}, option {m}: every option needs 'feedback'")
            options.append(Option(otext.strip(), correct, feedback.strip()))
        n_correct = sum(o.correct for o in options)
        if n_correct == 0:
            raise fail(f"{where}: no option is marked correct")
        if not multiple and n_correct != 1:
            raise fail(f"{where}: a single-answer question needs exactly one correct option "
                       f"(found {n_correct}); set 'multiple: true' otherwise")
        if len({o.text for o in options}) != len(options):
            raise fail(f"{where}: two options have the same text")
        questions.append(Question(qid, text.strip(), tuple(options), multiple, claim))
    return Quiz(lesson, title.strip(), tuple(questions))


def lessons() -> list[str]:
    """The lessons that have a question bank, e.g. ``["00_welcome", ...]``."""
    return sorted(p.stem for p in BANK_DIR.glob("[0-9][0-9]_*.yaml"))


def _resolve(lesson: int | str | os.PathLike[str]) -> Path:
    if isinstance(lesson, os.PathLike) or (isinstance(lesson, str) and lesson.endswith((".yaml", ".yml"))):
        path = Path(lesson)
        if path.is_file():
            return path
        if not path.is_absolute() and (BANK_DIR / path.name).is_file():
            return BANK_DIR / path.name
        raise FileNotFoundError(f"no question bank at {path}")
    if isinstance(lesson, bool) or not isinstance(lesson, (int, str)):
        raise TypeError(f"lesson must be a number like 3, '03' or '03_cnn_from_scratch', got {lesson!r}")
    key = str(lesson).strip()
    if key.isdigit():
        key = f"{int(key):02d}"
    known = lessons()
    for stem in known:
        if stem == key or stem.split("_", 1)[0] == key:
            return BANK_DIR / f"{stem}.yaml"
    raise FileNotFoundError(f"no quiz for lesson {lesson!r}; available: {', '.join(known) or 'none'}")


@lru_cache(maxsize=None)
def _load_path(path: str, mtime: float) -> Quiz:
    import yaml  # local import: keeps ``import course_utils.quiz`` light

    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return _parse_quiz(data, path)


def load_bank(lesson: int | str | os.PathLike[str]) -> Quiz:
    """Load the quiz of a lesson.

    ``lesson`` may be a number (``3``), a two-digit string (``"03"``), the lesson name
    (``"03_cnn_from_scratch"``) or the path of a YAML file in the bank format.
    Raises :class:`FileNotFoundError` for an unknown lesson and :class:`QuizFormatError`
    for a malformed bank.
    """
    path = _resolve(lesson)
    return _load_path(str(path), path.stat().st_mtime)


def _as_quiz(lesson: Quiz | int | str | os.PathLike[str]) -> Quiz:
    return lesson if isinstance(lesson, Quiz) else load_bank(lesson)


# --------------------------------------------------------------------------- checking


def _choice_index(question: Question, choice: Choice) -> int:
    n = len(question.options)
    if isinstance(choice, bool):
        raise ValueError(f"{choice!r} is not an option; use an index, a letter or the option text")
    if not isinstance(choice, (int, str)) and hasattr(choice, "__index__"):  # numpy integers
        choice = choice.__index__()  # type: ignore[union-attr]
    if isinstance(choice, int):
        if 0 <= choice < n:
            return choice
        raise ValueError(f"option index {choice} is out of range: {question.id} has options 0..{n - 1}")
    if isinstance(choice, str):
        key = choice.strip()
        low = key.lower().rstrip(")")
        if len(low) == 1 and low in _LETTERS[:n]:
            return _LETTERS.index(low)
        for i, option in enumerate(question.options):
            if option.text.strip().lower() == key.lower():
                return i
        raise ValueError(f"{choice!r} is not an option of {question.id}: "
                         f"use a letter a..{_LETTERS[n - 1]}, an index 0..{n - 1} or the option text")
    raise ValueError(f"{choice!r} is not an option; use an index, a letter or the option text")


def _normalise(question: Question, choices: Choice | Iterable[Choice] | None) -> tuple[int, ...]:
    if choices is None:
        items: list[Choice] = []
    elif isinstance(choices, (int, str)):
        items = [choices]
        texts = {o.text.strip().lower() for o in question.options}
        key = choices.strip().lower() if isinstance(choices, str) else ""
        if key and key not in texts:
            if "," in key:
                items = [c for c in key.split(",") if c.strip()]
            elif _LETTER_RUN.fullmatch(key):  # "ac" or "a c": several letters
                items = [c for c in key if not c.isspace()]
    elif hasattr(choices, "__index__"):  # numpy integers
        items = [choices.__index__()]  # type: ignore[union-attr]
    elif isinstance(choices, Iterable):
        items = list(choices)
    else:
        raise ValueError(f"{choices!r} is not an option; use an index, a letter or the option text")
    indices = sorted({_choice_index(question, c) for c in items})
    if not indices:
        raise ValueError(f"no option chosen for {question.id}")
    if not question.multiple and len(indices) > 1:
        raise ValueError(f"{question.id} has exactly one right answer: choose one option")
    return tuple(indices)


def check(question: Question, choices: Choice | Iterable[Choice]) -> Result:
    """Check an answer without any widgets.

    ``choices`` is one choice or, for multi-answer questions, several: option indices in
    canonical (bank) order, letters (``"a"``, or ``"a,c"``) or exact option texts. A
    multi-answer question is right when exactly the correct options are chosen. Raises
    :class:`ValueError` for an empty or unknown choice, or several choices on a
    single-answer question.
    """
    selected = _normalise(question, choices)
    chosen = set(selected)
    feedback = tuple(
        OptionFeedback(i, question.letter(i), o.text, o.correct, True, o.feedback)
        for i, o in enumerate(question.options)
        if i in chosen
    )
    correct_set = set(question.correct_indices)
    return Result(
        question_id=question.id,
        correct=chosen == correct_set,
        selected=selected,
        feedback=feedback,
        missed=len(correct_set - chosen),
        multiple=question.multiple,
    )


def option_order(question: Question, *, shuffle: bool = True, seed: int = SEED) -> list[int]:
    """Display order of a question's options: canonical indices, shuffled reproducibly.

    The permutation depends only on ``seed`` and the question id, so every student with
    the same seed sees the same order, and adding a question does not reshuffle others.
    """
    order = list(range(len(question.options)))
    if shuffle:
        random.Random(f"{seed}:{question.id}").shuffle(order)
    return order


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """How a student did on one quiz.

    Shown as its one-line summary, so ``score("03")`` as a cell's last line prints it once.
    """

    total: int
    answered: int = 0
    correct: int = 0
    first_try: int = 0
    title: str = ""

    def summary(self) -> str:
        """A one-line score summary."""
        if not self.answered:
            return f"Score: 0 / {self.total} (nothing checked yet)"
        return (f"Score: {self.correct} / {self.total} correct, {self.first_try} on the first try "
                f"({self.answered} of {self.total} attempted)")

    def __str__(self) -> str:
        return f"{self.title}: {self.summary()}" if self.title else self.summary()

    def __repr__(self) -> str:
        return str(self)


@dataclass
class Scoreboard:
    """Attempts per question; a question counts as correct once it has been answered right.

    A question earns first-try credit only when its first check is right and its answers
    were not shown (:meth:`reveal`) before. ``selected`` keeps the last checked choice
    (canonical indices) so a re-run quiz can show it again.
    """

    question_ids: tuple[str, ...]
    attempts: dict[str, int] = field(default_factory=dict)
    solved: dict[str, bool] = field(default_factory=dict)
    first_try: dict[str, bool] = field(default_factory=dict)
    revealed: dict[str, bool] = field(default_factory=dict)
    selected: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: Called after every change (the progress file is written from here).
    on_change: Any = field(default=None, repr=False, compare=False)

    def record(self, result: Result) -> None:
        """Count one checked answer."""
        qid = result.question_id
        n = self.attempts.get(qid, 0) + 1
        self.attempts[qid] = n
        self.selected[qid] = tuple(result.selected)
        if result.correct and not self.solved.get(qid):
            self.solved[qid] = True
            self.first_try[qid] = n == 1 and not self.revealed.get(qid, False)
        self._changed()

    def reveal(self, question_id: str) -> None:
        """The answers of a question were shown: no first-try credit from now on."""
        if not self.revealed.get(question_id):
            self.revealed[question_id] = True
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def score(self, title: str = "") -> Score:
        """The current :class:`Score`."""
        return Score(
            total=len(self.question_ids),
            answered=sum(1 for q in self.question_ids if self.attempts.get(q)),
            correct=sum(1 for q in self.question_ids if self.solved.get(q)),
            first_try=sum(1 for q in self.question_ids if self.first_try.get(q)),
            title=title,
        )

    def to_dict(self) -> dict[str, Any]:
        """The board as JSON-ready data (only questions that were touched)."""
        touched = [q for q in self.question_ids if self.attempts.get(q) or self.revealed.get(q)]
        return {q: {"attempts": self.attempts.get(q, 0), "solved": bool(self.solved.get(q)),
                    "first_try": bool(self.first_try.get(q)), "revealed": bool(self.revealed.get(q)),
                    "selected": list(self.selected.get(q, ()))} for q in touched}

    def load(self, data: Any, n_options: dict[str, int]) -> None:
        """Take over answers saved by :meth:`to_dict`, skipping questions the bank no longer has."""
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of question ids")
        for qid, entry in data.items():
            if qid not in n_options or not isinstance(entry, dict):
                continue
            attempts = entry.get("attempts", 0)
            selected = entry.get("selected", [])
            if not isinstance(attempts, int) or attempts < 0 or not isinstance(selected, list):
                continue
            if not all(isinstance(i, int) and 0 <= i < n_options[qid] for i in selected):
                continue
            self.attempts[qid] = attempts
            self.solved[qid] = bool(entry.get("solved"))
            self.first_try[qid] = bool(entry.get("first_try")) and self.solved[qid]
            self.revealed[qid] = bool(entry.get("revealed"))
            if selected:
                self.selected[qid] = tuple(selected)


#: One scoreboard per lesson in this kernel, shared by the widgets and :func:`answer`.
_SCOREBOARDS: dict[str, Scoreboard] = {}
_TEXT_SCOREBOARDS = _SCOREBOARDS  # the old name


def progress_dir() -> Path | None:
    """Where answers are saved between runs, or ``None`` when saving is off.

    ``COURSE_QUIZ_PROGRESS`` names another folder, or turns saving off with ``0``/``off``;
    the default is ``quiz-progress/`` in the course cache (see ``COURSE_CACHE_DIR``).
    """
    value = os.environ.get("COURSE_QUIZ_PROGRESS", "").strip()
    if value.lower() in _FALSE:
        return None
    if value:
        return Path(value).expanduser()
    from course_utils.config import cache_dir

    return cache_dir() / "quiz-progress"


def _progress_file(quiz: Quiz) -> Path | None:
    folder = progress_dir()
    return None if folder is None else folder / f"{quiz.lesson}.json"


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file unique to this process, then rename."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _saver(quiz: Quiz, path: Path):
    def save(board: Scoreboard) -> None:
        import json

        data = {"lesson": quiz.lesson, "version": 1, "questions": board.to_dict()}
        try:
            _write_atomically(path, json.dumps(data, indent=1, sort_keys=True))
        except OSError as exc:  # a read-only cache must not break the quiz
            print(f"Could not save your quiz answers to {path}: {exc}. "
                  "Set COURSE_QUIZ_PROGRESS to a writable folder, or to 0 to stop saving.", file=sys.stderr)
    return save


def _scoreboard(quiz: Quiz) -> Scoreboard:
    """The lesson's shared scoreboard, restored from its progress file the first time."""
    board = _SCOREBOARDS.get(quiz.lesson)
    if board is not None and board.question_ids == tuple(q.id for q in quiz):
        return board
    board = Scoreboard(tuple(q.id for q in quiz))
    path = _progress_file(quiz)
    if path is not None:
        if path.is_file():
            import json

            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("lesson") != quiz.lesson:
                    raise ValueError(f"it belongs to lesson {data.get('lesson')!r}")
                board.load(data.get("questions", {}), {q.id: len(q.options) for q in quiz})
            except (OSError, ValueError, AttributeError) as exc:
                print(f"Ignoring saved quiz answers in {path} ({exc}); your next answer replaces that file. "
                      "Set COURSE_QUIZ_PROGRESS=0 to stop saving answers.", file=sys.stderr)
        board.on_change = _saver(quiz, path)
    _SCOREBOARDS[quiz.lesson] = board
    return board


_text_scoreboard = _scoreboard  # the old name


def forget_answers(lesson: Quiz | int | str) -> None:
    """Start a lesson's quiz afresh: clear its score here and delete its progress file."""
    quiz = _as_quiz(lesson)
    _SCOREBOARDS.pop(quiz.lesson, None)
    path = _progress_file(quiz)
    if path is not None and path.is_file():
        path.unlink()


def answer(lesson: Quiz | int | str, question_id: str, choice: Choice | Iterable[Choice]) -> None:
    """Answer a question in code and print the feedback (text mode, or any time).

    ``choice`` is a letter as printed by the text quiz (``"b"``; several as ``"ac"``,
    ``"a,c"``, ``"a c"`` or ``["a", "c"]``), a 0-based index or the option text. A mistake
    in the choice prints a hint instead of raising, so a notebook keeps running. Answers
    count towards :func:`score`, the same score the quiz widgets show.
    """
    quiz = _as_quiz(lesson)
    try:
        question = quiz[question_id]
    except KeyError as exc:
        print(exc.args[0])
        return
    try:
        result = check(question, choice)
    except ValueError as exc:
        print(f"[{question_id}] {exc}")
        return
    _scoreboard(quiz).record(result)
    print(result.text())


def score(lesson: Quiz | int | str) -> Score:
    """The score of a lesson's quiz, from the widgets and :func:`answer` alike.

    Returns a :class:`Score`; as a cell's last line it shows as one line.
    """
    quiz = _as_quiz(lesson)
    return _scoreboard(quiz).score(title=f"Quiz {quiz.number} ({quiz.title})")


# --------------------------------------------------------------------------- rendering

_FENCE = re.compile(r"```[\w+-]*\n(.*?)```", re.S)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
#: Inline code gets a background of its own, readable in light and dark themes.
_CODE_STYLE = "background:var(--cq-code-bg, rgba(110,118,129,0.16));padding:0 0.25em;border-radius:3px"


def to_html(text: str) -> str:
    """Render the small Markdown subset the banks use as HTML.

    Supports fenced code blocks, `inline code`, **bold** and line breaks; ``$...$`` math is
    left for MathJax (the widgets use ``HTMLMath``, and MathJax skips ``<code>``).
    """
    out: list[str] = []
    pos = 0
    for m in _FENCE.finditer(text):
        out.append(_inline_html(text[pos:m.start()]))
        out.append('<pre style="margin:4px 0;padding:4px 8px;background:rgba(127,127,127,0.12);'
                   'border-radius:4px;white-space:pre-wrap">'
                   f"<code>{html.escape(m.group(1).rstrip())}</code></pre>")
        pos = m.end()
    out.append(_inline_html(text[pos:]))
    return "".join(out)


def _inline_html(text: str) -> str:
    pieces = _INLINE_CODE.split(text.strip("\n"))
    rendered = []
    for k, piece in enumerate(pieces):
        if k % 2:
            rendered.append(f'<code style="{_CODE_STYLE}">{html.escape(piece)}</code>')
        else:
            escaped = html.escape(piece, quote=False)
            escaped = _BOLD.sub(r"<b>\1</b>", escaped)
            rendered.append(escaped.replace("\n", "<br>"))
    return "".join(rendered)


def to_text(text: str) -> str:
    """Plain-text rendering: fences and bold markers dropped, `code` kept as typed."""
    text = _FENCE.sub(lambda m: "\n" + "\n".join("    " + line for line in m.group(1).rstrip().splitlines()) + "\n",
                      text)
    return _BOLD.sub(r"\1", text).strip()


def quiz_text(quiz: Quiz) -> str:
    """The quiz as plain text, with instructions for answering in code."""
    lines = [
        f"Quiz {quiz.number}: {quiz.title} ({len(quiz)} questions)",
        f'Answer in code, for example:  answer("{quiz.number}", "{quiz.questions[0].id}", "a")',
        f'(several letters for "choose all that apply"; see your score with score("{quiz.number}"))',
    ]
    for n, q in enumerate(quiz, 1):
        kind = "choose all that apply" if q.multiple else "choose one"
        lines.append("")
        lines.append(f"Q{n} [{q.id}] ({kind})")
        lines.extend(_wrap(to_text(q.text), "  ", "  "))
        for i, option in enumerate(q.options):
            lines.extend(_wrap(f"{q.letter(i)}) {to_text(option.text)}", "   ", "      "))
    return "\n".join(lines)


def _wrap(text: str, first: str, rest: str, width: int = 92) -> list[str]:
    """Wrap prose to ``width`` columns; code lines (indented by 4 spaces) are kept as they are."""
    out: list[str] = []
    for k, line in enumerate(text.splitlines()):
        indent = first if k == 0 else rest
        if line.startswith("    ") or not line.strip():
            out.append((rest + line).rstrip())
        else:
            out.extend(textwrap.wrap(line, width, initial_indent=indent, subsequent_indent=rest,
                                     break_on_hyphens=False, break_long_words=False))
    return out


# --------------------------------------------------------------------------- widgets

# Colours: CSS variables with light-theme fallbacks, switched for JupyterLab's dark themes
# (and for any page that puts ``course-quiz-dark`` on an ancestor). The fallbacks keep
# contrast >= 4.5:1 on white; the dark values keep it on JupyterLab's dark background.
_OK = "var(--cq-ok, #1a7f37)"
_BAD = "var(--cq-bad, #b42318)"
_NEUTRAL = "var(--cq-muted, #57606a)"
_STYLE = """<style>
.course-quiz, .course-quiz-static {
  --cq-ok: #1a7f37; --cq-bad: #b42318; --cq-muted: #57606a; --cq-code-bg: rgba(110, 118, 129, 0.16);
}
body[data-jp-theme-light="false"] .course-quiz, body[data-jp-theme-light="false"] .course-quiz-static,
.course-quiz-dark .course-quiz, .course-quiz-dark .course-quiz-static {
  --cq-ok: #56d364; --cq-bad: #ff8e86; --cq-muted: #b1bac4; --cq-code-bg: rgba(150, 160, 170, 0.22);
}
.course-quiz-option-box .widget-label-basic > span {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.course-quiz-option-box input[type="checkbox"]:focus-visible { outline: 2px solid var(--jp-brand-color1, #1976d2); }
/* live widgets hide the saved copy; widgets that lost their kernel hide themselves */
.jp-OutputArea:has(.course-quiz:not(.jupyter-widgets-disconnected)) .course-quiz-static { display: none; }
.course-quiz.jupyter-widgets-disconnected { display: none; }
.jp-OutputArea:has(.course-quiz-static) .jp-OutputArea-output.jupyter-widgets:not(:has(.course-quiz)) { display: none; }
/* front ends without JupyterLab's output areas (Colab, VS Code): the same, page-wide */
body:not([data-jp-theme-name]):has(.course-quiz:not(.jupyter-widgets-disconnected)) .course-quiz-static { display: none; }
</style>"""

_RUN_NOTE = "Run this cell to answer this quiz."


def _widgets() -> Any:
    import ipywidgets

    return ipywidgets


def _kind(question: Question) -> str:
    return "choose all that apply" if question.multiple else "choose one"


class QuestionWidget:
    """The widgets of one question: a checkbox and a feedback line per option, Check,
    Try again and Show answers buttons, and a status line.

    ``box`` is the ipywidgets ``VBox`` to display. Single-answer questions let only one
    box be ticked at a time. Each checkbox is labelled with its option's text (read by
    screen readers; the visible label is the formatted text beside it), and the status
    line is a live region, so verdicts are announced. Tests (and curious students) can
    drive it in code: :meth:`select`, :meth:`check`, :meth:`retry`, :meth:`reveal`, or
    tick ``checkboxes[k].value`` and call ``check_button.click()``.
    """

    def __init__(self, question: Question, *, number: int = 1, shuffle: bool = True, seed: int = SEED,
                 on_result: Any = None, on_reveal: Any = None) -> None:
        w = _widgets()
        self.question = question
        #: ``order[k]`` is the canonical index of the option shown in position ``k``.
        self.order: list[int] = option_order(question, shuffle=shuffle, seed=seed)
        self.attempts = 0
        self.last_result: Result | None = None
        self._on_result = on_result
        self._on_reveal = on_reveal
        self._syncing = False

        self.prompt = w.HTMLMath(
            value=(f"<b>Q{number}.</b> {to_html(question.text)} "
                   f'<span style="color:{_NEUTRAL};font-size:90%">({_kind(question)})</span>'),
            layout=w.Layout(width="100%"),
        )
        self.checkboxes: list[ipywidgets.Checkbox] = []
        self.labels: list[ipywidgets.HTMLMath] = []
        self.feedback: list[ipywidgets.HTMLMath] = []
        rows = []
        for position, index in enumerate(self.order):
            option = question.options[index]
            box = w.Checkbox(value=False, indent=False, description=_plain(option.text),
                             layout=w.Layout(width="28px", flex="0 0 auto"))
            box.add_class("course-quiz-option-box")
            box.observe(self._changed, names="value")
            label = w.HTMLMath(value=to_html(option.text), layout=w.Layout(flex="1 1 auto"))
            label.add_class("course-quiz-option")
            note = w.HTMLMath(value="", layout=w.Layout(margin="0 0 0 32px"))
            note.add_class("course-quiz-feedback")
            self.checkboxes.append(box)
            self.labels.append(label)
            self.feedback.append(note)
            rows.append(w.VBox([w.HBox([box, label], layout=w.Layout(align_items="center")), note]))
        self.check_button = w.Button(description="Check", button_style="primary", icon="check",
                                     tooltip="Check your answer")
        self.retry_button = w.Button(description="Try again", icon="refresh",
                                     tooltip="Clear your choices and feedback")
        self.reveal_button = w.Button(description="Show answers", icon="eye",
                                      tooltip="Show the feedback on every option (ends first-try credit)")
        self.check_button.on_click(lambda _b: self.check())
        self.retry_button.on_click(lambda _b: self.retry())
        self.reveal_button.on_click(lambda _b: self.reveal())
        self.status = w.HTML(value=_status_html(""))
        self.status.add_class("course-quiz-status")
        buttons = w.HBox([self.check_button, self.retry_button, self.reveal_button])
        self.box = w.VBox([self.prompt, *rows, buttons, self.status],
                          layout=w.Layout(border="1px solid rgba(127,127,127,0.35)", padding="6px 10px",
                                          margin="0 0 10px 0"))
        self.box.add_class("course-quiz-question")

    # -- state --------------------------------------------------------------------

    @property
    def selected(self) -> tuple[int, ...]:
        """Canonical indices of the ticked options."""
        return tuple(sorted(self.order[k] for k, b in enumerate(self.checkboxes) if b.value))

    def _changed(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            if change["new"] and not self.question.multiple:
                for b in self.checkboxes:
                    if b is not change["owner"]:
                        b.value = False
            self._clear_feedback()
        finally:
            self._syncing = False

    def _clear_feedback(self) -> None:
        for note in self.feedback:
            note.value = ""
        self.status.value = _status_html("")

    def _tick(self, indices: Iterable[int]) -> None:
        wanted = set(indices)
        self._syncing = True
        try:
            for k, b in enumerate(self.checkboxes):
                b.value = self.order[k] in wanted
        finally:
            self._syncing = False

    # -- actions --------------------------------------------------------------------

    def select(self, choices: Choice | Iterable[Choice]) -> None:
        """Tick options by canonical index, letter or text (clears the others)."""
        self._tick(_normalise(self.question, choices))
        self._clear_feedback()

    def check(self) -> Result | None:
        """Check the ticked options, show per-option feedback, update the score."""
        if not self.selected:
            self.status.value = _status_html(f'<span style="color:{_NEUTRAL}">Pick an answer first.</span>')
            return None
        result = check(self.question, self.selected)
        self.attempts += 1
        self.last_result = result
        self._show(result)
        if self._on_result is not None:
            self._on_result(result)
        return result

    def _show(self, result: Result, note: str = "") -> None:
        for k, index in enumerate(self.order):
            if index in result.selected:
                option = self.question.options[index]
                self.feedback[k].value = _feedback_html(option.correct, option.feedback)
            else:
                self.feedback[k].value = ""
        color = _OK if result.correct else _BAD
        icon = "&#10004;" if result.correct else "&#10008;"
        self.status.value = _status_html(
            f'<b style="color:{color}">{icon} {html.escape(result.message)}</b>{note}')

    def restore(self, selected: Iterable[int], *, revealed: bool = False) -> None:
        """Show a choice checked in an earlier run (no attempt is counted)."""
        selected = tuple(selected)
        if selected:
            self._tick(selected)
            self.last_result = check(self.question, selected)
            self._show(self.last_result, f' <span style="color:{_NEUTRAL}">(your answer from before)</span>')
        if revealed:
            self._show_all(keep_status=bool(selected))

    def retry(self) -> None:
        """Untick everything and clear the feedback for another go."""
        self._tick(())
        self._clear_feedback()

    def reveal(self) -> None:
        """Show the feedback on every option. This ends first-try credit for the question."""
        self._show_all()
        if self._on_reveal is not None:
            self._on_reveal(self.question.id)

    def _show_all(self, keep_status: bool = False) -> None:
        for k, index in enumerate(self.order):
            option = self.question.options[index]
            self.feedback[k].value = _feedback_html(option.correct, option.feedback)
        if not keep_status:
            self.status.value = _status_html(
                f'<span style="color:{_NEUTRAL}">Answers shown: the right options are marked &#10004;. '
                "Checking this question now no longer counts as a first try.</span>")


def _status_html(inner: str) -> str:
    return f'<div role="status" aria-live="polite">{inner}</div>'


def _plain(text: str) -> str:
    """Option text for a checkbox's accessible name: no Markdown marks, one line."""
    return " ".join(_INLINE_CODE.sub(r"\1", to_text(text)).split())


_VERDICT_WORDS = re.compile(r"^(right|yes|correct|wrong|no|not|exactly|true|false)\b", re.I)


def _feedback_html(correct: bool, feedback: str) -> str:
    color, word, icon = (_OK, "Right", "&#10004;") if correct else (_BAD, "Wrong", "&#10008;")
    label = "" if _VERDICT_WORDS.match(feedback) else f"<b>{word}:</b> "
    return f'<span style="color:{color}">{icon} {label}{to_html(feedback)}</span>'


def quiz_html(quiz: Quiz, *, shuffle: bool = True, seed: int = SEED) -> str:
    """A static HTML copy of a quiz (no answers), saved in the notebook beside the widgets.

    It keeps the quiz readable where widgets cannot be drawn (a reopened notebook, a
    restarted kernel, GitHub, nbviewer) and tells the student to run the cell to answer.
    In JupyterLab the live widgets hide it.
    """
    parts = [f'<div class="course-quiz-static" style="max-width:60em">{_STYLE}',
             f'<p style="margin:2px 0 6px 0"><b>&#9654; {_RUN_NOTE}</b> '
             f'<span style="color:{_NEUTRAL}">(This is a saved copy of its questions.)</span></p>',
             f'<h3 style="margin:4px 0">Quiz {quiz.number}: {html.escape(quiz.title)}</h3>']
    for n, q in enumerate(quiz, 1):
        parts.append('<div style="border:1px solid rgba(127,127,127,0.35);padding:6px 10px;margin:0 0 10px 0">')
        parts.append(f'<p style="margin:2px 0"><b>Q{n}.</b> {to_html(q.text)} '
                     f'<span style="color:{_NEUTRAL};font-size:90%">({_kind(q)})</span></p>')
        parts.append('<ul style="list-style:none;margin:4px 0;padding-left:8px">')
        for index in option_order(q, shuffle=shuffle, seed=seed):
            parts.append(f'<li style="margin:2px 0">&#9744; {to_html(q.options[index].text)}</li>')
        parts.append("</ul></div>")
    parts.append("</div>")
    return "".join(parts)


class QuizWidget:
    """A whole quiz: one :class:`QuestionWidget` per question and a live score line.

    ``box`` is the ipywidgets ``VBox`` to display. The score is the lesson's shared one
    (the one :func:`score` and :func:`answer` use, saved between runs; see
    :func:`progress_dir`), unless a ``scoreboard`` is given. Answers checked before are
    shown again when the quiz is rebuilt.
    """

    def __init__(self, quiz: Quiz, *, shuffle: bool = True, seed: int = SEED,
                 scoreboard: Scoreboard | None = None) -> None:
        w = _widgets()
        self.quiz = quiz
        self.scoreboard = scoreboard if scoreboard is not None else _scoreboard(quiz)
        self.questions = [
            QuestionWidget(q, number=n, shuffle=shuffle, seed=seed, on_result=self._record,
                           on_reveal=self._revealed)
            for n, q in enumerate(quiz, 1)
        ]
        board = self.scoreboard
        for qw in self.questions:
            qid = qw.question.id
            if board.selected.get(qid) or board.revealed.get(qid):
                qw.restore(board.selected.get(qid, ()), revealed=board.revealed.get(qid, False))
                qw.attempts = board.attempts.get(qid, 0)
        self.title = w.HTML(value=f"{_STYLE}<h3 style='margin:4px 0'>Quiz {quiz.number}: "
                                  f"{html.escape(quiz.title)}</h3>")
        self.summary = w.HTML(value=self._summary_html())
        self.summary.add_class("course-quiz-score")
        self.box = w.VBox([self.title, *(q.box for q in self.questions), self.summary])
        self.box.add_class("course-quiz")

    def __getitem__(self, key: int | str) -> QuestionWidget:
        if isinstance(key, int):
            return self.questions[key]
        for q in self.questions:
            if q.question.id == key:
                return q
        raise KeyError(key)

    def _record(self, result: Result) -> None:
        self.scoreboard.record(result)
        self.summary.value = self._summary_html()

    def _revealed(self, question_id: str) -> None:
        self.scoreboard.reveal(question_id)
        self.summary.value = self._summary_html()

    def _summary_html(self) -> str:
        return f'<div role="status"><b>{html.escape(self.scoreboard.score().summary())}</b></div>'

    def score(self) -> Score:
        """The current score."""
        return self.scoreboard.score(title=f"Quiz {self.quiz.number} ({self.quiz.title})")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.box._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = f"Quiz {self.quiz.number}: {self.quiz.title} ({_RUN_NOTE})"
        return bundle


# --------------------------------------------------------------------------- display


def _env_choice(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def text_mode() -> bool:
    """True when quizzes should print as text instead of drawing widgets.

    ``COURSE_QUIZ_TEXT=1`` forces text and ``COURSE_QUIZ_TEXT=0`` forces widgets.
    Otherwise text is used with no IPython kernel (plain Python, a terminal IPython),
    while nbgrader grades (``NBGRADER_EXECUTION``), or when ipywidgets is missing.
    Colab, VS Code, JupyterLab and Notebook all run a kernel and get widgets; notebooks
    executed headless (nbval, nbconvert) also get widgets, whose plain-text fallback is
    the text quiz.
    """
    forced = _env_choice("COURSE_QUIZ_TEXT")
    if forced is not None:
        return forced
    if grading_mode():
        return True
    if "google.colab" in sys.modules:
        return False
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return True
    try:
        shell = ipython_mod.get_ipython()
    except Exception:  # pragma: no cover - exotic IPython
        return True
    if shell is None or getattr(shell, "kernel", None) is None:
        return True
    try:
        import ipywidgets  # noqa: F401
    except ImportError:  # pragma: no cover - ipywidgets is a dependency
        return True
    return False


def _display(obj: Any, raw: bool = False) -> None:
    from IPython.display import display

    display(obj, raw=raw)


def show_quiz(lesson: Quiz | int | str, shuffle: bool = True, seed: int = SEED, *,
              mode: str = "auto") -> None:
    """Show a lesson's quiz: widgets where a front end can draw them, else plain text.

    ``lesson`` is anything :func:`load_bank` accepts, or a :class:`Quiz`. Options are
    shuffled reproducibly (same ``seed``, same order) unless ``shuffle=False``; the text
    version always keeps the bank's order so its letters match :func:`answer`. ``mode``
    is ``"auto"`` (see :func:`text_mode`), ``"widgets"`` or ``"text"``. Returns nothing,
    so the quiz is never shown twice as a cell's result.

    With widgets, two outputs are shown: a static HTML copy of the questions (what a saved
    notebook shows without a kernel, with a line saying to run the cell) and the widgets,
    which hide that copy while they are live. Answers and score are those saved before.
    """
    if mode not in {"auto", "widgets", "text"}:
        raise ValueError(f"mode must be 'auto', 'widgets' or 'text', not {mode!r}")
    quiz = _as_quiz(lesson)
    use_text = text_mode() if mode == "auto" else mode == "text"
    if use_text:
        print(quiz_text(quiz))
        return
    widget = QuizWidget(quiz, shuffle=shuffle, seed=seed)
    _display({"text/html": quiz_html(quiz, shuffle=shuffle, seed=seed), "text/plain": quiz_text(quiz)},
             raw=True)
    _display(widget)
