"""A student's path through a real lesson in JupyterLab 4, driven in headless Chromium.

JupyterLab runs from this interpreter's environment with Binder's settings (binder/: no news
popup, widget state saved, nbgrader's student pieces only), on a free local port with a token
and a temporary root holding a copy of lesson 03. The test runs the whole lesson (fast mode)
and fails on any error output, "Error displaying widget" or browser console error; answers
quiz questions as a student would (wrong then "Try again", several answers with the keyboard
alone, "Show answers" then Check, right first time); runs axe-core on the page and fails on
serious or critical violations inside the notebook's outputs (JupyterLab's own chrome is
listed in ``tests/artifacts/axe_report.json``, not failed on); saves, reloads the page,
restarts the kernel and checks what the student sees; re-runs the quiz cell and checks the
score came back. A second test opens an exercise and presses Validate.

Every wait is on a state (kernel idle, an element present, a cell executed) with generous
time limits, so the tests hold on a busy two-core machine. Screenshots land in
``tests/artifacts/``. Skips only when Playwright or Chromium is missing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from course_utils.quiz import Question, load_bank
from tests.binder_helpers import binder_layout

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
#: Generous limits: these are upper bounds on waits for a state, never sleeps.
STEP_MS = 120_000
RUN_ALL_MS = 480_000
LESSON = "03_cnn_from_scratch"
EXERCISE = ROOT / "exercises" / "ps1_pixels"  # no TensorFlow: Validate answers quickly

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1500)]


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 240) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)  # polling interval while waiting for the state "server answers"
    raise TimeoutError(f"jupyter lab did not answer within {deadline_s} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # jupyter shuts its kernels down on SIGINT/SIGTERM
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the server we started
            proc.wait(timeout=10)


@dataclass
class Lab:
    base: str
    token: str
    root: Path
    progress: Path

    def url(self, path: str) -> str:
        return f"{self.base}/lab/tree/{path}?token={self.token}"


@pytest.fixture(scope="module")
def sync_api():
    api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    return api


@pytest.fixture(scope="module")
def lab(sync_api, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    shutil.copyfile(ROOT / "notebooks" / f"{LESSON}.ipynb", root / f"{LESSON}.ipynb")
    if EXERCISE.is_dir():
        shutil.copytree(EXERCISE, root / EXERCISE.name)
    layout = binder_layout(tmp)
    progress = tmp / "quiz-progress"
    drop = {"COURSE_QUIZ_TEXT", "NBGRADER_EXECUTION", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "MPLBACKEND"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        JUPYTER_CONFIG_PATH=str(layout.config_dir),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
        COURSE_FAST="1",
        COURSE_QUIZ_PROGRESS=str(progress),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.setdefault("COURSE_CACHE_DIR", str(tmp / "cache"))
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp / "jupyter.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.app_settings_dir={layout.app_settings_dir}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    with open(log, "wb") as log_file:
        server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", server, log)
        yield Lab(base, token, root, progress)
    finally:
        _stop(server)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "jupyter.log")


@pytest.fixture
def page(sync_api, lab):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                    timeout=STEP_MS)
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 1000})
            pg.set_default_timeout(STEP_MS)
            pg.console_errors = []  # type: ignore[attr-defined]
            pg.on("console", lambda msg: msg.type == "error" and pg.console_errors.append(msg.text))
            pg.on("pageerror", lambda exc: pg.console_errors.append(f"page error: {exc}"))
            yield pg
        finally:
            browser.close()


# --------------------------------------------------------------------------- JupyterLab helpers

_PANEL = "jupyterapp.shell.currentWidget"


def _open(page, lab: Lab, path: str, reset: bool = False) -> None:
    page.goto(lab.url(path) + ("&reset" if reset else ""), wait_until="domcontentloaded")
    page.wait_for_function(
        f"() => window.jupyterapp && {_PANEL} && {_PANEL}.context && {_PANEL}.context.path === {json.dumps(path)}"
        f" && {_PANEL}.context.isReady")
    _wait_idle(page)


def _wait_idle(page, timeout: int = STEP_MS) -> None:
    page.wait_for_function(
        f"() => {{ const k = {_PANEL}.sessionContext.session && {_PANEL}.sessionContext.session.kernel;"
        " return !!k && k.status === 'idle' && k.connectionStatus === 'connected'; }", timeout=timeout)


def _run_all(page) -> None:
    page.evaluate(f"() => {{ window.__ran = null; jupyterapp.commands.execute('notebook:run-all-cells')"
                  ".then(ok => { window.__ran = ok; }, err => { window.__ran = String(err); }); }")
    page.wait_for_function("() => window.__ran !== null", timeout=RUN_ALL_MS)
    _wait_idle(page)


def _cell_index(page, needle: str) -> int:
    return page.evaluate(
        f"needle => {{ const cells = {_PANEL}.content.widgets;"
        " return cells.findIndex(c => c.model.sharedModel.getSource().includes(needle)); }", needle)


def _run_cell(page, index: int) -> None:
    page.evaluate(f"i => {{ window.__ran = null; {_PANEL}.content.activeCellIndex = i;"
                  " jupyterapp.commands.execute('notebook:run-cell')"
                  ".then(ok => { window.__ran = ok; }, err => { window.__ran = String(err); }); }", index)
    page.wait_for_function("() => window.__ran !== null", timeout=RUN_ALL_MS)
    _wait_idle(page)


def _outputs(page) -> list[dict]:
    """Every output of every code cell, as the notebook model holds it."""
    return page.evaluate(
        f"() => {_PANEL}.content.widgets.filter(c => c.model.type === 'code').flatMap((c, i) =>"
        " c.model.outputs.toJSON().map(o => ({cell: i, ...o})))")


def _save(page) -> None:
    page.evaluate(f"() => jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(f"() => !{_PANEL}.context.model.dirty")


def _visible_text(page, text: str):
    return page.get_by_text(text).filter(visible=True)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


# --------------------------------------------------------------------------- the quiz


def _plain(text: str) -> str:
    from course_utils import quiz

    return quiz._plain(text)


def _needle(q: Question) -> str:
    """The start of a question's first line, as the page shows it."""
    return _plain(q.text.strip().splitlines()[0])[:30]


