"""The course on a real JupyterHub: release, fetch, submit, collect, grade and return feedback.

The module fixture starts JupyterHub on localhost with the course's configuration
(deploy/jupyterhub/start.sh with the TEST-ONLY localtest_config.py: dummy authenticator, local
process spawner), a throwaway PostgreSQL gradebook, and three new Unix users: one instructor and
two students. Everything then goes through HTTP, as a browser would: the hub's REST API (log in,
token, start servers) and each user's server API (nbgrader's formgrader, assignment list and
validate handlers; Jupyter's contents API). The tests check the scores in the PostgreSQL
gradebook, that each student gets their own feedback, and that students cannot read other
students' submissions, the course directory or the gradebook.

Needs root (it creates Unix users and the spawner switches to them), Debian's postgresql
package, configurable-http-proxy (npm; .ci/run installs it into .ci/node) and JupyterHub.
"""

from __future__ import annotations

import copy
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
HUB_DIR = REPO / "deploy" / "jupyterhub"
sys.path.insert(0, str(HUB_DIR))
import course_hub  # noqa: E402

pytestmark = [pytest.mark.hub, pytest.mark.slow]
ASSIGNMENT = "ps1_pixels"
COURSE = course_hub.COURSE_ID


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "not root: the hub test creates Unix users and runs the hub's local spawner as root"
    for tool in ("useradd", "userdel", "runuser"):
        if not shutil.which(tool):
            return f"{tool} not found (package passwd/util-linux)"
    private = _unreadable_by_students()
    if private:
        return private
    if course_hub.postgres_bindir() is None:
        return "PostgreSQL's initdb not found (apt-get install -y postgresql)"
    if not _proxy():
        return "configurable-http-proxy not found (npm install --prefix .ci/node configurable-http-proxy)"
    for module in ("jupyterhub", "psycopg2", "requests"):
        try:
            __import__(module)
        except ImportError:
            return f"Python package {module} not installed (pip install -e '.[test]')"
    return None


def _unreadable_by_students() -> str | None:
    """The hub's servers run as the students: they must read the repository and this environment's packages."""
    try:
        import nbgrader
    except ImportError:
        return None  # reported below
    for path in (REPO / "pyproject.toml", Path(nbgrader.__file__)):
        probe = subprocess.run(["runuser", "-u", "nobody", "--", "test", "-r", str(path)], capture_output=True)
        if probe.returncode != 0:
            return (f"other Unix users cannot read {path} (a folder above it is private, for example a 0700 "
                    "temporary directory or /root); the hub's servers run as the students, so clone the "
                    "repository and create its environment where other users can read them")
    return None


def _proxy() -> str | None:
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(local) if local.exists() else shutil.which("configurable-http-proxy")


