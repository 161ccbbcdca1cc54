"""The import's column-wise check (``validation.proven_valid``) against the Response model:
with the model deciding the rows the check does not accept, an import keeps and refuses
exactly the rows the model alone would, with the same reasons, lines and stored values."""

import csv
import math
import random
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey import importer, validation
from survey import questionnaire as qn
from survey import store as storage
from survey.demo import generate_frame
from survey.importer import import_file

TODAY = date(2026, 6, 15)
ALL = storage.Filters(include_synthetic=True, include_flagged=True)
ASKED = [q.id for q in qn.FIELDS]
# What files hold besides plain answers: the edge of every bound and rule, as people type it.
EDGES = {
    "int": [
        "0",
        "1",
        "2",
        "5",
        "7",
        "8",
        "10",
        "11",
        "50",
        "51",
        "100",
        "101",
        "365",
        "366",
        "500",
        "501",
        "-1",
        "+3",
        "007",
        "2.0",
        "2,0",
        "2.5",
        "1e2",
        "1_0",
        " 3 ",
        "1 000",
        "deux",
        "nsp",
        "",
    ],
    "float": [
        "0",
        "0.5",
        "12.5",
        "12,5",
        "12,50",
        "1000",
        "1000.01",
        "10000",
        "10000,5",
        "100000",
        "100000.01",
        "-0.5",
        ".5",
        "12.",
        "1e3",
        "nan",
        "inf",
        "1,234.5",
        "3",
        "2.0",
        "beaucoup",
    ],
    "date": [
        "2023-07-10",
        "10/07/2023",
        "3/7/2023",
        "31/02/2023",
        "2023-02-29",
        "2024-02-29",
        "1999-12-31",
        "2000-01-01",
        TODAY.isoformat(),
        (TODAY + timedelta(days=1)).isoformat(),
        "2030-01-01",
        "2023-7-10",
        "10-07-2023",
        "2023/07/10",
        "07/10/23",
        "hier",
        "2023-13-01",
        "0000-01-01",
        "",
    ],
    "bool": [
        "oui",
        "non",
        "yes",
        "no",
        "true",
        "false",
        "TRUE",
        "Vrai",
        "1",
        "0",
        "x",
        "peut-être",
        "nsp",
        "",
    ],
    "choice": [
        "other",
        "autre",
        "Autre entreprise",
        "unknown thing",
        " free ",
        "FREE",
        "resolved",
        "ongoing",
        "unresolved",
        "full",
        "partial",
        "refused",
        "outage",
        "mobile",
        "tv",
        "06",
        "6",
        "975",
        "",
    ],
    "text": [
        "",
        "normal",
        "a" * 120,
        "a" * 121,
        "é" * 120,
        "é" * 121,
        "a" * 5000,
        "a" * 5001,
        " padded ",
        "bidi\u202e",
        "\x00",
        "\x1c x",
        "=1+1",
        "nsp",
    ],
    "email": ["a@b.fr", "not-an-email", "a@b", "x" * 249 + "@b.fr", "x" * 250 + "@b.fr", ""],
}
for kind in ("flag", "option", "consent"):
    EDGES[kind] = EDGES["bool"]


def as_text(value) -> str:
    """A stored value as an export writes it."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def demo_rows(count: int, seed: int) -> list[dict[str, str]]:
    """Valid answers of the demo data set as an export's text (every question a column)."""
    frame = generate_frame(count, seed=seed, today=TODAY)
    return [
        {q_id: as_text(row.get(q_id)) for q_id in ASKED} for row in frame.to_dict(orient="records")
    ]


def mutated(rows: list[dict[str, str]], rng: random.Random, rate: float) -> list[dict]:
    """Some cells replaced by edge values of their question's kind, or by another row's."""
    out = []
    for row in rows:
        row = dict(row)
        for q_id in ASKED:
            if rng.random() < rate:
                q = qn.QUESTIONS[q_id]
                pool = EDGES[q.kind] + [c.value for c in q.choices][:8]
                row[q_id] = rng.choice(pool + [rows[rng.randrange(len(rows))][q_id]])
        out.append(row)
    return out


def normalised(rows: list[dict]) -> dict[str, np.ndarray]:
    """The rows cleaned as the importer cleans a batch (``_normalise``, ``_add_derived``)."""
    table = pa.table({q_id: pa.array([r[q_id] for r in rows], pa.string()) for q_id in ASKED})
    report = importer.ImportReport(path=importer.Path("batch.csv"))
    columns, _ = importer._normalise(table, {q_id: q_id for q_id in ASKED}, report)
    importer._add_derived(columns)
    return columns


def model_failures(columns: dict[str, np.ndarray]) -> list[int]:
    """The rows the Response model refuses, every row through it (the import before)."""
    names = list(columns)
    return importer._validate_all(names, [columns[n] for n in names], TODAY)


batches = st.tuples(
    st.integers(0, 2**32 - 1),  # the demo data's seed
    st.integers(1, 60),  # rows
    st.sampled_from([0.0, 0.01, 0.03, 0.1, 0.3]),  # share of cells replaced by edge values
    st.integers(0, 2**32 - 1),  # which cells are replaced, and by what
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches)
def test_the_fast_path_and_the_model_refuse_the_same_rows(batch):
    """Random batches of demo rows with edge values (bad or future dates, out of range,
    missing required, French decimals, unknown choices, long text...): the rows the check
    proves valid are accepted by the model, and with the model deciding the rest the rows
    refused are exactly those the model refuses when it sees every row."""
    seed, count, rate, cells = batch
    columns = normalised(mutated(demo_rows(count, seed % 10_000), random.Random(cells), rate))
    expected = model_failures(columns)
    coded = {n: pd.factorize(a, use_na_sentinel=True) for n, a in columns.items()}
    proven = validation.proven_valid(
        {n: (codes, np.asarray(texts, dtype=object)) for n, (codes, texts) in coded.items()},
        today=TODAY,
    )
    assert not set(np.flatnonzero(proven)) & set(expected)
    assert importer._failing_rows_of(columns, TODAY) == expected


