"""binder/ gives students what the README promises: nbgrader's student pieces (Validate, the
assignment list) without the instructor ones, no Jupyter news popup, widget state saved, and
the same packages as requirements.txt. Checked against the installed JupyterLab and nbgrader."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.binder_helpers import BINDER, ROOT, binder_layout, installed_targets

INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list"}
STUDENT_PLUGINS = {"@jupyter/nbgrader:validate-assignment", "@jupyter/nbgrader:assignment-list"}
INSTRUCTOR_SERVER = {"nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"}
STUDENT_SERVER = {"nbgrader.server_extensions.validate_assignment", "nbgrader.server_extensions.assignment_list"}


def _load(name: str) -> dict:
    return json.loads((BINDER / name).read_text(encoding="utf-8"))


def _spec(line_or_text: str, package: str) -> str | None:
    m = re.search(rf'(?m)(?:^|["\s]){re.escape(package)}\s*([<>=!~][^"\s#]*)', line_or_text)
    return m.group(1).replace(" ", "") if m else None


def _labextensions_dir() -> Path:
    return Path(sys.prefix) / "share" / "jupyter" / "labextensions"


def test_every_binder_file_is_used_by_postbuild():
    targets = installed_targets()
    assert set(targets) == {"overrides.json", "page_config.json", "jupyter_server_config.json"}
    assert targets["overrides.json"] == "share/jupyter/lab/settings/overrides.json"
    assert targets["page_config.json"] == "etc/jupyter/labconfig/page_config.json"
    # loaded after nbgrader's own jupyter_server_config.d/nbgrader.json, so it wins
    server_target = Path(targets["jupyter_server_config.json"])
    assert server_target.parent.as_posix() == "etc/jupyter/jupyter_server_config.d"
    assert server_target.name > "nbgrader.json"
    for path in BINDER.iterdir():
        assert path.name in {"postBuild", "requirements.txt", "runtime.txt", *targets}, path


def test_postbuild_installs_the_nbgrader_the_course_is_tested_with():
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    test_extra = "\n".join(pyproject["project"]["optional-dependencies"]["test"])
    postbuild = (BINDER / "postBuild").read_text(encoding="utf-8")
    assert _spec(postbuild, "nbgrader") == _spec(test_extra, "nbgrader") is not None
    assert "set -euo pipefail" in postbuild


def test_binder_requirements_carry_what_the_settings_configure():
    reqs = (BINDER / "requirements.txt").read_text(encoding="utf-8")
    assert reqs == (ROOT / "requirements.txt").read_text(encoding="utf-8")
    for package in ("jupyterlab", "ipywidgets"):  # the settings below belong to these
        assert _spec(reqs, package), package
    assert _spec(reqs, "jupyterlab").startswith(">=4")


def test_runtime_python_is_one_the_package_supports():
    import tomllib

    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert m, runtime
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low = re.match(r">=\s*(\d+)\.(\d+)", requires)
    assert (int(m[1]), int(m[2])) >= (int(low[1]), int(low[2]))


def test_overrides_are_valid_jupyterlab_settings():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (comes with jupyterlab) is missing")
    overrides = _load("overrides.json")
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    schema_dirs = [Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas",
                   *(_labextensions_dir().glob("**/schemas"))]
    for plugin_id, values in overrides.items():
        package, plugin = plugin_id.split(":")
        found = [d / package / f"{plugin}.json" for d in schema_dirs if (d / package / f"{plugin}.json").is_file()]
        assert found, f"no installed JupyterLab extension has settings {plugin_id}"
        schema = json.loads(found[0].read_text(encoding="utf-8"))
        for key in values:
            assert key in schema["properties"], f"{plugin_id} has no setting {key!r}"
        jsonschema.validate(values, {**schema, "required": []})


def test_only_instructor_plugins_are_disabled_and_they_exist():
    disabled = {k for k, v in _load("page_config.json")["disabledExtensions"].items() if v}
    assert disabled == INSTRUCTOR_PLUGINS
    nbgrader_js = _labextensions_dir() / "@jupyter" / "nbgrader" / "static"
    if not nbgrader_js.is_dir():
        pytest.skip("nbgrader's JupyterLab extension is not installed (pip install -e .[test])")
    code = "".join(p.read_text(encoding="utf-8", errors="replace") for p in nbgrader_js.glob("*.js"))
    for plugin in INSTRUCTOR_PLUGINS | STUDENT_PLUGINS:
        assert f'"{plugin}"' in code, f"nbgrader has no plugin {plugin}; page_config.json is stale"


_SERVER_EXTENSIONS = """
import json
from jupyter_server.serverapp import ServerApp
app = ServerApp()
app.load_config_file()
app.find_server_extensions()
print(json.dumps(app.jpserver_extensions))
"""


def _server_extensions(env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", _SERVER_EXTENSIONS], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_server_extensions_as_a_binder_student_gets_them(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is not installed (pip install -e .[test])")
    layout = binder_layout(tmp_path)
    base = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "user"), "PYTHONPATH": str(ROOT)}
    base.pop("JUPYTER_CONFIG_PATH", None)
    without = _server_extensions(base)
    assert all(without.get(name) for name in INSTRUCTOR_SERVER), "control: nbgrader enables them all"
    student = _server_extensions({**base, "JUPYTER_CONFIG_PATH": str(layout.config_dir)})
    assert {name: student.get(name) for name in STUDENT_SERVER | INSTRUCTOR_SERVER} == {
        **{name: True for name in STUDENT_SERVER}, **{name: False for name in INSTRUCTOR_SERVER}}
    assert student.get("jupyterlab") is True  # nothing else switched off

    proc = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True,
                          text=True, env={**base, "JUPYTER_CONFIG_PATH": str(layout.config_dir)}, timeout=120)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    disabled = out.split("Disabled extensions:", 1)[1] if "Disabled extensions:" in out else ""
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin in disabled, out
    for plugin in STUDENT_PLUGINS:
        assert plugin not in disabled, out
