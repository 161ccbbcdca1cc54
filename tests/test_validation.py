"""The Response model and the cross-field rules of PRODUCT.md section 2."""

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from survey import questionnaire as qn
from survey.validation import Response, step_problems, validate_answers

TODAY = date(2026, 6, 15)


def base(**changes):
    answers = {
        "company": "orange",
        "problem": "outage",
        "started_on": date(2026, 1, 10),
        "status": "resolved",
        "ended_on": date(2026, 2, 1),
        "consent_research": True,
    }
    answers.update(changes)
    return {k: v for k, v in answers.items() if v is not None}


def codes(answers):
    outcome = validate_answers(answers, today=TODAY)
    return {p.field: p.code for p in outcome.problems}


def test_a_complete_response_validates_into_a_frozen_model():
    outcome = validate_answers(base(csat=4, narrative="  ok  "), today=TODAY)
    assert outcome.ok
    assert outcome.response.csat == 4
    assert outcome.response.narrative == "ok"
    with pytest.raises(ValidationError):
        outcome.response.csat = 1


def test_required_answers_are_reported_by_field():
    assert codes({}) == {
        "company": "required",
        "problem": "required",
        "started_on": "required",
        "status": "required",
        "consent_research": "consent_required",
    }


def test_dates_are_ordered_and_not_in_the_future():
    assert codes(base(ended_on=date(2026, 1, 1))) == {"ended_on": "ended_before_started"}
    assert codes(base(started_on=TODAY + timedelta(days=1), ended_on=None, status="ongoing")) == {
        "started_on": "in_future"
    }
    assert codes(base(started_on=date(1999, 12, 31))) == {"started_on": "too_early"}
    assert codes(base(ended_on=TODAY + timedelta(days=2))) == {"ended_on": "in_future"}
    assert codes(base(ended_on=None)) == {"ended_on": "ended_on_required"}
    assert codes(base(status="unresolved", ended_on=None)) == {"ended_on": "ended_on_required"}
    assert codes(base(status="ongoing", ended_on=None)) == {}


def test_an_end_date_while_ongoing_does_not_apply():
    assert codes(base(status="ongoing")) == {"ended_on": "not_applicable"}


def test_counts_are_consistent():
    assert codes(base(technician_visits=2, technician_visits_useless=3)) == {
        "technician_visits_useless": "useless_exceeds_visits"
    }
    assert codes(base(callbacks_promised=2, callbacks_received=3)) == {
        "callbacks_received": "received_exceeds_promised"
    }
    assert codes(base(callbacks_promised=2, callbacks_received=0)) == {}
    assert codes(base(wasted_trips=0, wasted_km=20)) == {"wasted_km": "km_without_trips"}


def test_bounds_and_types_give_translated_messages():
    outcome = validate_answers(
        base(csat=6, nps=-1, hours_spent=1001, wasted_trips="two", narrative="x" * 5001),
        today=TODAY,
    )
    assert {p.field: p.code for p in outcome.problems} == {
        "csat": "too_large",
        "nps": "too_small",
        "hours_spent": "too_large",
        "wasted_trips": "not_whole",
        "narrative": "too_long",
    }
    assert outcome.errors("fr")["csat"] == "Maximum : 5."
    # Counts written the respondent's way (issue 9): "5,001" in English, "5 001" in French.
    assert outcome.errors("en")["narrative"] == "Text too long: 5,001 characters, maximum 5,000."
    assert outcome.errors("fr")["narrative"] == (
        "Texte trop long : 5\u202f001 caractères, maximum 5\u202f000."
    )
    assert outcome.errors("fr")["hours_spent"] == "Maximum : 1\u202f000."


