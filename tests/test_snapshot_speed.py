"""What makes ``clientroi publish`` fast and lean (issue 14) changes no published byte: the
input hash of categorical text, the tables read from a frame sharing the fetched arrays, the
bases added since earlier releases from one reading."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analysis import kpis
from analysis.snapshot import build
from analysis.snapshot.build import build_snapshot, input_sha256
from tests.conftest import TODAY
from tests.test_snapshot import web_frame

LAUNCH = pd.Timestamp(TODAY) - pd.Timedelta(days=400)


def categorical(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text columns as categoricals, as ``fetch_qualifying`` reads them."""
    text = [c for c in frame.columns if frame[c].map(type).eq(str).any()]
    return frame.astype({c: "category" for c in text})


@pytest.fixture(scope="module")
def frame():
    rows = web_frame(1_500, seed=11)
    # a company outside the list: no sector, no origin (the reference list has none for it)
    rows.loc[rows.index[:25], ["company", "sector", "origin"]] = ["other", None, None]
    return rows


def test_the_input_hash_is_the_same_whatever_the_text_type_and_row_order(frame):
    digest = input_sha256(frame)
    assert input_sha256(categorical(frame)) == digest
    shuffled = categorical(frame).sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert input_sha256(shuffled) == digest
    changed = frame.copy()
    changed.loc[changed.index[7], "wasted_km"] = 1234.5
    assert input_sha256(categorical(changed)) != digest


def whole_table_digest(responses: pd.DataFrame) -> str:
    """The input hash as the manifest's recipe says, naively: every column converted whole,
    the whole table sorted by ``response_id``, written by one ``write_csv``."""
    import hashlib
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    arrays = [build._canonical_array(responses[name], kind) for name, kind in build.INPUT_COLUMNS]
    names = [name for name, _ in build.INPUT_COLUMNS]
    table = pa.Table.from_arrays(arrays, names=names)
    table = table.take(pa.compute.sort_indices(table["response_id"].cast(pa.string())))
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(**build.CANONICAL_CSV))
    return hashlib.sha256(buffer.getvalue()).hexdigest()


@pytest.mark.parametrize("batch_rows", [7, 1_000, build.HASH_BATCH_ROWS])
def test_the_input_hash_written_a_batch_at_a_time_is_that_of_the_whole_sorted_table(
    frame, batch_rows
):
    """The hash thread converts and writes the sorted rows a batch at a time (never the whole
    canonical table, nor a sorted copy of it): the bytes hashed are those of the whole sorted
    table, with gaps in text, dates and counts, batch after batch and in the last, partial one."""
    responses = categorical(frame).sample(frac=1.0, random_state=5).reset_index(drop=True)
    responses.loc[responses.index[:40], ["refund_outcome", "ended_on", "csat"]] = None
    expected = whole_table_digest(responses)
    assert build._digest(build._canonical_columns(responses), batch_rows=batch_rows) == expected
    assert build._digest(build._canonical_columns(frame), batch_rows=batch_rows) == (
        whole_table_digest(frame)
    )


def test_the_input_hash_of_no_rows_is_that_of_the_header_alone(frame):
    empty = categorical(frame).iloc[:0]
    assert input_sha256(empty) == whole_table_digest(empty)


@pytest.fixture(scope="module")
def built(frame):
    """The snapshot of the categorical responses, and those responses before and after."""
    responses = categorical(frame)
    before = responses.copy(deep=True)
    snap = build_snapshot(responses, as_of=TODAY, launch=LAUNCH.date())
    return responses, before, snap


def test_building_reads_the_responses_without_changing_them(frame, built):
    """The tables read a frame sharing the caller's arrays: nothing may write into them; the
    after-launch figures (incidents before the launch given no company) are those of the
    incidents after it, computed on those rows alone."""
    responses, before, snap = built
    pd.testing.assert_frame_equal(responses, before)
    assert snap.input_sha256 == input_sha256(frame)

    after = frame[pd.to_datetime(frame["started_on"]) >= LAUNCH]
    after = after.assign(sector=after["sector"].fillna("unlisted"))
    expected = kpis.resolution_figures(after, as_of=TODAY, launch=LAUNCH.date())
    expected = expected.set_index("company")
    published = snap.sensitivity.set_index("company")
    shown = published["after_launch_n"].notna()
    assert shown.sum() >= 5
    for company in published.index[shown]:
        assert published.loc[company, "after_launch_n"] == expected.loc[company, "resolution_n"]
        for column in ("resolved_within_30d_share", "resolution_unresolved90_days"):
            got = published.loc[company, f"after_launch_{column}"]
            want = build._round_significant(np.array([expected.loc[company, column]]))[0]
            assert got == want, (company, column)


