"""What a French (or English) person types into the form's number and date fields is what is
stored (issue 13, "Silent changes to fix"); refused text says what is expected, in the
respondent's language, next to the field."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from survey import questionnaire as qn
from survey import store as storage
from survey.validation import (
    TYPED_KINDS,
    clean_text,
    parse_date,
    parse_number,
    parse_typed,
    validate_answers,
)
from tests.conftest import APP

TODAY = date(2026, 6, 15)
SPACES = (" ", "\u00a0", "\u202f")
NUMBER_FIELDS = [q for q in qn.FIELDS if q.kind in ("int", "float")]
DATE_FIELDS = [q for q in qn.FIELDS if q.kind == "date"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1,5", Decimal("1.5")),
        ("120,50", Decimal("120.5")),
        ("1 200", Decimal(1200)),
        ("1\u00a0200", Decimal(1200)),
        ("1\u202f200", Decimal(1200)),
        ("1\u202f200,75", Decimal("1200.75")),
        ("0,5", Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        ("40", Decimal(40)),
        ("-3", Decimal(-3)),
        ("\u22123", Decimal(-3)),
    ],
)
def test_french_numbers_are_read_as_the_french_write_them(typed, expected):
    assert parse_number(typed, locale="fr") == expected


@pytest.mark.parametrize("typed", ["1.500", "2.000"])
def test_a_dot_before_three_digits_is_ambiguous_in_french(typed):
    with pytest.raises(ValueError, match="ambiguous"):
        parse_number(typed, locale="fr")
    assert parse_typed("wasted_km", typed).problem.message("fr").startswith("Nombre ambigu")


@pytest.mark.parametrize("typed", ["abc", "1 20", "1,2,3", "1e5", "inf", "nan", "12.", "1,234,5"])
def test_text_that_is_not_a_number_is_refused_with_the_expected_form(typed):
    answer = parse_typed("hours_spent", typed, locale="fr")
    assert answer.value is None
    assert answer.problem.message("fr") == (
        "Saisissez un nombre, par exemple 12 ou 1,5 (milliers séparés par une espace : 1 200)."
    )


def test_english_reads_commas_as_thousands_before_three_digits():
    assert parse_number("1,200", locale="en") == 1200
    assert parse_number("1,234,567.5", locale="en") == Decimal("1234567.5")
    assert parse_number("1,5", locale="en") == Decimal("1.5")
    with pytest.raises(ValueError, match="`locale`"):
        parse_number("1", locale="de")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3/7/2023", date(2023, 7, 3)),
        ("03/07/2023", date(2023, 7, 3)),
        ("03/07/23", date(2023, 7, 3)),
        ("3/12/2023", date(2023, 12, 3)),
        ("3.7.2023", date(2023, 7, 3)),
        ("3-7-2023", date(2023, 7, 3)),
        ("2023-07-03", date(2023, 7, 3)),
        ("1/1/99", date(1999, 1, 1)),  # then refused as too early, with its own message
    ],
)
def test_dates_with_or_without_leading_zeros_and_two_digit_years(typed, expected):
    assert parse_date(typed, today=TODAY) == expected


@pytest.mark.parametrize("typed", ["31/02/2023", "3/7-2023", "7/2023", "2023/07", "hier"])
def test_text_that_is_not_a_date_says_the_expected_form(typed):
    answer = parse_typed("started_on", typed, locale="fr", today=TODAY)
    assert answer.value is None
    assert answer.problem.message("fr") == (
        "Saisissez une date au format JJ/MM/AAAA, par exemple 03/07/2023."
    )


def test_a_future_end_date_says_so_rather_than_asking_for_the_end_date():
    answers = {
        "company": "free",
        "problem": "outage",
        "started_on": "3/7/2023",
        "status": "resolved",
        "ended_on": (TODAY + timedelta(days=3)).strftime("%d/%m/%Y"),
        "consent_research": True,
    }
    outcome = validate_answers(answers, today=TODAY, locale="fr")
    assert outcome.errors("fr") == {"ended_on": "Cette date est dans le futur."}


def test_out_of_range_numbers_are_refused_in_the_respondents_language():
    answers = {"unanswered_calls": "600", "contacts_phone": "-3", "hours_spent": "1\u202f000,5"}
    outcome = validate_answers(answers, today=TODAY, locale="fr")
    errors = outcome.errors("fr")
    assert errors["unanswered_calls"] == "Maximum : 500."
    assert errors["contacts_phone"] == "Minimum : 0."
    assert errors["hours_spent"] == "Maximum : 1\u202f000."


def test_nul_and_bidi_controls_are_removed_from_free_text():
    text = "Box\u202e coupée\u2066 deux fois\x00 \u202a!\u2069\u202b\u202c\u202d\u2067\u2068"
    assert clean_text(text) == "Box coupée deux fois !"
    outcome = validate_answers(
        {
            "company": "other",
            "company_other": "Acme\u202e",
            "problem": "outage",
            "started_on": "2023-07-03",
            "status": "ongoing",
            "narrative": text,
            "consent_research": True,
        },
        today=TODAY,
    )
    assert outcome.ok, outcome.errors("en")
    assert outcome.response.narrative == "Box coupée deux fois !"
    assert outcome.response.company_other == "Acme"


# --- random typing: what is stored equals what the parse of the screen says ---------------


def _written(number: Decimal, locale: str, space: str, group: bool) -> str:
    """``number`` as a person of ``locale`` would type it."""
    sign = "-" if number < 0 else ""
    whole, _, fraction = f"{abs(number):f}".partition(".")
    if group and len(whole) > 3:
        parts = []
        while len(whole) > 3:
            parts.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = (space if locale == "fr" else ",").join([whole, *parts])
    point = "," if locale == "fr" else "."
    return sign + whole + (point + fraction if fraction else "")


typed_numbers = st.tuples(
    st.sampled_from(NUMBER_FIELDS),
    st.decimals(min_value=-50, max_value=200_000, places=2, allow_nan=False),
    st.sampled_from(qn.LOCALES),
    st.sampled_from(SPACES),
    st.booleans(),
)


# The answers under which every number question is asked.
ASKED = {"refund_requested": True, "refund_outcome": "partial", "loaner_obtained": True}


@settings(max_examples=400, deadline=None)
@given(case=typed_numbers)
def test_random_typed_numbers_mean_exactly_what_is_written(case):
    q, number, locale, space, group = case
    if q.kind == "int":
        number = number.to_integral_value()
    text = _written(number, locale, space, group)
    answer = parse_typed(q.id, text, locale=locale)
    assert answer.ok, (text, answer.problem)
    assert answer.value == (int(number) if q.kind == "int" else float(number))
    outcome = validate_answers({**ASKED, q.id: text}, today=TODAY, locale=locale)
    problems = {p.field: p.code for p in outcome.problems}
    if q.minimum <= number <= q.maximum:
        assert q.id not in problems, (text, problems)
    else:
        assert problems[q.id] == ("too_small" if number < q.minimum else "too_large")


typed_dates = st.tuples(
    st.sampled_from(DATE_FIELDS),
    st.dates(date(2000, 1, 1), TODAY),
    st.sampled_from(["%d/%m/%Y", "{d}/{m}/%Y", "%d/%m/%y", "{d}/{m}/%y", "%Y-%m-%d", "%d.%m.%Y"]),
    st.sampled_from(qn.LOCALES),
)


@settings(max_examples=300, deadline=None)
@given(case=typed_dates)
def test_random_typed_dates_mean_exactly_what_is_written(case):
    q, day, pattern, locale = case
    text = day.strftime(pattern.format(d=day.day, m=day.month))
    answer = parse_typed(q.id, text, locale=locale, today=TODAY)
    assert answer.value == day, text


@pytest.fixture(scope="module")
def one_store(tmp_path_factory):
    return storage.connect(tmp_path_factory.mktemp("typing") / "typing.duckdb")


stored_cases = st.tuples(
    st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False),
    st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False),
    st.integers(0, 500),
    st.dates(date(2000, 1, 1), TODAY),
    st.sampled_from(qn.LOCALES),
    st.sampled_from(SPACES),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=stored_cases)
def test_random_typed_answers_are_stored_as_their_parsed_value(one_store, case):
    """Typed text -> the form's validation -> DuckDB -> read back: the parsed value."""
    hours, amount, calls, started, locale, space = case
    typed = {
        "hours_spent": _written(hours, locale, space, True),
        "refund_amount_requested": _written(amount, locale, space, True),
        "unanswered_calls": _written(Decimal(calls), locale, space, True),
        "started_on": started.strftime("%d/%m/%Y" if locale == "fr" else "%Y-%m-%d"),
    }
    answers = {
        **typed,
        "company": "free",
        "problem": "outage",
        "status": "ongoing",
        "refund_requested": True,
        "consent_research": True,
    }
    outcome = validate_answers(answers, today=TODAY, locale=locale)
    assert outcome.ok, (typed, outcome.errors("en"))
    meta = storage.SubmissionMeta(storage.new_submission_key(), storage.new_deletion_code())
    receipt = one_store.insert_response(outcome.response, meta)
    row = one_store.fetch_response(receipt.response_id)
    for field, text in typed.items():
        assert row[field] == parse_typed(field, text, locale=locale, today=TODAY).value, field


