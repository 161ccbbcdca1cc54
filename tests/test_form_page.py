"""The respondent's page, driven through Streamlit's AppTest on a real DuckDB file."""

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from survey import store as storage
from survey.i18n import t as i18n_t
from tests.conftest import APP, assert_nothing_moved, places


@pytest.fixture
def app(db_path):
    return AppTest.from_file(APP, default_timeout=60).run()


def click(at, key):
    at.button(key=key).click().run()
    assert not at.exception, at.exception


def typed(at, key, text):
    """Type ``text`` into a text field (numbers and dates are typed as text)."""
    at.text_input(key=key).input(text).run()
    assert not at.exception, at.exception


def french(day):
    return day.strftime("%d/%m/%Y")


def fill_first_two_steps(at, *, ended_on=date(2024, 3, 1)):
    at.selectbox(key="q_company").select("orange").run()
    at.radio(key="q_service").set_value("fixed_internet").run()
    click(at, "form_next")
    at.radio(key="q_problem").set_value("outage").run()
    typed(at, "q_started_on", french(date(2024, 2, 1)))
    at.radio(key="q_status").set_value("resolved").run()
    typed(at, "q_ended_on", french(ended_on))
    typed(at, "q_false_resolved_count", "1")


def finish(at):
    click(at, "form_next")  # contacts
    typed(at, "q_wasted_trips", "2")
    typed(at, "q_wasted_km", "40")
    click(at, "form_next")  # workarounds
    at.radio(key="q_refund_requested").set_value(True).run()
    at.radio(key="q_refund_outcome").set_value("refused").run()
    click(at, "form_next")  # assessment
    at.radio(key="q_csat").set_value(2).run()
    at.checkbox(key="q_consent_research").check().run()
    click(at, "form_submit")


def elements_in_order(at):
    """Every element of the main area, depth first, in display order."""
    out = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            out.append(child)
            walk(child)

    walk(at.main)
    return out


def test_the_page_opens_in_french_with_a_privacy_notice(app):
    assert not app.exception
    assert app.title[0].value == "Votre expérience de service client"
    assert "Ce que nous gardons" in app.info[0].value
    assert app.selectbox(key="q_company").label == "Entreprise concernée *"
    assert "Étape 1 sur 5" in str(app.get("progress")[0].proto)


def test_a_valid_submission_is_stored_and_gives_a_deletion_code(app, store):
    fill_first_two_steps(app)
    finish(app)
    assert app.success, "no confirmation shown"
    code = app.code[0].value
    assert len(code) == 19
    frame = store.fetch_responses(storage.Filters(include_flagged=True))
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["company"] == "orange"
    assert row["status"] == "resolved"
    assert row["ended_on"].date() == date(2024, 3, 1)
    assert row["wasted_trips"] == 2
    assert row["refund_outcome"] == "refused"
    assert row["csat"] == 2
    assert row["source"] == "web"
    assert row["locale"] == "fr"
    assert row["flag_too_fast"]  # a test fills the form in far less than a minute
    # The code shown is the one that deletes this response.
    assert store.delete_response(code) is True


def test_end_before_start_shows_the_error_next_to_the_field_and_keeps_answers(app, store):
    fill_first_two_steps(app, ended_on=date(2024, 1, 15))
    click(app, "form_next")
    assert app.session_state["form_step"] == 1  # stayed on the step
    assert [e.value for e in app.error] == ["La date de fin est avant la date de début."]
    order = elements_in_order(app)
    position = {id(e): i for i, e in enumerate(order)}
    ended = app.text_input(key="q_ended_on")
    error = app.error[0]
    assert position[id(error)] == position[id(ended)] + 1
    # Nothing typed is lost, nothing is stored.
    assert app.text_input(key="q_started_on").value == "01/02/2024"
    assert app.text_input(key="q_ended_on").value == "15/01/2024"
    assert app.text_input(key="q_false_resolved_count").value == "1"
    assert store.count() == 0
    click(app, "form_back")
    assert app.selectbox(key="q_company").value == "orange"
    assert app.radio(key="q_service").value == "fixed_internet"


