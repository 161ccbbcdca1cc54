"""The respondent's page to delete a response with the code received at the end of the survey:
the code, then a confirmation, then the deletion."""

import streamlit as st

from survey import questionnaire as qn
from survey import store as storage
from survey.i18n import t

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
state = st.session_state


def ask() -> None:
    """The code was sent: ask before deleting (nothing is deleted yet)."""
    code = (state.get("delete_code") or "").strip()
    state["delete_pending"] = code or None
    state.pop("delete_outcome", None)


def confirm() -> None:
    code = state.pop("delete_pending", None)
    if code:
        state["delete_outcome"] = "done" if store.delete_response(code) else "unknown"


def cancel() -> None:
    state.pop("delete_pending", None)
    state["delete_outcome"] = "cancelled"


st.title(t("delete.title", locale))
st.write(t("delete.intro", locale))
# A form sends the code with the button press itself: the first tap works, even while the field
# still has the focus (a lone text field commits only on Enter or blur, which ate that tap).
with st.form("delete_form", border=False, enter_to_submit=True):
    st.text_input(
        t("delete.code", locale),
        key="delete_code",
        placeholder=t("delete.code_placeholder", locale),
        autocomplete="off",
    )
    st.form_submit_button(t("delete.ask", locale), key="delete_ask", on_click=ask)

if state.get("delete_pending"):
    st.warning(t("delete.confirm_question", locale), icon=":material/warning:")
    confirm_column, cancel_column = st.columns(2)
    confirm_column.button(
        t("delete.button", locale),
        key="delete_button",
        type="primary",
        on_click=confirm,
        width="stretch",
    )
    cancel_column.button(
        t("delete.cancel", locale), key="delete_cancel", on_click=cancel, width="stretch"
    )

outcome = state.get("delete_outcome")
if outcome == "done":
    st.success(t("delete.done", locale), icon=":material/check_circle:")
elif outcome == "unknown":
    st.error(t("delete.unknown", locale), icon=":material/error:")
elif outcome == "cancelled":
    st.info(t("delete.cancelled", locale), icon=":material/info:")
