"""The respondent's page: one experience, told in five short steps, saved once."""

import json
import logging
import time

import streamlit as st

from survey import focus
from survey import questionnaire as qn
from survey import store as storage
from survey.drafts import DRAFT_PARAM, draft_document, restored_answers
from survey.i18n import integer, t
from survey.validation import (
    TYPED_KINDS,
    AddressLimiter,
    BurstDetector,
    clean_text,
    client_address,
    paris_today,
    rate_limited,
    step_problems,
    validate_answers,
)

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
state = st.session_state
DONT_KNOW = "dont_know"
YES_NO_DK = (True, False, DONT_KNOW)
# A page script runs as __main__: name the logger after the module it is.
log = logging.getLogger("survey.form_page")
YES, NO = (choice.label for choice in qn.YES_NO)
dont_know = t("form.dont_know", locale)


def key(question_id: str) -> str:
    return f"q_{question_id}"


# The honeypot is hidden from people (and from screen readers); bots fill it in.
st.html("<style>.st-key-hp_box{display:none !important}</style>")


def typed_as_text(q: qn.Question) -> bool:
    """Numbers and dates are typed in text fields, read by validation.parse_typed: a
    browser's number field reads "1,5" as 15 and a date picker "3/12/2023" as 28/02/2023."""
    scale = q.kind == "int" and q.maximum is not None and q.maximum <= 10
    return q.kind in TYPED_KINDS and not (scale and q.minimum is not None)


# Phones show their numeric keyboard (with the comma) on the number fields.
INPUT_MODES = {
    f"st-key-{key(q.id)}": "decimal" if q.kind == "float" else "numeric"
    for q in qn.FIELDS
    if typed_as_text(q) and q.kind != "date"
}
st.html(
    "<script>(() => {const modes = "
    + json.dumps(INPUT_MODES)
    + """;
const apply = () => { for (const [cls, mode] of Object.entries(modes)) {
  for (const input of document.querySelectorAll(`.${cls} input`)) {
    if (input.getAttribute("inputmode") !== mode) input.setAttribute("inputmode", mode);
  } } };
if (!window.clientroiInputModes) {
  window.clientroiInputModes = new MutationObserver(apply);
  window.clientroiInputModes.observe(document.body, {childList: true, subtree: true});
}
apply();})();</script>""",
    unsafe_allow_javascript=True,
)


@st.cache_resource(show_spinner=False)
def abuse_guards(database: str) -> tuple[AddressLimiter, BurstDetector]:
    """One address limiter and one burst detector per server process and database."""
    return AddressLimiter(), BurstDetector()


limiter, bursts = abuse_guards(str(storage.default_db_path()))


KEPT_ACROSS_FORMS = ("form_session_id", "form_history")


def new_form() -> None:
    """A blank form; the browser session's id and submission history are kept."""
    for name in list(state.keys()):
        if (
            isinstance(name, str)
            and name.startswith(("q_", "form_"))
            and name not in KEPT_ACROSS_FORMS
        ):
            del state[name]
    state["form_step"] = 0
    state["form_started"] = time.monotonic()
    state["form_submission_key"] = storage.new_submission_key()
    state["form_deletion_code"] = storage.new_deletion_code()
    state["form_session_id"] = state.get("form_session_id") or storage.new_submission_key()
    state["form_errors"] = {}
    # Saved server-side at every step under this id, kept in the address (survey/drafts.py).
    state["form_draft_id"] = storage.new_token()
    st.query_params[DRAFT_PARAM] = state["form_draft_id"]


