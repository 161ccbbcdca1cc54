"""Reminders by e-mail (``clientroi remind``, meant for cron): a respondent with an ongoing case
who left an e-mail and ticked "me rappeler" is asked, 30, 60 and 90 days after sending, whether
the story has moved on, with a link to the update page and a one-click stop.

The link carries a random token made for that e-mail (only its SHA-256 is stored), never the
deletion code: the token opens the update page on that response and can stop the reminders,
but cannot delete anything, and a web server's access log that records it records no code.

SMTP settings come from the environment or from Streamlit's ``secrets.toml`` (``[smtp]``),
never from the repository:

=====================  =============================  ==========================================
setting                environment                    meaning
=====================  =============================  ==========================================
``host``               ``CLIENTROI_SMTP_HOST``        the SMTP server (required to send)
``port``               ``CLIENTROI_SMTP_PORT``        default 587 (``starttls``), 465 (``ssl``)
``from``               ``CLIENTROI_SMTP_FROM``        the sender address (required)
``tls``                ``CLIENTROI_SMTP_TLS``         ``starttls`` (default), ``ssl`` or ``none``
``username``           ``CLIENTROI_SMTP_USERNAME``    optional login
``password``           ``CLIENTROI_SMTP_PASSWORD``    optional password
``public_url``         ``CLIENTROI_PUBLIC_URL``       the app's address, for the links
=====================  =============================  ==========================================
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlencode

from survey import i18n
from survey import store as storage
from survey.i18n import t

TLS_MODES = ("starttls", "ssl", "none")
UPDATE_PATH = "completer"
REMINDER_PARAM, STOP_PARAM = "rappel", "arret"
log = logging.getLogger("survey.remind")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    tls: str = "starttls"
    username: str | None = None
    password: str | None = None
    public_url: str = "http://localhost:8501"

    def __repr__(self) -> str:  # never the password
        return f"SmtpSettings(host={self.host!r}, port={self.port}, tls={self.tls!r})"


def secrets_files() -> list[Path]:
    """Where Streamlit reads ``secrets.toml``: the project's ``.streamlit/`` and the user's."""
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def smtp_settings(environ: dict | None = None, files: Iterable[Path] | None = None) -> SmtpSettings:
    """The SMTP settings: each from ``CLIENTROI_SMTP_*`` when set, else from ``[smtp]`` of the
    first ``secrets.toml`` holding it. Raises ValueError naming what is missing or wrong."""
    environ = os.environ if environ is None else environ
    table: dict = {}
    for path in secrets_files() if files is None else files:
        if path.is_file():
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("smtp", {})
            if table:
                break

    def setting(name: str, default=None):
        value = environ.get(f"CLIENTROI_SMTP_{name.upper()}")
        return value if value not in (None, "") else table.get(name, default)

    tls = str(setting("tls", "starttls")).lower()
    if tls not in TLS_MODES:
        raise ValueError(f"SMTP `tls` must be one of {TLS_MODES}, not {tls!r}.")
    host, sender = setting("host"), setting("from")
    if not host or not sender:
        raise ValueError(
            "SMTP settings missing: set [smtp] host and from in .streamlit/secrets.toml "
            "(or CLIENTROI_SMTP_HOST and CLIENTROI_SMTP_FROM)."
        )
    port = setting("port", 465 if tls == "ssl" else 587)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError(f"SMTP `port` must be a number, not {port!r}.") from None
    public_url = environ.get("CLIENTROI_PUBLIC_URL") or table.get("public_url")
    return SmtpSettings(
        str(host),
        port,
        str(sender),
        tls,
        setting("username"),
        setting("password"),
        str(public_url or "http://localhost:8501").rstrip("/"),
    )


def links(public_url: str, token: str) -> tuple[str, str]:
    """The update link and the stop link of one e-mail.

    >>> links("https://clientroi.example", "abc")
    ('https://clientroi.example/completer?rappel=abc', 'https://clientroi.example/completer?arret=abc')
    """
    base = f"{public_url.rstrip('/')}/{UPDATE_PATH}"
    return (
        f"{base}?{urlencode({REMINDER_PARAM: token})}",
        f"{base}?{urlencode({STOP_PARAM: token})}",
    )


def reminder_message(
    due: storage.DueReminder, settings: SmtpSettings, token: str, *, today: date
) -> EmailMessage:
    """The reminder e-mail in the respondent's language: plain text, two links, a
    ``List-Unsubscribe`` header (the stop link) that mail programs show as a button."""
    locale = due.locale if due.locale in i18n.LOCALES else i18n.DEFAULT_LOCALE
    update_link, stop_link = links(settings.public_url, token)
    message = EmailMessage()
    message["Subject"] = t("remind.subject", locale)
    message["From"] = settings.sender
    message["To"] = due.email
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message["List-Unsubscribe"] = f"<{stop_link}>"
    message["Content-Language"] = locale
    message["Auto-Submitted"] = "auto-generated"
    started = i18n.date(due.started_on, locale) if due.started_on else "?"
    message.set_content(
        t(
            "remind.body",
            locale,
            days=i18n.integer(due.due_days, locale),
            submitted=i18n.date(due.submitted_on, locale),
            started=started,
            update_link=update_link,
            stop_link=stop_link,
        )
    )
    return message


def _connection(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, context=ssl.create_default_context(), timeout=30
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=30)
        if settings.tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.username:
        smtp.login(settings.username, settings.password or "")
    return smtp


@dataclass(frozen=True)
class RemindReport:
    """What one run did: reminders due, sent, and failed (the failed ones are tried again by
    the next run: nothing is recorded for them)."""

    due: int
    sent: int
    failed: int


def send_reminders(
    store, *, today: date, settings: SmtpSettings | None = None, dry_run: bool = False
) -> RemindReport:
    """Send every reminder due on ``today`` (see :meth:`survey.store.ComebackMethods.due_reminders`).

    Each is recorded once sent, with the hash of its link's token; a reminder already
    recorded is never sent again (two runs at once send it once: the record comes first and
    the second run's record is refused). ``dry_run`` lists what is due and sends nothing,
    records nothing, and needs no SMTP settings.
    """
    due = store.due_reminders(today)
    if dry_run:
        for reminder in due:
            log.info(
                "due: %s-day reminder for response %s", reminder.due_days, reminder.response_id
            )
        return RemindReport(len(due), 0, 0)
    if not due:
        return RemindReport(0, 0, 0)
    settings = settings or smtp_settings()
    sent = failed = 0
    with _connection(settings) as smtp:
        for reminder in due:
            token = storage.new_token()
            if not store.record_reminder(reminder.response_id, reminder.due_days, token):
                continue  # another run took it
            try:
                smtp.send_message(reminder_message(reminder, settings, token, today=today))
            except smtplib.SMTPException as exc:
                # Not sent: forget the record so that the next run tries again.
                store.forget_reminder(reminder.response_id, reminder.due_days)
                log.warning(
                    "reminder for response %s not sent: %s",
                    reminder.response_id,
                    type(exc).__name__,
                )
                failed += 1
                continue
            log.info(
                "sent the %s-day reminder for response %s", reminder.due_days, reminder.response_id
            )
            sent += 1
    return RemindReport(len(due), sent, failed)