def test_every_number_and_date_question_is_read_by_parse_typed():
    for q in qn.FIELDS:
        if q.kind in TYPED_KINDS:
            assert parse_typed(q.id, "").value is None
    with pytest.raises(ValueError, match="`question_id`"):
        parse_typed("company", "1")


# --- the same through the page (AppTest) -----------------------------------------------------


@pytest.fixture
def app(db_path):
    return AppTest.from_file(APP, default_timeout=60).run()


def typed(at, key, text):
    at.text_input(key=key).input(text).run()
    assert not at.exception, at.exception


def click(at, key):
    at.button(key=key).click().run()
    assert not at.exception, at.exception


def error_after(at, key):
    """The message shown right after the field ``key`` (None if there is none)."""
    order = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            order.append(child)
            walk(child)

    walk(at.main)
    errors = {id(e) for e in at.error}
    for index, element in enumerate(order):
        if getattr(element, "key", None) == key:
            following = order[index + 1] if index + 1 < len(order) else None
            return following.value if id(following) in errors else None
    raise AssertionError(f"no field {key}")


def test_the_page_stores_what_a_french_person_typed(app, store):
    app.selectbox(key="q_company").select("free").run()
    click(app, "form_next")
    app.radio(key="q_problem").set_value("outage").run()
    typed(app, "q_started_on", "3/7/2023")
    app.radio(key="q_status").set_value("resolved").run()
    typed(app, "q_ended_on", "3/12/2023")
    click(app, "form_next")
    assert app.session_state["form_step"] == 2
    typed(app, "q_hours_spent", "1,5")
    typed(app, "q_unanswered_calls", "1\u202f2")  # not a number: refused at once
    assert error_after(app, "q_unanswered_calls").startswith("Saisissez un nombre")
    typed(app, "q_unanswered_calls", "600")
    assert error_after(app, "q_unanswered_calls") == "Maximum : 500."
    click(app, "form_next")
    assert app.session_state["form_step"] == 2  # "Suivant" does not move past it
    assert app.text_input(key="q_unanswered_calls").value == "600"  # kept on screen
    typed(app, "q_unanswered_calls", "12")
    assert error_after(app, "q_unanswered_calls") is None
    click(app, "form_next")
    app.radio(key="q_refund_requested").set_value(True).run()
    typed(app, "q_refund_amount_requested", "120,50")
    click(app, "form_next")
    app.text_area(key="q_narrative").input("x" * 6000).run()
    app.checkbox(key="q_consent_research").check().run()
    click(app, "form_submit")
    assert store.count() == 0
    assert app.session_state["form_step"] == 4
    assert len(app.text_area(key="q_narrative").value) == 6000  # kept, not emptied
    assert "6\u202f000 caractères, maximum 5\u202f000" in error_after(app, "q_narrative")
    app.text_area(key="q_narrative").input("Box coupée\u202e trois mois.\x00").run()
    assert app.text_area(key="q_narrative").value == "Box coupée trois mois."
    click(app, "form_submit")
    assert app.success, [e.value for e in app.error]
    row = store.fetch_responses(storage.Filters(include_flagged=True)).iloc[0]
    assert row["started_on"].date() == date(2023, 7, 3)
    assert row["ended_on"].date() == date(2023, 12, 3)
    assert row["hours_spent"] == 1.5
    assert row["unanswered_calls"] == 12
    assert row["refund_amount_requested"] == 120.5
    assert row["narrative"] == "Box coupée trois mois."


def test_the_page_says_a_future_end_date_is_in_the_future(app):
    app.selectbox(key="q_company").select("free").run()
    click(app, "form_next")
    app.radio(key="q_problem").set_value("outage").run()
    typed(app, "q_started_on", "03/07/23")
    app.radio(key="q_status").set_value("resolved").run()
    future = date.today() + timedelta(days=30)
    typed(app, "q_ended_on", future.strftime("%d/%m/%Y"))
    assert error_after(app, "q_ended_on") == "Cette date est dans le futur."
    click(app, "form_next")
    assert app.session_state["form_step"] == 1
    assert error_after(app, "q_ended_on") == "Cette date est dans le futur."
    assert app.text_input(key="q_ended_on").value == future.strftime("%d/%m/%Y")
