"""Reminders (issue 13): due at 30, 60 and 90 days for ongoing cases whose respondent ticked
"me rappeler", each sent once, through a real SMTP server (aiosmtpd on 127.0.0.1), in the
respondent's language, with a link that opens the update page and a one-click stop."""

import contextlib
import re
from datetime import date, timedelta
from email import message_from_bytes, policy

import pytest
from streamlit.testing.v1 import AppTest

import cli
from survey import remind
from survey import store as storage
from survey.validation import paris_today
from tests.browser import free_port
from tests.conftest import APP, story_answers, submit

LINK = re.compile(r"/completer\?rappel=([A-Za-z0-9_\-]+)")
STOP = re.compile(r"/completer\?arret=([A-Za-z0-9_\-]+)")


@pytest.fixture
def store(any_store):
    return any_store


def submitted_days_ago(backend, response_id: str, days: int) -> None:
    day = (paris_today() - timedelta(days=days)).isoformat()
    backend.execute(
        f"UPDATE responses SET submitted_on = DATE '{day}' WHERE response_id = '{response_id}'"
    )


def people(store, backend, days: int):
    """Four respondents who left an e-mail: two ongoing who asked for reminders (French and
    English), one ongoing who did not, one resolved who did. Returns ids and codes."""
    made = {}
    resolved = {**story_answers(), "status": "resolved", "ended_on": date(2023, 9, 30)}
    for name, answers, locale, wants in (
        ("fr", story_answers(), "fr", True),
        ("en", story_answers(), "en", True),
        ("quiet", story_answers(), "fr", False),
        ("resolved", resolved, "fr", True),
    ):
        code = storage.new_deletion_code()
        receipt = submit(
            store,
            {**answers, "contact_email": f"{name}@example.org"},
            locale=locale,
            remind=wants,
            deletion_code=code,
        )
        submitted_days_ago(backend, receipt.response_id, days)
        made[name] = (receipt.response_id, code)
    return made


def test_due_reminders_follow_30_60_90_days_and_the_latest_state(store, backend):
    made = people(store, backend, 31)
    today = paris_today()
    due = store.due_reminders(today)
    assert sorted((d.email, d.locale, d.due_days) for d in due) == [
        ("en@example.org", "en", 30),
        ("fr@example.org", "fr", 30),
    ]
    assert store.record_reminder(made["fr"][0], 30, "t-fr-30")
    assert not store.record_reminder(made["fr"][0], 30, "t-fr-30b")  # at most once
    assert [d.email for d in store.due_reminders(today)] == ["en@example.org"]
    # Day 61: the 60-day one; the English respondent never had the 30-day one (the command
    # did not run), and gets only the 60-day one, not both.
    for response_id, _ in made.values():
        submitted_days_ago(backend, response_id, 61)
    assert sorted((d.email, d.due_days) for d in store.due_reminders(today)) == [
        ("en@example.org", 60),
        ("fr@example.org", 60),
    ]
    # An update closing the case stops its reminders.
    store.record_event(made["en"][0], "resolved", today - timedelta(days=2))
    assert [d.email for d in store.due_reminders(today)] == ["fr@example.org"]
    # Past 90 + 30 days: nothing more.
    submitted_days_ago(backend, made["fr"][0], 121)
    assert store.due_reminders(today) == []
    # Retention: purging the e-mails removes the reminder state (the tokens) too.
    backend.execute("UPDATE contacts SET stored_on = DATE '2020-01-01'")
    assert store.purge_contacts(older_than_days=365) == 4
    assert store.response_id_for_reminder("t-fr-30") is None
    assert backend.execute("SELECT count(*) FROM reminders") == [(0,)]


class Mailbox:
    """An aiosmtpd handler keeping every message received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


@contextlib.contextmanager
def running_smtp():
    """A real SMTP server on a free localhost port (aiosmtpd), keeping what it receives:
    yields (mailbox, port)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    with running_smtp() as server:
        yield server


