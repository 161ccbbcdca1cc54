"""Storage on both backends (the ``backend`` fixture: a DuckDB file, a real PostgreSQL server):
migrations, idempotent writes, private e-mails, deletion, exports; DuckDB's own connection policy."""

import csv
import io
import threading
import time
from datetime import date

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import cli
from survey import questionnaire as qn
from survey import store as storage
from survey.demo import generate_frame
from tests.conftest import story_answers, submit


@pytest.fixture
def store(any_store):
    """Every test here that takes ``store`` runs on both backends."""
    return any_store


@pytest.fixture
def filled_store(any_filled_store):
    return any_filled_store


def test_connect_creates_and_migrates_once(backend):
    first = storage.connect(backend.target)
    assert first.schema_version() == storage.SCHEMA_VERSION
    second = storage.connect(backend.target)  # applying migrations again changes nothing
    assert second.schema_version() == storage.SCHEMA_VERSION
    columns = second.columns()
    for q in qn.response_questions():
        assert q.id in columns
    assert "contact_email" not in columns
    assert len(second.companies()) == len(qn.companies())


def test_read_only_needs_an_existing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        storage.connect(tmp_path / "missing.duckdb", read_only=True)


def test_a_response_round_trips_with_its_metadata(store):
    receipt = submit(store, story_answers(), locale="en", fill_seconds=312.5)
    row = store.fetch_response(receipt.response_id)
    assert row["company"] == "free"
    assert row["started_on"] == date(2023, 7, 10)
    assert row["status"] == "ongoing"
    assert row["ended_on"] is None
    assert row["wasted_km"] == 40.0
    assert row["callbacks_received"] == 0  # zero is an answer, not a missing value
    assert row["unanswered_calls"] is None  # not answered stays NULL
    assert row["locale"] == "en"
    assert row["source"] == "web"
    assert row["questionnaire_version"] == qn.QUESTIONNAIRE_VERSION
    assert row["fill_seconds"] == 312.5
    assert row["flag_too_fast"] is False
    assert row["submitted_on"] == row["submitted_at"].date()


def test_same_submission_key_stores_one_row(store):
    key, code = storage.new_submission_key(), storage.new_deletion_code()
    first = submit(store, story_answers(), submission_key=key, deletion_code=code)
    again = submit(store, story_answers(), submission_key=key, deletion_code=code)
    assert first.created is True
    assert again.created is False
    assert again.response_id == first.response_id
    assert store.count() == 1


def test_concurrent_double_submissions_store_one_row_each(store):
    keys = [storage.new_submission_key() for _ in range(8)]
    errors = []

    def worker(key):
        try:
            for _ in range(3):
                submit(store, story_answers(), submission_key=key, deletion_code=key)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in keys for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == len(keys)


def test_quality_flags_are_recorded_not_rejected(store):
    submit(store, story_answers(), honeypot=True, fill_seconds=200)
    submit(store, story_answers(), fill_seconds=12)
    submit(store, story_answers(), session_id="browser-1")
    submit(store, story_answers(), session_id="browser-1")
    submit(store, story_answers(), fill_seconds=200, suspected_burst=True)
    frame = store.fetch_responses(storage.Filters(include_flagged=True))
    assert len(frame) == 5
    assert frame["flag_honeypot"].tolist() == [True, False, False, False, False]
    assert frame["flag_too_fast"].tolist() == [False, True, False, False, False]
    assert frame["flag_duplicate"].tolist() == [False, False, False, True, False]
    assert frame["flag_burst"].tolist() == [False, False, False, False, True]
    assert len(store.fetch_responses()) == 1  # flagged ones are left out by default
    assert store.count(storage.Filters()) == 1
    assert store.count() == 5


