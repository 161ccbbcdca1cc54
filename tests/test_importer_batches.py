"""Importing in batches: a file read, checked and staged a batch at a time is stored all at
once or not at all, and its rows get the same keys as when read in one piece."""

import csv
from datetime import date

import pyarrow as pa
import pytest

from survey import store as storage
from survey.importer import ImportRefused, import_file, read_batches

TODAY = date(2026, 6, 15)
ALL = storage.Filters(include_synthetic=True, include_flagged=True)
HEADER = ["company", "problem", "started_on", "status", "ended_on", "consent_research"]
# Three distinct experiences, each told many times: identical rows in different batches.
EXPERIENCES = [
    ["free", "outage", "2023-07-10", "ongoing", "", "oui"],
    ["orange", "billing", "2024-01-05", "resolved", "2024-01-20", "yes"],
    ["amazon", "delivery", "2024-03-01", "resolved", "2024-03-02", "true"],
]
ROWS = 3_000  # about 130 kB: with 500-row batches, several of Arrow's 64 kB blocks


def write_rows(path, rows, *, last=None):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
        if last is not None:
            writer.writerow(last)
    return path


def repeated(count):
    return [EXPERIENCES[i % len(EXPERIENCES)] for i in range(count)]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".import-" in p.name)


def test_an_unreadable_row_in_the_last_batch_leaves_nothing_imported(any_store, tmp_path):
    """The earlier batches were read, checked and staged; the file's last row has a cell too
    many: the whole file is refused, the stored rows are those stored before, no staging file
    is left behind."""
    import_file(write_rows(tmp_path / "one.csv", EXPERIENCES[1:2]), any_store, today=TODAY)
    before = any_store.count(ALL)
    assert before == 1
    path = write_rows(tmp_path / "late.csv", repeated(ROWS), last=[*EXPERIENCES[0], "extra"])
    assert len(list(read_batches(write_rows(tmp_path / "fine.csv", repeated(ROWS)), rows=500))) >= 3
    with pytest.raises(ImportRefused, match="not a readable table"):
        import_file(path, any_store, today=TODAY, batch_rows=500)
    assert any_store.count(ALL) == before
    assert leftovers(tmp_path) == []


def test_a_value_refused_by_the_database_in_a_late_batch_stores_nothing(any_store, tmp_path):
    """Three batches, the third holding a count DuckDB cannot read: nothing of the first two
    is kept, and the same first two batches alone are then stored."""

    def batch(trips, first_line):
        rows = len(trips)
        return pa.table(
            {
                "company": ["free"] * rows,
                "problem": ["outage"] * rows,
                "started_on": ["2023-07-10"] * rows,
                "status": ["ongoing"] * rows,
                "consent_research": ["true"] * rows,
                "wasted_trips": trips,
                "line": list(range(first_line, first_line + rows)),
                "submitted_on": pa.nulls(rows, pa.string()),
            }
        )

    good = [batch(["1", "2"], 2), batch(["3", "4"], 4)]
    with pytest.raises(storage.DataRejected, match="could not be stored"):
        any_store.insert_imported(iter([*good, batch(["5", "two"], 6)]), today=TODAY)
    assert any_store.count(ALL) == 0
    assert leftovers(tmp_path) == []
    assert any_store.insert_imported(iter(good), today=TODAY) == 0
    assert sorted(any_store.fetch_responses(ALL)["wasted_trips"]) == [1, 2, 3, 4]


def test_batches_give_the_keys_of_one_piece_and_a_reimport_stores_nothing(any_store, tmp_path):
    """Identical rows in different batches are different rows (their occurrence is counted
    across the whole file); the keys are those of the file read in one piece (so a file
    imported by an earlier version is recognised); importing again stores nothing."""
    path = write_rows(tmp_path / "repeated.csv", repeated(ROWS))
    first = import_file(path, any_store, today=TODAY, batch_rows=500)
    assert (first.rows, first.stored, first.already_imported) == (ROWS, ROWS, 0)
    again = import_file(path, any_store, today=TODAY, batch_rows=700)
    assert (again.stored, again.already_imported) == (0, ROWS)
    dry = import_file(path, any_store, today=TODAY, dry_run=True, batch_rows=400)
    assert (dry.stored, dry.already_imported) == (0, ROWS)
    assert any_store.count(ALL) == ROWS

    whole = storage.connect(tmp_path / "whole.duckdb")
    assert import_file(path, whole, today=TODAY).stored == ROWS
    keys = {
        target: {
            key
            for batch in target.read_batches("responses")
            for key in batch.column("submission_key").to_pylist()
        }
        for target in (any_store, whole)
    }
    assert keys[any_store] == keys[whole]
    assert len(keys[any_store]) == ROWS
    assert leftovers(tmp_path) == []


def test_rejections_in_several_batches_keep_their_line_numbers(store, tmp_path):
    rows = repeated(1_500)
    rows[10] = ["free", "outage", "2099-01-01", "ongoing", "", "oui"]  # in the future
    rows[1_400] = ["sfr", "outage", "2023-07-10", "resolved", "2023-07-01", "oui"]  # ends first
    path = write_rows(tmp_path / "two_bad.csv", rows)
    report = import_file(path, store, today=TODAY, batch_rows=300)
    assert report.rejected_rows == 2
    assert {r.line for r in report.rejections} == {12, 1_402}
    assert (report.rows, report.stored) == (1_500, 1_498)
    assert store.count(ALL) == 1_498


def test_a_row_longer_than_a_block_late_in_the_file_is_read_once(store, tmp_path):
    """Arrow's reader stops at a row longer than its block (here 64 kB, the row 200 kB, after
    batches were already given): the file is read again from the first row not yet given,
    so every row is counted once; the long row is rejected for its narrative only."""
    header = [*HEADER, "narrative"]
    rows = [[*row, "ok"] for row in repeated(ROWS)]
    rows[2_500][-1] = "x" * 200_000
    path = tmp_path / "long_row.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    report = import_file(path, store, today=TODAY, batch_rows=500)
    assert (report.rows, report.rejected_rows, report.stored) == (ROWS, 1, ROWS - 1)
    assert {(r.line, r.field) for r in report.rejections} == {(2_502, "narrative")}
    assert store.count(ALL) == ROWS - 1


def test_a_staging_file_left_by_a_killed_import_is_removed_by_the_next(db_path, tmp_path):
    """An import killed while staging leaves its staging file (answers: personal data). The
    next import removes one untouched for hours, never one that may be another's in progress."""
    import os
    import time

    store = storage.connect(db_path)
    folder = db_path.parent
    abandoned = folder / f".{db_path.name}.import-0123456789ab.duckdb"
    running = folder / f".{db_path.name}.import-ba9876543210.duckdb"
    for path in (abandoned, running):
        path.write_bytes(b"staged answers")
    old = time.time() - storage.STAGING_ABANDONED_SECONDS - 60
    os.utime(abandoned, (old, old))
    import_file(write_rows(tmp_path / "one.csv", EXPERIENCES[:1]), store, today=TODAY)
    assert store.count(ALL) == 1
    assert leftovers(folder) == [running.name]
