"""Coming back to finish the story, in headless Chromium on a phone (390x844, French): a reload
in the middle of the form resumes with the answers as typed; "me rappeler" offered for an
ongoing case and stored; after sending, the triage links; 30 days later `clientroi remind`
sends an e-mail through a real local SMTP server (aiosmtpd), and its link, opened in the
browser, shows the update page for that respondent (the token gone from the address, no
deletion code anywhere); the update recorded there turns the ongoing case into a resolved one
and the signed-in dashboard's numbers move. One browser session."""

import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

import cli
from survey import store as storage
from survey.demo import generate_frame
from survey.validation import paris_today
from tests.browser import ARTIFACTS, browser_page, click_settled, free_port, serve_app
from tests.conftest import TODAY
from tests.test_browser_dashboard import grid_text, sign_in
from tests.test_browser_form import choose, next_step, type_number
from tests.test_remind import LINK, STOP, running_smtp

pytestmark = pytest.mark.browser


def wait_for_draft(db_path, page, answers: dict, *, seconds: float = 60.0) -> None:
    """Until the server's draft of this page holds ``answers`` (the rerun after the last field
    and its save have run): a reload or a crash before that loses the last field, as it would
    for a person, and a fixed pause is too short on a loaded machine."""
    import time

    draft_id = re.search(r"brouillon=([^&#]+)", page.url).group(1)
    deadline = time.monotonic() + seconds
    while True:
        draft = storage.connect(db_path).load_draft(draft_id)
        saved = draft.answers.get("answers", {}) if draft else {}
        if all(saved.get(key) == value for key, value in answers.items()):
            return
        assert time.monotonic() < deadline, f"the draft never held {answers}: {saved}"
        time.sleep(0.2)


def french(day) -> str:
    return f"{day.day}/{day.month}/{day.year}"  # without leading zeros, as often typed


def forward(page, title: str) -> None:
    """ "Suivant", once the previous rerun has settled (one button, not a stale copy too)."""
    click_settled(page, ".st-key-form_next button")
    expect(page.get_by_text(title).first).to_be_visible()
    page.wait_for_timeout(300)


def headline(phone, url, token) -> list[str]:
    """The signed-in researcher's headline table (as of today), cell by cell, read on a
    desktop-sized page of the same browser (the researchers' sign-in sits in the sidebar)."""
    page = phone.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    # The story was typed in seconds, so it is flagged "too fast": researchers include them.
    page.goto(f"{url}/tableau?flagged=true")
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    sign_in(page, token)
    expect(page.get_by_text("Vue publique")).to_have_count(0)
    cell = page.locator("[data-testid='stDataFrame']").first.locator("[role='gridcell']")
    expect(cell.first).to_be_attached(timeout=30_000)
    cells = grid_text(page)
    assert "Free" in cells
    page.context.close()
    return cells


STOP_LINK = re.compile(r"https?://\S+" + STOP.pattern)


def submitted_days_ago(store, response_id: str, days: int) -> None:
    """Move a submission back in time (the test acting behind the store's back, through the
    store's own lock-waiting transaction, since the app holds the file open while busy)."""
    day = paris_today() - timedelta(days=days)
    store._in_transaction(
        lambda run: run(
            "UPDATE responses SET submitted_on = ? WHERE response_id = ?", [day, response_id]
        )
    )


