"""A half-filled form as a draft and back: what the form page keeps server-side at every step
(``Store.save_draft``) and puts back on screen after a reload, a lost connection, a server
restart or on another device (the resume code). No Streamlit and no database here.

The draft holds the widgets' values exactly as shown on screen (the text typed in a number or
date field, the choice ticked), never a parsed value, so what comes back is what was left. It
also holds what makes a second send harmless: the submission key (the store keeps one response
per key), whether a send had started (so a send that could not be confirmed is said so when the
draft comes back) and, from then on only, the deletion code shown at the end.

When it is saved: at every rerun that changed what is on screen or the step. While another
process holds the DuckDB file (an import's final copy), the app's store does not make the person
wait: it keeps the latest draft of each form and writes it as soon as the file is free, whether
the person's tab is still open or not (``Store._write_draft``).

Where the draft's id lives: in the address, ``?brouillon=<id>``. A page's query parameters
survive a reload, a reconnection and a server restart in Chromium (the address bar is what the
browser reloads), and Streamlit reads them on the server at the first run, before anything is
drawn; browser storage (``localStorage``) also survives, but Streamlit can only read it through
a component after a first, blank run. The id is a random token, stored hashed; it opens a draft
(never a stored response) for 30 days at most, and the draft is deleted once sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

DRAFT_PARAM = "brouillon"
ANSWER_PREFIX = "q_"
KEPT_KEYS = ("form_remind",)  # form state that is an answer too ("me rappeler")
_DATE_TAG = "__date__"


def _encoded(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, date):
        return {_DATE_TAG: value.isoformat()}
    if isinstance(value, list | tuple):
        return [_encoded(v) for v in value]
    return str(value)


def _decoded(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {_DATE_TAG}:
        return date.fromisoformat(value[_DATE_TAG])
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def draft_answers(state: Mapping[str, Any]) -> dict[str, Any]:
    """The answers on screen in a form's session state, ready for JSON: every ``q_`` widget
    with a value (and "me rappeler"), dates tagged so they come back as dates.

    >>> draft_answers({"q_hours_spent": "1,5", "q_csat": None, "form_step": 2, "q_ok": True})
    {'q_hours_spent': '1,5', 'q_ok': True}
    """
    kept = {}
    for name, value in state.items():
        if not isinstance(name, str) or value is None:
            continue
        if name.startswith(ANSWER_PREFIX) or name in KEPT_KEYS:
            kept[name] = _encoded(value)
    return dict(sorted(kept.items()))


def restored_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The session state keys and values a draft's answers put back (only answer keys: a
    draft cannot set anything else in the session).

    >>> restored_answers({"q_started_on": "3/7/2023", "form_step": 9, "q_d": {"__date__": "2023-07-03"}})
    {'q_started_on': '3/7/2023', 'q_d': datetime.date(2023, 7, 3)}
    """
    return {
        name: _decoded(value)
        for name, value in answers.items()
        if isinstance(name, str) and (name.startswith(ANSWER_PREFIX) or name in KEPT_KEYS)
    }


def draft_document(
    state: Mapping[str, Any], *, deletion_code: str, elapsed_seconds: float, sending: bool
) -> dict[str, Any]:
    """What is stored as a draft's JSON: the answers and the form's own keys.

    The deletion code is kept only once a send has started: a send that could not be confirmed
    may have stored the response under that code, and the form must show the same one when the
    draft comes back. Before that, a draft never holds it (whoever reads the drafts table, a
    backup for instance, could delete the response with it); a draft resumed before any send
    gets a new code."""
    document = {
        "answers": draft_answers(state),
        "elapsed_seconds": round(float(elapsed_seconds), 1),
        "sending": bool(sending),
    }
    if sending:
        document["deletion_code"] = deletion_code
    return document
