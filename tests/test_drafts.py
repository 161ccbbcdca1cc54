"""Save and resume (issue 13): drafts kept server-side on both backends, expiring after 30 days,
a resume code that moves a draft to another device, and the form page resuming a draft after
a new session (a reload, a server restart) with the values as they were on screen."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from survey import store as storage
from survey.drafts import DRAFT_PARAM, draft_answers, draft_document, restored_answers
from tests.conftest import APP


@pytest.fixture
def store(any_store):
    return any_store


def test_a_draft_round_trips_and_is_replaced(store, backend):
    key = storage.new_submission_key()
    shown = {"q_hours_spent": "1,5", "q_started_on": "3/7/2023", "q_school_children": False}
    store.save_draft("device-a", {"answers": shown}, step=1, submission_key=key)
    store.save_draft("device-a", {"answers": {**shown, "q_csat": 2}}, step=3, submission_key=key)
    draft = store.load_draft("device-a")
    assert draft.step == 3
    assert draft.submission_key == key
    assert draft.answers["answers"] == {**shown, "q_csat": 2}
    assert store.draft_count() == 1
    # Only a hash of the draft's id is stored.
    assert "device-a" not in repr(backend.execute("SELECT * FROM drafts"))
    assert store.load_draft("device-b") is None


def test_drafts_expire_after_30_days(store, backend):
    store.save_draft("old", {"answers": {}}, step=0, submission_key="k1")
    store.save_draft("new", {"answers": {}}, step=0, submission_key="k2")
    backend.execute(
        "UPDATE drafts SET updated_at = updated_at - INTERVAL '31 days' WHERE submission_key = 'k1'"
    )
    assert store.load_draft("old") is None  # never resumed, even before the purge
    assert store.purge_drafts() == 1
    assert store.draft_count() == 1
    assert store.load_draft("new") is not None
    assert storage.DRAFT_DAYS == 30


def test_a_resume_code_moves_the_draft_to_another_device(store):
    store.save_draft("phone", {"answers": {"q_company": "free"}}, step=2, submission_key="k")
    code = storage.new_deletion_code()
    assert store.set_resume_code("phone", code)
    assert not store.set_resume_code("nowhere", storage.new_deletion_code())
    assert store.claim_draft("WRONG-CODE", "laptop") is None
    claimed = store.claim_draft(code.lower(), "laptop")
    assert claimed.answers == {"answers": {"q_company": "free"}} and claimed.step == 2
    assert store.load_draft("laptop").step == 2
    assert store.load_draft("phone") is None  # moved, not copied: one draft, one send
    assert store.claim_draft(code, "phone").step == 2  # the code keeps working


def test_draft_answers_are_the_values_on_screen():
    state = {
        "q_hours_spent": "1,5",  # as typed, never 1.5 nor 15
        "q_refund_amount_requested": "120,50",
        "q_started_on": "3/7/2023",
        "q_blamed_third_party": True,
        "q_callbacks_received": "0",
        "q_status": None,
        "form_remind": True,
        "form_hp": "bot",
        "form_deletion_code": "SECRET",
    }
    document = draft_document(state, deletion_code="ABCD", elapsed_seconds=12.34, sending=False)
    assert document["answers"] == {
        "form_remind": True,
        "q_blamed_third_party": True,
        "q_callbacks_received": "0",
        "q_hours_spent": "1,5",
        "q_refund_amount_requested": "120,50",
        "q_started_on": "3/7/2023",
    }
    assert restored_answers(document["answers"]) == draft_answers(state)
    # The deletion code is kept only once a send has started (it may then be stored with it).
    assert "ABCD" not in str(document) and "SECRET" not in str(document)
    sending = draft_document(state, deletion_code="ABCD", elapsed_seconds=1, sending=True)
    assert sending["deletion_code"] == "ABCD"
    # A draft can set answers only, nothing else of the session.
    assert restored_answers({"form_step": 9, "researcher": True, "q_x": "1"}) == {"q_x": "1"}


def address_draft(at) -> str | None:
    """The draft id in the page's address (AppTest gives a text or a list of texts)."""
    value = at.query_params.get(DRAFT_PARAM)
    return value[0] if isinstance(value, list) else value


def test_the_form_resumes_a_draft_in_a_new_session(db_path):
    """A first session fills step 1, moves on and types a date; a second session (a reload:
    the same address, a new session) opens on step 2 with the date as it was typed."""
    store = storage.connect(db_path)
    first = AppTest.from_file(APP, default_timeout=60).run()
    draft_id = address_draft(first)
    assert store.load_draft(draft_id) is None  # a page merely opened keeps nothing
    first.selectbox(key="q_company").select("free").run()
    first.button(key="form_next").click().run()
    first.text_input(key="q_started_on").input("3/7/2023").run()
    draft = store.load_draft(draft_id)
    assert draft.step == 1
    assert draft.answers["answers"]["q_started_on"] == "3/7/2023"  # as typed
    # What the drafts table holds never includes the deletion code before a send.
    assert first.session_state["form_deletion_code"] not in json.dumps(draft.answers)
    assert draft.answers["answers"]["q_company"] == "free"

    second = AppTest.from_file(APP, default_timeout=60)
    second.query_params[DRAFT_PARAM] = draft_id
    second.run()
    assert not second.exception, second.exception
    assert second.session_state["form_step"] == 1
    assert second.text_input(key="q_started_on").value == "3/7/2023"
    assert second.session_state["form_submission_key"] == draft.submission_key
    assert any("brouillon" in info.value for info in second.info)
    second.button(key="form_back").click().run()
    assert second.selectbox(key="q_company").value == "free"
    assert store.load_draft(draft_id).step == 0  # the step back was saved too

    # "Enregistrer et reprendre plus tard": a code that opens it on another device.
    second.button(key="form_later").click().run()
    code = second.session_state["form_resume_code"]
    assert code in [c.value for c in second.code]
    assert store.claim_draft(code, "other-device").answers["answers"]["q_company"] == "free"

    # An unknown or expired id opens a blank form under a new id.
    third = AppTest.from_file(APP, default_timeout=60)
    third.query_params[DRAFT_PARAM] = "expired"
    third.run()
    assert third.session_state["form_step"] == 0
    assert address_draft(third) not in ("expired", None)


def test_two_sessions_saving_the_same_draft_at_once_both_succeed(db_path):
    """Two tabs of one person (or a step saved twice) write the same draft at the same time:
    DuckDB refuses one of two conflicting transactions; the store tries it again."""
    import threading

    store = storage.connect(db_path, keep_open=2.0)  # as the app holds it
    store.save_draft("shared", {"problem": "outage"}, step=0, submission_key="k")
    failures: list[BaseException] = []

    def writer(name: str) -> None:
        for i in range(60):
            try:
                store.save_draft(
                    "shared", {"problem": name, "i": i}, step=i % 5, submission_key="k"
                )
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert failures == []
    assert storage.connect(db_path).load_draft("shared") is not None