def test_plain_demo_rows_are_proven_without_the_model():
    """The fast path is taken: valid rows as an export writes them need no model at all."""
    columns = normalised(demo_rows(2_000, 7))
    assert model_failures(columns) == []
    coded = {n: pd.factorize(a, use_na_sentinel=True) for n, a in columns.items()}
    proven = validation.proven_valid(
        {n: (codes, np.asarray(texts, dtype=object)) for n, (codes, texts) in coded.items()},
        today=TODAY,
    )
    assert proven.all()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ended_on": "2023-01-01", "started_on": "2023-02-01", "status": "resolved"}, "ended_on"),
        ({"started_on": (TODAY + timedelta(days=1)).isoformat()}, "started_on"),
        ({"technician_visits": "1", "technician_visits_useless": "2"}, "technician_visits_useless"),
        ({"ease": "3", "effort": "4"}, "ease"),
        ({"wasted_trips": "0", "wasted_km": "3,5"}, "wasted_km"),
        ({"consent_research": "non"}, "consent_research"),
        ({"hours_spent": "1000,5"}, "hours_spent"),
        ({"company": "other", "company_other": ""}, "company_other"),
        ({"status": "ongoing", "ended_on": "2024-01-01"}, "ended_on"),
    ],
)
def test_each_broken_rule_is_left_to_the_model(changes, field):
    """One rule broken in an otherwise plain row: the check does not accept it."""
    row = {**demo_rows(1, 3)[0], "status": "ongoing", "ended_on": "", "status_known_on": ""}
    row.update(changes)
    columns = normalised([row])
    coded = {n: pd.factorize(a, use_na_sentinel=True) for n, a in columns.items()}
    proven = validation.proven_valid(
        {n: (codes, np.asarray(texts, dtype=object)) for n, (codes, texts) in coded.items()},
        today=TODAY,
    )
    assert not proven[0]
    answers = {n: a[0] for n, a in columns.items() if a[0] is not None}
    fields = {p.field for p in validation.validate_answers(answers, today=TODAY).problems}
    assert field in fields


def write_csv(path, rows):
    """The rows as a CSV file (a NUL would make the whole file refused as binary)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ASKED)
        writer.writeheader()
        writer.writerows({k: v.replace("\x00", "\u202e") for k, v in r.items()} for r in rows)
    return path


def stored(store):
    frame = store.fetch_responses(ALL).drop(columns=["response_id", "submitted_at"])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batch=batches, locale=st.sampled_from(["fr", "en"]))
def test_an_import_stores_and_refuses_what_the_model_alone_would(
    tmp_path_factory, monkeypatch, batch, locale
):
    """End to end, on real DuckDB files: the same file imported with the fast path and with
    the model checking every row stores the same rows and values and writes the same
    rejections (line, field, translated reason)."""
    seed, count, rate, cells = batch
    folder = tmp_path_factory.mktemp("fast")
    path = write_csv(
        folder / "rows.csv", mutated(demo_rows(count, seed % 10_000), random.Random(cells), rate)
    )
    fast_store = storage.connect(folder / "fast.duckdb")
    fast = import_file(path, fast_store, today=TODAY, locale=locale)
    with monkeypatch.context() as patch:
        patch.setattr(importer, "proven_valid", lambda columns, today: np.zeros(count, bool))
        model_store = storage.connect(folder / "model.duckdb")
        model = import_file(path, model_store, today=TODAY, locale=locale)
    assert (fast.stored, fast.rejected_rows) == (model.stored, model.rejected_rows)
    assert fast.rejections == model.rejections
    pd.testing.assert_frame_equal(stored(fast_store), stored(model_store))


def test_a_timestamp_column_is_read_by_its_day(tmp_path):
    """An export's ``submitted_at`` (a timestamp, distinct in every row) gives each row its
    day: kept as the submission date, and a status known after that day refuses the row."""
    path = tmp_path / "stamped.csv"
    path.write_text(
        "company,problem,started_on,status,status_known_on,consent_research,submitted_at\n"
        "free,outage,2023-07-03,ongoing,2023-09-30,oui,2023-09-30 23:59:01.000000+0200\n"
        "free,outage,2023-07-03,ongoing,2023-10-01,oui,2023-09-30 08:00:00.000000+0200\n"
        "free,outage,2023-07-03,ongoing,2023-09-01,oui, 2023-09-15 08:00:00\n"
        "free,outage,2023-07-03,ongoing,2023-08-01,oui,je ne sais pas\n",
        encoding="utf-8",
    )
    store = storage.connect(tmp_path / "stamped.duckdb")
    report = import_file(path, store, today=TODAY)
    assert [(r.line, r.field) for r in report.rejections] == [(3, "status_known_on")]
    days = store.fetch_responses(ALL).sort_values("status_known_on")["submitted_on"]
    assert days.dt.date.tolist() == [TODAY, date(2023, 9, 15), date(2023, 9, 30)]
