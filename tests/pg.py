"""A real PostgreSQL server for the tests, started in a temporary folder (initdb, pg_ctl).

Debian's ``postgresql`` package provides the binaries (``.ci/run`` and ``make test`` install it
when run as root). PostgreSQL refuses to run as root, so as root the server runs as a
dedicated unprivileged user, ``clientroi-test`` (created with ``useradd`` when missing). It
listens on 127.0.0.1 and a free port, with trust authentication for the local test user, and
is stopped at the end of the session. Without the binaries the PostgreSQL tests are skipped
with one line; under ``CI=true`` they fail instead, so CI never skips them silently.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SEARCHED = [Path("/usr/lib/postgresql") / v / "bin" for v in ("17", "16", "15", "14")]
TEST_USER = "clientroi-test"
MISSING = (
    "PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL half of the "
    "store tests is skipped"
)


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    for folder in SEARCHED:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found and shutil.which("pg_ctl") else None


def skip_or_fail(reason: str = MISSING) -> None:
    """Skip, except under CI=true where a missing server is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the PostgreSQL tests: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user() -> str | None:
    """None when we are not root (the server runs as ourselves), else the test user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
            check=True,
            capture_output=True,
        )
    return TEST_USER


class PostgresServer:
    """One throw-away server: ``url(dbname)``, ``new_database()``, ``restart()``, ``stop()``."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.user = _unprivileged_user()
        self.folder = Path(tempfile.mkdtemp(prefix="clientroi-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.log = self.folder / "server.log"
        if self.user:
            info = pwd.getpwnam(self.user)
            os.chown(self.folder, info.pw_uid, info.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "clientroi", "--auth=trust", "-E", "UTF8")
        # Tests only: fsync off makes CREATE DATABASE fast; an immediate restart still replays
        # the write-ahead log (the operating system keeps the pages), so acknowledged
        # transactions survive it as they do on a real server.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off "
            f"-c unix_socket_directories={self.folder} -c max_connections=200 "
            "-c full_page_writes=off"
        )
        self.options = options
        self.start()

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.options, "-w", "start"
        )

    def restart(self, *, mode: str = "immediate") -> None:
        """``pg_ctl restart -m immediate``: the server dies without a checkpoint and recovers."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            self.options,
            "-m",
            mode,
            "-w",
            "restart",
        )

    def halt(self) -> None:
        """Stop the server, keeping its data (``start()`` brings it back)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://clientroi@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def execute(self, url: str, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement on ``url`` outside any store (what a test does behind its back)."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as con, con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []


@contextlib.contextmanager
def running_server():
    bindir = binaries()
    if bindir is None:
        yield None
        return
    server = PostgresServer(bindir)
    try:
        yield server
    finally:
        server.stop()
