"""The respondent's page to complete a story later ("Compléter mon témoignage"): opened with the
personal code shown at the end of the form, or from a reminder's link (a token that is not the
code), it records one dated update per visit; the original answers are never changed."""

import streamlit as st

from survey import focus, i18n
from survey import questionnaire as qn
from survey import store as storage
from survey.i18n import t
from survey.updates import AMOUNT_QUESTION, EVENT_KINDS, check_update
from survey.validation import paris_today

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
state = st.session_state
REMINDER_PARAM, STOP_PARAM = "rappel", "arret"

st.title(t("update.title", locale))

# The one-click stop of a reminder e-mail's link: done on arrival, said once.
stop_token = st.query_params.get(STOP_PARAM)
if stop_token:
    st.query_params.pop(STOP_PARAM, None)
    state["update_stopped"] = store.stop_reminders(stop_token)
if "update_stopped" in state:
    if state["update_stopped"]:
        st.success(t("update.stopped", locale), icon=":material/notifications_off:")
    else:
        st.error(t("update.unknown_link", locale), icon=":material/error:")

# A reminder's link opens the page on its response (the token leaves the address at once).
reminder_token = st.query_params.get(REMINDER_PARAM)
if reminder_token:
    st.query_params.pop(REMINDER_PARAM, None)
    found = store.response_id_for_reminder(reminder_token)
    if found:
        state["update_response_id"] = found
        state.pop("update_done", None)
    else:
        st.error(t("update.unknown_link", locale), icon=":material/error:")


def open_with_code() -> None:
    found = store.response_id_for_code(state.get("update_code") or "")
    state["update_unknown"] = found is None
    if found:
        state["update_response_id"] = found
        state.pop("update_done", None)
        state["update_moved"] = state.get("update_moved", 0) + 1


def record() -> None:
    """Check the update as typed; store it, or say what is expected next to each field."""
    current = store.response_as_known(state["update_response_id"])
    kind = state.get("update_kind")
    outcome = check_update(
        kind,
        state.get("update_event_on"),
        state.get("update_amount") if kind in AMOUNT_QUESTION else None,
        started_on=current["started_on"],
        today=paris_today(),
        locale=locale,
    )
    state["update_errors"] = {f: p.message(locale) for f, p in outcome.problems.items()}
    if outcome.ok:
        update = outcome.update
        store.record_event(
            state["update_response_id"], update.kind, update.event_on, amount=update.amount
        )
        state["update_done"] = True
        state["update_moved"] = state.get("update_moved", 0) + 1
        for name in ("update_kind", "update_event_on", "update_amount"):
            state.pop(name, None)


response_id = state.get("update_response_id")
current = store.response_as_known(response_id) if response_id else None
if current is None:
    st.write(t("update.intro", locale))
    st.text_input(
        t("update.code", locale),
        key="update_code",
        placeholder=t("delete.code_placeholder", locale),
        autocomplete="off",
    )
    st.button(t("update.open", locale), key="update_open", type="primary", on_click=open_with_code)
    if state.get("update_unknown"):
        st.error(t("delete.unknown", locale), icon=":material/error:")
    st.stop()


def focus_on(selector: str, text: str) -> None:
    """The button pressed is gone: focus goes to what replaced it (WCAG 2.4.3)."""
    if state.get("update_moved"):
        st.html(focus.script(selector, text, state["update_moved"]), unsafe_allow_javascript=True)


if state.get("update_done"):
    with st.container(key="update_done_box"):
        st.success(t("update.done", locale), icon=":material/check_circle:")
    focus_on(
        ".st-key-update_done_box [data-testid='stMarkdownContainer']", t("update.done", locale)
    )
    st.write(t("update.done_more", locale))
    st.stop()

status = qn.QUESTIONS["status"].choice_label(current["status"], locale)
names = store.companies().set_index("id")["name"]
# The respondent's own company name is their text: shown as text, never read as Markdown.
summary = t(
    "update.current",
    locale,
    company=current.get("company_other") or names.get(current["company"], ""),
    started=i18n.date(current["started_on"], locale),
    status=status,
    known=i18n.date(current["status_known_on"], locale),
)
with st.container(key="update_current"):
    st.text(summary)
focus_on(".st-key-update_current [data-testid='stText']", summary)
errors: dict = state.get("update_errors", {})
# Each question and its message in a place of their own, drawn whether shown or not: one
# appearing (the amount, a message) must not move "Enregistrer" nor a focused field off the
# page while the rerun is drawn (form_page.show_step says why).
with st.container(key="update_place_kind"):
    st.radio(
        t("update.what", locale),
        EVENT_KINDS,
        index=None,
        format_func=lambda kind: t(f"update.kind.{kind}", locale),
        key="update_kind",
    )
    if "kind" in errors:
        st.error(errors["kind"], icon=":material/error:")
with st.container(key="update_place_event_on"):
    st.text_input(
        t("update.event_on", locale),
        key="update_event_on",
        placeholder=t("form.date_placeholder", locale),
        autocomplete="off",
    )
    if "event_on" in errors:
        st.error(errors["event_on"], icon=":material/error:")
kind = state.get("update_kind")
with st.container(key="update_place_amount"):
    if kind in AMOUNT_QUESTION:
        st.text_input(t(f"update.amount.{kind}", locale), key="update_amount", autocomplete="off")
        if "amount" in errors:
            st.error(errors["amount"], icon=":material/error:")
st.button(t("update.record", locale), key="update_record", type="primary", on_click=record)
