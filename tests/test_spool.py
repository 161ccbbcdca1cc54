"""While another process holds the DuckDB file (``clientroi import``'s final copy), the app
spools each submission to the disk and shows the receipt at once, then stores it as soon as the
file is free: nothing acknowledged is lost, nothing is stored twice, and what is stored is the
row a direct submission stores (``survey/spool.py``)."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from survey import spool
from survey import store as storage
from survey.demo import seed_story_answers
from survey.validation import validate_answers
from tests.conftest import APP

HOLDER = """
import os, sys, time, duckdb
deadline = time.monotonic() + 60
while True:
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.IOException:
        if time.monotonic() > deadline:
            raise
        # as a waiting command says so (the app then lets go of the file within 2 s)
        with open(sys.argv[1] + ".wanted", "a"):
            pass
        os.utime(sys.argv[1] + ".wanted")
        time.sleep(0.05)
print("held", flush=True)
sys.stdin.readline()
con.close()
"""


class Holder:
    """Another process holding the DuckDB file for writing (as ``clientroi import`` does
    during its final copy) until released."""

    def __init__(self, db_path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    def release(self):
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.wait(timeout=60) == 0


def spooling_store(db_path):
    storage.connect(db_path).close()  # created and migrated
    store = storage.Store(db_path, keep_open=2.0)
    store.start_spooling()
    return store


def meta_for(key, **extra):
    return storage.SubmissionMeta(
        key, f"code-{key}", fill_seconds=300, session_id=extra.pop("session", key), **extra
    )


def answers(i):
    return validate_answers({**seed_story_answers(), "wasted_km": float(i)}).response


def wait_until_stored(store, seconds=60.0):
    """The background thread stores the spool once the file is free (a deadline for
    correctness, not a measure of speed)."""
    deadline = time.monotonic() + seconds
    while store.spooled_count():
        assert time.monotonic() < deadline, "the spool was not stored"
        time.sleep(0.05)


def rows(db_path):
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(
            "SELECT submission_key, CAST(response_id AS VARCHAR), wasted_km, flag_duplicate, "
            "deletion_hash FROM responses ORDER BY submitted_at"
        ).fetchall()


def test_submissions_while_a_command_holds_the_file_are_acknowledged_then_stored(db_path):
    store = spooling_store(db_path)
    direct = store.insert_response(answers(0), meta_for("before"))
    store.close()
    holder = Holder(db_path)
    receipts = {}
    try:
        for i in range(1, 6):
            started = time.monotonic()
            receipts[f"k{i}"] = store.insert_response(answers(i), meta_for(f"k{i}"))
            # acknowledged without waiting for the file (the 15 s retry otherwise)
            assert time.monotonic() - started < storage.LOCK_RETRY_SECONDS / 3
        # a double click while still held: the same key is one spooled file
        again = store.insert_response(answers(1), meta_for("k1"))
        assert again.response_id != receipts["k1"].response_id  # (a new attempt's id)
        folder = spool.spool_folder(db_path)
        files = sorted(folder.glob("*.json"))
        assert len(files) == 5 and store.spooled_count() == 5
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
        held_rows = None
    finally:
        holder.release()
    wait_until_stored(store)
    store.close()
    stored = rows(db_path)
    assert held_rows is None
    assert [r[0] for r in stored] == ["before", "k1", "k2", "k3", "k4", "k5"]  # in order
    assert stored[0][1] == direct.response_id
    by_key = {r[0]: r for r in stored}
    for key in ("k2", "k3", "k4", "k5"):
        assert by_key[key][1] == receipts[key].response_id
    # k1: the first or the second click's row, exactly once
    assert by_key["k1"][1] in (receipts["k1"].response_id, again.response_id)
    assert [r[2] for r in stored] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # the values typed
    assert by_key["k3"][4] == storage.hash_code("code-k3")  # its deletion code works
    assert not list(spool.spool_folder(db_path).glob("*"))


def test_a_spooled_row_is_the_row_a_direct_submission_stores(db_path, tmp_path):
    """The same answers and meta, stored directly in one database and through the spool in
    another: every column equal but the new id and the time."""
    other = tmp_path / "direct.duckdb"
    direct_store = storage.connect(other)
    email = {**seed_story_answers(), "contact_email": "nobody@example.org"}
    response = validate_answers(email).response
    direct_store.insert_response(response, meta_for("same", remind=True))
    direct_store.close()
    store = spooling_store(db_path)
    store.close()
    holder = Holder(db_path)
    try:
        store.insert_response(response, meta_for("same", remind=True))
    finally:
        holder.release()
    wait_until_stored(store)
    store.close()
    columns = [c for c in storage.exported_columns() if c not in ("response_id", "submitted_at")]
    query = f"SELECT {', '.join(columns)} FROM responses"
    contact = "SELECT contact_email, remind FROM contacts"
    with duckdb.connect(str(other), read_only=True) as a, duckdb.connect(str(db_path)) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        assert a.execute(contact).fetchall() == b.execute(contact).fetchall()
        assert b.execute(contact).fetchall() == [("nobody@example.org", True)]


def test_a_duplicate_is_flagged_against_what_was_stored_before_it(db_path):
    store = spooling_store(db_path)
    store.insert_response(answers(7), meta_for("first", session="s"))
    store.close()
    holder = Holder(db_path)
    try:
        store.insert_response(answers(7), meta_for("second", session="s"))  # same person
    finally:
        holder.release()
    wait_until_stored(store)
    store.close()
    assert [(r[0], r[3]) for r in rows(db_path)] == [("first", False), ("second", True)]


def test_a_key_stored_directly_is_not_stored_again_from_the_spool(db_path):
    """A double click: the first send spooled, the second stored directly once the file came
    back (or the other way round): one row."""
    store = spooling_store(db_path)
    store.close()
    row, email = storage.response_row(answers(3), meta_for("twice"))
    spool.put(spool.spool_folder(db_path), row, email, False)  # the first send, spooled
    store.insert_response(answers(3), meta_for("twice"))  # the second, direct
    assert store.store_spooled() == 0  # already stored: the spooled file is dropped
    store.close()
    assert [r[0] for r in rows(db_path)] == ["twice"]
    assert store.spooled_count() == 0


def test_a_spool_left_by_a_crash_is_stored_when_the_app_starts_again(db_path):
    storage.connect(db_path).close()
    folder = spool.spool_folder(db_path)
    row, email = storage.response_row(answers(9), meta_for("left"))
    spool.put(folder, row, email, False)
    # a write cut before its rename: no receipt was shown, so nothing to store
    (folder / ".cut.123.tmp").write_text('{"format": 1, "row": {', encoding="utf-8")
    store = storage.Store(db_path, keep_open=2.0)
    store.start_spooling()
    wait_until_stored(store)
    store.close()
    assert [r[0] for r in rows(db_path)] == ["left"]
    assert [r[1] for r in rows(db_path)] == [row["response_id"]]


def test_the_deletion_code_of_a_spooled_response_deletes_it(db_path):
    """A person deleting right after sending: the lookup stores the spool first, so the code
    finds the response instead of saying it does not exist."""
    store = spooling_store(db_path)
    row, email = storage.response_row(answers(4), meta_for("gone"))
    spool.put(spool.spool_folder(db_path), row, email, False)  # not yet stored
    assert store.response_id_for_code("code-gone") == row["response_id"]
    spool.put(spool.spool_folder(db_path), *storage.response_row(answers(5), meta_for("b")), False)
    assert store.delete_response("code-b")
    store.close()
    assert [r[0] for r in rows(db_path)] == ["gone"]


def wait_until_drafts_written(store, seconds=60.0):
    """The background thread writes the drafts kept once the file is free (a deadline for
    correctness, not a measure of speed)."""
    deadline = time.monotonic() + seconds
    while store.drafts_kept():
        assert time.monotonic() < deadline, "the drafts kept were not written"
        time.sleep(0.05)


def drafts_in_file(db_path):
    """The drafts as the file holds them, read by a connection of its own: {hash: (step,
    answers)}."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        found = con.execute("SELECT draft_hash, step, answers FROM drafts").fetchall()
    return {digest: (step, json.loads(answers)) for digest, step, answers in found}


