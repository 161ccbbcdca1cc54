"""Shared fixtures: every test gets a real DuckDB file in its own temporary folder."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from survey import store as storage
from survey.demo import generate_frame

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TODAY = date(2026, 6, 15)
# ``clientroi publish`` defaults to the end of the last full month: tests that publish what
# they have just submitted say "as of today" (Paris).
AS_OF_TODAY = ("--as-of", datetime.now(ZoneInfo("Europe/Paris")).date().isoformat())


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "clientroi.duckdb"
    monkeypatch.setenv("CLIENTROI_DB", str(path))
    return path


@pytest.fixture
def store(db_path: Path) -> storage.Store:
    return storage.connect(db_path)


@pytest.fixture
def filled_store(store: storage.Store) -> storage.Store:
    """A store holding 2,000 seeded synthetic responses."""
    store.insert_frame(generate_frame(2_000, seed=42, today=TODAY))
    return store


def story_answers() -> dict:
    """The seed story (shared/seed) as valid answers."""
    from survey.demo import seed_story_answers

    return seed_story_answers()


def submit(store: storage.Store, answers: dict, **meta) -> storage.Receipt:
    from survey.validation import validate_answers

    outcome = validate_answers(answers)
    assert outcome.ok, outcome.errors("en")
    meta.setdefault("submission_key", storage.new_submission_key())
    meta.setdefault("deletion_code", storage.new_deletion_code())
    return store.insert_response(outcome.response, storage.SubmissionMeta(**meta))


# --- both backends ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the session (tests/pg.py), stopped at the end."""
    from tests import pg

    bindir = pg.binaries()
    if bindir is None:
        pg.skip_or_fail()
    server = pg.PostgresServer(bindir)
    yield server
    server.stop()


class Backend:
    """Where a parametrised test's store lives, and a way round the store for the test."""

    def __init__(self, name: str, target, server=None):
        self.name = name
        self.target = target  # a DuckDB path or a PostgreSQL URL
        self.server = server

    def execute(self, sql: str) -> list[tuple]:
        """Run SQL directly on the database (a test acting behind the store's back)."""
        if self.server is not None:
            return self.server.execute(self.target, sql)
        import duckdb

        with duckdb.connect(str(self.target)) as con:
            return con.execute(sql).fetchall()

    def new_target(self, tmp_path: Path, name: str):
        """Another empty database of the same backend."""
        return self.server.new_database() if self.server else tmp_path / f"{name}.duckdb"

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(params=["duckdb", "postgresql"])
def backend(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """Each store test runs on a DuckDB file and on a database of a real PostgreSQL server."""
    if request.param == "duckdb":
        path = tmp_path / "clientroi.duckdb"
        monkeypatch.setenv("CLIENTROI_DB", str(path))
        return Backend("duckdb", path)
    server = request.getfixturevalue("postgres_server")
    url = server.new_database()
    monkeypatch.setenv("CLIENTROI_DB", url)
    monkeypatch.setenv("CLIENTROI_DATA_DIR", str(tmp_path))  # the researcher token's folder
    return Backend("postgresql", url, server)


@pytest.fixture
def any_store(backend: Backend):
    """A store of each backend (see ``backend``)."""
    opened = storage.connect(backend.target)
    yield opened
    if backend.server is not None:
        opened.close()


@pytest.fixture
def any_filled_store(any_store):
    """A store of each backend holding 2,000 seeded synthetic responses."""
    any_store.insert_frame(generate_frame(2_000, seed=42, today=TODAY))
    return any_store


# --- `clientroi serve` in a real process (tests/test_cli.py, tests/test_store_pg.py) ---------

ROOT = Path(__file__).resolve().parent.parent


def start_serve(*args: str, env: dict | None = None) -> subprocess.Popen:
    """``clientroi serve ARGS`` as its own process, from the repository's folder."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--demo", "no", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ if env is None else env, PYTHONPATH=str(ROOT)),
    )


def http_get(port: int, path: str, *, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
        return reply.status, reply.read().decode("utf-8", "replace")


def wait_until_serving(process: subprocess.Popen, port: int, *, seconds: float = 45.0) -> None:
    """Until ``/_stcore/health`` answers on ``port``; fails with the output if the process
    ends or the time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve ended ({process.returncode}): {process.stdout.read()}")
        try:
            if http_get(port, "/_stcore/health", timeout=1.0)[0] == 200:
                return
        except OSError:
            time.sleep(0.3)
    process.kill()
    pytest.fail(f"nothing served on port {port} after {seconds} s: {process.stdout.read()}")


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux's /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, ended but not yet waited for, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def listening_addresses(port: int) -> set[str]:
    """The IPv4/IPv6 addresses with a socket listening on ``port`` (Linux's /proc/net)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    if width == 8:
                        found.add(str(ipaddress.IPv4Address(bytes.fromhex(address)[::-1])))
                    else:
                        words = [bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8)]
                        found.add(str(ipaddress.IPv6Address(b"".join(words))))
    return found


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` and a new server could bind it (as servers do, with
    SO_REUSEADDR: our own closed test connections linger in TIME_WAIT)."""
    if listening_addresses(port):
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_serve(process: subprocess.Popen, *, seconds: float = 20.0) -> int:
    """SIGTERM, as a service manager stops a service; the exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=seconds)
    finally:
        if process.poll() is None:
            process.kill()


def pytest_collection_modifyitems(items):
    """With ``make test``'s workers (pytest-xdist, ``--dist loadgroup``), the tests that drive
    Chromium run one after another on one worker, and so do the PostgreSQL load and fault
    tests: two of them at once on a 2-core machine would time each other out, while the
    thousands of short tests share the other worker."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif item.nodeid.startswith("tests/test_store_pg.py"):
            item.add_marker(pytest.mark.xdist_group("postgresql"))


def places(at) -> dict[str, tuple[int, ...]]:
    """Where each keyed element (a question, a button, a keyed container) is in the page's
    tree: its path of child indices from the main area."""
    found = {}

    def walk(node, path):
        for index, child in getattr(node, "children", {}).items():
            here = (*path, index)
            name = getattr(child, "key", None)
            if type(child).__name__ == "Block":
                name = (getattr(child.proto, "id", "") or "").rsplit("-", 1)[-1] or None
            if name:
                found[name] = here
            walk(child, here)

    walk(at.main, ())
    return found


def assert_nothing_moved(before: dict, after: dict, appeared: str) -> None:
    assert appeared not in before and appeared in after
    moved = {
        name: (before[name], after[name])
        for name in before.keys() & after.keys()
        if before[name] != after[name]
    }
    assert moved == {}, f"{appeared} appearing moved {moved}"
