"""nbgrader settings of an instructor's server on the course hub (loaded through JUPYTER_CONFIG_PATH).

The hub (deploy/jupyterhub/course_hub.py) sets COURSE_ID, NBGRADER_EXCHANGE and COURSE_ROOT for
instructors, and NBGRADER_DB_URL when the gradebook lives in PostgreSQL (several graders).
Without NBGRADER_DB_URL nbgrader keeps its default SQLite gradebook.db in the course directory,
which is right for one instructor. The course's own nbgrader_config.py (in COURSE_ROOT) adds the
course layout (solutions/ -> exercises/) and the grading settings.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader
c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "pixels-to-poets")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
if os.environ.get("COURSE_ROOT"):
    c.CourseDirectory.root = os.environ["COURSE_ROOT"]
if os.environ.get("NBGRADER_DB_URL"):
    c.CourseDirectory.db_url = os.environ["NBGRADER_DB_URL"]
