"""Fast checks of the course's hub configuration (deploy/jupyterhub); the end-to-end run on a
real hub is tests/test_hub.py."""

from __future__ import annotations

import getpass
import json
import os
import pwd
import stat
import sys
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
HUB_DIR = REPO / "deploy" / "jupyterhub"
sys.path.insert(0, str(HUB_DIR))
import course_hub  # noqa: E402

ME = getpass.getuser()
URL = "postgresql+psycopg2://grader:secret@db.example/gradebook"


def settings(**kw):
    base = dict(instructors=[ME], students=["alice", "bob"], gradebook_url=URL,
                exchange_root=Path("/srv/x/exchange"))
    return course_hub.HubSettings(**{**base, **kw})


def test_configure_sets_groups_limits_and_the_course_environment():
    c = Config()
    course_hub.configure(c, settings())
    assert c.JupyterHub.load_groups == {"instructors": {"users": [ME]}, "students": {"users": ["alice", "bob"]}}
    assert c.Authenticator.allowed_users == {ME, "alice", "bob"}
    assert c.Spawner.cpu_limit == 1 and c.Spawner.mem_limit == "2G"
    assert c.Spawner.cmd[:3] == [str(Path(sys.prefix) / "bin" / "python"), "-m", "jupyterhub.singleuser"]
    assert "COURSE_DATA_DIR" in c.Spawner.env_keep


def test_only_instructors_get_the_course_directory_and_the_gradebook():
    s = settings()
    student = course_hub.server_environment("alice", s)
    assert student == {"JUPYTER_CONFIG_PATH": str(HUB_DIR / "roles" / "student"),
                       "COURSE_ID": "pixels-to-poets", "NBGRADER_EXCHANGE": "/srv/x/exchange"}
    instructor = course_hub.server_environment(ME, s)
    assert instructor["JUPYTER_CONFIG_PATH"] == str(HUB_DIR / "roles" / "instructor")
    assert instructor["NBGRADER_DB_URL"] == URL
    assert instructor["COURSE_ROOT"] == str(Path(pwd.getpwnam(ME).pw_dir) / "pixels-to-poets")
    # One instructor on SQLite: no URL handed out, nbgrader keeps gradebook.db in the course.
    assert "NBGRADER_DB_URL" not in course_hub.server_environment(ME, settings(gradebook_url=None))


def _lab_plugin_ids() -> set[str]:
    import re

    static = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader" / "static"
    found = set()
    for js in static.glob("*.js"):
        found |= set(re.findall(r"@jupyter/nbgrader:[a-z-]+", js.read_text(errors="replace")))
    return found


def test_roles_turn_nbgrader_pieces_on_and_off():
    student = json.loads((HUB_DIR / "roles/student/jupyter_server_config.json").read_text())
    ext = student["ServerApp"]["jpserver_extensions"]
    assert ext["nbgrader.server_extensions.formgrader"] is False
    assert ext["nbgrader.server_extensions.course_list"] is False
    assert ext["nbgrader.server_extensions.assignment_list"] is True
    assert ext["nbgrader.server_extensions.validate_assignment"] is True
    disabled = json.loads((HUB_DIR / "roles/student/labconfig/page_config.json").read_text())["disabledExtensions"]
    assert {k for k, v in disabled.items() if v} == {
        "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list"}
    plugins = _lab_plugin_ids()
    if plugins:  # the names must be the installed extension's real plugin ids
        assert set(disabled) <= plugins, set(disabled) - plugins
    instructor = json.loads((HUB_DIR / "roles/instructor/jupyter_server_config.json").read_text())
    assert all(instructor["ServerApp"]["jpserver_extensions"].values())


