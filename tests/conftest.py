"""Shared fixtures: every test gets a real DuckDB file in its own temporary folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from survey import store as storage
from survey.demo import generate_frame

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TODAY = date(2026, 6, 15)


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
