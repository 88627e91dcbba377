"""JupyterHub configuration of the course (a real class; see docs/jupyterhub.md).

Start it with ``sudo deploy/jupyterhub/start.sh`` (the one start-up command). Settings come from
the environment (start.sh reads /etc/pixels-to-poets/hub.env when it exists):

    COURSE_HUB_INSTRUCTORS   Unix user names of the instructors (comma- or space-separated)
    COURSE_HUB_STUDENTS      Unix user names of the students
    COURSE_HUB_EXCHANGE      nbgrader's shared exchange folder (default /srv/nbgrader/exchange)
    COURSE_GRADEBOOK_URL_FILE  a root-only file holding postgresql://... for several graders;
                             unset: each instructor's SQLite gradebook.db (one instructor)

Users log in with their Unix password (JupyterHub's PAM authenticator) and each server runs as
that Unix user (the local process spawner), so the exchange's and course directory's file
permissions are what keep students apart. See course_hub.py for what every setting does.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_hub  # noqa: E402

c = get_config()  # noqa: F821 - provided by JupyterHub

settings = course_hub.HubSettings.from_env()
course_hub.configure(c, settings)

c.JupyterHub.authenticator_class = "pam"
c.JupyterHub.spawner_class = "localprocess"
c.JupyterHub.bind_url = "http://:8000"
# Hub state (sessions, tokens) and its cookie secret outside the repository.
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
# Idle servers are not culled here: add jupyterhub-idle-culler as a service for a large class.
