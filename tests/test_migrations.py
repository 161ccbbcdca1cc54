"""Released migrations are frozen SQL files, and together they build the schema that the
questionnaire defines (DuckDB's information_schema, read back)."""

import hashlib
from importlib import resources

import duckdb
import pytest

from survey import questionnaire as qn
from survey import store as storage

# SHA-256 of every released migration. A released file never changes: a new or changed
# question is a new file (0002_...sql), recorded here when it is released.
RELEASED = {
    "0001_responses_contacts_reference.sql": (
        "75d843e9d2603a0d29c71474cd5b3b9ba56644325edce34421c1cc611283751f"
    ),
}
# How DuckDB's information_schema spells the types the questionnaire names.
SPELLED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def test_released_migrations_are_unchanged():
    folder = resources.files("survey") / "migrations"
    files = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    assert files[: len(RELEASED)] == sorted(RELEASED)
    for name, digest in RELEASED.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, (
            f"{name} was edited after its release: write a new migration instead"
        )
    assert [m.sha256 for m in storage.migrations()][: len(RELEASED)] == list(RELEASED.values())


def test_migrations_are_numbered_in_order():
    migrations = storage.migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[-1].version == storage.SCHEMA_VERSION
    assert migrations[0].description == "responses, contacts, reference tables"


def test_the_migrated_schema_is_the_questionnaires(db_path):
    """Column names, order and types of ``responses`` equal METADATA, the private columns and
    every stored question: a question added or changed without a migration fails here."""
    storage.connect(db_path)
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'responses' ORDER BY ordinal_position"
        ).fetchall()
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        }
    expected = [(name, sql_type) for name, sql_type, _ in qn.METADATA]
    expected += list(qn.PRIVATE_COLUMNS)
    expected += [(q.id, q.sql_type) for q in qn.response_questions()]
    assert columns == [(name, SPELLED.get(t, t)) for name, t in expected]
    assert tables == {"responses", "contacts", "companies", "departments", "schema_migrations"}


def test_a_database_of_an_older_release_is_migrated_forward(db_path):
    """Apply only the first migration by hand (a database created by release 1), then connect:
    the later migrations run once, and the recorded versions are every migration's."""
    first = storage.migrations()[0]
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "CREATE TABLE schema_migrations ("
            "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ)"
        )
        con.execute(first.sql)
        con.execute("INSERT INTO schema_migrations VALUES (1, ?, now())", [first.description])
    store = storage.connect(db_path)
    assert store.schema_version() == storage.SCHEMA_VERSION
    with duckdb.connect(str(db_path), read_only=True) as con:
        versions = [
            r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        ]
    assert versions == [m.version for m in storage.migrations()]


def test_a_failed_migration_leaves_nothing_half_done(db_path, monkeypatch):
    """The migration runs in one transaction: a failing statement rolls all of it back."""
    broken = storage.Migration(
        1, "0001_broken.sql", "broken", "CREATE TABLE a (x INTEGER);\nSELEC;"
    )
    monkeypatch.setattr(storage, "migrations", lambda: (broken,))
    with pytest.raises(duckdb.ParserException):
        storage.connect(db_path)
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        assert "a" not in tables
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 0