def resume_draft(draft_id: str) -> bool:
    """A new session (a reload, a reconnection after a server restart) on an address that
    names a draft: put its answers back as they were on screen, on its step."""
    try:
        draft = store.load_draft(draft_id)
    except Exception:  # noqa: BLE001  (no draft is better than no form)
        log.exception("reading a draft failed")
        return False
    if draft is None:
        return False
    document = draft.answers
    new_form()
    state.update(restored_answers(document.get("answers", {})))
    state["form_step"] = min(max(int(draft.step), 0), len(qn.SECTIONS) - 1)
    state["form_submission_key"] = draft.submission_key
    state["form_deletion_code"] = document.get("deletion_code") or state["form_deletion_code"]
    state["form_started"] = time.monotonic() - float(document.get("elapsed_seconds") or 0)
    state["form_draft_id"] = draft_id
    st.query_params[DRAFT_PARAM] = draft_id
    state["form_resumed"] = "unconfirmed" if document.get("sending") else "resumed"
    state["form_sending"] = bool(document.get("sending"))
    return True


def keep_draft(*, sending: bool = False, resume_code: str | None = None) -> bool:
    """Save the draft when what is on screen (or the step) changed since the last save;
    True once saved (or kept: see below), False when the save failed (logged).
    Once a send has started, every later save of this form says so (it may be stored).
    While another process holds the file (an import's final copy), the app's store keeps the
    draft, on disk, and writes it as soon as the file is free, the person's session or tab
    gone or not: the step moves on at once. ``resume_code``: the code "Enregistrer et
    reprendre plus tard" shows, saved with the draft (kept with it when the file is held:
    the code works at once on this server, and in the file once it is free)."""
    if sending:
        state["form_sending"] = True
    sending = bool(state.get("form_sending"))
    document = draft_document(
        state,
        deletion_code=state["form_deletion_code"],
        elapsed_seconds=time.monotonic() - state["form_started"],
        sending=sending,
    )
    fingerprint = json.dumps(
        [document["answers"], state["form_step"], sending], sort_keys=True, default=str
    )
    if fingerprint == state.get("form_draft_saved") and resume_code is None:
        return True
    if not document["answers"] and state["form_step"] == 0:
        if resume_code is not None:
            return False  # nothing typed: nothing to resume, no code
        if "form_draft_saved" not in state:
            return True  # nothing typed yet: no draft for a page merely opened
    try:
        store.save_draft(
            state["form_draft_id"],
            document,
            step=state["form_step"],
            submission_key=state["form_submission_key"],
            brief=True,
            resume_code=resume_code,
        )
        state["form_draft_saved"] = fingerprint
        return True
    except Exception:  # noqa: BLE001  (the form goes on; the next change tries again)
        log.exception("saving a draft failed (submission key %s)", state["form_submission_key"])
        return False


def save_for_later() -> None:
    """ "Enregistrer et reprendre plus tard": the draft now, with a code for another device."""
    code = storage.new_deletion_code()
    if keep_draft(resume_code=code):
        state["form_resume_code"] = code


def answers() -> dict:
    """The answers given so far, for the questions that apply (hidden ones are not sent)."""
    given = {}
    for q in qn.FIELDS:
        value = state.get(key(q.id))
        if isinstance(value, str) and value in (DONT_KNOW, ""):
            value = None
        if q.kind in ("flag", "consent", "option"):
            value = bool(value) if value is not None else None
        given[q.id] = value
    # A multiple choice with nothing ticked was not answered: its options are not sent (NULL).
    for group in qn.MULTIPLE_CHOICES:
        options = [q.id for q in qn.FIELDS if q.group == group]
        if not any(given.get(option) for option in options):
            for option in options:
                given[option] = None
    return {k: v for k, v in given.items() if qn.QUESTIONS[k].applies(given) and v is not None}