def test_errors_found_at_submit_send_the_respondent_back_to_the_step(app, store):
    fill_first_two_steps(app)
    finish(app)
    store.delete_response(app.code[0].value)
    click(app, "form_again")
    # A new form: without a start date, submit is refused at step 2 with the field marked.
    app.selectbox(key="q_company").select("sfr").run()
    app.session_state["form_step"] = 4
    app.run()
    app.checkbox(key="q_consent_research").check().run()
    click(app, "form_submit")
    assert app.session_state["form_step"] == 1
    assert "Cette réponse est obligatoire." in [e.value for e in app.error]
    assert app.warning, "no summary of errors"
    assert store.count() == 0


def test_submitting_twice_with_the_same_key_stores_one_row(app, store):
    fill_first_two_steps(app)
    key = app.session_state["form_submission_key"]
    finish(app)
    assert store.count() == 1
    # A second click reaching the server for the same filled-in form (same key).
    app.session_state["form_receipt"] = None
    app.run()
    click(app, "form_submit")
    assert store.count() == 1
    assert app.session_state["form_submission_key"] == key
    assert app.session_state["form_receipt"].created is False


def test_the_english_switch_changes_labels_and_keeps_answers(app):
    app.selectbox(key="q_company").select("free").run()
    app.segmented_control(key="locale").set_value("en").run()
    assert not app.exception
    assert app.title[0].value == "Your customer-service experience"
    assert app.selectbox(key="q_company").label == "Company concerned *"
    assert app.selectbox(key="q_company").value == "free"
    assert app.radio(key="q_service").options == [
        "Home internet box (fibre, DSL)",
        "Mobile phone",
        "Landline",
        "TV",
        "Online order / delivery",
        "Other",
    ]


def test_refund_questions_only_when_a_refund_was_requested(app):
    fill_first_two_steps(app)
    click(app, "form_next")
    click(app, "form_next")
    keys = {w.key for w in app.radio} | {w.key for w in app.text_input}
    assert "q_refund_outcome" not in keys
    app.radio(key="q_refund_requested").set_value(True).run()
    assert app.radio(key="q_refund_outcome")
    assert not [w for w in app.text_input if w.key == "q_refund_received_on"]
    app.radio(key="q_refund_outcome").set_value("full").run()
    assert app.text_input(key="q_refund_received_on")


def test_no_end_date_question_while_ongoing(app):
    app.selectbox(key="q_company").select("free").run()
    click(app, "form_next")
    app.radio(key="q_status").set_value("ongoing").run()
    assert not [w for w in app.text_input if w.key == "q_ended_on"]


def test_honeypot_is_flagged_not_rejected(app, store):
    app.text_input(key="form_hp").input("http://spam.example").run()
    fill_first_two_steps(app)
    finish(app)
    frame = store.fetch_responses(storage.Filters(include_flagged=True))
    assert frame["flag_honeypot"].tolist() == [True]
    assert frame["fill_seconds"].iloc[0] >= 0


def test_delete_page_deletes_with_the_code(app, store):
    fill_first_two_steps(app)
    finish(app)
    code = app.code[0].value
    app.switch_page("survey/delete_page.py").run()
    app.text_input(key="delete_code").input("nope")
    click(app, "delete_ask")
    click(app, "delete_button")
    assert app.error[0].value.startswith("Aucune réponse")
    app.text_input(key="delete_code").input(code.lower())
    click(app, "delete_ask")
    assert store.count() == 1  # asked, not yet deleted
    click(app, "delete_button")
    assert app.success[0].value == "Votre réponse a été supprimée."
    assert store.count() == 0


def test_a_session_is_rate_limited_and_repeats_are_flagged(app, store):
    """Five responses per hour per browser session; the sixth is refused, answers kept."""
    for _ in range(5):
        fill_first_two_steps(app)
        finish(app)
        assert app.success
        click(app, "form_again")
    fill_first_two_steps(app)
    finish(app)
    assert not app.success
    assert "réessayez dans une heure" in " ".join(e.value for e in app.error)
    assert app.checkbox(key="q_consent_research").value is True  # nothing lost
    frame = store.fetch_responses(storage.Filters(include_flagged=True))
    assert len(frame) == 5
    # Same session, same company, problem and start date: the repeats are flagged.
    assert frame["flag_duplicate"].tolist() == [False, True, True, True, True]