def test_drafts_saved_while_a_command_holds_the_file_are_written_once_it_is_free(db_path):
    """A step's draft (and its removal once sent) does not wait for a held file: the app keeps
    the latest of each draft and writes it as soon as the file is free, by itself (the
    person's tab may be closed by then); meanwhile the app reads back what it kept."""
    store = spooling_store(db_path)
    assert store.save_draft("d1", {"answers": {"x": 0}}, step=1, submission_key="k", brief=True)
    store.save_draft("sent", {"answers": {"y": 1}}, step=4, submission_key="s", brief=True)
    store.close()
    holder = Holder(db_path)
    try:
        kept = [
            store.save_draft("d1", {"answers": {"x": i}}, step=i, submission_key="k", brief=True)
            for i in (2, 3)
        ]
        assert kept == [False, False]  # kept for later, not written, not refused
        assert not store.save_draft("d2", {"answers": {}}, step=0, submission_key="k2", brief=True)
        assert not store.delete_draft("sent")  # the send's removal, kept too
        assert store.drafts_kept() == 3
        # a reload meanwhile resumes what was typed last
        assert store.load_draft("d1").step == 3
        assert store.load_draft("d1").answers == {"answers": {"x": 3}}
        assert store.load_draft("sent") is None
    finally:
        holder.release()
    wait_until_drafts_written(store)
    store.close()
    assert drafts_in_file(db_path) == {
        storage.hash_token("d1"): (3, {"answers": {"x": 3}}),  # the latest, not 2
        storage.hash_token("d2"): (0, {"answers": {}}),
    }