def test_a_burst_flagged_response_is_exported_with_its_flag(store, tmp_path):
    """Researchers see a burst-flagged response (exports keep every row by default, with the
    flag column, labelled in SPSS and Stata); a filtered export leaves it out."""
    submit(store, story_answers(), fill_seconds=200)
    burst = submit(store, story_answers(), fill_seconds=200, suspected_burst=True)
    assert store.fetch_response(burst.response_id)["flag_burst"] is True
    csv_path, parquet_path = tmp_path / "out.csv", tmp_path / "out.parquet"
    assert store.export(csv_path, fmt="csv") == 2
    assert store.export(parquet_path, fmt="parquet") == 2
    assert pd.read_csv(csv_path)["flag_burst"].tolist() == [False, True]
    assert pq.read_table(parquet_path).column("flag_burst").to_pylist() == [False, True]
    assert store.export(tmp_path / "counted.csv", fmt="csv", filters=storage.Filters()) == 1
    import pyreadstat

    for fmt, read in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
        out = tmp_path / f"out.{fmt}"
        assert store.export(out, fmt=fmt, lang="en") == 2
        data, meta = read(str(out))
        assert data["flag_burst"].tolist() == [0, 1]
        assert meta.column_names_to_labels["flag_burst"] == (
            "Arrived in a burst for the company (likely campaign)"
        )
    assert "flag_burst" in qn.exported_columns()
    codebook = {entry["id"]: entry for entry in qn.codebook()}
    assert codebook["flag_burst"]["type"] == "BOOLEAN"


def test_email_is_stored_apart_and_never_read_back(store):
    receipt = submit(store, {**story_answers(), "contact_email": "canary@example.org"})
    assert store.has_contact(receipt.response_id)
    frame = store.fetch_responses()
    assert "contact_email" not in frame.columns
    assert "canary@example.org" not in frame.to_csv()
    with pytest.raises(ValueError, match="columns"):
        store.fetch_responses(columns=["contact_email"])
    with pytest.raises(ValueError, match="columns"):
        store.fetch_responses(columns=["deletion_hash"])


def test_delete_by_code_removes_the_response_and_its_email(store):
    code = storage.new_deletion_code()
    receipt = submit(
        store, {**story_answers(), "contact_email": "a@example.org"}, deletion_code=code
    )
    submit(store, story_answers())
    assert store.delete_response("WRONG-CODE") is False
    # Codes are typed by people: case, spaces and dashes do not matter.
    assert store.delete_response(" " + code.lower().replace("-", " ") + " ") is True
    assert store.fetch_response(receipt.response_id) is None
    assert not store.has_contact(receipt.response_id)
    assert store.count() == 1
    assert store.delete_response(code) is False


def test_only_a_hash_of_the_deletion_code_is_stored(store, backend):
    code = storage.new_deletion_code()
    submit(store, story_answers(), deletion_code=code)
    stored = backend.execute("SELECT deletion_hash FROM responses")[0][0]
    dump = backend.execute("SELECT * FROM responses")
    assert stored == storage.hash_code(code)
    assert code not in repr(dump)
    assert code.replace("-", "") not in repr(dump)


