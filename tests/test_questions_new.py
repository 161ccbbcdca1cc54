"""Questionnaire version 2 (issue #13, "express what people lived"): the new questions from the
form to the database, the files in and out, and the statistics that use them."""

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from streamlit.testing.v1 import AppTest

from analysis import disclosure, kpis, metrics
from survey import importer
from survey import questionnaire as qn
from survey import store as storage
from survey.demo import seed_story_answers, seed_story_details
from survey.validation import paris_today, validate_answers
from tests.conftest import APP, submit

REFERENCE = Path(__file__).resolve().parent / "reference"
STARTED = date(2023, 7, 3)  # the story typed as "3/7/2023" (issue #13)
KNOWN = date(2023, 9, 30)  # the story was written at the end of September 2023


def story(**changes) -> dict:
    answers = {**seed_story_answers(), **seed_story_details(), "started_on": STARTED, **changes}
    return {k: v for k, v in answers.items() if v is not None}


def followed_days(frame: pd.DataFrame, as_of: date) -> list[float]:
    """The days each ongoing incident is followed: its censoring time on the resolution curve."""
    curves = kpis.survival_curves(frame, metric="resolution", as_of=as_of)
    return curves.loc[curves["n_censored"] > 0, "time"].tolist()


def test_the_founding_story_is_followed_until_its_status_was_last_known(store):
    """Reported as ongoing at the end of September 2023 and entered years later: followed for
    89 days (3 July to 30 September), not until the day it was entered (1,247 days on
    2026-12-01); without the date, until the report, as before."""
    submit(store, story(status_known_on=KNOWN))
    submit(store, story(status_known_on=None, company="orange"))
    frame = store.fetch_responses(storage.Filters(include_flagged=True))
    today = paris_today()
    by_company = {
        company: followed_days(frame[frame["company"] == company], today)
        for company in ("free", "orange")
    }
    assert by_company["free"] == [89.0]
    assert by_company["orange"] == [float((today - STARTED).days)]
    tables = kpis.summary_tables(frame, as_of=today, rng=1, n_resamples=200)
    companies = tables.companies.set_index("company")
    # 89 days at risk within 90: the restricted mean is the 90 days less none resolved
    assert companies.loc["free", "resolution_n"] == 1


def test_status_known_on_is_kept_between_the_start_and_the_submission(tmp_path, store):
    """The form: not before the start, not in the future; a file: not after its own
    submission date either (a row saying so is rejected with its reason)."""
    early = validate_answers(story(status_known_on=date(2023, 6, 1)), today=date(2026, 12, 1))
    assert early.errors("fr") == {"status_known_on": "Cette date est avant le début du problème."}
    future = validate_answers(story(status_known_on=date(2027, 1, 1)), today=date(2026, 12, 1))
    assert list(future.errors("en")) == ["status_known_on"]
    resolved = validate_answers(
        story(status="resolved", ended_on=date(2023, 9, 1), status_known_on=KNOWN),
        today=date(2026, 12, 1),
    )
    assert resolved.errors("en") == {
        "status_known_on": "This question does not apply given your other answers."
    }
    path = tmp_path / "old.csv"
    path.write_text(
        "company;problem;started_on;status;status_known_on;consent_research;submitted_on\n"
        "free;outage;03/07/2023;ongoing;30/09/2023;oui;01/10/2023\n"
        "free;outage;03/07/2023;ongoing;30/09/2023;oui;15/09/2023\n",
        encoding="utf-8",
    )
    report = importer.import_file(path, store, today=date(2026, 12, 1))
    assert (report.stored, report.rejected_rows) == (1, 1)
    assert [(r.line, r.field) for r in report.rejections] == [(3, "status_known_on")]
    stored = store.fetch_responses(storage.Filters(include_flagged=True))
    assert stored["status_known_on"].dt.date.tolist() == [KNOWN]