# --------------------------------------------------------------------------- notebooks
def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _answer_cells(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def fill(released: dict, solutions_nb, wrong: set[str] = frozenset()) -> dict:
    """The released notebook with every answer cell copied from the solution, except those in
    `wrong`, which keep the released stub (it raises NotImplementedError: no answer)."""
    nb = nbformat.from_dict(copy.deepcopy(released))
    answers = {_grade_id(c): _strip_markers(c.source) for c in _answer_cells(solutions_nb)}
    for cell in _answer_cells(nb):
        if _grade_id(cell) not in wrong:
            cell.source = answers[_grade_id(cell)]
    return nb


# --------------------------------------------------------------------------- the hub
class Hub:
    def __init__(self, base: str, token: str, password: str):
        import requests

        self.requests = requests
        self.base, self.password = base, password
        self.admin = {"Authorization": f"token {token}"}
        self.tokens: dict[str, str] = {}

    def login(self, name: str) -> str:
        """Log in through the hub's login form, then ask the hub's REST API for a token."""
        s = self.requests.Session()
        s.get(f"{self.base}/hub/login", timeout=30).raise_for_status()
        xsrf = s.cookies.get("_xsrf")
        r = s.post(f"{self.base}/hub/login", data={"username": name, "password": self.password,
                                                    "_xsrf": xsrf}, allow_redirects=False, timeout=30)
        assert r.status_code == 302, f"login of {name} failed: {r.status_code} {r.text[:300]}"
        r = s.post(f"{self.base}/hub/api/users/{name}/tokens", json={"note": "hub test", "expires_in": 3600},
                   headers={"X-XSRFToken": s.cookies.get("_xsrf") or xsrf}, timeout=30)
        assert r.status_code == 201, f"token for {name}: {r.status_code} {r.text[:300]}"
        self.tokens[name] = r.json()["token"]
        return self.tokens[name]

    def headers(self, name):
        return {"Authorization": f"token {self.tokens[name]}"}

    def start_server(self, name: str) -> None:
        r = self.requests.post(f"{self.base}/hub/api/users/{name}/server", headers=self.headers(name), timeout=60)
        assert r.status_code in (201, 202), f"starting {name}'s server: {r.status_code} {r.text[:300]}"

    def wait_ready(self, name: str) -> None:
        def ready():
            r = self.requests.get(f"{self.base}/hub/api/users/{name}", headers=self.headers(name), timeout=30)
            r.raise_for_status()
            server = r.json().get("servers", {}).get("")
            if server and not server.get("pending") and not server.get("ready"):
                raise AssertionError(f"{name}'s server stopped: {server}")
            return server and server.get("ready")

        course_hub.wait_for(ready, 240, f"{name}'s server to be ready")

    def user(self, name, method, path, *, ok=(200, 201), **kw):
        """A request to `name`'s own server (through the proxy, with their token)."""
        r = self.requests.request(method, f"{self.base}/user/{name}/{path}", headers=self.headers(name),
                                  timeout=600, **kw)
        if ok:
            assert r.status_code in ok, f"{method} /user/{name}/{path}: {r.status_code} {r.text[:2000]}"
        return r

    def formgrader(self, instructor, method, path, **kw):
        r = self.user(instructor, method, f"formgrader/api/{path}", **kw)
        data = r.json()
        if isinstance(data, dict) and "success" in data:
            assert data["success"], f"formgrader {path}: {data.get('error')}\n{data.get('log', '')[-4000:]}"
        return data


def user_python(tmp: Path) -> tuple[str, dict[str, str]]:
    """A Python prefix with the course's packages that other Unix users can run, and the
    environment variables it needs.

    Usually this very environment. Where its interpreter lives in a folder other users cannot
    enter (pyenv under /root, as on the course's CI machine), a copy of the same interpreter and
    standard library in the test's folder, loading this environment's packages (TEST ONLY: a
    real hub installs the course's requirements where every user can read them)."""
    probe = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", "import nbgrader"],
                           capture_output=True, cwd="/")
    if probe.returncode == 0:
        return sys.prefix, {}
    base = Path(sys.base_prefix)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = tmp / "user-python"
    (env / "bin").mkdir(parents=True)
    shutil.copy2(Path(sys.executable).resolve(), env / "bin" / f"python{version}")
    for name in ("python", "python3"):
        (env / "bin" / name).symlink_to(f"python{version}")
    shutil.copytree(base / "lib" / f"python{version}", env / "lib" / f"python{version}", symlinks=True,
                    ignore=shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo"))
    for lib in base.joinpath("lib").glob("libpython*.so*"):
        shutil.copy2(lib, env / "lib" / lib.name, follow_symlinks=False)
    site_packages = env / "lib" / f"python{version}" / "site-packages"
    site_packages.mkdir()
    ours = [p for p in sys.path if p.startswith(sys.prefix) and p.endswith("site-packages")]
    (site_packages / "course-env.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in ours))
    for script in (Path(sys.prefix) / "bin").iterdir():  # console scripts (nbgrader runs alembic)
        target = env / "bin" / script.name
        try:
            head, rest = script.read_bytes().split(b"\n", 1)
        except (ValueError, IsADirectoryError):
            continue
        if head.startswith(f"#!{sys.prefix}/bin/python".encode()) and not target.exists():
            target.write_bytes(f"#!{env}/bin/python\n".encode() + rest)
            target.chmod(0o755)
    for data in ("share/jupyter", "etc/jupyter"):  # templates, lab extensions, server config
        (env / data).parent.mkdir(parents=True, exist_ok=True)
        (env / data).symlink_to(Path(sys.prefix) / data)
    # The interpreter finds its libpython through an absolute path under the unreadable folder.
    return str(env), {"LD_LIBRARY_PATH": str(env / "lib")}


def _useradd(name: str, home: Path) -> None:
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
                    "--user-group", name], check=True, capture_output=True)
    os.chmod(home, 0o700)  # as on a real hub: homes private to their owner