def test_reload_resumes_a_reminder_opens_the_update_and_the_dashboard_moves(
    tmp_path, monkeypatch, capsys
):
    db_path = tmp_path / "comeback.duckdb"
    store = storage.connect(db_path)
    frame = generate_frame(300, seed=7, today=TODAY)
    frame["source"] = "web"
    store.insert_frame(frame)
    token = storage.ensure_researcher_token(db_path)
    today = paris_today()
    # Begun 40 days ago, told today (moved 31 days back for the reminder), then solved 28 days
    # after it began: within the headline's 30 days.
    started = today - timedelta(days=40)
    solved = today - timedelta(days=12)
    email = "jean.dupont@example.org"
    with serve_app(db_path) as url, browser_page() as page, running_smtp() as (mailbox, port):
        page.goto(url)
        expect(page.get_by_text("Ce que nous gardons")).to_be_visible()
        page.locator(".st-key-q_company input[role='combobox']").click()
        page.keyboard.type("Free")
        page.get_by_role("option", name="Free", exact=True).click()
        choose(page, "q_service", "Box internet")
        next_step(page, "Étape 2 sur 5")
        choose(page, "q_problem", "Plus de service")
        type_number(page, "q_started_on", french(started))
        choose(page, "q_status", "Toujours en cours")
        type_number(page, "q_false_resolved_count", "1")
        assert "brouillon=" in page.url

        # A phone reloads the tab: the same step, the answers as they were typed.
        wait_for_draft(db_path, page, {"q_false_resolved_count": "1"})
        page.reload()
        expect(page.get_by_text("Nous avons repris votre brouillon")).to_be_visible()
        expect(page.get_by_text("Étape 2 sur 5").first).to_be_visible()
        expect(page.locator(".st-key-q_started_on input")).to_have_value(french(started))
        expect(page.locator(".st-key-q_false_resolved_count input")).to_have_value("1")
        page.locator(".st-key-form_back button").click()
        expect(page.get_by_text("Étape 1 sur 5").first).to_be_visible()
        expect(page.locator(".st-key-q_company input")).to_have_value("Free")
        forward(page, "Étape 2 sur 5")
        forward(page, "Étape 3 sur 5")
        forward(page, "Étape 4 sur 5")
        forward(page, "Étape 5 sur 5")
        page.locator(".st-key-q_consent_research label").click()
        # An ongoing case with an e-mail: "me rappeler" is offered, and ticked.
        type_number(page, "q_contact_email", email)
        remind = page.locator(".st-key-form_remind")
        expect(remind).to_contain_text("Me rappeler par e-mail à 30, 60 et 90 jours")
        remind.locator("label").click()
        expect(remind.locator("input[type='checkbox']")).to_be_checked()
        page.locator(".st-key-form_submit button").click()
        expect(page.get_by_text("Merci")).to_be_visible()
        code = page.locator("[data-testid='stCode'] code").inner_text().strip()
        response_id = store.response_id_for_code(code)
        assert response_id is not None
        assert store.has_contact(response_id)
        assert store.wants_reminders(response_id)  # contacts.remind
        # Triage: where else the case can go, links only.
        for name, address in (
            ("J'alerte l'Arcep", "https://jalerte.arcep.fr/"),
            ("Le Médiateur des communications électroniques", "https://www.mediateur-telecom.fr/"),
            ("SignalConso", "https://signal.conso.gouv.fr/"),
        ):
            expect(page.get_by_role("link", name=name)).to_have_attribute("href", address)
        assert store.draft_count() == 0  # sent: the draft is gone

        before = headline(page, url, token)

        # 30 days later, cron runs `clientroi remind`: one e-mail, through the real SMTP server.
        submitted_days_ago(store, response_id, 31)
        monkeypatch.setenv("CLIENTROI_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CLIENTROI_SMTP_PORT", str(port))
        monkeypatch.setenv("CLIENTROI_SMTP_FROM", "rappels@clientroi.example")
        monkeypatch.setenv("CLIENTROI_SMTP_TLS", "none")
        monkeypatch.setenv("CLIENTROI_PUBLIC_URL", url)
        capsys.readouterr()
        assert cli.main(["remind", "--db", str(db_path)]) == 0
        assert "Sent 1 of 1 reminders due (0 failed)" in capsys.readouterr().out
        [(recipients, message)] = mailbox.messages
        assert recipients == [email]
        assert message["Subject"] == "Client Roi : où en est votre problème ?"
        text = message.get_content()
        link = re.search(rf"{re.escape(url)}{LINK.pattern}", text)
        assert link is not None, text
        assert link.group(1) == STOP.search(text).group(1)
        # The link (and the whole e-mail) never carries the deletion code.
        for written in (code, code.replace("-", "")):
            assert written not in text and written not in link.group(0)
        assert store.reminders_sent(response_id) == [30]

        # The e-mail's link, opened: the update page on that response; the token leaves the
        # address at once (no bookmark, no shared screenshot, no history entry keeps it).
        page.goto(link.group(0))
        expect(page.get_by_role("heading", name="Compléter mon témoignage")).to_be_visible()
        current = page.get_by_text("Votre témoignage sur Free")
        expect(current).to_contain_text(f"commencé le {started:%d/%m/%Y}")
        expect(current).to_contain_text("Toujours en cours")
        expect(page).not_to_have_url(re.compile("rappel="))
        assert link.group(1) not in page.evaluate("window.location.href")
        assert link.group(1) not in page.evaluate(
            "JSON.stringify([history.state, document.referrer])"
        )
        # "Résolu le ...", typed the French way.
        choose(page, "update_kind", "Le problème est réglé")
        type_number(page, "update_event_on", french(solved))
        page.locator(".st-key-update_record button").click()
        expect(page.get_by_text("Merci, votre mise à jour est enregistrée.")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "update_recorded.png"), full_page=True)
        events = store.events(response_id=response_id)
        assert list(events["kind"]) == ["resolved"]
        assert events["event_on"].iloc[0] == solved
        assert events["amount"].isna().all()

        # With the personal code instead, the same story, now known as resolved.
        page.goto(f"{url}/completer")
        page.locator(".st-key-update_code input").fill(code)
        page.locator(".st-key-update_code input").press("Enter")
        page.locator(".st-key-update_open button").click()
        expect(page.get_by_text("Votre témoignage sur Free")).to_contain_text("Résolu")

        # The e-mail's one-click stop, opened: done on arrival, its token gone from the address.
        page.goto(STOP_LINK.search(text).group(0))
        expect(page.get_by_text("C'est fait : vous ne recevrez plus de rappel.")).to_be_visible()
        expect(page).not_to_have_url(re.compile("arret="))
        assert not store.wants_reminders(response_id)

        after = headline(page, url, token)
    # Neither the app's log nor the command's (which names the reminder it sent) holds the
    # deletion code.
    logs = {log.name: log.read_text(encoding="utf-8") for log in tmp_path.glob("*.log")}
    assert set(logs) == {"streamlit.log", "clientroi.log"}
    assert "sent the 30-day reminder" in logs["clientroi.log"]
    assert [name for name, written in logs.items() if code in written] == []
    assert list(store.events()["kind"]) == ["resolved"]
    every = storage.Filters(include_flagged=True)
    answered = store.fetch_responses(every, columns=["status"])["status"]
    known = store.fetch_responses(every, known_on=today, columns=["status"])["status"]
    assert (known == "resolved").sum() == (answered == "resolved").sum() + 1
    assert after != before  # the dashboard's numbers moved


