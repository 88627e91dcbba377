"""The course on JupyterHub: what jupyterhub_config.py, start.sh, the hub test and the
autograding benchmark share.

* ``configure(c, settings)`` turns a JupyterHub config object into the course's hub: two
  groups (instructors, students), each user's server started from the course's Python
  environment with the nbgrader pieces of their role (``roles/<role>/`` is put on the
  server's JUPYTER_CONFIG_PATH), one nbgrader exchange shared by everyone, the gradebook URL
  handed to instructors only, and per-user limits taken from the course's measured needs.
* ``prepare_exchange`` / ``prepare_course`` create the shared exchange and an instructor's
  course directory with the permissions nbgrader's security rests on.
* ``LocalPostgres`` starts a throwaway PostgreSQL cluster (Debian's ``postgresql`` package)
  for the hub test and the benchmark; a real class points NBGRADER_DB_URL at its own server.

Nothing here imports JupyterHub, so the test of the configuration runs without a hub.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ROLES = HERE / "roles"
COURSE_ID = "pixels-to-poets"

# Per-user limits. The course's benchmark (benchmarks/RESULTS.md, "Lessons") measures every
# lesson's peak kernel memory in full mode: all stay under 2 GB, the course's budget, and every
# lesson runs on one core (it is written for a free Binder: 1 CPU, 2 GB). A server needs the
# kernel plus the Jupyter server itself (about 100-150 MB); tests/test_hub_config.py checks the
# limit stays above the measured peak plus that headroom.
CPU_LIMIT = 1.0
MEM_LIMIT = "2G"
SERVER_OVERHEAD_MIB = 150

# Environment variables the course reads (README, "Environment variables"), passed from the
# hub to every server so that a site can point COURSE_DATA_DIR at a shared read-only copy of the
# datasets instead of 300 downloads.
COURSE_ENV_KEEP = [
    "COURSE_DATA_DIR",
    "COURSE_FAST",
    "COURSE_ALLOW_RANDOM_WEIGHTS",
    "COURSE_CACHE_DIR",
    "COURSE_QUIZ_TEXT",
    "MPLBACKEND",
    "TF_CPP_MIN_LOG_LEVEL",
]


@dataclass
class HubSettings:
    """Where the course's hub keeps things. Defaults are for a real server (see docs/jupyterhub.md)."""

    course_id: str = COURSE_ID
    exchange_root: Path = Path("/srv/nbgrader/exchange")
    # Course directory of an instructor, relative to their home (formgrader needs it inside the
    # server's root directory, which is the home folder).
    course_dirname: str = "pixels-to-poets"
    instructors: list[str] = field(default_factory=list)
    students: list[str] = field(default_factory=list)
    # postgresql://user:password@host/db for several graders; None keeps nbgrader's SQLite file
    # (gradebook.db in the course directory) for one instructor.
    gradebook_url: str | None = None
    # The single-user environment: the Python that has the course's requirements installed.
    python_prefix: Path = Path(sys.prefix)
    cpu_limit: float = CPU_LIMIT
    mem_limit: str = MEM_LIMIT

    @classmethod
    def from_env(cls, environ=os.environ) -> "HubSettings":
        """Read COURSE_HUB_* variables (and a gradebook URL file readable by root only)."""

        def names(var):
            return [n for n in environ.get(var, "").replace(",", " ").split() if n]

        url = environ.get("COURSE_GRADEBOOK_URL") or None
        url_file = environ.get("COURSE_GRADEBOOK_URL_FILE")
        if not url and url_file:
            path = Path(url_file)
            if not path.is_file():
                raise SystemExit(f"COURSE_GRADEBOOK_URL_FILE={url_file}: no such file. Write the "
                                 "gradebook's postgresql:// URL into it (chmod 600), or unset the "
                                 "variable to keep nbgrader's SQLite gradebook.")
            url = path.read_text().strip() or None
        return cls(
            course_id=environ.get("COURSE_ID", COURSE_ID),
            exchange_root=Path(environ.get("COURSE_HUB_EXCHANGE", "/srv/nbgrader/exchange")),
            course_dirname=environ.get("COURSE_HUB_COURSE_DIRNAME", "pixels-to-poets"),
            instructors=names("COURSE_HUB_INSTRUCTORS"),
            students=names("COURSE_HUB_STUDENTS"),
            gradebook_url=url,
            python_prefix=Path(environ.get("COURSE_HUB_PYTHON_PREFIX", sys.prefix)),
        )


def role_of(username: str, settings: HubSettings) -> str:
    return "instructor" if username in settings.instructors else "student"


def course_root(username: str, settings: HubSettings) -> Path:
    return Path(pwd.getpwnam(username).pw_dir) / settings.course_dirname


def server_environment(username: str, settings: HubSettings) -> dict[str, str]:
    """Environment of one user's server: their role's config folder and nbgrader's locations."""
    role = role_of(username, settings)
    env = {
        "JUPYTER_CONFIG_PATH": str(ROLES / role),
        "COURSE_ID": settings.course_id,
        "NBGRADER_EXCHANGE": str(settings.exchange_root),
    }
    if role == "instructor":
        env["COURSE_ROOT"] = str(course_root(username, settings))
        if settings.gradebook_url:
            # Only instructors' servers see the gradebook's URL (and its password).
            env["NBGRADER_DB_URL"] = settings.gradebook_url
    return env