def _nbgrader_config(role: str, env: dict, monkeypatch) -> Config:
    for key in ("COURSE_ROOT", "NBGRADER_DB_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(HUB_DIR / "roles" / role))
    return loader.load_config()


def test_role_nbgrader_configs_read_the_hub_environment(monkeypatch):
    s = settings()
    student = _nbgrader_config("student", course_hub.server_environment("alice", s), monkeypatch)
    assert student.Exchange.root == "/srv/x/exchange"
    assert student.CourseDirectory.course_id == "pixels-to-poets"
    assert "db_url" not in student.CourseDirectory and "root" not in student.CourseDirectory
    instructor = _nbgrader_config("instructor", course_hub.server_environment(ME, s), monkeypatch)
    assert instructor.CourseDirectory.db_url == URL
    assert instructor.CourseDirectory.root.endswith("/pixels-to-poets")
    sqlite = _nbgrader_config("instructor", course_hub.server_environment(ME, settings(gradebook_url=None)),
                              monkeypatch)
    assert "db_url" not in sqlite.CourseDirectory  # nbgrader's default: sqlite gradebook.db


def test_memory_limit_covers_every_lessons_measured_peak():
    peaks = course_hub.measured_peak_mib()
    assert peaks, "benchmarks/results.json has no lesson measurements"
    limit = course_hub.limit_mib(course_hub.MEM_LIMIT)
    worst = max(peaks, key=peaks.get)
    assert peaks[worst] + course_hub.SERVER_OVERHEAD_MIB <= limit, (worst, peaks[worst], limit)


def test_hub_configs_load(monkeypatch, tmp_path):
    pytest.importorskip("jupyterhub", reason="jupyterhub not installed (pip install -e '.[test]')")
    from jupyterhub.app import JupyterHub

    env = {"COURSE_HUB_INSTRUCTORS": ME, "COURSE_HUB_STUDENTS": "alice, bob", "COURSE_HUB_STATE": str(tmp_path),
           "COURSE_HUB_TEST_PASSWORD": "pw", "COURSE_HUB_TEST_TOKEN": "t" * 32, "COURSE_HUB_PORT": "18000",
           "COURSE_HUB_HUB_PORT": "18001", "COURSE_HUB_PROXY_API_PORT": "18002"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    real = JupyterHub()
    real.load_config_file(str(HUB_DIR / "jupyterhub_config.py"))
    assert real.config.JupyterHub.authenticator_class == "pam"
    assert real.config.Authenticator.allowed_users == {ME, "alice", "bob"}
    test = JupyterHub()
    test.load_config_file(str(HUB_DIR / "localtest_config.py"))
    assert test.config.JupyterHub.authenticator_class == "dummy"
    assert test.config.Spawner.mem_limit == "2G"  # the real configuration underneath
    assert str(tmp_path) in test.config.JupyterHub.db_url


def test_missing_gradebook_url_file_is_named(tmp_path):
    missing = tmp_path / "gradebook_url"
    with pytest.raises(SystemExit, match=str(missing)):
        course_hub.HubSettings.from_env({"COURSE_GRADEBOOK_URL_FILE": str(missing)})
    missing.write_text(URL + "\n")
    assert course_hub.HubSettings.from_env({"COURSE_GRADEBOOK_URL_FILE": str(missing)}).gradebook_url == URL


def test_prepare_exchange_and_course(tmp_path, monkeypatch):
    ex = course_hub.prepare_exchange(settings(exchange_root=tmp_path / "exchange"))
    assert stat.S_IMODE(ex.stat().st_mode) == 0o1777
    home = tmp_path / "home"
    home.mkdir()
    fake = pwd.struct_passwd(("someone", "x", os.getuid(), os.getgid(), "", str(home), "/bin/sh"))
    monkeypatch.setattr(course_hub.pwd, "getpwnam", lambda name: fake)
    root = course_hub.prepare_course("someone", settings())
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert (root / "nbgrader_config.py").is_file()
    assert (root / "solutions" / "ps1_pixels" / "ps1_pixels.ipynb").is_file()
    (root / "solutions" / "mine.txt").write_text("instructor's own file")
    assert course_hub.prepare_course("someone", settings()) == root
    assert (root / "solutions" / "mine.txt").read_text() == "instructor's own file"  # left untouched
    assert [p.name for p in home.iterdir()] == ["pixels-to-poets"]  # no temporary folder left


def test_z2jh_values_match_the_course_hub():
    values = yaml.safe_load((HUB_DIR / "z2jh-values.yaml").read_text())
    single = values["singleuser"]
    assert single["cpu"]["limit"] == course_hub.CPU_LIMIT
    assert course_hub.limit_mib(single["memory"]["limit"]) == course_hub.limit_mib(course_hub.MEM_LIMIT)
    mounts = {m["mountPath"] for m in single["storage"]["extraVolumeMounts"]}
    assert "/srv/nbgrader/exchange" in mounts
    assert "NBGRADER_DB_URL" not in json.dumps(single)  # the gradebook URL only for instructors