def test_the_bases_added_since_each_release_are_those_of_the_rows_added(frame):
    """One reading of every response (a unit per company and interval between releases)
    gives, for each earlier release, the bases kpis computes on the responses added since."""
    from datetime import date

    from analysis.snapshot import releases

    responses = build._statistics_frame(categorical(frame))
    days = [date(2026, 3, 31), date(2025, 12, 31), date(2026, 5, 31), date(2026, 3, 31)]
    launch = LAUNCH.date()
    added = releases._added_bases(responses, days, as_of=TODAY, launch=launch)
    submitted = pd.to_datetime(responses["submitted_on"])
    for day, (companies, groups) in zip(days, added, strict=True):
        rows = responses[(submitted > pd.Timestamp(day)).to_numpy()]
        expected = kpis.bases(rows, as_of=TODAY, launch=launch)
        for got, want, key in (
            (companies, expected.companies, "company"),
            (groups, expected.groups, "group"),
        ):
            want = want.set_index(key)[got.columns].astype(float)
            assert sorted(got.index) == sorted(want.index), day
            pd.testing.assert_frame_equal(got.reindex(want.index).astype(float), want)
    assert added[0][0]["n"].sum() > added[2][0]["n"].sum() > 0


def test_identifiers_written_as_uuids_are_sorted_as_arrow_sorts_their_text(frame):
    """The hash sorts UUIDs in lower case (as the store reads them) by their first 16 digits
    as numbers: the same order as Arrow's sort of the text, and the same digest as the
    recipe's; any other identifiers, or two sharing those digits, are sorted by Arrow."""
    import uuid

    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(4)
    ids = [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(3_000)]
    ids[10] = ids[11][:18] + "0" * 4 + ids[11][22:]  # the same 16 first digits: Arrow sorts
    ids[20] = "ffffffff-ffff-ffff-0000-000000000000"
    ids[21] = "00000000-0000-0000-ffff-ffffffffffff"
    text = pa.array(ids)
    assert build._uuid_order(text) is None
    unique = pa.array(ids[12:])
    assert np.array_equal(build._uuid_order(unique), pc.sort_indices(unique).to_numpy())
    sliced = unique.slice(7, 500)  # (an array that starts inside its buffers)
    assert np.array_equal(build._uuid_order(sliced), pc.sort_indices(sliced).to_numpy())
    for other in ([i.upper() for i in ids[12:50]], [i.replace("-", "") for i in ids[12:50]]):
        assert build._uuid_order(pa.array(other)) is None
    assert build._uuid_order(pa.array([ids[12][:8] + "g" + ids[12][9:], ids[13]])) is None
    assert build._uuid_order(pa.array([ids[12], None])) is None
    # the digest of rows whose identifiers are UUIDs, sorted this way, is the recipe's
    rows = categorical(frame).sample(frac=1.0, random_state=2).reset_index(drop=True)
    rows["response_id"] = pd.Series(
        pd.arrays.ArrowExtensionArray(pa.array(ids[12 : 12 + len(rows)]))
    )
    assert build._uuid_order(pa.array(ids[12 : 12 + len(rows)])) is not None
    assert input_sha256(rows) == whole_table_digest(rows)
    assert build._digest(build._canonical_columns(rows), batch_rows=100) == whole_table_digest(rows)


def test_the_after_launch_figures_of_some_rows_are_those_of_a_frame_without_the_others(frame):
    """``resolution_figures(rows=...)`` (the sensitivity table's after-launch figures, from the
    readings of the whole frame) equals the figures of a frame whose other rows have lost
    their company: every column, every company, one left without any row included."""
    responses = build._statistics_frame(categorical(frame))
    began_after = (pd.to_datetime(responses["started_on"]) >= LAUNCH).to_numpy()
    # one company keeps no row after the launch: it must drop out, as it does from the frame
    gone = responses["company"].astype(str).eq("free").to_numpy()
    assert gone.any() and (began_after & ~gone).any()
    rows = began_after & ~gone
    rows[:40] = False  # and a few rows of other companies left out whatever their start
    blanked = responses.assign(company=responses["company"].where(rows))
    expected = kpis.resolution_figures(blanked, as_of=TODAY, launch=LAUNCH.date())
    assert "free" not in set(expected["company"])
    with kpis.shared_reading():
        kpis.summary_tables(responses, as_of=TODAY, rng=1, n_resamples=100, launch=LAUNCH.date())
        shared = kpis.resolution_figures(responses, as_of=TODAY, launch=LAUNCH.date(), rows=rows)
    alone = kpis.resolution_figures(responses, as_of=TODAY, launch=LAUNCH.date(), rows=rows)
    pd.testing.assert_frame_equal(shared, expected)
    pd.testing.assert_frame_equal(alone, expected)
    with pytest.raises(ValueError, match="rows"):
        kpis.resolution_figures(responses, as_of=TODAY, rows=rows[:-1])


