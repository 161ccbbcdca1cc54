"""The respondent's page to delete a response with the code received at the end of the survey."""

import streamlit as st

from survey import questionnaire as qn
from survey import store as storage
from survey.i18n import t

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]

st.title(t("delete.title", locale))
st.write(t("delete.intro", locale))
code = st.text_input(
    t("delete.code", locale), key="delete_code", placeholder=t("delete.code_placeholder", locale)
)
if st.button(t("delete.button", locale), key="delete_button", type="primary", disabled=not code):
    if store.delete_response(code):
        st.success(t("delete.done", locale), icon=":material/check_circle:")
    else:
        st.error(t("delete.unknown", locale), icon=":material/error:")
