"""Drive a real JupyterLab in headless Chromium and answer a quiz by clicking.

Starts ``python -m jupyter lab`` from this interpreter's environment (so the kernel is this
venv's ipykernel) on a free local port with a token and a temporary root folder, opens a
notebook whose only cell shows lesson 03's quiz, runs the cell with Shift+Enter, ticks a
wrong option and presses Check, then the right one. The screenshot lands in
``tests/artifacts/quiz_browser.png``. Skips only when Playwright or Chromium is missing.
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
from pathlib import Path

import pytest

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
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(code: str) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "quiz-cell", "metadata": {},
                   "outputs": [], "source": code}],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 90) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer within {deadline_s} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # jupyter shuts its kernels down on SIGINT/SIGTERM
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the server we started
            proc.wait(timeout=10)


def test_quiz_answers_back_in_jupyterlab(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")

    root = tmp_path / "root"
    root.mkdir()
    code = 'from course_utils.quiz import show_quiz\nshow_quiz("03", shuffle=False)'
    (root / "quiz.ipynb").write_text(json.dumps(_notebook(code)), encoding="utf-8")
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")

    env = {k: v for k, v in os.environ.items()
           if k not in {"COURSE_QUIZ_TEXT", "NBGRADER_EXECUTION", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH"}}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyter.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
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
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                        timeout=TIMEOUT_MS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(TIMEOUT_MS)
                _answer_quiz_in_the_browser(page, sync_api.expect, f"{base}/lab/tree/quiz.ipynb?token={token}")
            finally:
                browser.close()
    finally:
        _stop(server)


def _answer_quiz_in_the_browser(page, expect, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    # wait until the notebook is open and its kernel is idle
    editor = page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first
    expect(editor).to_be_visible()
    expect(page.locator(".jp-StatusBar-Widget").filter(has_text=re.compile(r"\| Idle"))).to_have_count(
        1, timeout=90_000)
    editor.click()
    page.keyboard.press("Shift+Enter")

    quiz = page.locator(".course-quiz")
    expect(quiz).to_be_visible(timeout=90_000)
    expect(quiz).to_contain_text("Quiz 03: A CNN from scratch")
    question = page.locator(".course-quiz-question").filter(has_text="MaxPooling2D(2)")
    expect(question).to_have_count(1)
    question.scroll_into_view_if_needed()

    def option_box(text: str):
        row = question.locator(".widget-hbox").filter(
            has=page.locator(".course-quiz-option", has_text=text))
        return row.locator("input[type='checkbox']")

    status = question.locator(".course-quiz-status")
    check = question.get_by_role("button", name="Check")

    option_box("(15, 15, 8)").check()  # wrong: pooling keeps all 16 channels
    check.click()
    expect(status).to_contain_text("Not quite")
    expect(question.locator(".course-quiz-feedback").filter(has_text="Pooling works on each channel separately")
           ).to_be_visible()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quiz_browser_wrong.png"))

    right = option_box("(15, 15, 16); 0 parameters")
    right.check()  # ticking another box unticks the wrong one (single answer) and clears feedback
    expect(option_box("(15, 15, 8)")).not_to_be_checked()
    check.click()
    expect(status).to_contain_text("Correct!")
    expect(question.locator(".course-quiz-feedback").filter(has_text="Each 2 x 2 window becomes its maximum")
           ).to_be_visible()
    expect(page.locator(".course-quiz-score")).to_contain_text("Score: 1 / 6 correct, 0 on the first try")

    question.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "quiz_browser.png"))
