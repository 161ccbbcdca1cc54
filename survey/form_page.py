"""The respondent's page: one experience, told in five short steps, saved once."""

import json
import logging
import time

import streamlit as st

from survey import questionnaire as qn
from survey import store as storage
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
            list(range(int(q.minimum), int(q.maximum) + 1)),
            index=None,
            horizontal=True,
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


def show_step(section: qn.Section, errors: dict) -> None:
    st.subheader(section.title(locale))
    st.caption(section.intro(locale))
    # Answers typed so far decide which questions apply (values of hidden ones are kept).
    current = {q.id: state.get(key(q.id)) for q in qn.FIELDS}
    group_shown: set[str] = set()
    for q in qn.questions_in(section.id):
        if not q.asked or not q.applies(current):
            continue
        if q.group and q.group not in group_shown:
            group_shown.add(q.group)
            st.markdown(f"**{qn.GROUPS[q.group](locale)}**")
        ask(q, errors)


def go(step: int) -> None:
    state["form_step"] = step


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
        state["form_step"] = step + 1


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
        state["form_step"] = first
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
    )
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
    state["form_receipt"] = receipt
    state["form_errors"] = {}
    if receipt.created:
        state["form_history"] = [*state.get("form_history", []), time.monotonic()]


if "form_step" not in state:
    new_form()

st.title(t("form.title", locale))

if state.get("form_receipt"):
    st.success(t("form.thanks", locale), icon=":material/check_circle:")
    st.write(t("form.deletion_code_intro", locale))
    st.code(state["form_deletion_code"], language=None)
    st.write(t("form.deletion_code_use", locale))
    st.button(t("form.new_response", locale), on_click=new_form, key="form_again")
    st.stop()

step: int = state["form_step"]
errors: dict = state.get("form_errors", {})
total = len(qn.SECTIONS)
if step == 0:
    st.info(t("form.privacy", locale), icon=":material/lock:")
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
if fix_errors and not last_step:
    st.warning(t("form.fix_errors", locale), icon=":material/edit:")

show_step(qn.SECTIONS[step], errors)

with st.container(key="hp_box"):
    st.text_input(t("form.honeypot", locale), key="form_hp", persist_state="session")

back, forward = st.columns(2)
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
