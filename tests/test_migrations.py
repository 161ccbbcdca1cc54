"""Released migrations are frozen SQL files, one history in two dialects (DuckDB's
``NNNN_name.sql``, PostgreSQL's ``NNNN_name.postgres.sql``), and each builds the schema that the
questionnaire defines (each database's information_schema, read back)."""

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
    "0001_responses_contacts_reference.postgres.sql": (
        "e6e0d3d916e007758c71c22cde760113435692e078ffe71ea0126970831f5557"
    ),
    "0002_burst_flag.sql": "ccd5523d582588a1cba3cdc0189f27bcb7dfc76a13a8971507c7c29a9a2495a6",
    "0002_burst_flag.postgres.sql": (
        "84e6659e3fab19af7a41ce017e071f1a80f34b4a46fa816afed7ca762ebf5dc5"
    ),
    "0003_collected_from.sql": "b7805880dbdcd5ea1a7cb62dbfc59114de904b8e997cb950d903208b934296ba",
    "0003_collected_from.postgres.sql": (
        "c086ad826ecec4cd514cf7009d8cf8a47fbc11c1b63325be8612312b92318b66"
    ),
    "0004_events_drafts_reminders.sql": (
        "9ac4fc4e9b022b3c0b2754661de7248b2259f3e4cbaf5ccb85ce58444b4bf127"
    ),
    "0004_events_drafts_reminders.postgres.sql": (
        "2090fc164bec7e34b1b2a45801f06bb78f401e44bc54242595e7513d0f46dce3"
    ),
    # questionnaire version 2 (issue #13)
    "0005_new_questions.sql": "b3214605a5eabc2771557db2048748f9abd895112048c16ea3694da6340630b3",
    "0005_new_questions.postgres.sql": (
        "fa041bcbd278aa9f9d639faf162baaf456d026731ade1c2a4a849991f32b37ea"
    ),
}
# Every table the migrations create (besides schema_migrations).
TABLES = {
    "responses",
    "contacts",
    "companies",
    "departments",
    "response_events",
    "drafts",
    "reminders",
}
# How DuckDB's information_schema spells the types the questionnaire names.
SPELLED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
# How PostgreSQL's information_schema spells them.
PG_SPELLED = {
    "TIMESTAMPTZ": "timestamp with time zone",
    "VARCHAR": "character varying",
    "DOUBLE": "double precision",
}


def test_released_migrations_are_unchanged():
    folder = resources.files("survey") / "migrations"
    files = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    assert files[: len(RELEASED)] == sorted(RELEASED)
    for name, digest in RELEASED.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, (
            f"{name} was edited after its release: write a new migration instead"
        )
    released = [m.sha256 for d in storage.DIALECTS for m in storage.migrations(d)]
    assert sorted(released[: len(RELEASED)]) == sorted(RELEASED.values())


def test_both_dialects_have_the_same_history():
    duck, pg = storage.migrations("duckdb"), storage.migrations("postgresql")
    assert [(m.version, m.description) for m in duck] == [(m.version, m.description) for m in pg]
    assert [m.name.replace(".sql", ".postgres.sql") for m in duck] == [m.name for m in pg]
    with pytest.raises(ValueError, match="`dialect`"):
        storage.migrations("sqlite")


def test_migrations_are_numbered_in_order():
    migrations = storage.migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[-1].version == storage.SCHEMA_VERSION
    assert migrations[0].description == "responses, contacts, reference tables"
    assert migrations[1].description == "burst flag on responses"


def test_the_migrated_schema_is_the_questionnaires(db_path):
    """Column names, order and types of ``responses`` equal METADATA, the private columns and
    every stored question, then the metadata later migrations appended: a question or flag
    added or changed without a migration fails here."""
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
    assert columns == [(name, SPELLED.get(t, t)) for name, t in expected_columns()]
    assert tables == TABLES | {"schema_migrations"}


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
        con.execute(
            "INSERT INTO responses (response_id, submission_key, deletion_hash, flag_honeypot) "
            "VALUES (uuid(), 'release-1-row', 'hash', false)"
        )
    store = storage.connect(db_path)
    assert store.schema_version() == storage.SCHEMA_VERSION
    with duckdb.connect(str(db_path), read_only=True) as con:
        versions = [
            r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        ]
        # A row stored before 0002 was never checked for bursts: it reads false, not NULL.
        old_row = con.execute("SELECT flag_burst FROM responses").fetchall()
    assert versions == [m.version for m in storage.migrations()]
    assert old_row == [(False,)]


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


