"""Updates as dated events (issue 13), on both backends: the answers are never overwritten,
``fetch_responses(known_on=D)`` folds what was recorded by D, a snapshot as of D stays
byte-identical after a later update, and deleting a response takes its events along."""

from datetime import date, timedelta

import pandas as pd
import pytest

from analysis import snapshot
from survey import store as storage
from survey.i18n import t as i18n_t
from survey.updates import check_update, fold_events
from survey.validation import paris_today
from tests.conftest import story_answers, submit

STARTED = date(2023, 7, 10)  # the founding story's start


@pytest.fixture
def store(any_store):
    return any_store


def story(store, **meta):
    code = storage.new_deletion_code()
    receipt = submit(store, story_answers(), deletion_code=code, **meta)
    return receipt.response_id, code


def backdate(backend, response_id: str, submitted_on: date) -> None:
    """A response submitted on an earlier day (behind the store's back)."""
    backend.execute(
        f"UPDATE responses SET submitted_on = DATE '{submitted_on.isoformat()}', "
        f"submitted_at = TIMESTAMPTZ '{submitted_on.isoformat()} 12:00:00+02' "
        f"WHERE response_id = '{response_id}'"
    )


def backdate_events(backend, response_id: str, recorded_on: date) -> None:
    backend.execute(
        f"UPDATE response_events SET recorded_at = TIMESTAMPTZ '{recorded_on.isoformat()} "
        f"09:00:00+02' WHERE response_id = '{response_id}'"
    )


def test_an_update_is_an_event_and_the_answers_stay(store, backend):
    response_id, code = story(store)
    assert store.response_id_for_code(code.lower().replace("-", " ")) == response_id
    assert store.response_id_for_code("WRONG-CODE") is None
    store.record_event(response_id, "resolved", date(2023, 12, 20))
    # The table keeps what was answered; the update is its own dated row.
    assert backend.execute("SELECT status, ended_on FROM responses") == [("ongoing", None)]
    events = store.events(response_id=response_id)
    assert list(events["kind"]) == ["resolved"]
    assert list(events["event_on"]) == [date(2023, 12, 20)]
    # Read as known today: resolved on the event's day.
    today = paris_today()
    row = store.fetch_responses(known_on=today).iloc[0]
    assert row["status"] == "resolved"
    assert row["ended_on"] == pd.Timestamp(2023, 12, 20)
    # Submitted today: its answers were known today, later than the event's day.
    assert row["status_known_on"] == pd.Timestamp(today)
    # Without known_on, the answers as given.
    assert store.fetch_responses().iloc[0]["status"] == "ongoing"
    with pytest.raises(ValueError, match="`kind`"):
        store.record_event(response_id, "happy", date(2023, 12, 20))


def test_known_on_uses_only_the_events_recorded_by_then(store, backend):
    response_id, _ = story(store)
    backdate(backend, response_id, date(2023, 10, 8))  # submitted while ongoing
    store.record_event(response_id, "still_ongoing", date(2023, 11, 30))
    backdate_events(backend, response_id, date(2023, 12, 1))
    store.record_event(response_id, "refund_received", date(2024, 1, 15), amount=40.0)
    store.record_event(response_id, "wasted_trip", date(2024, 1, 20), amount=20.0)
    store.record_event(response_id, "gave_up", date(2024, 2, 1))
    later = date(2024, 2, 1)
    backend.execute(
        "UPDATE response_events SET recorded_at = TIMESTAMPTZ '2024-02-02 09:00:00+01' "
        "WHERE kind <> 'still_ongoing'"
    )
    columns = [
        "response_id",
        "status",
        "ended_on",
        "status_known_on",
        "refund_outcome",
        "refund_received_on",
        "wasted_trips",
        "wasted_km",
    ]

    def as_known(day):
        return store.fetch_responses(known_on=day, columns=columns).iloc[0].to_dict()

    # Before anything was recorded: the answers; its status known on the submission day.
    before = as_known(date(2023, 11, 1))
    assert before["status"] == "ongoing"
    assert before["status_known_on"] == pd.Timestamp(2023, 10, 8)
    assert before["wasted_trips"] == 2
    # The confirmation recorded on 1 December: still ongoing, known so on 30 November.
    december = as_known(date(2023, 12, 31))
    assert (december["status"], december["status_known_on"]) == (
        "ongoing",
        pd.Timestamp(2023, 11, 30),
    )
    # After the February updates: gave up on 1 February, refund and one more trip.
    after = as_known(later + timedelta(days=1))
    assert after["status"] == "unresolved"
    assert after["ended_on"] == pd.Timestamp(2024, 2, 1)
    assert after["status_known_on"] == pd.Timestamp(2024, 2, 1)
    assert after["refund_outcome"] == "full"  # no amount was requested in the story
    assert after["refund_received_on"] == pd.Timestamp(2024, 1, 15)
    assert (after["wasted_trips"], after["wasted_km"]) == (3, 60.0)
    # known_on also means "submitted by then".
    assert store.fetch_responses(known_on=date(2023, 10, 7)).empty