def _question_box(page, q: Question):
    number = [x.id for x in load_bank(LESSON)].index(q.id) + 1
    box = page.locator(".course-quiz-question").nth(number - 1)
    return box


def _option(page, q: Question, index: int):
    return _question_box(page, q).get_by_role("checkbox", name=_plain(q.options[index].text), exact=True)


def _status(page, q: Question):
    return _question_box(page, q).locator(".course-quiz-status [role='status']")


def _pick_questions(bank) -> dict[str, Question]:
    singles = [q for q in bank if not q.multiple]
    multis = [q for q in bank if q.multiple]
    assert len(singles) >= 3 and multis, "lesson 03's quiz needs three single- and one multi-answer question"
    return {"wrong_then_right": singles[0], "keyboard": multis[0], "shown_first": singles[1],
            "right_first": singles[2]}


def _answer_questions(page, expect, picked: dict[str, Question]) -> None:
    # 1. a wrong answer, feedback, "Try again", then the right one
    q = picked["wrong_then_right"]
    wrong = next(i for i, o in enumerate(q.options) if not o.correct)
    right = q.correct_indices[0]
    box = _question_box(page, q)
    box.scroll_into_view_if_needed()
    expect(box).to_contain_text(_needle(q))
    _option(page, q, wrong).check()
    box.get_by_role("button", name="Check").click()
    expect(_status(page, q)).to_contain_text("Not quite")
    expect(box.locator(".course-quiz-feedback").filter(has_text=_plain(q.options[wrong].feedback)[:40])
           ).to_be_visible()
    _shot(page, "quiz_wrong.png")
    box.get_by_role("button", name="Try again").click()
    expect(_option(page, q, wrong)).not_to_be_checked()
    expect(_status(page, q)).to_have_text("")
    _option(page, q, right).check()
    box.get_by_role("button", name="Check").click()
    expect(_status(page, q)).to_contain_text("Correct!")

    # 2. several answers with the keyboard alone: Space ticks, Enter presses Check
    q = picked["keyboard"]
    box = _question_box(page, q)
    box.scroll_into_view_if_needed()
    for index in q.correct_indices:
        _option(page, q, index).focus()
        page.keyboard.press("Space")
        expect(_option(page, q, index)).to_be_checked()
    box.get_by_role("button", name="Check").focus()
    page.keyboard.press("Enter")
    expect(_status(page, q)).to_contain_text("Correct!")

    # 3. "Show answers" first: right afterwards, but no first-try credit
    q = picked["shown_first"]
    box = _question_box(page, q)
    box.scroll_into_view_if_needed()
    box.get_by_role("button", name="Show answers").click()
    expect(_status(page, q)).to_contain_text("no longer counts as a first try")
    _option(page, q, q.correct_indices[0]).check()
    box.get_by_role("button", name="Check").click()
    expect(_status(page, q)).to_contain_text("Correct!")

    # 4. right the first time, with the mouse
    q = picked["right_first"]
    box = _question_box(page, q)
    _option(page, q, q.correct_indices[0]).check()
    box.get_by_role("button", name="Check").click()
    expect(_status(page, q)).to_contain_text("Correct!")