def test_a_failed_save_keeps_the_answers_and_logs_the_key_not_the_answers(
    app, store, monkeypatch, caplog
):
    def refuse(self, response, meta):
        raise OSError("disk full")

    monkeypatch.setattr(storage.Store, "insert_response", refuse)
    fill_first_two_steps(app)
    key = app.session_state["form_submission_key"]
    with caplog.at_level("ERROR", logger="survey.form_page"):
        finish(app)
    assert not app.success
    assert [e.value for e in app.error] == [
        "L'enregistrement a échoué. Vos réponses sont conservées : réessayez dans un instant."
    ]
    assert app.checkbox(key="q_consent_research").value is True  # nothing lost
    records = [r for r in caplog.records if r.name == "survey.form_page"]
    assert [r.levelname for r in records] == ["ERROR"]
    assert key in records[0].getMessage()
    assert records[0].exc_info[1].args == ("disk full",)
    logged = caplog.text
    for answer in ("orange", "outage", "2024-02-01", "refused"):
        assert answer not in logged
    assert store.count() == 0


def test_a_send_stored_but_not_acknowledged_comes_back_with_the_same_deletion_code(
    app, store, monkeypatch
):
    """The response is stored, then the reply is lost (the connection cut). The draft comes
    back in a new session (a reload); sending again stores nothing more and shows the same
    deletion code, which deletes the response: the code was kept in the draft once the send
    started, and only then."""
    from survey.drafts import DRAFT_PARAM

    real_insert = storage.Store.insert_response

    def stored_then_cut(self, response, meta):
        real_insert(self, response, meta)
        raise ConnectionError("reply lost")

    fill_first_two_steps(app)
    draft_id = app.session_state["form_draft_id"]
    code = app.session_state["form_deletion_code"]
    assert code not in str(store.load_draft(draft_id).answers)  # not before the send
    monkeypatch.setattr(storage.Store, "insert_response", stored_then_cut)
    finish(app)
    assert store.count() == 1 and not app.success
    assert store.load_draft(draft_id).answers["deletion_code"] == code
    monkeypatch.setattr(storage.Store, "insert_response", real_insert)

    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params[DRAFT_PARAM] = draft_id
    again.run()
    assert again.session_state["form_step"] == 4
    assert [w.value for w in again.warning][:1] == [i18n_t("form.draft.unconfirmed", "fr")]
    click(again, "form_submit")
    assert store.count() == 1  # the same key: stored once
    assert code in [c.value for c in again.code]
    assert store.delete_response(code) and store.count() == 0


def test_the_frame_and_the_delete_page_in_english(app):
    app.segmented_control(key="locale").set_value("en").run()
    assert app.segmented_control(key="locale").label == "Language"
    app.switch_page("survey/delete_page.py").run()
    assert not app.exception
    assert app.title[0].value == "Delete my response"
    assert app.text_input(key="delete_code").label == "Deletion code"
    assert app.button(key="delete_ask").label == "Delete…"


def test_a_question_appearing_or_a_refusal_leaves_every_other_element_in_its_place(app):
    """The browser draws the elements of a page by their place in it, one delta after
    another: an element that moves place is taken off the page until the rerun is drawn
    whole, and a keyboard's focus on it falls to the page's start (the clean-clone CI's focus
    failures, stop 21). So a question that appears (the dates of a false resolution, the
    trip reasons) or a warning ("Suivant" refused) must leave every other element where it
    was, the buttons above all. Seen at the root too: tests/test_accessibility.py keeps the
    focus in a real Chromium."""
    fill = app
    fill.selectbox(key="q_company").select("orange").run()
    fill.radio(key="q_service").set_value("fixed_internet").run()
    click(fill, "form_next")
    fill.radio(key="q_problem").set_value("outage").run()
    typed(fill, "q_started_on", french(date(2024, 2, 1)))
    before = places(fill)
    fill.radio(key="q_status").set_value("resolved").run()
    assert_nothing_moved(before, places(fill), "q_ended_on")
    before = places(fill)
    typed(fill, "q_false_resolved_count", "1")
    assert_nothing_moved(before, places(fill), "q_false_resolved_first_on")
    typed(fill, "q_ended_on", french(date(2024, 3, 1)))
    click(fill, "form_next")  # contacts
    before = places(fill)
    typed(fill, "q_wasted_trips", "2")
    assert_nothing_moved(before, places(fill), "q_wasted_reason_no_stock")
    # "Suivant" refused: its warning appears above the step, the buttons stay.
    before = places(fill)
    typed(fill, "q_wasted_km", "-4")
    click(fill, "form_next")
    assert fill.warning, "Suivant was not refused"
    after = places(fill)
    assert after["form_next"] == before["form_next"]
    assert after["form_back"] == before["form_back"]
