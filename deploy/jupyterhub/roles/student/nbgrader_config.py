"""nbgrader settings of a student's server on the course hub (loaded through JUPYTER_CONFIG_PATH).

The hub (deploy/jupyterhub/course_hub.py) sets COURSE_ID and NBGRADER_EXCHANGE for every server.
Students only fetch, validate and submit; their nbgrader has no course directory and no gradebook.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader
c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "pixels-to-poets")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