def test_a_draft_that_must_be_in_the_file_waits_for_it_and_replaces_one_kept(db_path):
    """Without ``brief`` (the resume code is about to name the draft) the save waits for the
    file, and a draft kept from before is not written after it."""
    store = spooling_store(db_path)
    store.close()
    holder = Holder(db_path)
    try:
        store.save_draft("d", {"answers": {"x": "old"}}, step=1, submission_key="k", brief=True)
    finally:
        holder.release()
    store.save_draft("d", {"answers": {"x": "new"}}, step=2, submission_key="k")
    wait_until_drafts_written(store)
    store.close()
    assert drafts_in_file(db_path) == {storage.hash_token("d"): (2, {"answers": {"x": "new"}})}


def test_a_draft_saved_again_while_the_kept_ones_are_written_keeps_its_newest(db_path):
    """The file comes back while the drafts kept (here 200 other people's, then this one's)
    are being written one by one, and the person saves again meanwhile: the newer save wins,
    the older one kept is never written after it."""
    store = spooling_store(db_path)
    store.close()
    holder = Holder(db_path)
    try:
        for i in range(200):
            store.save_draft(f"other{i}", {"answers": {}}, step=0, submission_key="o", brief=True)
        store.save_draft("d", {"answers": {"x": "old"}}, step=1, submission_key="k", brief=True)
        assert store.drafts_kept() == 201
    finally:
        holder.release()
    store.save_draft("d", {"answers": {"x": "new"}}, step=2, submission_key="k", brief=True)
    wait_until_drafts_written(store)
    store.close()
    in_file = drafts_in_file(db_path)
    assert len(in_file) == 201
    assert in_file[storage.hash_token("d")] == (2, {"answers": {"x": "new"}})


FLAPPER = """
import random, sys, time, duckdb
random.seed(int(sys.argv[2]))
stop = time.monotonic() + float(sys.argv[3])
print("flapping", flush=True)
time.sleep(0.5)  # the file free at first: the saves then are written at once
while time.monotonic() < stop:
    try:
        con = duckdb.connect(sys.argv[1])
    except duckdb.IOException:
        with open(sys.argv[1] + ".wanted", "a"):  # as a waiting command says so
            pass
        time.sleep(0.002)
        continue
    time.sleep(random.uniform(0.04, 0.1))  # longer than SPOOL_AFTER_SECONDS: a save waits
    con.close()
    time.sleep(random.uniform(0.0, 0.03))
"""