def ask(q: qn.Question, errors: dict) -> None:
    label = q.label(locale) + (" *" if q.required else "")
    help_text = q.help(locale) if q.help else None
    common = {"key": key(q.id), "help": help_text, "persist_state": "session"}
    if q.kind == "choice" and len(q.choices) > 8:
        st.selectbox(
            label,
            q.choice_values(),
            index=None,
            format_func=lambda v: q.choice_label(v, locale),
            placeholder=t("form.choose", locale),
            **common,
        )
    elif q.kind == "choice":
        st.radio(
            label,
            q.choice_values(),
            index=None,
            format_func=lambda v: q.choice_label(v, locale),
            **common,
        )
    elif q.kind == "bool":
        st.radio(
            label,
            YES_NO_DK,
            index=None,
            horizontal=True,
            format_func=lambda v: (
                YES(locale) if v is True else NO(locale) if v is False else dont_know
            ),
            **common,
        )
    elif q.kind == "int" and q.maximum is not None and q.maximum <= 10 and q.minimum is not None:
        st.radio(
            label,
            scale_values(q),
            index=None,
            horizontal=True,
            format_func=lambda v: scale_label(q, v),
            **common,
        )
    elif typed_as_text(q):
        # What is typed stays on screen as typed; check_field says at once what it means.
        st.text_input(
            label,
            placeholder=t("form.date_placeholder", locale) if q.kind == "date" else dont_know,
            on_change=check_field,
            args=(q.id,),
            autocomplete="off",
            **common,
        )
    elif q.kind in ("flag", "consent", "option"):
        st.checkbox(label, **common)
    # No max_chars: a browser cuts (or drops) a longer paste; validation counts and refuses it.
    elif q.kind == "text" and q.id == "narrative":
        st.text_area(label, height=160, on_change=clean_field, args=(q.id,), **common)
    elif q.kind in ("text", "email"):
        st.text_input(label, on_change=clean_field, args=(q.id,), **common)
    if q.id in errors:
        st.error(errors[q.id], icon=":material/error:")


def scale_values(q: qn.Question) -> list[int]:
    """Every rating scale runs from its worst end (left) to its best (right): satisfaction,
    ease (asked since questionnaire version 2 instead of the effort, which is 8 - ease) and
    recommendation."""
    return list(range(int(q.minimum), int(q.maximum) + 1))


def scale_label(q: qn.Question, value: int) -> str:
    """A scale's number, and at its two ends what it means, on screen (not in a tooltip)."""
    end = "low" if value == q.minimum else "high" if value == q.maximum else None
    if end is None:
        return str(value)
    meaning = t(f"form.scale.{q.id}.{end}", locale)
    return t("form.scale.end", locale, value=value, meaning=meaning)


def show_step(section: qn.Section, errors: dict) -> None:
    """The step's heading, then each of its questions in a place of its own that is drawn
    whether the question applies or not (empty when it does not).

    The browser draws a page's elements by their place in it, and a rerun's elements arrive
    one after another: a question appearing above the one the keyboard is on (the trip
    reasons, the dates of a false resolution) would put every later element one place down,
    and until the rerun is drawn whole the element in the focused one's place is another:
    the focused element is taken off the page and the focus falls to the page's start
    (WCAG 2.4.3). With one fixed place per question, what appears or goes changes only the
    inside of its own place."""
    with st.container(key="form_step_heading"):
        st.subheader(section.title(locale), anchor=False)
    st.caption(section.intro(locale))
    # Answers typed so far decide which questions apply (values of hidden ones are kept).
    current = {q.id: state.get(key(q.id)) for q in qn.FIELDS}
    asked = [q for q in qn.questions_in(section.id) if q.asked]
    applying = {q.id for q in asked if q.applies(current)}
    groups_placed: set[str] = set()
    for q in asked:
        if q.group and q.group not in groups_placed:  # a group's heading: a place too
            groups_placed.add(q.group)
            heading = st.container(key=f"form_group_{q.group}")
            if any(o.group == q.group and o.id in applying for o in asked):
                heading.markdown(f"**{qn.GROUPS[q.group](locale)}**")
        place = st.container(key=f"form_place_{q.id}")
        if q.id not in applying:
            continue
        with place:
            ask(q, errors)
            if q.id == "contact_email" and current.get("status") == "ongoing":
                st.checkbox(t("form.remind", locale), key="form_remind", persist_state="session")