def test_reminders_reach_a_real_smtp_server_and_their_links_open_the_update_page(
    db_path, smtp_server, monkeypatch, capsys
):
    mailbox, port = smtp_server
    store = storage.connect(db_path)
    from tests.conftest import Backend

    made = people(store, Backend("duckdb", db_path), 31)
    monkeypatch.setenv("CLIENTROI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLIENTROI_SMTP_PORT", str(port))
    monkeypatch.setenv("CLIENTROI_SMTP_FROM", "rappels@clientroi.example")
    monkeypatch.setenv("CLIENTROI_SMTP_TLS", "none")
    monkeypatch.setenv("CLIENTROI_PUBLIC_URL", "https://clientroi.example/")

    assert cli.main(["remind", "--dry-run", "--db", str(db_path)]) == 0
    assert "2 reminders due (dry run: nothing sent)" in capsys.readouterr().out
    assert mailbox.messages == [] and store.reminders_sent(made["fr"][0]) == []

    assert cli.main(["remind", "--db", str(db_path)]) == 0
    assert "Sent 2 of 2 reminders due (0 failed)" in capsys.readouterr().out
    received = {tuple(to): message for to, message in mailbox.messages}
    assert set(received) == {("fr@example.org",), ("en@example.org",)}
    french, english = received[("fr@example.org",)], received[("en@example.org",)]
    assert french["Subject"] == "Client Roi : où en est votre problème ?"
    assert english["Subject"] == "Client Roi: where does your problem stand?"
    french_text = french.get_content()
    assert "Il y a 30 jours" in french_text and "10/07/2023" in french_text
    assert "30 days ago" in english.get_content() and "2023-07-10" in english.get_content()
    for (response_id, code), message in ((made["fr"], french), (made["en"], english)):
        text = message.get_content()
        assert code not in text and code.replace("-", "") not in text  # never the code
        assert (
            str(message["List-Unsubscribe"])
            .strip()
            .startswith("<https://clientroi.example/completer?")
        )
        assert LINK.search(text).group(1) == STOP.search(text).group(1)
        assert store.reminders_sent(response_id) == [30]
    # A second run the same day sends nothing (each reminder at most once).
    assert cli.main(["remind", "--db", str(db_path)]) == 0
    assert "Sent 0 of 0" in capsys.readouterr().out and len(mailbox.messages) == 2

    # The French link opens the update page on that response, in AppTest.
    token = LINK.search(french_text).group(1)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.query_params["rappel"] = token
    at.switch_page("survey/update_page.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Compléter mon témoignage"
    assert "Free" in at.text[0].value and "Toujours en cours" in at.text[0].value
    assert at.session_state["update_response_id"] == made["fr"][0]
    # The one-click stop.
    stop = AppTest.from_file(APP, default_timeout=60).run()
    stop.query_params["arret"] = STOP.search(french_text).group(1)
    stop.switch_page("survey/update_page.py").run()
    assert stop.success[0].value == "C'est fait : vous ne recevrez plus de rappel."
    assert not store.wants_reminders(made["fr"][0])
    assert store.wants_reminders(made["en"][0])


def test_smtp_settings_come_from_secrets_or_the_environment(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[smtp]\nhost = "smtp.example.org"\nfrom = "a@example.org"\ntls = "ssl"\n'
        'password = "hunter2"\npublic_url = "https://c.example/"\n'
    )
    settings = remind.smtp_settings({}, [secrets])
    assert (settings.host, settings.port, settings.tls) == ("smtp.example.org", 465, "ssl")
    assert settings.public_url == "https://c.example"
    assert "hunter2" not in repr(settings)
    overridden = remind.smtp_settings({"CLIENTROI_SMTP_PORT": "2525"}, [secrets])
    assert overridden.port == 2525
    with pytest.raises(ValueError, match="SMTP settings missing"):
        remind.smtp_settings({}, [tmp_path / "none.toml"])
    with pytest.raises(ValueError, match="`tls`"):
        remind.smtp_settings({"CLIENTROI_SMTP_TLS": "maybe"}, [secrets])
