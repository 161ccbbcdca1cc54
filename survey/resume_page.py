"""The respondent's page to resume a draft on another device with the code given by
"Enregistrer et reprendre plus tard" (the draft moves to this device; survey/drafts.py)."""

import streamlit as st

from survey import questionnaire as qn
from survey import store as storage
from survey.drafts import DRAFT_PARAM
from survey.i18n import t

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
state = st.session_state

st.title(t("resume.title", locale))
st.write(t("resume.intro", locale))
st.text_input(
    t("resume.code", locale),
    key="resume_code",
    placeholder=t("delete.code_placeholder", locale),
    autocomplete="off",
)
if st.button(t("resume.button", locale), key="resume_button", type="primary"):
    draft_id = storage.new_token()
    if store.claim_draft(state.get("resume_code") or "", draft_id) is None:
        st.error(t("resume.unknown", locale), icon=":material/error:")
    else:
        # The form reads the draft named in the address, as after a reload.
        for name in [n for n in state if isinstance(n, str) and n.startswith(("q_", "form_"))]:
            if name not in ("form_session_id", "form_history"):
                del state[name]
        st.switch_page("survey/form_page.py", query_params={DRAFT_PARAM: draft_id})