def go(step: int) -> None:
    state["form_step"] = step
    state["form_moved"] = state.get("form_moved", 0) + 1


def focus_step_heading(title: str, move: int) -> None:
    """After "Suivant" or "Précédent", focus goes to the new step's heading (a screen reader
    reads it; the next Tab is its first question), not to the page's top (WCAG 2.4.3)."""
    st.html(focus.script(".st-key-form_step_heading h3", title, move), unsafe_allow_javascript=True)


def check_field(question_id: str) -> None:
    """After a number or a date is typed: its message, or none, at once (not at "Suivant")."""
    outcome = validate_answers(answers(), today=paris_today(), locale=locale)
    errors = dict(state.get("form_errors", {}))
    errors.pop(question_id, None)
    message = outcome.errors(locale).get(question_id)
    if message and state.get(key(question_id)) not in (None, ""):
        errors[question_id] = message
    state["form_errors"] = errors


def clean_field(question_id: str) -> None:
    """Free text loses NUL and bidi controls on screen too: what is shown is what is stored."""
    value = state.get(key(question_id))
    if isinstance(value, str) and clean_text(value) != value:
        state[key(question_id)] = clean_text(value)


def on_next(step: int) -> None:
    problems = step_problems(
        answers(), qn.SECTION_IDS[: step + 1], today=paris_today(), locale=locale
    )
    state["form_errors"] = {p.field: p.message(locale) for p in reversed(problems)}
    if not problems:
        go(step + 1)


def on_submit() -> None:
    given = answers()
    outcome = validate_answers(given, today=paris_today(), locale=locale)
    if not outcome.ok:
        state["form_errors"] = outcome.errors(locale)
        first = min(
            (
                qn.SECTION_IDS.index(qn.QUESTIONS[p.field].section)
                for p in outcome.problems
                if p.field in qn.QUESTIONS
            ),
            default=len(qn.SECTIONS) - 1,
        )
        go(first)
        state["form_failed"] = True
        return
    if rate_limited(state.get("form_history", []), time.monotonic()):
        state["form_rate_limited"] = "session"
        return
    address = client_address(st.context.ip_address, st.context.headers.get("X-Forwarded-For"))
    if not limiter.acquire(address):
        state["form_rate_limited"] = "address"
        return
    # A company's responses arriving far faster than usual are flagged, not refused.
    burst = bursts.observe(outcome.response.company)
    meta = storage.SubmissionMeta(
        submission_key=state["form_submission_key"],
        deletion_code=state["form_deletion_code"],
        locale=locale,
        source="web",
        fill_seconds=round(time.monotonic() - state["form_started"], 1),
        honeypot=bool(state.get("form_hp")),
        session_id=state["form_session_id"],
        suspected_burst=burst,
        remind=bool(state.get("form_remind")) and bool(given.get("contact_email")),
    )
    # A send that cannot be confirmed (the connection or the server lost) finds its draft
    # marked: the form says so when it comes back, and the same key stores it once.
    keep_draft(sending=True)
    try:
        receipt = store.insert_response(outcome.response, meta)
    except Exception:  # noqa: BLE001  (the respondent must never lose the answers)
        limiter.release(address)
        # The key finds the attempt again; the answers stay out of the log.
        log.exception("saving a response failed (submission key %s)", meta.submission_key)
        state["form_save_failed"] = True
        return
    if not receipt.created:
        limiter.release(address)  # a double click: the response was already counted
    try:
        store.delete_draft(state["form_draft_id"])
    except Exception:  # noqa: BLE001  (it expires in 30 days anyway)
        log.exception("deleting a sent draft failed (submission key %s)", meta.submission_key)
    st.query_params.pop(DRAFT_PARAM, None)
    state["form_receipt"] = receipt
    state["form_errors"] = {}
    if receipt.created:
        state["form_history"] = [*state.get("form_history", []), time.monotonic()]


