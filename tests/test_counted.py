"""The company and group tables counted in the database (``kpis.summary_tables_counted``) are
those of the rows read and counted in numpy (``kpis.summary_tables``), on the same responses as
known on the same date: with updates folded in, answers the tables refuse (a negative distance,
a score out of its scale, an unknown status), rows outside the table, and a late entry."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis import dashboard, kpis
from survey import store as storage
from survey.updates import EVENT_KINDS
from tests.conftest import TODAY

EVERYONE = storage.Filters(include_synthetic=True, include_flagged=True, consented_only=False)


def _hostile(path) -> list[str]:
    """Answers the form never stores, written past it: each must be read as the numpy pass
    reads it. Returns the ids of responses given updates afterwards."""
    con = duckdb.connect(str(path))
    ids = [
        row[0]
        for row in con.execute(
            "SELECT CAST(response_id AS VARCHAR) FROM responses ORDER BY response_id LIMIT 60"
        ).fetchall()
    ]
    edits = [
        "wasted_km = -5",
        "csat = 9",
        "effort = 0",
        "nps = 11",
        "status = 'weird'",
        "status = NULL",
        "wasted_trips = -1",
        "callbacks_received = -2",
        "refund_amount_requested = -10",
        "refund_amount_obtained = -3",
        "refund_outcome = 'maybe'",
        "false_resolved_count = -1",
        "started_on = NULL",
        "submitted_on = DATE '2026-07-20'",
        "refund_amount_requested = 0",
        "callbacks_promised = 0",
        "status_known_on = DATE '2019-01-01'",
        "collected_from = DATE '2024-03-01'",
        "loaner_offered = NULL",
    ]
    for i, edit in enumerate(edits):
        con.execute(f"UPDATE responses SET {edit} WHERE CAST(response_id AS VARCHAR) = ?", [ids[i]])
    con.close()
    return ids[30:]


@pytest.fixture
def hostile_store(filled_store, db_path):
    updated = _hostile(db_path)
    store = storage.connect(db_path)
    kinds = EVENT_KINDS
    for i, response_id in enumerate(updated):
        kind = kinds[i % len(kinds)]
        amount = 25.0 if kind in ("refund_received", "wasted_trip") else None
        store.record_event(response_id, kind, date(2026, 1, 10), amount=amount)
    # recorded before the tables' date (the events table keeps when each was recorded)
    con = duckdb.connect(str(db_path))
    con.execute("UPDATE response_events SET recorded_at = TIMESTAMPTZ '2026-02-01 09:00:00+01'")
    con.close()
    return store


def _tables_alike(counted: pd.DataFrame, read: pd.DataFrame) -> None:
    assert list(counted.columns) == list(read.columns)
    assert len(counted) == len(read)
    for column in read.columns:
        left, right = counted[column], read[column]
        if pd.api.types.is_float_dtype(right):
            # the same arithmetic on the same counts; a total of kilometres is summed in
            # another order, hence the tolerance of one part in 10^12
            np.testing.assert_allclose(
                left, right, rtol=1e-12, atol=0, equal_nan=True, err_msg=column
            )
        else:
            assert left.tolist() == right.tolist(), column
    assert counted.attrs == read.attrs


@pytest.mark.parametrize("launch", [None, date(2025, 1, 1)])
def test_the_tables_counted_in_the_database_are_those_of_the_rows(hostile_store, launch):
    as_of = TODAY
    read = hostile_store.fetch_responses(
        EVERYONE,
        columns=list(kpis.COUNTED_COLUMNS),
        ordered=False,
        categorical=True,
        known_on=as_of,
    )
    # the hostile answers are there, and updates are folded into what is counted
    assert (read["csat"] == 9).any() and (read["wasted_km"] < 0).any()
    assert hostile_store.events(known_on=as_of).shape[0] == 30
    expected = kpis.summary_tables(read, as_of=as_of, rng=7, launch=launch)
    counted = kpis.summary_tables_counted(
        hostile_store, EVERYONE, as_of=as_of, rng=7, launch=launch
    )
    assert expected.companies.attrs["excluded"]["invalid_csat"] == 1
    _tables_alike(counted.companies, expected.companies)
    _tables_alike(counted.groups, expected.groups)


def test_counted_as_known_on_an_earlier_date_leaves_later_rows_and_updates_out(hostile_store):
    as_of = date(2025, 12, 31)  # before the updates (recorded today) and some submissions
    read = hostile_store.fetch_responses(
        storage.Filters(include_synthetic=True),
        columns=list(kpis.COUNTED_COLUMNS),
        ordered=False,
        known_on=as_of,
    )
    expected = kpis.summary_tables(read, as_of=as_of, rng=3)
    counted = kpis.summary_tables_counted(
        hostile_store, storage.Filters(include_synthetic=True), as_of=as_of, rng=3
    )
    _tables_alike(counted.companies, expected.companies)
    _tables_alike(counted.groups, expected.groups)


def test_counted_on_answers_the_form_checked(filled_store):
    """Without any invalid answer, no note of one (the notes are counted only when the
    smallest or largest answer says there is one)."""
    read = filled_store.fetch_responses(
        EVERYONE, columns=list(kpis.COUNTED_COLUMNS), ordered=False, known_on=TODAY
    )
    expected = kpis.summary_tables(read, as_of=TODAY, rng=5, launch=date(2024, 1, 1))
    counted = kpis.summary_tables_counted(
        filled_store, EVERYONE, as_of=TODAY, rng=5, launch=date(2024, 1, 1)
    )
    assert not any(key.startswith("invalid_") for key in expected.companies.attrs["excluded"])
    _tables_alike(counted.companies, expected.companies)
    _tables_alike(counted.groups, expected.groups)


def test_counted_on_an_empty_selection(filled_store):
    nobody = storage.Filters(include_synthetic=True, companies=("nobody",))
    counted = kpis.summary_tables_counted(filled_store, nobody, as_of=TODAY, rng=1)
    assert counted.companies.empty and counted.groups.empty


def test_the_tables_command_writes_the_counted_tables(filled_store, db_path, tmp_path, capsys):
    import cli

    out = tmp_path / "tables"
    argv = ["tables", "--db", str(db_path), "--out", str(out), "--as-of", TODAY.isoformat()]
    assert cli.main([*argv, "--include-synthetic"]) == 0
    assert "2,000 responses as known on 2026-06-15: " in capsys.readouterr().out
    written = pd.read_csv(out / "companies.csv")
    expected = _expected_companies(filled_store)
    assert written["company"].tolist() == expected["company"].tolist()
    np.testing.assert_allclose(written["csat_mean"], expected["csat_mean"], rtol=1e-12)
    assert json.loads((out / "tables.json").read_text())["companies"]["as_of"] == "2026-06-15"
    # French Excel: ';' and decimal commas; without synthetic responses, nobody
    assert cli.main([*argv, "--dialect", "fr"]) == 0
    assert "0 responses" in capsys.readouterr().out
    assert (out / "companies.csv").read_bytes().startswith("\ufeffcompany;".encode())
    assert cli.main([*argv[:-1], "3/7/2023"]) == 2
    assert "--as-of must be a date" in capsys.readouterr().err


def test_the_tables_command_on_either_backend(any_filled_store, backend, tmp_path, capsys):
    """On PostgreSQL (no counting in the server yet) the same tables: read, then counted."""
    import cli

    out = tmp_path / "tables"
    argv = ["tables", "--db", str(backend.target), "--out", str(out), "--include-synthetic"]
    assert cli.main([*argv, "--as-of", TODAY.isoformat()]) == 0
    written = pd.read_csv(out / "companies.csv")
    expected = _expected_companies(any_filled_store)
    assert written["n"].tolist() == expected["n"].tolist()
    np.testing.assert_allclose(
        written["resolution_unresolved90_days"],
        expected["resolution_unresolved90_days"],
        rtol=1e-12,
    )


def _expected_companies(store, as_of=TODAY):
    """The company table of the rows read, as the command computes it."""
    read = store.fetch_responses(
        storage.Filters(include_synthetic=True),
        columns=list(kpis.COUNTED_COLUMNS),
        ordered=False,
        known_on=as_of,
    )
    return kpis.summary_tables(
        read, as_of=as_of, rng=dashboard.DEFAULT_SEED, launch=store.launch_date()
    ).companies


def _another_process_can_write(path) -> bool:
    import subprocess
    import sys

    probe = (
        "import sys, duckdb\n"
        "try:\n"
        "    duckdb.connect(sys.argv[1]).close()\n"
        "except duckdb.IOException:\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(path)], timeout=60)
    assert done.returncode in (0, 3), done
    return done.returncode == 0


def test_a_computation_holds_the_file_open_once_and_lets_it_go(filled_store, db_path):
    """``Store.holding``: the counted tables open the file once for their events, scans and
    companies (a command's store otherwise opens and closes it for each read), and the file
    is free again once the tables are counted."""
    filled_store.close()
    reader = storage.connect(db_path, read_only=True)
    assert _another_process_can_write(db_path)
    with reader.holding():
        reader.companies()
        assert not _another_process_can_write(db_path)  # still open between two reads
        reader.launch_date()
    assert _another_process_can_write(db_path)
    kpis.summary_tables_counted(reader, EVERYONE, as_of=TODAY, rng=1)
    assert _another_process_can_write(db_path)


def _grouped(store, as_of, launch_day=None):
    return store.grouped_responses(
        EVERYONE,
        list(kpis.COUNTED_COLUMNS),
        known_on=as_of,
        as_of_day=(as_of - date(1970, 1, 1)).days,
        launch_day=launch_day,
        statuses=kpis._STATUSES,
        outcomes=kpis._OUTCOMES,
        share_step=kpis.AMOUNT_SHARE_STEP,
        scores=kpis._RANGES,
    )


def _every_scan_over(store, relation_of, as_of, launch_day=None) -> dict[str, pd.DataFrame]:
    """The seven scans run as written over the relation ``relation_of(cursor, relation,
    values)`` gives (the naive way: the whole fold in every scan), as sorted frames."""
    selects = storage._grouped_selects(
        kpis._STATUSES, kpis._OUTCOMES, kpis.AMOUNT_SHARE_STEP, kpis._RANGES
    )
    out = {}
    with store.counted(EVERYONE, list(kpis.COUNTED_COLUMNS), known_on=as_of) as parts:
        cursor, relation, values = relation_of(*parts)
        for name, select in selects.items():
            query = storage._grouped_query(relation, select)
            table = cursor.sql(query, params=[*values, (as_of - date(1970, 1, 1)).days, launch_day])
            out[name] = _sorted(table.to_arrow_table().to_pandas())
    return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), na_position="first").reset_index(drop=True)


@pytest.mark.parametrize("launch_day", [None, float((date(2025, 1, 1) - date(1970, 1, 1)).days)])
def test_the_grouped_scans_with_updates_are_those_of_every_scan_over_the_folded_rows(
    hostile_store, launch_day
):
    """With updates, ``grouped_responses`` counts each scan's groups over the stored rows and
    corrects them by the updated responses (as stored, then as folded), or reads no fold when
    a scan reads no column an update changes: the same groups, counts and types as every
    scan run over the folded relation of ``Store.counted``, and a group the updates emptied
    is gone."""
    as_of = TODAY
    assert hostile_store.events(known_on=as_of).shape[0] == 30
    got = {
        name: _sorted(pd.DataFrame(columns))
        for name, columns in _grouped(hostile_store, as_of, launch_day).items()
    }
    expected = _every_scan_over(hostile_store, lambda *parts: parts, as_of, launch_day)
    assert got.keys() == expected.keys()
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)
    # the stored rows alone give other groups: the updates moved responses out of some
    stored = _every_scan_over(
        hostile_store,
        lambda cursor, relation, values: (
            cursor,
            relation.split(" AND r.response_id NOT IN ")[0].removeprefix("SELECT * FROM ("),
            values[:-1],
        ),
        as_of,
        launch_day,
    )
    emptied = []
    for name in ("resolution", "refunds", "refund_time"):
        keys = [c for c in expected[name] if c not in ("n", "bad_requested", "bad_obtained")]
        before = set(map(tuple, stored[name][keys].astype(str).to_numpy()))
        after = set(map(tuple, expected[name][keys].astype(str).to_numpy()))
        emptied += [name] * len(before - after)  # groups of stored rows no response keeps
    assert emptied


def test_with_status_updates_alone_the_refund_and_incident_scans_read_no_fold(
    filled_store, db_path
):
    """Updates of the status change the status, its end and the day it was known, nothing the
    refunds or incidents read: those scans read the stored rows, the resolution's counts the
    difference, and every group is still that of the scans over the folded relation."""
    ids = filled_store.fetch_responses(EVERYONE, columns=["response_id"], known_on=TODAY)
    for i, response_id in enumerate(ids["response_id"].astype(str)[:40]):
        kind = ("resolved", "gave_up", "still_ongoing")[i % 3]
        filled_store.record_event(response_id, kind, date(2026, 1, 10 + i % 5))
    filled_store.close()
    con = duckdb.connect(str(db_path))  # recorded before the tables' date
    con.execute("UPDATE response_events SET recorded_at = TIMESTAMPTZ '2026-02-01 09:00:00+01'")
    con.close()
    with filled_store._counted_parts(EVERYONE, list(kpis.COUNTED_COLUMNS), known_on=TODAY) as parts:
        changed = parts[3].changed
    assert "status" in changed and not changed & {"refund_outcome", "wasted_km", "wasted_trips"}
    got = {name: _sorted(pd.DataFrame(c)) for name, c in _grouped(filled_store, TODAY).items()}
    expected = _every_scan_over(filled_store, lambda *parts: parts, TODAY)
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)


def test_an_updated_ongoing_case_keeps_its_own_day_known_in_the_counted_tables(
    filled_store, db_path
):
    """An ongoing case whose respondent said when its status was last known
    (``status_known_on``) and who later reported a wasted trip (no status update): every read
    folds the trip in and keeps the respondent's day; the counted tables must too, or the
    case is censored at its submission day there and at its own day in the dashboard."""
    con = duckdb.connect(str(db_path))
    rows = con.execute(
        "SELECT CAST(response_id AS VARCHAR), submitted_on FROM responses"
        " WHERE status = 'ongoing' AND started_on IS NOT NULL AND submitted_on < ?"
        " ORDER BY response_id LIMIT 40",
        [TODAY - pd.Timedelta(days=90).to_pytimedelta()],
    ).fetchall()
    assert len(rows) == 40
    for response_id, submitted_on in rows:  # known ongoing up to 90 days after submitting
        con.execute(
            "UPDATE responses SET status_known_on = ? WHERE CAST(response_id AS VARCHAR) = ?",
            [submitted_on + pd.Timedelta(days=90).to_pytimedelta(), response_id],
        )
    con.close()
    for response_id, _ in rows:
        filled_store.record_event(response_id, "wasted_trip", date(2026, 1, 10), amount=12.0)
    filled_store.close()
    con = duckdb.connect(str(db_path))  # recorded before the tables' date
    con.execute("UPDATE response_events SET recorded_at = TIMESTAMPTZ '2026-02-01 09:00:00+01'")
    con.close()
    read = filled_store.fetch_responses(
        EVERYONE,
        columns=list(kpis.COUNTED_COLUMNS),
        ordered=False,
        categorical=True,
        known_on=TODAY,
    )
    known = filled_store.fetch_responses(
        EVERYONE, columns=["response_id", "submitted_on", "status_known_on"], known_on=TODAY
    )
    own = known.set_index(known["response_id"].astype(str)).loc[[r for r, _ in rows]]
    assert (pd.to_datetime(own["status_known_on"]) > pd.to_datetime(own["submitted_on"])).all()
    expected = kpis.summary_tables(read, as_of=TODAY, rng=7)
    counted = kpis.summary_tables_counted(filled_store, EVERYONE, as_of=TODAY, rng=7)
    _tables_alike(counted.companies, expected.companies)
    _tables_alike(counted.groups, expected.groups)