# --------------------------------------------------------------------------- accessibility


def _axe(page, name: str) -> dict:
    """Run axe-core; split violations into the course's outputs and JupyterLab's chrome."""
    axe_mod = pytest.importorskip("axe_playwright_python.sync_playwright",
                                  reason="axe-playwright-python is not installed (pip install -e .[test])")
    results = axe_mod.Axe().run(page).response
    report: dict = {"course": [], "jupyterlab": []}
    for violation in results["violations"]:
        for node in violation["nodes"]:
            selector = node["target"][-1] if node["target"] else ""
            inside = page.evaluate(
                "sel => { try { const el = document.querySelector(sel);"
                " return !!el && !!el.closest('.jp-OutputArea'); } catch (e) { return false; } }", selector)
            entry = {"id": violation["id"], "impact": violation["impact"], "target": node["target"],
                     "html": node["html"][:300], "summary": node.get("failureSummary", "")[:300]}
            report["course" if inside else "jupyterlab"].append(entry)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def _serious(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["impact"] in {"serious", "critical"}]


# --------------------------------------------------------------------------- the tests


def _show_quiz_cell(page) -> None:
    """Make the quiz cell the active one, scrolled into view (JupyterLab renders lazily)."""
    index = _cell_index(page, "show_quiz(")
    page.evaluate(f"i => {{ {_PANEL}.content.activeCellIndex = i;"
                  f" return {_PANEL}.content.scrollToItem(i, 'start'); }}", index)