def test_refund_rules():
    refund = base(refund_requested=True, refund_outcome="partial")
    assert codes({**refund, "refund_amount_requested": 50, "refund_amount_obtained": 80}) == {
        "refund_amount_obtained": "obtained_exceeds_requested"
    }
    gesture = {**refund, "refund_amount_requested": 50, "refund_amount_obtained": 80}
    assert codes({**gesture, "unrequested_gesture": True}) == {}
    assert codes(
        {
            **refund,
            "refund_requested_on": date(2026, 3, 1),
            "refund_received_on": date(2026, 2, 1),
        }
    ) == {"refund_received_on": "refund_before_request"}
    assert codes({**refund, "refund_requested_on": date(2025, 1, 1)}) == {
        "refund_requested_on": "request_before_problem"
    }
    # No refund questions unless a refund was requested.
    assert codes(base(refund_outcome="full")) == {"refund_outcome": "not_applicable"}


def test_consent_email_other_company_and_choices():
    assert codes(base(consent_research=False)) == {"consent_research": "consent_required"}
    assert codes(base(contact_email="not-an-email")) == {"contact_email": "invalid_email"}
    assert codes(base(contact_email="jean.dupont@example.fr")) == {}
    assert codes(base(company="other")) == {"company_other": "other_company_name"}
    assert codes(base(company="other", company_other="Box Bidule")) == {}
    assert codes(base(company="acme")) == {"company": "not_a_choice"}
    assert codes(base(department="20")) == {"department": "not_a_choice"}
    assert codes(base(department="2A")) == {}
    assert codes(base(surprise=1)) == {"surprise": "invalid"}


def test_text_from_files_is_parsed_like_typed_answers():
    outcome = validate_answers(
        {
            "company": "free",
            "problem": "outage",
            "started_on": "2023-07-10",
            "status": "ongoing",
            "wasted_km": "40",
            "technician_visits": "2",
            "blamed_third_party": "true",
            "consent_research": "yes",
            "narrative": "",
        },
        today=TODAY,
    )
    assert outcome.ok, outcome.errors("en")
    assert outcome.response.started_on == date(2023, 7, 10)
    assert outcome.response.wasted_km == 40.0
    assert outcome.response.narrative is None


def test_the_model_itself_refuses_a_broken_response():
    """Code that builds a Response directly cannot bypass the cross-field rules."""
    with pytest.raises(ValidationError, match="ended_on"):
        Response(
            company="free",
            problem="outage",
            started_on=date(2023, 7, 10),
            status="resolved",
            ended_on=date(2023, 7, 1),
            consent_research=True,
        )


def test_step_problems_only_reports_the_sections_reached():
    problems = step_problems({"company": "orange"}, ("company",), today=TODAY)
    assert problems == ()
    problems = step_problems({"company": "orange"}, ("company", "problem"), today=TODAY)
    assert {p.field for p in problems} == {"problem", "started_on", "status"}


def _answer_strategy(q):
    junk = st.one_of(st.none(), st.text(max_size=20), st.integers(-5, 2000), st.floats())
    if q.kind == "choice":
        valid = st.sampled_from(q.choice_values())
    elif q.kind in ("bool", "flag", "consent"):
        valid = st.booleans()
    elif q.kind == "int":
        valid = st.integers(int(q.minimum) - 2, int(q.maximum) + 2)
    elif q.kind == "float":
        valid = st.floats(q.minimum - 5, q.maximum + 5)
    elif q.kind == "date":
        valid = st.dates(date(1998, 1, 1), date(2027, 1, 1))
    else:
        valid = st.text(max_size=60)
    return st.one_of(valid, junk)


answers_strategy = st.fixed_dictionaries(
    {}, optional={q.id: _answer_strategy(q) for q in qn.FIELDS}
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=answers_strategy)
def test_random_answers_validate_or_give_field_keyed_errors(answers):
    outcome = validate_answers(answers, today=TODAY)
    if outcome.ok:
        assert isinstance(outcome.response, Response)
        assert outcome.problems == ()
    else:
        assert outcome.problems
        for locale in qn.LOCALES:
            errors = outcome.errors(locale)
            assert set(errors) <= set(qn.QUESTIONS)
            assert all(isinstance(m, str) and m for m in errors.values())
