"""Hostile input is data: SQL in every filter and command-line argument, quotes in paths."""

import dataclasses
import os
from pathlib import Path

import pytest

import cli
from survey import store as storage
from tests.conftest import story_answers, submit


@pytest.fixture
def store(any_store):
    """Every test here runs on both backends (DuckDB, a real PostgreSQL server)."""
    return any_store


HOSTILE = [
    "' OR 1=1 --",
    "orange'); DROP TABLE responses; --",
    '"; DELETE FROM contacts; --',
    "1; ATTACH 'x.db' AS x",
    "\\'; SELECT * FROM contacts --",
]
TUPLE_FIELDS = [f.name for f in dataclasses.fields(storage.Filters) if f.type.startswith("tuple")]


@pytest.fixture
def two_responses(store):
    submit(store, {**story_answers(), "contact_email": "a@example.org"}, fill_seconds=300)
    submit(store, {**story_answers(), "company": "orange"}, fill_seconds=300)
    return store


@pytest.mark.parametrize("field", TUPLE_FIELDS)
@pytest.mark.parametrize("value", HOSTILE)
def test_sql_in_every_filter_is_a_value(two_responses, field, value):
    filters = storage.Filters(**{field: (value,)})
    assert two_responses.count(filters) == 0
    assert len(two_responses.fetch_responses(filters)) == 0
    assert two_responses.count() == 2  # nothing dropped, nothing deleted


def test_every_tuple_filter_was_exercised():
    assert set(TUPLE_FIELDS) == {
        "companies",
        "sectors",
        "origins",
        "problems",
        "services",
        "departments",
    }


@pytest.mark.parametrize("value", HOSTILE)
def test_sql_in_command_line_arguments_is_a_value(two_responses, backend, tmp_path, value, capsys):
    db = str(backend.target)
    assert cli.main(["delete", value, "--db", db]) == 1
    folder = tmp_path / f"out{HOSTILE.index(value)}"
    folder.mkdir()
    # Quotes in file and folder names, including where DuckDB takes a literal path.
    quoted = folder / "it's; DROP TABLE responses; --"
    assert cli.main(["export", "--format", "csv", "--out", f"{quoted}.csv", "--db", db]) == 0
    assert cli.main(["backup", "--out", str(quoted), "--db", db]) == 0
    restored = backend.new_target(tmp_path, f"restored{HOSTILE.index(value)}")
    assert cli.main(["restore", str(quoted), "--db", str(restored)]) == 0
    assert storage.connect(restored).count() == 2
    assert two_responses.count() == 2


def test_backup_round_trip_keeps_everything(two_responses, backend, tmp_path):
    out = two_responses.backup(tmp_path / "backup")
    target = backend.new_target(tmp_path, "restored")
    restored = storage.restore(out, target)
    everything = storage.Filters(include_synthetic=True, include_flagged=True)
    original = two_responses.fetch_responses(everything)
    again = restored.fetch_responses(everything)
    assert original.equals(again)
    first = original["response_id"][0]
    assert restored.has_contact(first) == two_responses.has_contact(first)
    assert restored.schema_version() == storage.SCHEMA_VERSION
    with pytest.raises(FileExistsError):
        storage.restore(out, target)
    with pytest.raises(FileExistsError):
        two_responses.backup(out)


def test_database_and_backups_are_owner_only(two_responses, backend, tmp_path):
    """Issue 12: the database file, its write-ahead log and backups hold e-mails: 0600."""
    if backend.name == "duckdb":
        database = Path(str(backend.target))
        for path in (database, Path(f"{database}.wal")):
            if path.exists():
                assert path.stat().st_mode & 0o777 == 0o600
    out = two_responses.backup(tmp_path / "private-backup")
    assert out.stat().st_mode & 0o777 == 0o700
    files = list(out.iterdir())
    assert files
    assert {path.name: path.stat().st_mode & 0o777 for path in files} == {
        path.name: 0o600 for path in files
    }


def test_command_line_creates_owner_only_files(tmp_path, monkeypatch):
    """Even under a permissive umask, what ``clientroi`` creates is its owner's only."""
    previous = os.umask(0o022)
    try:
        db = tmp_path / "fresh.duckdb"
        assert cli.main(["demo", "--rows", "50", "--db", str(db)]) == 0
        assert db.stat().st_mode & 0o777 == 0o600
        out = tmp_path / "responses.csv"
        assert cli.main(["export", "--format", "csv", "--out", str(out), "--db", str(db)]) == 0
        assert out.stat().st_mode & 0o777 == 0o600
        assert os.umask(0o022) == 0o022  # the caller's umask is given back
    finally:
        os.umask(previous)