@pytest.fixture(scope="module")
def hub_class():
    """Start the hub and run the whole round trip; yields what the tests check."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="course-hub-test-"))
    os.chmod(tmp, 0o755)
    tag = secrets.token_hex(3)
    instructor, alice, bob = f"hub{tag}-instr", f"hub{tag}-alice", f"hub{tag}-bob"
    users = [instructor, alice, bob]
    procs, pg = [], None
    try:
        (tmp / "home").mkdir(mode=0o755)
        for name in users:
            _useradd(name, tmp / "home" / name)
        pg = course_hub.LocalPostgres(tmp / "postgres").start()
        state = tmp / "hub"
        state.mkdir(mode=0o700)
        password, token = secrets.token_urlsafe(12), secrets.token_hex(32)
        port = course_hub.free_port()
        prefix, prefix_env = user_python(tmp)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "COURSE_HUB_CONFIG": str(HUB_DIR / "localtest_config.py"),
            "COURSE_HUB_PYTHON": sys.executable,
            "COURSE_HUB_PYTHON_PREFIX": prefix,
            **prefix_env,
            "COURSE_HUB_STATE": str(state),
            "COURSE_HUB_TEST_PASSWORD": password,
            "COURSE_HUB_TEST_TOKEN": token,
            "COURSE_HUB_PORT": str(port),
            "COURSE_HUB_HUB_PORT": str(course_hub.free_port()),
            "COURSE_HUB_PROXY_API_PORT": str(course_hub.free_port()),
            "COURSE_HUB_PROXY": _proxy(),
            "COURSE_HUB_INSTRUCTORS": instructor,
            "COURSE_HUB_STUDENTS": f"{alice},{bob}",
            "COURSE_HUB_EXCHANGE": str(tmp / "exchange"),
            "COURSE_GRADEBOOK_URL": pg.url,
            "COURSE_CACHE_DIR": str(tmp / "cache"),  # each user's kernels may write here
        }
        (tmp / "cache").mkdir(mode=0o1777)
        os.chmod(tmp / "cache", 0o1777)
        log = open(state / "hub.log", "wb")
        hub_proc = subprocess.Popen([str(HUB_DIR / "start.sh")], env=env, cwd=state, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(hub_proc)
        hub = Hub(f"http://127.0.0.1:{port}", token, password)

        def hub_up():
            if hub_proc.poll() is not None:
                raise AssertionError(f"the hub exited: {(state / 'hub.log').read_text()[-3000:]}")
            try:
                return hub.requests.get(f"{hub.base}/hub/api/", timeout=5).ok
            except hub.requests.ConnectionError:
                return False

        course_hub.wait_for(hub_up, 120, "the hub to answer")
        phases = {"set-up and hub start": time.monotonic() - started}
        mark = time.monotonic()

        def phase(name):
            nonlocal mark
            phases[name] = time.monotonic() - mark
            mark = time.monotonic()
        for name in users:
            hub.login(name)
        for name in users:
            hub.start_server(name)
        for name in users:
            hub.wait_ready(name)
        phase("3 logins and servers")

        # Instructor: generate the student version (records the assignment in the
        # PostgreSQL gradebook) and release it to the exchange.
        hub.formgrader(instructor, "POST", f"assignment/{ASSIGNMENT}/assign")
        hub.formgrader(instructor, "POST", f"assignment/{ASSIGNMENT}/release")
        phase("generate and release")

        solutions = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        answer_ids = [_grade_id(c) for c in _answer_cells(solutions)]
        wrong = set(answer_ids[-2:])  # bob gets the last two answers wrong
        listed, validated = {}, {}
        nb_path = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        for name in (alice, bob):
            listed[name] = hub.user(name, "GET", "assignments", params={"course_id": COURSE}).json()
            hub.user(name, "POST", "assignments/fetch", data={"assignment_id": ASSIGNMENT, "course_id": COURSE})
            released = hub.user(name, "GET", f"api/contents/{nb_path}", params={"content": 1}).json()["content"]
            answered = fill(released, solutions, wrong=wrong if name == bob else set())
            hub.user(name, "PUT", f"api/contents/{nb_path}",
                     json={"type": "notebook", "format": "json", "content": answered})
            validated[name] = hub.user(name, "POST", "assignments/validate", data={"path": nb_path}).json()
            r = hub.user(name, "POST", "assignments/submit", data={"assignment_id": ASSIGNMENT, "course_id": COURSE})
            assert r.json().get("success"), r.text[:2000]

        phase("fetch, fill, validate, submit")
        hub.formgrader(instructor, "POST", f"assignment/{ASSIGNMENT}/collect")
        for name in (alice, bob):
            hub.formgrader(instructor, "POST", f"submission/{ASSIGNMENT}/{name}/autograde")
        phase("collect and autograde")
        hub.formgrader(instructor, "POST", f"assignment/{ASSIGNMENT}/generate_feedback")
        hub.formgrader(instructor, "POST", f"assignment/{ASSIGNMENT}/release_feedback")
        submissions = hub.formgrader(instructor, "GET", f"submissions/{ASSIGNMENT}")
        for name in (alice, bob):
            r = hub.user(name, "POST", "assignments/fetch_feedback",
                         data={"assignment_id": ASSIGNMENT, "course_id": COURSE})
            assert r.json().get("success"), r.text[:2000]
        phase("feedback")

        yield {
            "hub": hub, "tmp": tmp, "pg": pg, "instructor": instructor, "alice": alice, "bob": bob,
            "prefix": prefix, "prefix_env": prefix_env, "solutions": solutions, "wrong": wrong, "listed": listed, "validated": validated,
            "submissions": {s["student"]: s for s in submissions}, "seconds": time.monotonic() - started, "phases": phases,
        }
    except BaseException:
        log_file = tmp / "hub" / "hub.log"
        if log_file.exists():
            (REPO / "tests" / "artifacts").mkdir(parents=True, exist_ok=True)
            shutil.copy(log_file, REPO / "tests" / "artifacts" / "hub.log")  # kept for a look
            print("---- hub log (last lines) ----\n" + log_file.read_text(errors="replace")[-6000:])
        raise
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the hub stops the users' servers on exit
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        _kill_leftovers(users)
        if pg is not None:
            pg.stop()
        for name in users:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
            subprocess.run(["groupdel", name], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _kill_leftovers(users: list[str]) -> None:
    """Kill, by process id, anything still running as the test's own (new) users."""
    uids = set()
    for name in users:
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            pass
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and proc.stat().st_uid in uids:
                os.kill(int(proc.name), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass


def as_user(hub_class, name: str, code: str) -> dict:
    """Run Python `code` as Unix user `name` with the users' Python (what a student can do from a
    terminal or a kernel); the code prints a JSON object."""
    python = str(Path(hub_class["prefix"]) / "bin" / "python")
    r = subprocess.run(["runuser", "-u", name, "--", python, "-c", code], capture_output=True,
                       text=True, timeout=120, cwd="/", env={**os.environ, **hub_class["prefix_env"]})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _gradebook_scores(url: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        return {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(ASSIGNMENT)}


def _test_points_after(solutions_nb, answer_ids) -> float:
    """Points of the graded test cell that follows each of the given answer cells."""
    total, after = 0.0, None
    for cell in solutions_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if _grade_id(cell) in answer_ids:
            after = True
        elif after and meta.get("grade"):
            total += meta.get("points", 0)
            after = None
    return total


def test_students_see_and_validate_the_released_assignment(hub_class):
    for name in (hub_class["alice"], hub_class["bob"]):
        listed = hub_class["listed"][name]
        assert listed["success"], listed
        assert [(a["course_id"], a["assignment_id"]) for a in listed["value"]] == [(COURSE, ASSIGNMENT)]
    # Validate (students' button) passes the right answers and reports bob's failures.
    assert hub_class["validated"][hub_class["alice"]]["success"]
    assert hub_class["validated"][hub_class["alice"]]["value"] == {}  # nothing failed or changed
    bob_report = hub_class["validated"][hub_class["bob"]]["value"]
    assert set(bob_report) == {"failed"}, bob_report
    # The first cell that fails is the first unanswered one (its stub raises).
    assert "NotImplementedError" in bob_report["failed"][0]["raw_error"], bob_report["failed"][0]


def test_scores_in_the_postgresql_gradebook(hub_class):
    scores = _gradebook_scores(hub_class["pg"].url)
    alice, bob = hub_class["alice"], hub_class["bob"]
    assert set(scores) == {alice, bob}
    max_score = scores[alice][1]
    assert max_score > 0
    assert scores[alice][0] == max_score
    lost = _test_points_after(hub_class["solutions"], hub_class["wrong"])
    assert 0 < scores[bob][0] <= max_score - lost
    # The formgrader (instructor's server) reads the same gradebook.
    fg = hub_class["submissions"]
    assert (fg[alice]["score"], fg[bob]["score"]) == (scores[alice][0], scores[bob][0])


def _feedback_html(hub_class, name) -> list[str]:
    hub = hub_class["hub"]
    folder = hub.user(name, "GET", f"api/contents/{ASSIGNMENT}/feedback").json()
    pages = []
    for stamp in folder["content"]:
        for item in hub.user(name, "GET", f"api/contents/{stamp['path']}").json()["content"]:
            if item["name"].endswith(".html"):
                r = hub.user(name, "GET", f"files/{item['path']}")
                pages.append(r.text)
    return pages


def test_each_student_gets_their_own_feedback(hub_class):
    scores = _gradebook_scores(hub_class["pg"].url)
    page = {}
    for name, other in ((hub_class["alice"], hub_class["bob"]), (hub_class["bob"], hub_class["alice"])):
        pages = _feedback_html(hub_class, name)
        assert len(pages) == 1, f"{name} fetched {len(pages)} feedback pages"
        score, max_score = scores[name]
        # The page's header, as nbgrader's feedback template writes it.
        assert f"{ASSIGNMENT} (Score: {round(float(score), 2)} / {round(float(max_score), 2)})" in pages[0]
        assert other not in pages[0]
        page[name] = pages[0]
    # Their own answers: only bob's notebook has unanswered cells (their stubs raise
    # NotImplementedError; the instructions mention it once in both).
    assert page[hub_class["bob"]].count("NotImplementedError") > page[hub_class["alice"]].count("NotImplementedError")


def test_students_cannot_read_others_work_course_or_gradebook(hub_class):
    tmp, pg, hub = hub_class["tmp"], hub_class["pg"], hub_class["hub"]
    alice, bob, instructor = hub_class["alice"], hub_class["bob"], hub_class["instructor"]
    exchange = tmp / "exchange" / COURSE
    inbound = sorted(p.name for p in (exchange / "inbound").iterdir())
    assert any(n.startswith(f"{alice}+{ASSIGNMENT}+") for n in inbound), inbound
    course_dir = course_hub.course_root(instructor, course_hub.HubSettings(course_dirname="pixels-to-poets"))
    assert (course_dir / "submitted" / alice / ASSIGNMENT).is_dir()
    instructor_uid = pwd.getpwnam(instructor).pw_uid
    pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == instructor_uid]
    assert pids, "the instructor's server is not running"
    probe = f"""
import json, os
out = {{}}
def attempt(key, f):
    try:
        f(); out[key] = "allowed"
    except Exception as e:
        out[key] = type(e).__name__
attempt("list_inbound", lambda: os.listdir({str(exchange / "inbound")!r}))
attempt("list_feedback", lambda: os.listdir({str(exchange / "feedback")!r}))
attempt("list_course", lambda: os.listdir({str(course_dir)!r}))
attempt("read_course_config", lambda: open({str(course_dir / "nbgrader_config.py")!r}).read())
attempt("read_submission", lambda: os.listdir({str(course_dir / "submitted" / alice)!r}))
attempt("list_alice_home", lambda: os.listdir({str(Path(pwd.getpwnam(alice).pw_dir))!r}))
attempt("instructor_env", lambda: [open(f"/proc/{{p}}/environ", "rb").read() for p in {pids!r}])
import psycopg2
attempt("gradebook_no_password", lambda: psycopg2.connect(host="127.0.0.1", port={pg.port},
        user={pg.user!r}, dbname={pg.database!r}, password="", connect_timeout=10))
print(json.dumps(out))
"""
    result = as_user(hub_class, bob, probe)
    assert result == {key: "PermissionError" for key in result if key != "gradebook_no_password"} | {
        "gradebook_no_password": "OperationalError"}, result
    # Through the hub: bob's server has no formgrader, and bob's token cannot reach alice's server.
    assert hub.user(bob, "GET", "formgrader/api/status", ok=None).status_code == 404
    r = hub.requests.get(f"{hub.base}/user/{alice}/api/contents", headers=hub.headers(bob), timeout=30,
                         allow_redirects=False)
    assert r.status_code in (302, 403, 404), r.status_code
    # The instructor's server does have it.
    assert hub.user(instructor, "GET", "formgrader/api/status").json() == {"status": True}
    print(f"\nhub round trip: {hub_class['seconds']:.0f} s (" + ", ".join(
        f"{k} {v:.0f} s" for k, v in hub_class["phases"].items()) + ")")
