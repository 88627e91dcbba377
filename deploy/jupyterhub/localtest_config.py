"""TEST ONLY: the course's hub on localhost, for tests/test_hub.py.

It loads the real configuration (jupyterhub_config.py) and replaces only what a test machine
cannot have: a dummy authenticator (one shared password, TEST ONLY, never on a real hub), a
local process spawner (still one Unix user per server, as on a real hub), temporary folders for
the hub's state, free localhost ports, and an API token for the test's driver service.
"""

import os

c = get_config()  # noqa: F821 - provided by JupyterHub
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "jupyterhub_config.py"))  # noqa: F821

state = os.environ["COURSE_HUB_STATE"]  # a temporary folder the test owns
c.JupyterHub.authenticator_class = "dummy"  # TEST ONLY
c.DummyAuthenticator.password = os.environ["COURSE_HUB_TEST_PASSWORD"]  # TEST ONLY
c.JupyterHub.spawner_class = "localprocess"
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['COURSE_HUB_PORT']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["COURSE_HUB_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['COURSE_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [os.environ.get("COURSE_HUB_PROXY", "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"
c.Spawner.env_keep.append("LD_LIBRARY_PATH")  # the test's copy of the interpreter needs it
c.Spawner.port = 0  # random free port per server
c.JupyterHub.services = [{"name": "hub-test-driver", "api_token": os.environ["COURSE_HUB_TEST_TOKEN"]}]
c.JupyterHub.load_roles = [
    *c.JupyterHub.load_roles,
    {"name": "hub-test-driver", "scopes": ["admin:users", "admin:servers", "tokens"],
     "services": ["hub-test-driver"]},
]