def test_the_bases_counted_in_full_are_the_bases_and_the_tables_are_counted_once(frame):
    """``bases(full_counts=True)`` inside ``shared_reading()`` gives the same bases as alone,
    and the tables that follow are the same as those computed without it (taken from the
    counts the bases made, not counted again)."""
    responses = build._statistics_frame(categorical(frame))
    options = {"as_of": TODAY, "launch": LAUNCH.date()}
    alone = kpis.bases(responses, **options)
    expected = kpis.summary_tables(responses, rng=3, n_resamples=100, **options)
    with kpis.shared_reading():
        full = kpis.bases(responses, full_counts=True, **options)
        counted = kpis._READINGS.get()
        keys = [k for k in counted if k[0] == "_prepare"]
        tables = kpis.summary_tables(responses, rng=3, n_resamples=100, **options)
        assert [k for k in counted if k[0] == "_prepare"] == keys  # nothing counted again
        assert [k[-1] for k in keys] == [False]  # the full tables, not their bases alone
    pd.testing.assert_frame_equal(full.companies, alone.companies)
    pd.testing.assert_frame_equal(full.groups, alone.groups)
    for got, want in ((tables.companies, expected.companies), (tables.groups, expected.groups)):
        pd.testing.assert_frame_equal(got, want)
        assert got.attrs == want.attrs


def test_the_launch_is_the_paris_day_of_the_first_web_submission(tmp_path, monkeypatch):
    """``launch_date`` (the earliest web submission's instant, then its Paris day) is the
    earliest Paris day of the web submissions: an instant late on 31 December in UTC is
    1 January in Paris; synthetic rows, even earlier, do not count."""
    from survey import store as storage

    monkeypatch.delenv("CLIENTROI_LAUNCH_DATE", raising=False)
    store = storage.connect(tmp_path / "launch.duckdb")
    assert store.launch_date() is None
    rows = web_frame(30, seed=2).iloc[:4].copy()
    instants = pd.to_datetime(
        ["2024-12-31T23:30:00Z", "2025-01-01T08:00:00Z", "2025-03-30T01:30:00Z"]
    ).tz_convert("Europe/Paris")
    earlier = rows.iloc[3:].assign(
        source="synthetic",
        submitted_at=pd.Timestamp("2020-05-01T12:00:00Z").tz_convert("Europe/Paris"),
        submitted_on=pd.Timestamp("2020-05-01"),
    )
    rows = rows.iloc[:3].assign(
        submitted_at=instants, submitted_on=pd.to_datetime(instants.tz_localize(None).date)
    )
    store.insert_frames([rows.iloc[1:], earlier])
    assert store.launch_date() == date(2025, 1, 1)  # 08:00 UTC, 09:00 in Paris
    store.insert_frame(rows.iloc[:1])
    assert store.launch_date() == date(2025, 1, 1)  # 23:30 UTC on 31 December: 00:30 in Paris
    monkeypatch.setenv("CLIENTROI_LAUNCH_DATE", "2023-02-03")
    assert store.launch_date() == date(2023, 2, 3)


def test_each_input_column_gives_the_same_canonical_rows_whole_or_taken(frame):
    """The hash reads a column whole (the identifiers it sorts) or a batch of rows at a time;
    numbers held as float64 (counts with gaps, amounts, kilometres) are taken from the frame's
    own array: each way gives exactly the Arrow array of the canonical column's rows."""
    import pyarrow as pa

    responses = categorical(frame).sample(frac=1.0, random_state=8).reset_index(drop=True)
    responses.loc[responses.index[:30], ["csat", "wasted_km", "refund_amount_requested"]] = None
    responses["response_id"] = pd.array(frame["response_id"].astype(str), dtype="string[pyarrow]")
    counts = [name for name, kind in build.INPUT_COLUMNS if pa.types.is_integer(kind)]
    responses[counts] = responses[counts].astype(float)  # as the store reads counts with gaps
    rows = np.random.default_rng(4).permutation(len(responses))[:257]
    taken_from_numbers = 0
    for name, kind in build.INPUT_COLUMNS:
        canonical = build._canonical_array(responses[name], kind)
        column = build._CanonicalColumn(responses[name], kind)
        taken_from_numbers += column.numbers is not None
        assert column.take(rows).equals(canonical.take(pa.array(rows))), name
        assert build._CanonicalColumn(responses[name], kind).whole().equals(canonical), name
        if pa.types.is_integer(kind) or kind == pa.float64():
            assert column.take(rows).type == kind, name
    assert taken_from_numbers == 11  # the counts with gaps, the amounts and the kilometres