if "form_step" not in state and not resume_draft(st.query_params.get(DRAFT_PARAM) or ""):
    new_form()

st.title(t("form.title", locale))

if state.get("form_receipt"):
    st.success(t("form.thanks", locale), icon=":material/check_circle:")
    st.write(t("form.deletion_code_intro", locale))
    st.code(state["form_deletion_code"], language=None)
    st.write(t("form.deletion_code_use", locale))
    st.write(t("form.update_later", locale))
    # Where else the case can go, and what each does: links only, nothing is sent.
    st.subheader(t("form.triage.title", locale))
    st.markdown(t("form.triage.body", locale))
    st.button(t("form.new_response", locale), on_click=new_form, key="form_again")
    st.stop()

step: int = state["form_step"]
errors: dict = state.get("form_errors", {})
total = len(qn.SECTIONS)
resumed = state.pop("form_resumed", None)
# What comes and goes above the step is drawn in places of their own too (see show_step):
# "Suivant" refused adds a warning above the focused button, and must not take it away.
notices = st.container(key="form_notices")
if resumed == "unconfirmed":
    notices.warning(t("form.draft.unconfirmed", locale), icon=":material/cloud_sync:")
elif resumed:
    notices.info(t("form.draft.resumed", locale), icon=":material/history:")
if step == 0:
    notices.info(t("form.privacy", locale), icon=":material/lock:")
st.progress(
    (step + 1) / total,
    text=t(
        "form.step",
        locale,
        n=integer(step + 1, locale),
        total=integer(total, locale),
        title=qn.SECTIONS[step].title(locale),
    ),
)
last_step = step == total - 1
fix_errors = (state.pop("form_failed", False) or (errors and step < total)) and errors
with st.container(key="form_fix_errors"):
    if fix_errors and not last_step:
        st.warning(t("form.fix_errors", locale), icon=":material/edit:")

with st.container(key="form_step"):
    show_step(qn.SECTIONS[step], errors)
with st.container(key="form_focus"):
    if state.get("form_moved"):
        focus_step_heading(qn.SECTIONS[step].title(locale), state["form_moved"])

with st.container(key="hp_box"):
    st.text_input(t("form.honeypot", locale), key="form_hp", persist_state="session")

# Every place above the buttons is fixed (show_step): "Précédent" and "Suivant" stay the same
# elements when a question appears or goes, and a keyboard's focus on one of them stays.
buttons = st.container(key="form_buttons")
back, forward = buttons.columns(2)
if step > 0:
    back.button(
        t("form.back", locale),
        on_click=go,
        args=(step - 1,),
        key="form_back",
        width="stretch",
    )
if step < total - 1:
    forward.button(
        t("form.next", locale),
        on_click=on_next,
        args=(step,),
        key="form_next",
        type="primary",
        width="stretch",
    )
else:
    forward.button(
        t("form.submit", locale),
        on_click=on_submit,
        key="form_submit",
        type="primary",
        width="stretch",
    )
    # On the last step every message about sending sits under "Envoyer", where the eye is.
    refused = state.pop("form_rate_limited", None)
    if fix_errors:
        st.warning(t("form.fix_errors", locale), icon=":material/edit:")
    if refused == "session":
        st.error(t("form.rate_limited", locale), icon=":material/hourglass_top:")
    elif refused == "address":
        st.error(
            t("form.rate_limited_address", locale, limit=integer(limiter.limit, locale)),
            icon=":material/hourglass_top:",
        )
    if state.pop("form_save_failed", False):
        st.error(t("form.save_error", locale), icon=":material/cloud_off:")
        st.caption(t("form.draft.kept", locale))

st.button(t("form.draft.later", locale), on_click=save_for_later, key="form_later")
if state.get("form_resume_code"):
    st.write(t("form.draft.code_intro", locale))
    st.code(state["form_resume_code"], language=None)
    st.write(t("form.draft.code_use", locale))
keep_draft()
