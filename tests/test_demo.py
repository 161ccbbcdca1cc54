"""The synthetic demo generator: seeded, varied, valid, and marked synthetic."""

from datetime import date

import numpy as np
import pandas as pd

from survey import questionnaire as qn
from survey.demo import generate_frame
from survey.validation import validate_answers

TODAY = date(2026, 6, 15)


def test_same_seed_same_frame_and_another_seed_differs():
    a = generate_frame(500, seed=7, today=TODAY)
    b = generate_frame(500, seed=7, today=TODAY)
    c = generate_frame(500, seed=8, today=TODAY)
    pd.testing.assert_frame_equal(a, b)
    assert not a["started_on"].equals(c["started_on"])


def test_every_row_is_synthetic_and_consented():
    frame = generate_frame(300, seed=1, today=TODAY)
    assert set(frame["source"]) == {"synthetic"}
    assert frame["consent_research"].all()
    assert frame["response_id"].is_unique


def test_the_data_is_varied_like_real_reports():
    frame = generate_frame(20_000, seed=3, today=TODAY)
    assert set(frame["status"]) == {"resolved", "ongoing", "unresolved"}
    assert (frame["refund_outcome"] == "pending").sum() > 100
    assert (frame["wasted_trips"].fillna(0) > 0).mean() > 0.1
    assert frame["csat"].isna().mean() > 0.05  # "don't know" answers exist
    assert set(frame["company"]) == {row["id"] for row in qn.companies()}
    # Companies differ: Amazon resolves faster than SFR in the generator's profiles.
    resolved = frame[frame["status"] == "resolved"]
    days = (resolved["ended_on"] - resolved["started_on"]).dt.days
    by_company = days.groupby(resolved["company"]).median()
    assert by_company["amazon"] < by_company["sfr"]
    assert frame["submitted_on"].max() <= pd.Timestamp(TODAY)


def test_generated_rows_pass_the_questionnaire_rules():
    frame = generate_frame(400, seed=11, today=TODAY)
    ids = [q.id for q in qn.FIELDS if q.stored_in == "responses"]
    for record in frame[ids].to_dict("records"):
        answers = {}
        for k, v in record.items():
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                continue
            if v is pd.NaT:
                continue
            if isinstance(v, pd.Timestamp):
                v = v.date()
            elif isinstance(v, np.generic):
                v = v.item()
            answers[k] = v
        outcome = validate_answers(answers, today=TODAY)
        assert outcome.ok, (outcome.errors("en"), answers)


def test_the_frame_loads_into_the_store(store):
    frame = generate_frame(1_000, seed=5, today=TODAY)
    assert store.insert_frame(frame) == 1_000
    assert store.source_counts() == {"synthetic": 1_000}