def expected_columns() -> list[tuple[str, str]]:
    """The first release's columns (metadata, private, version-1 questions), then each column
    a later migration appended (ALTER TABLE ... ADD COLUMN goes last), in migration order:
    the metadata of 0002 and 0003, then the questions of questionnaire version 2."""
    later = qn.METADATA_ADDED_BY_MIGRATION
    expected = [(name, sql_type) for name, sql_type, _ in qn.METADATA if name not in later]
    expected += list(qn.PRIVATE_COLUMNS)
    expected += [(q.id, q.sql_type) for q in qn.response_questions() if q.since_version == 1]
    types = {name: sql_type for name, sql_type, _ in qn.METADATA}
    expected += [(name, types[name]) for name in sorted(later, key=later.__getitem__)]
    migration = qn.VERSION_ADDED_BY_MIGRATION
    for version in sorted(migration, key=migration.__getitem__):
        expected += [(q.id, q.sql_type) for q in qn.response_questions(version)]
    return expected


def test_the_new_questions_are_added_by_one_migration_after_the_first_release():
    """Questionnaire version 2's columns are exactly what its migration appends, and a
    database of the previous release reads NULL in them (the question was not asked)."""
    version_2 = [q.id for q in qn.response_questions(2)]
    migration = storage.migrations()[qn.VERSION_ADDED_BY_MIGRATION[2] - 1]
    added = [
        line.split()[5] for line in migration.sql.splitlines() if line.startswith("ALTER TABLE")
    ]
    assert added == version_2
    assert {"status_known_on", "loaner_cut_count", "ease", "services_tv"} <= set(version_2)


def test_every_flag_is_a_boolean_metadata_column():
    types = {name: sql_type for name, sql_type, _ in qn.METADATA}
    assert {flag: types.get(flag) for flag in qn.FLAG_COLUMNS} == dict.fromkeys(
        qn.FLAG_COLUMNS, "BOOLEAN"
    )
    assert list(storage.column_types().items()) == expected_columns()


def test_the_migrated_postgresql_schema_is_the_questionnaires(postgres_server):
    """The same check on a real PostgreSQL server: columns, order, types, tables, indexes."""
    url = postgres_server.new_database()
    storage.connect(url).close()
    columns = postgres_server.execute(
        url,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'responses' AND table_schema = 'public' ORDER BY ordinal_position",
    )
    assert columns == [(name, PG_SPELLED.get(t, t.lower())) for name, t in expected_columns()]
    tables = {
        r[0]
        for r in postgres_server.execute(
            url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    assert tables == TABLES | {"schema_migrations"}
    indexes = {
        r[0]
        for r in postgres_server.execute(
            url, "SELECT indexname FROM pg_indexes WHERE tablename = 'responses'"
        )
    }
    assert {"responses_submission_key", "responses_deletion_hash", "responses_fingerprint"} <= (
        indexes
    )
    versions = postgres_server.execute(url, "SELECT version FROM schema_migrations ORDER BY 1")
    assert [v for (v,) in versions] == [m.version for m in storage.migrations("postgresql")]


def test_a_failed_postgresql_migration_leaves_nothing_half_done(postgres_server, monkeypatch):
    url = postgres_server.new_database()
    broken = storage.Migration(
        1, "0001_broken.postgres.sql", "broken", "CREATE TABLE a (x INTEGER);\nSELEC;"
    )
    monkeypatch.setattr(storage, "migrations", lambda dialect="duckdb": (broken,))
    with pytest.raises(Exception, match="SELEC"):
        storage.connect(url)
    assert postgres_server.execute(url, "SELECT to_regclass('a')") == [(None,)]
    assert postgres_server.execute(url, "SELECT count(*) FROM schema_migrations") == [(0,)]


def test_processes_starting_together_migrate_once(postgres_server):
    """Three stores opened at once on a new database (three app processes starting): the
    advisory lock lets one migrate; the others find the schema done."""
    import threading

    url = postgres_server.new_database()
    errors, stores = [], []

    def open_one():
        try:
            stores.append(storage.connect(url))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert postgres_server.execute(url, "SELECT count(*) FROM schema_migrations") == [
        (len(storage.migrations("postgresql")),)
    ]
    for opened in stores:
        opened.close()
