"""The respondent's page to delete a response with the code received at the end of the survey."""

import streamlit as st

from survey import questionnaire as qn
from survey import store as storage

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]

st.title(qn.ui("delete_title", locale))
st.write(qn.ui("delete_intro", locale))
code = st.text_input(
    qn.ui("delete_code", locale), key="delete_code", placeholder="XXXX-XXXX-XXXX-XXXX"
)
if st.button(
    qn.ui("delete_button", locale), key="delete_button", type="primary", disabled=not code
):
    if store.delete_response(code):
        st.success(qn.ui("delete_done", locale), icon=":material/check_circle:")
    else:
        st.error(qn.ui("delete_unknown", locale), icon=":material/error:")