def test_student_runs_a_lesson_answers_its_quiz_and_comes_back(sync_api, lab, page):
    expect = sync_api.expect
    expect.set_options(timeout=STEP_MS)
    bank = load_bank(LESSON)
    picked = _pick_questions(bank)
    path = f"{LESSON}.ipynb"
    started = time.monotonic()

    _open(page, lab, path)
    expect(page.get_by_text("Would you like to get notified about official Jupyter news?")).to_have_count(0)
    _run_all(page)
    _show_quiz_cell(page)
    quiz = page.locator(".course-quiz")
    expect(quiz).to_be_visible()
    expect(quiz).to_contain_text(f"Quiz {bank.number}: {bank.title}")
    expect(page.locator(".course-quiz-static")).to_be_hidden()  # the live widgets hide the saved copy
    outputs = _outputs(page)
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors, [f"cell {o['cell']}: {o.get('ename')}: {o.get('evalue')}" for o in errors]
    stderr = [o for o in outputs if o["output_type"] == "stream" and o.get("name") == "stderr"]
    assert not stderr, [f"cell {o['cell']}: {o['text'][:300]}" for o in stderr]
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    run_all_s = time.monotonic() - started

    _answer_questions(page, expect, picked)
    score_line = page.locator(".course-quiz-score")
    expected = f"Score: 4 / {len(bank)} correct, 2 on the first try (4 of {len(bank)} attempted)"
    expect(score_line).to_contain_text(expected)
    _shot(page, "quiz_answered.png")

    report = _axe(page, "axe_report.json")
    assert not _serious(report["course"]), json.dumps(_serious(report["course"]), indent=1)

    # the dark theme: verdicts and feedback stay readable (axe checks their contrast)
    page.evaluate("() => jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    _show_quiz_cell(page)
    expect(_status(page, picked["right_first"])).to_contain_text("Correct!")
    dark = _axe(page, "axe_report_dark.json")
    assert not _serious(dark["course"]), json.dumps(_serious(dark["course"]), indent=1)
    _shot(page, "quiz_dark.png")
    page.evaluate("() => jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")

    # save, reload the page: the kernel still runs, so the quiz is live again
    _save(page)
    page.reload(wait_until="domcontentloaded")
    _open(page, lab, path)
    _show_quiz_cell(page)
    # JupyterLab reconnects the widgets to the running kernel; if that loses a race on a
    # busy machine, the saved copy shows instead. Either way: readable, and no widget error.
    live_or_saved = page.locator(".course-quiz:visible, .course-quiz-static:visible")
    expect(live_or_saved).to_have_count(1)
    if page.locator(".course-quiz:visible").count():
        expect(score_line).to_contain_text(expected)
    expect(_visible_text(page, "Error displaying widget")).to_have_count(0)

    # restart the kernel: the widgets are dead, the saved copy says what to do
    page.evaluate(f"() => {_PANEL}.sessionContext.restartKernel()")
    _wait_idle(page)
    static = page.locator(".course-quiz-static")
    expect(static).to_be_visible()
    expect(static).to_contain_text("Run this cell to answer this quiz.")
    for q in bank:
        expect(static).to_contain_text(_needle(q))
    expect(page.locator(".course-quiz")).to_be_hidden()
    expect(page.locator(".jupyter-widgets-disconnected:visible")).to_have_count(0)  # no broken-link icons
    _shot(page, "quiz_after_restart.png")

    # run the quiz cell again: answers and score come back from the progress file
    _run_cell(page, _cell_index(page, "show_quiz("))
    expect(page.locator(".course-quiz")).to_be_visible()
    expect(score_line).to_contain_text(expected)
    expect(_status(page, picked["right_first"])).to_contain_text("Correct!")
    expect(static).to_be_hidden()
    assert (lab.progress / f"{LESSON}.json").is_file()
    _save(page)

    unexpected = [m for m in page.console_errors if not _harmless_console_error(m)]
    assert not unexpected, unexpected

    # reopen with no kernel behind the old widgets: the saved copy, no widget error on screen
    page.evaluate(f"() => {_PANEL}.sessionContext.session.kernel.shutdown()")
    page.reload(wait_until="domcontentloaded")
    _open(page, lab, path)
    _show_quiz_cell(page)
    expect(static).to_be_visible()
    expect(static).to_contain_text("Run this cell to answer this quiz.")
    expect(_visible_text(page, "Error displaying widget")).to_have_count(0)
    expect(page.locator(".jupyter-widgets-disconnected:visible")).to_have_count(0)
    _shot(page, "quiz_reopened.png")
    # JupyterLab's widget manager logs "widget model not found" for widget outputs whose
    # kernel is gone (that is what a reopened notebook is); anything else is a failure
    unexpected = [m for m in page.console_errors
                  if not _harmless_console_error(m) and "widget model not found" not in m]
    assert not unexpected, unexpected
    print(f"\nrun all of {LESSON}: {run_all_s:.0f} s; whole student path: {time.monotonic() - started:.0f} s; "
          f"axe serious/critical: course {len(_serious(report['course']))}, "
          f"JupyterLab chrome {len(_serious(report['jupyterlab']))}")


def _harmless_console_error(message: str) -> bool:
    """Console errors JupyterLab itself logs in an offline, sandboxed test server, and its
    debugger's complaint when a kernel restart cancels its state request (JupyterLab's chrome,
    not the course's output)."""
    return bool(re.search(r"Failed to load resource: the server responded with a status of 404"
                          r"|net::ERR_|favicon|^Could not restore the debugger state: Canceled future", message))


def test_student_validates_an_exercise(sync_api, lab, page):
    """nbgrader's Validate button (installed for students by binder/) runs the exercise and
    says which tests fail; the instructor's formgrader is not offered."""
    expect = sync_api.expect
    expect.set_options(timeout=STEP_MS)
    exercise = next((p for p in sorted(lab.root.glob("ps*/*.ipynb"))), None)
    if exercise is None:
        pytest.skip(f"no exercise notebook under {EXERCISE} (python tools/generate_exercises.py makes them)")
    path = exercise.relative_to(lab.root).as_posix()
    _open(page, lab, path, reset=True)  # a fresh workspace: only the exercise is open
    expect(page.get_by_role("menuitem", name="Formgrader")).to_have_count(0)
    panel_id = page.evaluate(f"() => {_PANEL}.id")
    toolbar = page.locator(f"[id='{panel_id}'] .jp-NotebookPanel-toolbar")
    toolbar.get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=RUN_ALL_MS)
    expect(dialog).to_contain_text("Validation Results")
    _shot(page, "validate.png")
    # nothing is answered yet: Validate names a failing test cell and the unanswered function
    expect(dialog).to_contain_text("failed")
    expect(dialog).to_contain_text("NotImplementedError")
    dialog.get_by_role("button", name="Ok").click()
    expect(dialog).to_have_count(0)
    unexpected = [m for m in page.console_errors if not _harmless_console_error(m)]
    assert not unexpected, unexpected