def test_a_snapshot_as_of_d_is_byte_identical_after_a_later_update(store, backend, tmp_path):
    """Publish as of D, record an update (after D) that closes every ongoing case, publish as
    of D again: the same files, byte for byte; published as of a later day, they differ."""
    from survey.demo import generate_frame

    frame = generate_frame(400, seed=3, today=date(2024, 6, 1))
    frame["source"] = "web"
    store.insert_frame(frame)
    d = date(2024, 6, 30)
    ongoing = store.fetch_responses(known_on=d, columns=["response_id", "status", "started_on"])
    ongoing = ongoing[ongoing["status"] == "ongoing"]
    assert len(ongoing) > 20
    first = snapshot.publish(store, out=tmp_path / "first", as_of=d)
    for response_id in ongoing["response_id"][:40]:
        store.record_event(response_id, "resolved", date(2024, 7, 1))
    backend.execute("UPDATE response_events SET recorded_at = TIMESTAMPTZ '2024-07-02 10:00:00+02'")
    again = snapshot.publish(store, out=tmp_path / "again", as_of=d)
    assert again.snapshot.input_sha256 == first.snapshot.input_sha256
    files = sorted(p.relative_to(first.folder) for p in first.folder.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(again.folder) for p in again.folder.rglob("*") if p.is_file()
    )
    for name in files:
        assert (first.folder / name).read_bytes() == (again.folder / name).read_bytes(), name
    # As of a day after the update, the input (and its hash) has changed.
    later = snapshot.publish(store, out=tmp_path / "later", as_of=date(2024, 7, 31))
    assert later.snapshot.input_sha256 != first.snapshot.input_sha256


def test_deleting_a_response_deletes_its_events_reminders_and_drafts(store, backend):
    key = storage.new_submission_key()
    store.save_draft("draft-1", {"q_company": "free"}, step=2, submission_key=key)
    # Stored, but the confirmation never reached the browser: the form keeps its draft.
    response_id, code = story(store, submission_key=key)
    assert store.load_draft("draft-1").step == 2
    store.record_event(response_id, "wasted_trip", date(2023, 9, 1))
    store.record_reminder(response_id, 30, "token-1")
    kept, _ = story(store)
    store.record_event(kept, "resolved", date(2023, 9, 1))
    assert store.delete_response(code)
    assert backend.execute("SELECT count(*) FROM response_events") == [(1,)]
    assert backend.execute("SELECT count(*) FROM reminders") == [(0,)]
    assert store.load_draft("draft-1") is None
    assert store.response_id_for_reminder("token-1") is None


def test_an_update_changes_the_data_version(store):
    response_id, _ = story(store)
    before = store.data_version()
    store.record_event(response_id, "resolved", date(2023, 12, 20))
    assert store.data_version() != before
    assert store.data_version().rows == before.rows


def test_check_update_reads_french_typing_and_refuses_with_a_message():
    today = date(2024, 3, 1)
    ok = check_update("refund_received", "3/1/2024", "120,50", started_on=STARTED, today=today)
    assert ok.update.event_on == date(2024, 1, 3) and ok.update.amount == 120.5
    future = check_update("resolved", "2/3/2024", started_on=STARTED, today=today)
    assert future.problems["event_on"].message("fr") == "Cette date est dans le futur."
    early = check_update("resolved", "01/07/2023", started_on=STARTED, today=today)
    assert "10/07/2023" in early.problems["event_on"].message("fr")
    unread = check_update("resolved", "31/02/2024", started_on=STARTED, today=today)
    assert unread.problems["event_on"].code == "not_a_date"
    no_amount = check_update("refund_received", "3/1/2024", "", started_on=STARTED, today=today)
    assert no_amount.problems["amount"].code == "required"
    assert check_update(None, "3/1/2024", started_on=STARTED, today=today).problems["kind"]