def configure(c, settings: HubSettings) -> None:
    """Make JupyterHub config object `c` the course's hub."""
    bindir = settings.python_prefix / "bin"
    c.JupyterHub.load_groups = {
        "instructors": {"users": list(settings.instructors)},
        "students": {"users": list(settings.students)},
    }
    # Hub roles: instructors may look at (not act as) their students' servers' status.
    c.JupyterHub.load_roles = [
        {
            "name": "course-instructor",
            "description": "Instructors of the course: see students and their servers' status",
            "scopes": ["read:users", "read:servers", "read:groups"],
            "groups": ["instructors"],
        }
    ]
    c.Authenticator.allowed_users = set(settings.instructors) | set(settings.students)
    c.Authenticator.admin_users = set(settings.instructors[:1])

    c.Spawner.cmd = [str(bindir / "python"), "-m", "jupyterhub.singleuser"]
    c.Spawner.default_url = "/lab"
    c.Spawner.notebook_dir = "~"
    c.Spawner.cpu_limit = settings.cpu_limit
    c.Spawner.mem_limit = settings.mem_limit
    c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", *COURSE_ENV_KEEP]
    # The servers take the course's Python first on PATH (kernels, nbgrader, course tools).
    c.Spawner.environment = {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin"}
    c.Spawner.http_timeout = 120
    c.Spawner.start_timeout = 180

    def pre_spawn_hook(spawner):
        name = spawner.user.name
        spawner.environment = {**spawner.environment, **server_environment(name, settings)}
        if role_of(name, settings) == "instructor":
            prepare_course(name, settings)

    c.Spawner.pre_spawn_hook = pre_spawn_hook


# --------------------------------------------------------------------------- folders
def prepare_exchange(settings: HubSettings) -> Path:
    """Create the shared exchange folder as nbgrader requires: everyone may write, sticky.

    nbgrader itself then makes the course's ``inbound`` folder write-only for students (they can
    drop a submission in but cannot list or read others') and ``feedback`` unlistable.
    """
    root = settings.exchange_root
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o1777)
    return root


def prepare_course(username: str, settings: HubSettings) -> Path:
    """Give an instructor a course directory (private to them) if they have none yet.

    It holds the course's nbgrader_config.py and solutions/ (nbgrader's source folder); the rest
    (exercises/, submitted/, autograded/, feedback/) nbgrader writes. An existing folder is left
    untouched.
    """
    user = pwd.getpwnam(username)
    root = Path(user.pw_dir) / settings.course_dirname
    if root.exists():
        return root
    tmp = root.with_name(f".{root.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.mkdir(mode=0o700)
    shutil.copy2(REPO / "nbgrader_config.py", tmp / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions", tmp / "solutions",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for path in [tmp, *tmp.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(tmp, 0o700)
    os.replace(tmp, root)
    return root


# --------------------------------------------------------------------------- PostgreSQL
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bindir() -> Path | None:
    """Folder with initdb/pg_ctl of Debian's postgresql package (or on PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


class LocalPostgres:
    """A throwaway PostgreSQL cluster in `folder` on a free localhost port (tests, benchmarks).

    Password authentication only (scram-sha-256), also for local connections, so that only
    someone given the URL can open the gradebook. PostgreSQL refuses to run as root; as root the
    cluster runs as `run_as` (Debian's postgres user).
    """

    def __init__(self, folder: Path, run_as: str = "postgres", database: str = "gradebook",
                 user: str = "grader"):
        self.folder = Path(folder)
        self.bindir = postgres_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL's initdb was not found: apt-get install -y postgresql")
        self.run_as = run_as if os.geteuid() == 0 else None
        self.database, self.user = database, user
        self.password = secrets.token_urlsafe(16)
        self.port = free_port()
        self.data = self.folder / "data"

    @property
    def url(self) -> str:
        # SQLAlchemy 2.1 would pick psycopg 3 for plain postgresql://; the course installs psycopg2.
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, args, **kw):
        cmd = [str(self.bindir / args[0]), *map(str, args[1:])]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)

    def start(self) -> "LocalPostgres":
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        pwfile = self.folder / "superuser.pw"
        superpw = secrets.token_urlsafe(16)
        pwfile.write_text(superpw + "\n")
        if self.run_as:
            os.chown(pwfile, pwd.getpwnam(self.run_as).pw_uid, -1)
        os.chmod(pwfile, 0o600)
        self._run(["initdb", "-D", self.data, "-U", "postgres", "--auth=scram-sha-256",
                   f"--pwfile={pwfile}", "-E", "UTF8", "--no-instructions"])
        pwfile.unlink()
        self._run(["pg_ctl", "-D", self.data, "-w", "-l", self.folder / "postgres.log",
                   "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
                         "-c max_connections=100 -c fsync=off", "start"])
        import psycopg2  # noqa: PLC0415 - only the PostgreSQL parts need it

        con = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                               password=superpw, dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f"CREATE ROLE {self.user} LOGIN PASSWORD %s", (self.password,))
            cur.execute(f"CREATE DATABASE {self.database} OWNER {self.user}")
        con.close()
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(["pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------- measured needs
def measured_peak_mib(results_json: Path = REPO / "benchmarks" / "results.json") -> dict[str, float]:
    """Largest measured peak kernel memory per lesson (MiB), from the benchmark's results."""
    data = json.loads(Path(results_json).read_text())
    peaks = {}
    for lesson, modes in data.get("lessons", {}).items():
        values = [m["peak_rss_mib"]["max"] for m in modes.values() if m.get("peak_rss_mib")]
        if values:
            peaks[lesson] = max(values)
    return peaks


def limit_mib(limit: str) -> float:
    units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    if limit[-1].upper() in units:
        return float(limit[:-1]) * units[limit[-1].upper()]  # as JupyterHub reads it: 1G = 1024M
    return float(limit) / 2**20


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def main(argv=None) -> int:
    """``python course_hub.py prepare``: create the exchange (start.sh runs this as root)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["prepare"]:
        settings = HubSettings.from_env()
        print(f"exchange: {prepare_exchange(settings)}")
        return 0
    print("usage: course_hub.py prepare", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