def test_the_new_questions_are_shown_where_they_belong_and_stored(db_path):
    """AppTest: the subscription's services under the service, the status date only while
    ongoing, the false "resolved" date once one is counted, the reasons once a trip is wasted,
    the loaner cut-off count instead of yes/no, the ease instead of the effort. Nothing ticked
    in a multiple choice stores NULL in each option, not false."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert "q_services_tv" not in {c.key for c in at.checkbox}  # no service chosen yet
    at.selectbox(key="q_company").select("free").run()
    at.radio(key="q_service").set_value("fixed_internet").run()
    at.checkbox(key="q_services_internet").check().run()
    at.checkbox(key="q_services_tv").check().run()
    at.button(key="form_next").click().run()
    at.radio(key="q_problem").set_value("outage").run()
    at.text_input(key="q_started_on").input("3/7/2023").run()
    at.radio(key="q_status").set_value("ongoing").run()
    at.text_input(key="q_status_known_on").input("30/09/2023").run()
    at.radio(key="q_neighbourhood_cut").set_value("dont_know").run()
    assert "q_false_resolved_first_on" not in {t.key for t in at.text_input}
    at.text_input(key="q_false_resolved_count").input("2").run()
    at.text_input(key="q_false_resolved_first_on").input("14/08/2023").run()
    at.text_input(key="q_false_resolved_last_on").input("2/9/2023").run()
    at.button(key="form_next").click().run()
    assert "q_wasted_reason_closed" not in {c.key for c in at.checkbox}
    at.text_input(key="q_wasted_trips").input("2").run()  # no reason ticked: NULL
    at.button(key="form_next").click().run()
    at.radio(key="q_loaner_offered").set_value(True).run()
    at.radio(key="q_loaner_obtained").set_value(True).run()
    assert "q_loaner_cut_before_resolution" not in {r.key for r in at.radio}
    at.text_input(key="q_loaner_cut_count").input("0").run()
    at.button(key="form_next").click().run()
    assert "q_effort" not in {r.key for r in at.radio}
    at.radio(key="q_ease").set_value(2).run()
    at.checkbox(key="q_consent_research").check().run()
    at.button(key="form_submit").click().run()
    assert not at.exception, at.exception
    assert at.success, at.error
    row = storage.connect(db_path).fetch_responses(storage.Filters(include_flagged=True)).iloc[0]
    assert row["questionnaire_version"] == 2
    services = [row[f"services_{c}"] for c in ("internet", "landline", "tv", "mobile", "other")]
    assert services == [True, False, True, False, False]
    assert row["status_known_on"].date() == KNOWN
    assert pd.isna(row["neighbourhood_cut"])  # "je ne sais pas"
    assert row["false_resolved_first_on"].date() == date(2023, 8, 14)
    assert row["false_resolved_last_on"].date() == date(2023, 9, 2)
    reasons = [c for c in row.index if c.startswith("wasted_reason_")]
    assert len(reasons) == 4 and all(pd.isna(row[c]) for c in reasons)
    assert (row["loaner_cut_count"], bool(row["loaner_cut_before_resolution"])) == (0, False)
    assert (row["ease"], row["effort"]) == (2, 6)


def test_the_false_resolved_dates_follow_the_story():
    today = date(2026, 12, 1)
    ok = validate_answers(
        story(false_resolved_count=2, false_resolved_last_on=date(2023, 9, 2)), today=today
    )
    assert ok.ok, ok.errors("en")
    wrong = validate_answers(
        story(
            false_resolved_count=2,
            false_resolved_first_on=date(2023, 6, 1),
            false_resolved_last_on=date(2023, 5, 1),
        ),
        today=today,
    )
    assert set(wrong.errors("en")) == {"false_resolved_first_on", "false_resolved_last_on"}
    ended = validate_answers(
        story(status="resolved", ended_on=date(2023, 8, 1), status_known_on=None), today=today
    )  # the story's 14 August message came after an end on 1 August
    assert ended.errors("fr") == {
        "false_resolved_first_on": "Ce message est daté après la fin du problème."
    }
    once = validate_answers(story(false_resolved_last_on=date(2023, 9, 2)), today=today)
    assert list(once.errors("en")) == ["false_resolved_last_on"]  # asked from 2 messages on


def test_the_columns_no_longer_asked_follow_the_ones_asked_instead(tmp_path, store):
    """loaner_cut_before_resolution = loaner_cut_count > 0 and effort = 8 - ease, from the
    form, from code and from a file; a file giving both must agree."""
    response = validate_answers(story(loaner_cut_count=2, ease=7), today=date(2026, 12, 1))
    assert response.ok
    assert response.response.loaner_cut_before_resolution is True
    assert response.response.effort == 1
    disagree = validate_answers(
        story(loaner_cut_count=0, loaner_cut_before_resolution=True), today=date(2026, 12, 1)
    )
    assert disagree.errors("en") == {
        "loaner_cut_count": (
            "The number of cut-offs does not match the answer “cut off before the problem ended”."
        )
    }
    path = tmp_path / "v2.csv"
    path.write_text(
        "company,problem,started_on,status,loaner_obtained,loaner_cut_count,"
        "loaner_cut_before_resolution,ease,effort,consent_research\n"
        "free,outage,2023-07-03,ongoing,yes,2,,6,,yes\n"
        "free,outage,2023-07-03,ongoing,yes,0,,1,7,yes\n"
        "free,outage,2023-07-03,ongoing,yes,3,no,,,yes\n",
        encoding="utf-8",
    )
    report = importer.import_file(path, store, today=date(2026, 12, 1))
    assert (report.stored, report.rejected_rows) == (2, 1)
    assert [(r.line, r.field) for r in report.rejections] == [(4, "loaner_cut_count")]
    stored = store.fetch_responses(storage.Filters(include_flagged=True)).sort_values("ease")
    assert stored["loaner_cut_before_resolution"].tolist() == [False, True]
    assert stored["effort"].tolist() == [7, 2]


def test_every_rating_scale_of_the_form_runs_from_worst_to_best():
    """The scales asked (small whole-number ranges shown as a row of choices) put the worst
    end first: satisfaction, ease and recommendation. Effort ran the other way (1 = very easy):
    version 2 asks the ease and derives the effort."""
    scales = {
        q.id: q.help.fr.split(",")[0]
        for q in qn.FIELDS
        if q.asked and q.kind == "int" and q.maximum is not None and q.maximum <= 10
    }
    assert scales == {
        "csat": "1 = très insatisfait",
        "ease": "1 = très difficile",
        "nps": "0 = certainement pas",
    }
    # what the metrics read: higher ease is better, so the effort it gives is lower
    assert metrics.METRIC["csat"].direction == metrics.METRIC["nps"].direction == "higher"
    assert metrics.METRIC["effort"].direction == "lower"


def test_the_codebook_describes_the_new_questions():
    book = {entry["id"]: entry for entry in json.loads(qn.codebook_json())["fields"]}
    assert book["status_known_on"]["applies_when"] == {"question": "status", "in": ["ongoing"]}
    assert book["false_resolved_first_on"]["applies_when"] == {
        "question": "false_resolved_count",
        "at_least": 1,
    }
    assert book["services_tv"]["group"] == "services"
    assert book["effort"]["derived_from"] == "ease"
    assert {book[q.id]["since_version"] for q in qn.response_questions(2)} == {2}
    markdown = qn.codebook_markdown()
    assert "`wasted_trips` >= 1" in markdown
    assert "derived from `loaner_cut_count`" in markdown


# --- refunds: partial as its own outcome, and the share of the amount obtained --------------


def refund_frame() -> pd.DataFrame:
    """Two companies, refunds counted by hand below."""
    rows = []

    def add(company, outcome, requested=None, obtained=None):
        rows.append(
            {
                "company": company,
                "refund_requested": True,
                "refund_outcome": outcome,
                "refund_amount_requested": requested,
                "refund_amount_obtained": obtained,
            }
        )

    # alpha: the story's kind of partial refund, 40 of 120 EUR
    add("alpha", "full", 120, 120)
    add("alpha", "partial", 120, 40)
    add("alpha", "partial", 50, None)  # amount obtained unknown: out of the amount share
    add("alpha", "refused", 80)
    add("alpha", "pending", 30)  # not decided: out of every refund share
    add("alpha", "full", None, None)  # amount requested unknown: out of the amount share
    # beta: full refunds, one without its amount obtained, one gesture above the request
    add("beta", "full", 60, None)
    add("beta", "full", 100, 150)
    add("beta", "partial", 200, 50)
    frame = pd.DataFrame(rows)
    frame["sector"], frame["origin"], frame["company_name"] = "isp", "fr", frame["company"]
    for column in kpis.REQUIRED_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["submitted_on"] = pd.Timestamp("2026-06-01")
    return frame


def test_partial_refunds_are_their_own_outcome_against_a_hand_count():
    tables = kpis.summary_tables(refund_frame(), as_of="2026-06-30", rng=1, n_resamples=500)
    table = tables.companies.set_index("company")
    # decided: alpha 5 (full 2, partial 2, refused 1), beta 3 (full 2, partial 1)
    assert table.loc["alpha", "refund_success_share"] == 4 / 5  # partial counted as obtained
    assert table.loc["alpha", "refund_full_share"] == 2 / 5
    assert table.loc["alpha", "refund_partial_share"] == 2 / 5
    assert table.loc["beta", "refund_partial_share"] == 1 / 3
    # amount share: alpha 1, 40/120, 0 (3 requests); beta 1 (full, amount unknown), 1 (capped)
    # and 50/200
    assert table.loc["alpha", "refund_amount_share_n"] == 3
    assert_allclose(table.loc["alpha", "refund_amount_share_mean"], (1 + 0.333 + 0) / 3)
    assert table.loc["beta", "refund_amount_share_n"] == 3
    assert_allclose(table.loc["beta", "refund_amount_share_mean"], (1 + 1 + 0.25) / 3)
    groups = tables.groups.set_index("group")
    assert groups.loc["isp/fr", "refund_partial_n"] == 8
    assert groups.loc["isp/fr", "refund_partial_share"] == 3 / 8
    # a frame of the first questionnaire's columns: no amount, no base, no figure
    old = kpis.summary_tables(
        refund_frame().drop(columns=["refund_amount_requested", "refund_amount_obtained"]),
        as_of="2026-06-30",
        rng=1,
        n_resamples=200,
    ).companies
    assert old["refund_amount_share_n"].tolist() == [0, 0]


def test_refund_amount_share_interval_against_R_boot_bca():
    """The BCa interval of the mean share obtained, against R's boot package
    (tests/reference/refund_amount_share_r.R: ``boot(shares, function(x, i) mean(x[i]),
    R = 200000)``, ``boot.ci(type = "bca")``). Independent resamples: the bounds agree within
    Monte Carlo error (3% of the interval's width)."""
    ref = json.loads((REFERENCE / "refund_amount_share_r.json").read_text())
    rows = [("full", 100.0, 100.0)] * ref["full"] + [("refused", 100.0, None)] * ref["refused"]
    rows += [
        ("partial", requested, obtained)
        for requested, obtained in zip(ref["requested"], ref["obtained"], strict=True)
    ]
    frame = refund_frame().iloc[:0].reindex(range(len(rows)))
    frame["company"], frame["sector"], frame["origin"] = "alpha", "isp", "fr"
    frame["refund_requested"] = True
    frame["refund_outcome"] = [r[0] for r in rows]
    frame["refund_amount_requested"] = [r[1] for r in rows]
    frame["refund_amount_obtained"] = [r[2] for r in rows]
    frame["submitted_on"] = pd.Timestamp("2026-06-01")
    table = kpis.company_table(frame, as_of="2026-06-30", rng=7, n_resamples=20_000)
    row = table.iloc[0]
    assert_allclose(row["refund_amount_share_mean"], ref["mean"], rtol=1e-12)
    width = ref["high"] - ref["low"]
    assert_allclose(
        [row["refund_amount_share_low"], row["refund_amount_share_high"]],
        [ref["low"], ref["high"]],
        atol=0.03 * width,
    )


def test_the_new_refund_metrics_are_suppressed_by_their_own_base():
    """Disclosure: a company with enough decided requests but fewer than 10 known amounts
    shows its partial share and hides its amount share (and takes no part in its tests)."""
    frame = pd.concat([refund_frame()] * 4, ignore_index=True)  # alpha: 12 amounts, 20 decided
    beta = frame["company"] == "beta"
    frame.loc[beta, "refund_amount_requested"] = np.where(
        np.arange(beta.sum()) < 9, frame.loc[beta, "refund_amount_requested"], np.nan
    )  # beta: 12 decided, 8 known amounts (one of the 9 kept is a full refund of unknown amount)
    published = disclosure.published_tables(
        frame, as_of="2026-06-30", rng=1, n_resamples=200, min_cell=10
    )
    companies = published.companies.set_index("company")
    hidden = dict(
        zip(companies.index, published.company_hidden["refund_amount_share"], strict=True)
    )
    assert hidden == {"alpha": False, "beta": True}
    assert companies.loc["beta", "refund_amount_share_n"] < 10 <= companies.loc["beta", "n"]
    assert not published.company_hidden["refund_partial"].any()
    masked = published.masked_companies().set_index("company")
    assert pd.isna(masked.loc["beta", "refund_amount_share_mean"])
    assert pd.isna(masked.loc["alpha", "refund_amount_share_vs_others_p"])  # no one to compare


@pytest.mark.parametrize("days_back", [0, 45])
def test_an_ongoing_case_censored_at_its_status_date_in_the_tables(days_back):
    """kpis reads status_known_on within [start, as_of] (an update may confirm the case
    ongoing after the report): a date outside is ignored."""
    submitted = pd.Timestamp("2026-06-01")
    frame = refund_frame().iloc[:1].copy()
    frame["status"] = "ongoing"
    frame["started_on"] = submitted - timedelta(days=100)
    frame["submitted_on"] = submitted
    frame["status_known_on"] = submitted - timedelta(days=days_back)
    assert followed_days(frame, date(2026, 6, 30)) == [100.0 - days_back]
    frame["status_known_on"] = submitted + timedelta(days=3)  # confirmed after the report
    assert followed_days(frame, date(2026, 6, 30)) == [103.0]
    assert followed_days(frame, date(2026, 6, 2)) == [100.0]  # not yet known on 2 June
    frame["status_known_on"] = submitted - timedelta(days=101)  # before the start: ignored
    assert followed_days(frame, date(2026, 6, 30)) == [100.0]