@pytest.mark.parametrize("seed", [1, 2])
def test_never_an_older_draft_over_a_newer_one_while_the_file_comes_and_goes(db_path, seed):
    """Two sessions save their drafts at every change while another process takes the file
    and lets it go again and again (a poller, a command): the saves before it first takes the
    file are written at once, the ones it holds up (each hold is longer than the spool's
    wait) are kept and written by the background thread; each draft ends as its last save."""
    import threading

    store = spooling_store(db_path)
    store.save_draft("opened", {"answers": {}}, step=0, submission_key="o")  # the file open
    flapper = subprocess.Popen(
        [sys.executable, "-c", FLAPPER, str(db_path), str(seed), "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert flapper.stdout.readline().strip() == "flapping"
    outcomes: dict[str, list[bool]] = {"a": [], "b": []}
    last = {}

    def session(name: str) -> None:
        i = 0
        while flapper.poll() is None:
            i += 1
            answers = {"answers": {"q_wasted_km": str(i)}}
            outcomes[name].append(
                store.save_draft(name, answers, step=i % 5, submission_key=name, brief=True)
            )
            last[name] = (i % 5, answers)
            time.sleep(0.005)

    threads = [threading.Thread(target=session, args=(name,)) for name in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert flapper.wait(timeout=60) == 0
    wait_until_drafts_written(store)
    store.close()
    for name, saved in outcomes.items():
        assert True in saved and False in saved, (name, saved.count(True), saved.count(False))
    in_file = drafts_in_file(db_path)
    del in_file[storage.hash_token("opened")]
    assert in_file == {storage.hash_token(n): last[n] for n in outcomes}


def test_a_brief_save_caught_by_a_let_go_is_kept_rather_than_waiting_it_out(db_path):
    """A draft's save that started before the app let the file go for another process, and
    got its turn once the file was closed, is kept (written later), not held for the other
    process's turn (YIELD_SECONDS, five times the spool's wait). The let-go is staged: the
    save waits for this process's other operations while the file is closed for another."""
    import threading

    store = spooling_store(db_path)
    assert store.save_draft("first", {"answers": {}}, step=0, submission_key="f", brief=True)
    outcome = []
    with store._state:  # another operation of this process runs: the save waits for it
        saving = threading.Thread(
            target=lambda: outcome.append(
                store.save_draft(
                    "d", {"answers": {"x": "1"}}, step=1, submission_key="k", brief=True
                )
            )
        )
        saving.start()
        time.sleep(0.01)
        store._close_locked()  # then the file is let go for another process
        store._yield_until = time.monotonic() + storage.YIELD_SECONDS
    saving.join()
    # kept: before the fix it slept the other process's turn out, then wrote (True)
    assert outcome == [False]
    wait_until_drafts_written(store)
    store.close()
    assert drafts_in_file(db_path)[storage.hash_token("d")] == (1, {"answers": {"x": "1"}})


def test_a_spool_file_holds_the_row_and_one_it_cannot_read_is_left_for_the_operator(
    tmp_path, caplog
):
    folder = tmp_path / "db.duckdb.spool"
    row, email = storage.response_row(answers(1), meta_for("k", remind=True))
    path = spool.put(folder, row, "a@example.org", True)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(document) == {"format", "row", "email", "remind"}
    assert "code-k" not in path.read_text(encoding="utf-8")  # the code's hash, not the code
    (loaded,) = spool.pending(folder)
    assert loaded.row == row and loaded.email == "a@example.org" and loaded.remind
    document["format"] = 99
    path.write_text(json.dumps(document), encoding="utf-8")
    other = spool.put(folder, *storage.response_row(answers(2), meta_for("k2")), False)
    assert [s.path for s in spool.pending(folder)] == [other]  # the others still go in
    assert path.exists() and "unknown spool format 99" in caplog.text


def test_the_form_acknowledges_a_send_while_a_command_holds_the_file(db_path):
    """The real form (AppTest, the app's own store): the receipt and its deletion code shown
    while the file is held, the response stored and the sent draft gone once it is free."""
    from tests.test_form_page import click, fill_first_two_steps, typed

    at = AppTest.from_file(APP, default_timeout=60).run()
    fill_first_two_steps(at)
    click(at, "form_next")  # contacts
    typed(at, "q_wasted_trips", "2")
    click(at, "form_next")  # workarounds
    click(at, "form_next")  # assessment
    at.checkbox(key="q_consent_research").check().run()
    store = storage.app_store(str(db_path))
    draft_id = at.session_state["form_draft_id"]
    assert store.load_draft(draft_id) is not None
    store.close()
    holder = Holder(db_path)
    try:
        click(at, "form_submit")
        code = at.session_state["form_deletion_code"]
        assert code in [c.value for c in at.code]  # the receipt, shown while held
    finally:
        holder.release()
    wait_until_stored(store)
    assert store.count() == 1
    assert store.response_id_for_code(code) is not None
    assert store.load_draft(draft_id) is None
    wait_until_drafts_written(store)
    # nothing left behind: no response spooled, no draft kept on disk
    assert [p for p in spool.spool_folder(db_path).rglob("*") if p.is_file()] == []


def test_suivant_moves_on_while_a_command_holds_the_file_and_its_draft_follows(db_path, caplog):
    """The real form (AppTest): "Suivant" pressed while another process holds the file moves
    on to the next step without waiting for the file (before: it waited the 15 s retry, then
    gave the draft up); once the file is free the draft holds the new step and the value
    typed last, written by the app alone: the session is never run again (a closed tab)."""
    from tests.test_form_page import click, fill_first_two_steps, typed

    at = AppTest.from_file(APP, default_timeout=60).run()
    fill_first_two_steps(at)
    click(at, "form_next")  # contacts
    store = storage.app_store(str(db_path))
    draft_id = at.session_state["form_draft_id"]
    assert store.load_draft(draft_id).step == 2
    store.close()
    holder = Holder(db_path)
    try:
        typed(at, "q_wasted_trips", "2")
        click(at, "form_next")  # workarounds, while the file is held
        assert not at.exception, at.exception
        assert at.session_state["form_step"] == 3
        assert store.drafts_kept() == 1
    finally:
        holder.release()
    wait_until_drafts_written(store)
    store.close()
    kept = drafts_in_file(db_path)[storage.hash_token(draft_id)]
    assert kept[0] == 3 and kept[1]["answers"]["q_wasted_trips"] == "2"
    assert "saving a draft failed" not in caplog.text


SUBMITTER = """
import sys
from survey import store as storage
from survey.demo import seed_story_answers
from survey.validation import validate_answers
store = storage.app_store(sys.argv[1])
i = 0
while True:
    outcome = validate_answers({**seed_story_answers(), "wasted_km": float(i % 500)})
    key = f"kill-{i}"
    store.insert_response(outcome.response, storage.SubmissionMeta(key, f"code-{key}"))
    print("ACK", key, flush=True)
    i += 1
"""


def test_the_app_killed_while_it_spools_loses_no_acknowledged_submission(db_path):
    """SIGKILL of the app's process while it spools (the file held by another process), then
    an app started again: every submission it acknowledged is stored, once."""
    storage.connect(db_path).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", SUBMITTER, str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    folder = spool.spool_folder(db_path)
    holder = None
    try:
        first = writer.stdout.readline()
        assert first.startswith("ACK")  # the app is submitting
        holder = Holder(db_path)  # a command takes the file
        deadline = time.monotonic() + 60
        while len(spool.pending(folder)) < 10:
            assert time.monotonic() < deadline, "nothing spooled while the file was held"
            time.sleep(0.05)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        spooled = len(spool.pending(folder))
        if holder is not None:
            holder.release()
    acknowledged = [line.split()[1] for line in [first, *writer.stdout.read().splitlines()]]
    assert spooled >= 10  # killed with submissions spooled, not yet stored
    store = storage.Store(db_path, keep_open=2.0)
    store.start_spooling()
    wait_until_stored(store)
    store.close()
    keys = [r[0] for r in rows(db_path)]
    assert len(keys) == len(set(keys))  # exactly once
    assert set(acknowledged) <= set(keys)


DRAFTER = """
import sys
from survey import store as storage
store = storage.Store(sys.argv[1], keep_open=2.0)
store.start_spooling()
store.close()
print("ready", flush=True)
sys.stdin.readline()  # the file is held now
saved = store.save_draft(
    "phone", {"answers": {"q_wasted_km": sys.argv[2]}}, step=3, submission_key="k",
    brief=True, resume_code=sys.argv[3] or None,
)
print(saved, store.drafts_kept(), flush=True)
sys.stdin.readline()
"""


def kept_by_an_app_then_killed(db_path, value: str, code: str = "") -> None:
    """An app process saves the draft "phone" while another process holds the file (the
    form moved on: the draft is kept), then is killed before the file is free."""
    storage.connect(db_path).close()
    app = subprocess.Popen(
        [sys.executable, "-c", DRAFTER, str(db_path), value, code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    try:
        assert app.stdout.readline().strip() == "ready"
        holder = Holder(db_path)
        try:
            app.stdin.write("\n")
            app.stdin.flush()
            assert app.stdout.readline().split() == ["False", "1"]  # kept, not written
            app.send_signal(signal.SIGKILL)
            app.wait(timeout=60)
        finally:
            holder.release()
    finally:
        if app.poll() is None:
            app.kill()


def test_a_draft_kept_while_the_file_is_held_survives_the_app_being_killed(db_path):
    """The form moved on while the file was held, so the draft it kept must not die with the
    app: it is on disk (0600 in the owner's folder) before the save returns, and the next
    start of the app writes it to the database, then forgets the file."""
    kept_by_an_app_then_killed(db_path, "41")
    files = list((spool.spool_folder(db_path) / spool.DRAFTS).glob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    assert drafts_in_file(db_path) == {}  # not written by the app killed
    store = spooling_store(db_path)  # the app started again
    wait_until_drafts_written(store)
    store.close()
    assert drafts_in_file(db_path) == {
        storage.hash_token("phone"): (3, {"answers": {"q_wasted_km": "41"}})
    }
    assert list(files[0].parent.glob("*.json")) == []


def test_a_draft_kept_on_disk_never_replaces_a_newer_one_after_a_restart(db_path):
    """The draft kept on disk by an app that was killed is older than one saved since (by
    another server of the same file, or the same person resuming): the restart leaves the
    newer one."""
    kept_by_an_app_then_killed(db_path, "41")
    other = storage.Store(db_path)
    other.save_draft("phone", {"answers": {"q_wasted_km": "42"}}, step=4, submission_key="k")
    other.close()
    store = spooling_store(db_path)
    wait_until_drafts_written(store)
    store.close()
    assert drafts_in_file(db_path) == {
        storage.hash_token("phone"): (4, {"answers": {"q_wasted_km": "42"}})
    }


def test_a_resume_code_given_while_the_file_is_held_works_at_once_and_once_written(db_path):
    """ "Enregistrer et reprendre plus tard" during an import: the draft and its code are kept
    (the person is not kept waiting), the code opens the draft on another device of the same
    server at once; a later save of the same draft keeps the code; once the file is free both
    are written and the code still works (from the file, for a fresh server)."""
    code = storage.new_deletion_code()
    store = spooling_store(db_path)
    store.close()
    holder = Holder(db_path)
    try:
        phone = {"answers": {"q_company": "free"}}
        assert not store.save_draft(
            "phone", phone, step=2, submission_key="k", brief=True, resume_code=code
        )
        later = {"answers": {"q_company": "free", "q_wasted_km": "40"}}
        assert not store.save_draft("phone", later, step=3, submission_key="k", brief=True)
        claimed = store.claim_draft(code.lower(), "laptop")  # while the file is held
        assert claimed is not None and claimed.answers == later and claimed.step == 3
        assert store.load_draft("laptop").answers == later
        assert store.load_draft("phone") is None  # the other device's address: a blank form
    finally:
        holder.release()
    wait_until_drafts_written(store)
    store.close()
    assert drafts_in_file(db_path) == {storage.hash_token("laptop"): (3, later)}
    fresh = storage.Store(db_path)
    assert fresh.claim_draft(code, "tablet").answers == later  # the code, from the file
    assert fresh.claim_draft("WRONG-CODE", "tablet") is None
    fresh.close()


def test_save_for_later_shows_its_code_at_once_while_a_command_holds_the_file(db_path):
    """The real form (AppTest): "Enregistrer et reprendre plus tard" pressed while another
    process holds the file shows its resume code without waiting for the file (before: up to
    the whole import's copy); the code then opens the draft from the file."""
    from tests.test_form_page import click, fill_first_two_steps

    at = AppTest.from_file(APP, default_timeout=60).run()
    fill_first_two_steps(at)
    store = storage.app_store(str(db_path))
    store.close()
    holder = Holder(db_path)
    try:
        click(at, "form_later")
        code = at.session_state["form_resume_code"]
        assert code in [c.value for c in at.code]
        assert store.drafts_kept() == 1
    finally:
        holder.release()
    wait_until_drafts_written(store)
    store.close()
    fresh = storage.Store(db_path)
    resumed = fresh.claim_draft(code, "other-device")
    fresh.close()
    assert resumed is not None and resumed.step == 1
    assert resumed.answers["answers"]["q_false_resolved_count"] == "1"
