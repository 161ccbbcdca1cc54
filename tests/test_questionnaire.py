"""The questionnaire definition and the reference data it rests on."""

import json

from survey import i18n
from survey import questionnaire as qn

# Every field named in PRODUCT.md section 2.
PRODUCT_FIELDS = [
    "company",
    "service",
    "department",
    "household",
    "school_children",
    "teleworks",
    "problem",
    "started_on",
    "status",
    "ended_on",
    "blamed_third_party",
    "false_resolved_count",
    "contacts_phone",
    "contacts_chat",
    "contacts_email",
    "contacts_shop",
    "contacts_social",
    "contacts_letter",
    "unanswered_calls",
    "callbacks_promised",
    "callbacks_received",
    "hours_spent",
    "technician_visits",
    "technician_visits_useless",
    "wasted_trips",
    "wasted_km",
    "escalation_mediator",
    "escalation_regulator",
    "escalation_signalconso",
    "escalation_association",
    "escalation_court",
    "loaner_offered",
    "loaner_obtained",
    "loaner_days_to_obtain",
    "loaner_cut_before_resolution",
    "refund_requested",
    "refund_outcome",
    "refund_amount_requested",
    "refund_amount_obtained",
    "refund_requested_on",
    "refund_received_on",
    "unrequested_gesture",
    "csat",
    "effort",
    "nps",
    "switched",
    "narrative",
    "consent_research",
    "consent_quote",
    "contact_email",
]


def test_every_product_field_is_defined_once():
    ids = [q.id for q in qn.FIELDS]
    assert len(ids) == len(set(ids))
    assert set(PRODUCT_FIELDS) <= set(ids)


def test_required_fields_match_the_specification():
    required = {q.id for q in qn.FIELDS if q.required}
    assert required == {"company", "problem", "started_on", "status", "consent_research"}


def test_every_question_has_both_languages_and_a_known_section():
    for q in qn.FIELDS:
        assert q.label.fr.strip() and q.label.en.strip(), q.id
        assert q.section in qn.SECTION_IDS, q.id
        for choice in q.choices:
            assert choice.label.fr and choice.label.en, (q.id, choice.value)
        if q.shown_if:
            assert q.shown_if[0] in qn.QUESTIONS


def test_error_messages_come_from_the_catalogue_with_localised_numbers():
    assert qn.error_message("too_large", "fr", maximum=5) == "Maximum : 5."
    assert qn.error_message("too_large", "en", maximum=5) == "Maximum: 5."
    # Numbers and dates are written the locale's way (narrow no-break space in French).
    assert qn.error_message("too_large", "fr", maximum=100000.0) == "Maximum : 100\u202f000."
    assert qn.error_message("too_large", "en", maximum=100000.0) == "Maximum: 100,000."
    assert qn.error_message("too_small", "fr", minimum=0.5) == "Minimum : 0,50."
    assert qn.error_message("too_early", "fr", earliest=qn.EARLIEST_DATE) == (
        "Date antérieure au 01/01/2000."
    )
    assert qn.error_message("too_early", "en", earliest=qn.EARLIEST_DATE) == (
        "Date before 2000-01-01."
    )
    # An unknown code is the generic message; a missing parameter keeps its placeholder.
    assert qn.error_message("no_such_code", "fr") == "Réponse non valable."
    assert qn.error_message("too_large", "en") == "Maximum: {maximum}."


def test_locales_are_the_catalogue_s_own():
    assert qn.LOCALES is i18n.LOCALES
    assert qn.DEFAULT_LOCALE is i18n.DEFAULT_LOCALE


def test_every_question_group_has_a_stem_in_both_languages():
    groups = {q.group for q in qn.FIELDS if q.group}
    assert groups == set(qn.GROUPS)
    for text in qn.GROUPS.values():
        assert text.fr.strip() and text.en.strip()


def test_companies_cover_the_sector_by_origin_design():
    rows = qn.companies()
    ids = {row["id"] for row in rows}
    for expected in (
        "orange",
        "sosh",
        "sfr",
        "red_by_sfr",
        "free",
        "bouygues",
        "b_and_you",
        "la_poste_mobile",
        "amazon",
        "aliexpress",
        "temu",
        "fnac_darty",
        "cdiscount",
        "boulanger",
    ):
        assert expected in ids
    cells = {(row["sector"], row["origin"]) for row in rows}
    assert cells == {("isp", "fr"), ("isp", "foreign"), ("retailer", "fr"), ("retailer", "foreign")}
    assert {row["id"]: row["group"] for row in rows}["sosh"] == "Orange"


def test_departments_are_the_101_french_departements():
    codes = [row["code"] for row in qn.departments()]
    assert len(codes) == 101
    assert len(set(codes)) == 101
    assert {"01", "2A", "2B", "95", "971", "972", "973", "974", "976"} <= set(codes)
    assert "20" not in codes
    regions = {row["code"]: row["region"] for row in qn.departments()}
    assert regions["06"] == "Provence-Alpes-Côte d'Azur"


def test_codebook_lists_every_stored_column_and_flags_the_email_as_not_exported():
    book = json.loads(qn.codebook_json())
    assert book["questionnaire_version"] == qn.QUESTIONNAIRE_VERSION
    by_id = {entry["id"]: entry for entry in book["fields"]}
    assert set(PRODUCT_FIELDS) <= set(by_id)
    assert by_id["contact_email"]["exported"] is False
    assert by_id["ended_on"]["applies_when"] == {
        "question": "status",
        "in": ["resolved", "unresolved"],
    }
    markdown = qn.codebook_markdown()
    assert "| `started_on` (required) | DATE |" in markdown
    assert markdown.count("\n| `") == len(book["fields"])


def test_questions_apply_only_when_relevant():
    refund = qn.QUESTIONS["refund_outcome"]
    assert not refund.applies({"refund_requested": False})
    assert refund.applies({"refund_requested": True})
    obtained = qn.QUESTIONS["refund_amount_obtained"]
    # Nested: amount obtained needs a refund requested and a full or partial outcome.
    assert not obtained.applies({"refund_requested": False, "refund_outcome": "full"})
    assert obtained.applies({"refund_requested": True, "refund_outcome": "partial"})
    assert not qn.QUESTIONS["ended_on"].applies({"status": "ongoing"})