def test_deletion_codes_are_long_random_and_readable():
    codes = {storage.new_deletion_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 19
        assert set(code.replace("-", "")) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


def test_filters_are_bound_parameters(filled_store):
    hostile = "orange' OR 1=1 --"
    assert filled_store.count(storage.Filters(companies=(hostile,), include_synthetic=True)) == 0
    assert (
        filled_store.count(
            storage.Filters(departments=("06); DROP TABLE responses; --",), include_synthetic=True)
        )
        == 0
    )
    assert filled_store.count() == 2000
    frame = filled_store.fetch_responses(
        storage.Filters(
            companies=("orange", "amazon"),
            started_from=date(2023, 1, 1),
            started_to=date(2024, 12, 31),
            include_synthetic=True,
        )
    )
    assert set(frame["company"]) == {"orange", "amazon"}
    assert frame["started_on"].min() >= pd.Timestamp("2023-01-01")
    assert frame["started_on"].max() <= pd.Timestamp("2024-12-31")
    assert set(frame["sector"]) == {"isp", "retailer"}


def test_synthetic_rows_are_excluded_unless_asked(filled_store):
    assert len(filled_store.fetch_responses()) == 0
    assert filled_store.source_counts() == {"synthetic": 2000}


def test_data_version_changes_with_every_write(store):
    empty = store.data_version()
    code = storage.new_deletion_code()
    submit(store, story_answers(), deletion_code=code)
    one = store.data_version()
    assert one != empty
    assert one.rows == 1
    store.delete_response(code)
    assert store.data_version().rows == 0


def test_exports_hold_no_email_no_hash_and_neutralise_formulas(store, tmp_path):
    submit(
        store,
        {
            **story_answers(),
            "narrative": '=HYPERLINK("http://evil","clic")',
            "company": "other",
            "company_other": "@SUM(A1)",
            "contact_email": "canary@example.org",
        },
    )
    csv_path, parquet_path = tmp_path / "out.csv", tmp_path / "out.parquet"
    assert store.export(csv_path, fmt="csv") == 1
    assert store.export(parquet_path, fmt="parquet") == 1
    text = csv_path.read_text(encoding="utf-8")
    assert "canary@example.org" not in text
    frame = pd.read_csv(csv_path)
    assert list(frame.columns) == list(qn.exported_columns())
    assert frame.loc[0, "narrative"] == '\'=HYPERLINK("http://evil","clic")'
    assert frame.loc[0, "company_other"] == "'@SUM(A1)"
    table = pq.read_table(parquet_path)
    assert table.column_names == list(qn.exported_columns())
    assert "canary" not in str(table.to_pylist())
    # Parquet keeps the text as typed: it is not read by spreadsheet formulas.
    assert table.column("narrative")[0].as_py().startswith("=HYPERLINK")


def test_contact_retention_purges_old_emails(store, backend):
    receipt = submit(store, {**story_answers(), "contact_email": "old@example.org"})
    backend.execute("UPDATE contacts SET stored_on = DATE '2020-01-01'")
    assert store.purge_contacts(older_than_days=365) == 1
    assert not store.has_contact(receipt.response_id)
    assert store.count() == 1  # the response itself stays


def test_a_url_opens_the_postgresql_store(backend, monkeypatch):
    """``connect()`` with no argument follows CLIENTROI_DB, a path or a URL."""
    opened = storage.connect()
    kind = "PostgresStore" if backend.name == "postgresql" else "Store"
    assert type(opened).__name__ == kind
    assert storage.is_server_url(str(backend.target)) is (backend.name == "postgresql")
    assert storage.default_db_path() == backend.target


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    from tests.pg import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/clientroi"
    with pytest.raises(storage.StoreUnavailable, match="cannot be reached"):
        storage.connect(url)


def test_2000_operations_leave_a_handful_of_threads(db_path):
    """One idle closer per open period, not a timer per operation (2,000 reads left 576 to
    1,287 threads alive before)."""
    store = storage.connect(db_path, keep_open=2.0)
    before = threading.active_count()
    peak = before
    for i in range(2000):
        store.count() if i % 2 else store.data_version()
        peak = max(peak, threading.active_count())
    assert peak <= before + 2
    store.close()


def test_the_idle_closer_releases_the_file_then_reopens(db_path):
    store = storage.connect(db_path, keep_open=0.2)
    submit(store, story_answers())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:  # another connection can open the file once the store has let it go
            with duckdb.connect(str(db_path)) as con:
                assert con.execute("SELECT count(*) FROM responses").fetchone()[0] == 1
            break
        except duckdb.IOException:
            time.sleep(0.05)
    else:
        raise AssertionError("the store kept the file open while idle")
    closers = [t for t in threading.enumerate() if t.name.startswith("clientroi-idle")]
    for closer in closers:
        closer.join(timeout=1.0)  # its work done, the closer ends instead of waiting on
    assert not any(closer.is_alive() for closer in closers)
    assert store.count() == 1  # reopened on demand


def test_a_failed_transaction_keeps_nothing(store):
    """insert_frames runs in one transaction: an error in the second frame rolls back the first."""
    good = generate_frame(10, seed=1, today=date(2026, 6, 15))
    bad = good.copy()
    bad["response_id"] = good["response_id"]  # the same primary keys again
    with pytest.raises(Exception, match="(?i)constraint|duplicate|unique"):
        store.insert_frames([good, bad])
    assert store.count() == 0
    assert store.insert_frames([good]) == 10  # the connection is usable afterwards


def test_a_failed_save_is_logged_without_the_answers(store, backend, caplog):
    backend.execute("DROP TABLE contacts")  # the e-mail cannot be stored: the save fails
    answers = {**story_answers(), "narrative": "CANARY-NARRATIVE", "contact_email": "c@example.org"}
    key = storage.new_submission_key()
    with caplog.at_level("ERROR", logger="survey.store"), pytest.raises(Exception) as raised:
        submit(store, answers, submission_key=key)
    assert "contacts" in str(raised.value)  # the missing table, DuckDB's or PostgreSQL's words
    (record,) = [r for r in caplog.records if r.name == "survey.store"]
    assert key in record.getMessage()
    assert record.exc_info[0] is raised.type
    logged = caplog.text
    assert "CANARY-NARRATIVE" not in logged
    assert "c@example.org" not in logged
    assert store.count() == 0  # rolled back: no response without its e-mail


FORMULA_STARTS = ("=", "+", "-", "@")


def _pieces(text: str, separator: str) -> list[str]:
    """What a spreadsheet that splits on ``separator`` (ignoring quotes) puts in cells."""
    return [piece.lstrip('"') for line in text.splitlines() for piece in line.split(separator)]


@pytest.mark.parametrize("dialect", ["comma", "fr"])
def test_csv_export_defuses_formulas_after_any_separator(store, tmp_path, dialect):
    """Issue 12: French Excel splits a .csv on ';', so "x;=1+2;y" inside one cell would give
    a live =1+2. Every piece, split on ',', ';' or tab, starts with no formula character."""
    submit(
        store,
        {
            **story_answers(),
            "narrative": "x;=1+2;y\tthen,@SUM(A1) and\n-2+3",
            "company": "other",
            "company_other": "=1+2",
        },
    )
    out = tmp_path / f"out-{dialect}.csv"
    assert store.export(out, fmt="csv", dialect=dialect) == 1
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") is (dialect == "fr")
    text = raw.decode("utf-8-sig")
    for separator in (",", ";", "\t"):
        live = [p for p in _pieces(text, separator) if p.startswith(FORMULA_STARTS)]
        assert live == []
    delimiter = ";" if dialect == "fr" else ","
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert len(rows) == 1
    assert rows[0]["narrative"] == "x;'=1+2;y\tthen,'@SUM(A1) and\n'-2+3"
    assert rows[0]["company_other"] == "'=1+2"
    assert list(rows[0]) == list(qn.exported_columns())
    # The French file, parsed with ';' as French Excel does: the exact example of issue 12.
    if dialect == "fr":
        assert [p for p in rows[0]["narrative"].split(";")][:3] == [
            "x",
            "'=1+2",
            "y\tthen,'@SUM(A1) and\n'-2+3",
        ]


def test_export_refuses_an_unknown_dialect(store, tmp_path):
    with pytest.raises(ValueError, match="`dialect`"):
        store.export(tmp_path / "x.csv", fmt="csv", dialect="excel")


def test_cli_export_offers_the_french_dialect(store, backend, tmp_path, capsys):
    submit(store, {**story_answers(), "narrative": "x;=1+2;y"})
    out = tmp_path / "fr.csv"
    db = str(backend.target)
    assert (
        cli.main(["export", "--format", "csv", "--dialect", "fr", "--out", str(out), "--db", db])
        == 0
    )
    text = out.read_bytes().decode("utf-8")
    assert text.startswith('\ufeff"response_id";')
    assert "x;'=1+2;y" in text
    assert (
        cli.main(
            ["export", "--format", "parquet", "--dialect", "fr", "--out", str(out), "--db", db]
        )
        == 2
    )
