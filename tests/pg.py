"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temp dir on a free port.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (created by
Debian's packages) or, failing that, to a `watcher-pg` system user we create. Each test gets its own
database (`CREATE DATABASE`), which takes milliseconds; the cluster lives for the whole session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

SEARCH = ["/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin"]


class ClusterError(RuntimeError):
    pass


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl live: $PG_BINDIR, PATH, then Debian's and the usual layouts."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    found = shutil.which("initdb")
    candidates.append(str(Path(found).parent) if found else "")
    for pattern in SEARCH:
        candidates += sorted(glob.glob(pattern), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _scratch() -> str | None:
    """/dev/shm when it has room: every test's database is a few MB written and removed again."""
    try:
        stat = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if stat.f_bavail * stat.f_frsize > 2 * 1024**3 and os.access("/dev/shm", os.W_OK) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _owner() -> str | None:
    """The unprivileged user to run the cluster as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "watcher-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "watcher-pg"],
                   check=True, capture_output=True)
    return "watcher-pg"


class Cluster:
    """One running server; `url(name)` gives a psycopg URL for a database in it."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        if self.bindir is None:
            raise ClusterError("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
                               "/usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`")
        self.user = _owner()
        self.dir = Path(tempfile.mkdtemp(prefix="watcher-pg-", dir=_scratch()))
        self.data = self.dir / "data"
        self.port = _free_port()
        self._counter = 0
        self._lock = threading.Lock()
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise ClusterError(f"{' '.join(args[:2])} failed: {proc.stdout}{proc.stderr}{tail}")

    def start(self) -> Cluster:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        with self._lock:
            self._counter += 1
            name = f"{prefix}_{os.getpid()}_{self._counter}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)