def test_a_server_killed_mid_form_comes_back_to_the_same_step_with_the_answers(tmp_path):
    """Issue 13: with the server killed (SIGKILL) while a respondent was on step 2, the page
    caught mid-form reconnects to the restarted server on the same step with what was typed
    (before: a blank step 1, no message)."""
    import signal

    db_path = tmp_path / "restart.duckdb"
    storage.connect(db_path)
    port = free_port()
    started = paris_today() - timedelta(days=20)
    with browser_page() as page:
        with serve_app(db_path, port=port) as url:
            page.goto(url)
            page.locator(".st-key-q_company input[role='combobox']").click()
            page.keyboard.type("Orange")
            page.get_by_role("option", name="Orange", exact=True).click()
            next_step(page, "Étape 2 sur 5")
            choose(page, "q_problem", "Plus de service")
            type_number(page, "q_started_on", french(started))
            assert "brouillon=" in page.url
            wait_for_draft(db_path, page, {"q_started_on": french(started)})
            server = next(p for p in _children() if str(port) in " ".join(p[1]))
            os.kill(server[0], signal.SIGKILL)
        with serve_app(db_path, port=port):
            # Streamlit's page reconnects by itself and runs again with the same address (and
            # the widgets it still shows): the same step, what was typed, nothing lost.
            expect(page.get_by_text("Étape 2 sur 5").first).to_be_visible()
            expect(page.locator(".st-key-q_started_on input")).to_have_value(french(started))
        # and the server kept the draft the page resumed from, as typed
        draft_id = re.search(r"brouillon=([^&]+)", page.url).group(1)
        draft = storage.connect(db_path).load_draft(draft_id)
        assert draft is not None and draft.step == 1
        kept = draft.answers["answers"]
        assert kept["q_company"] == "orange" and kept["q_started_on"] == french(started)


def _children() -> list[tuple[int, list[str]]]:
    """(pid, command line) of this process's child processes."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().decode(errors="replace").split("\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid():
            found.append((int(entry), command))
    return found
