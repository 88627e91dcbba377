"""Lay out binder/'s JupyterLab and nbgrader settings the way binder/postBuild installs them,
but under a temporary folder, so tests (and the browser test's JupyterLab) use exactly the
files Binder gets without touching the environment's own configuration."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


@dataclass(frozen=True)
class BinderLayout:
    config_dir: Path  # put on JUPYTER_CONFIG_PATH (labconfig/, jupyter_server_config.d/)
    app_settings_dir: Path  # --LabApp.app_settings_dir (overrides.json)


def installed_targets() -> dict[str, str]:
    """binder file name -> where postBuild installs it, relative to the environment's prefix."""
    text = (BINDER / "postBuild").read_text(encoding="utf-8")
    pairs = re.findall(r'install -D -m 644 "\$here/([\w.]+)"\s*\\?\s*"\$prefix/([^"]+)"', text)
    return dict(pairs)


def binder_layout(tmp: Path) -> BinderLayout:
    """Copy binder/'s settings to ``tmp`` at the places postBuild uses below ``$prefix``."""
    prefix = tmp / "prefix"
    for name, target in installed_targets().items():
        dest = prefix / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BINDER / name, dest)
    return BinderLayout(config_dir=prefix / "etc" / "jupyter",
                        app_settings_dir=prefix / "share" / "jupyter" / "lab" / "settings")