def test_the_fold_touches_only_rows_with_events_and_keeps_categories():
    frame = pd.DataFrame(
        {
            "response_id": ["a", "b"],
            "submitted_on": pd.to_datetime(["2024-01-10", "2024-01-11"]),
            "status": pd.Categorical(["ongoing", "ongoing"]),
            "ended_on": pd.to_datetime([None, None]),
            "refund_requested": [None, None],
            "refund_outcome": pd.Categorical([None, None]),
            "refund_amount_requested": [120.0, None],
            "refund_amount_obtained": [None, None],
            "refund_received_on": pd.to_datetime([None, None]),
            "wasted_trips": [1, None],
            "wasted_km": [10.0, None],
        }
    )
    events = pd.DataFrame(
        {
            "event_id": ["1", "2"],
            "response_id": ["a", "a"],
            "recorded_at": pd.to_datetime(["2024-02-01", "2024-02-02"], utc=True),
            "kind": ["refund_received", "resolved"],
            "event_on": [date(2024, 1, 30), date(2024, 2, 1)],
            "amount": [40.0, None],
        }
    )
    out = fold_events(frame, events)
    assert list(out["status"]) == ["resolved", "ongoing"]
    assert out.loc[0, "refund_outcome"] == "partial"  # 40 of 120 EUR
    assert out.loc[0, "refund_amount_obtained"] == 40.0
    assert out.loc[1, "status_known_on"] == pd.Timestamp(2024, 1, 11)


def test_the_update_page_opens_with_the_code_and_records_one_checked_event(db_path):
    """Issue 13's "Compléter mon témoignage", driven through AppTest on a real DuckDB file."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP, assert_nothing_moved, places

    store = storage.connect(db_path)
    response_id, code = story(store)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("survey/update_page.py").run()
    assert at.title[0].value == "Compléter mon témoignage"
    at.text_input(key="update_code").input("WRONG-CODE").run()
    at.button(key="update_open").click().run()
    assert at.error[0].value == i18n_t("delete.unknown", "fr")
    at.text_input(key="update_code").input(code.lower()).run()
    at.button(key="update_open").click().run()
    assert "Free" in at.text[0].value and "Toujours en cours" in at.text[0].value
    # The amount's question appearing, and a message, leave every other element in its
    # place (a keyboard's focus on one stays: tests/test_form_page.py says why).
    before = places(at)
    at.radio(key="update_kind").set_value("refund_received").run()
    assert_nothing_moved(before, places(at), "update_amount")
    at.radio(key="update_kind").set_value("resolved").run()
    at.text_input(key="update_event_on").input("3/7/2023").run()  # before the start
    before = places(at)
    at.button(key="update_record").click().run()
    assert "avant le début du problème (10/07/2023)" in at.error[0].value
    assert places(at)["update_record"] == before["update_record"]
    assert store.events().empty
    at.text_input(key="update_event_on").input("20/12/2023").run()
    at.button(key="update_record").click().run()
    assert at.success[0].value == "Merci, votre mise à jour est enregistrée."
    assert list(store.events()["kind"]) == ["resolved"]
    assert store.response_as_known(response_id)["status"] == "resolved"
    # One update per visit: the form is gone until the page is opened again.
    assert len(at.radio) == 0 and len(at.text_input) == 0


def test_an_update_written_twice_with_its_id_is_stored_once(store, monkeypatch):
    """A write retried after its acknowledgement was lost (PostgreSQL restarting between the
    commit and the reply) runs again with the same event id: it must store nothing more and
    not fail (the respondent would be told their update was lost when it was stored)."""
    import uuid

    response_id, _ = story(store)
    fixed = uuid.uuid4()
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)
    first = store.record_event(response_id, "resolved", date(2023, 12, 20))
    again = store.record_event(response_id, "resolved", date(2023, 12, 20))
    assert first == again == str(fixed)
    assert len(store.events(response_id=response_id)) == 1
