"""The accessibility statement (RGAA's « déclaration d'accessibilité »): what was measured,
what is not accessible, how to report a problem and where to turn next."""

from datetime import date

import streamlit as st

from survey import questionnaire as qn
from survey.i18n import date as day_text
from survey.i18n import integer, t

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
# What tests/test_accessibility.py measures, said here in words; the test checks that these
# are the axe-core version it injects (package-lock.json) and the number of page states it runs.
AXE_VERSION = "4.14.1"
PAGE_STATES = 24
STATEMENT_DATE = date(2026, 12, 1)


def contact_address() -> str | None:
    """The team's address for accessibility problems: ``[clientroi] contact_email`` in
    .streamlit/secrets.toml, set by whoever runs the site."""
    try:
        address = st.secrets.get("clientroi", {}).get("contact_email")
    except Exception:  # noqa: BLE001  (no secrets.toml at all)
        return None
    return str(address).strip() or None if address else None


st.title(t("a11y.title", locale))
st.markdown(t("a11y.intro", locale))
st.header(t("a11y.status.title", locale))
st.markdown(t("a11y.status.text", locale))
st.header(t("a11y.measured.title", locale))
st.markdown(
    t(
        "a11y.measured.text",
        locale,
        axe_version=AXE_VERSION,
        states=integer(PAGE_STATES, locale),
    )
)
st.header(t("a11y.gaps.title", locale))
st.markdown(t("a11y.gaps.text", locale))
st.header(t("a11y.report.title", locale))
st.markdown(t("a11y.report.text", locale))
address = contact_address()
if address:
    # The operator's own setting, shown as plain text (never Markdown or HTML).
    st.text(t("a11y.report.contact", locale, address=address))
else:
    st.info(t("a11y.report.no_contact", locale), icon=":material/info:")
st.header(t("a11y.remedy.title", locale))
st.markdown(t("a11y.remedy.text", locale))
st.header(t("a11y.made.title", locale))
st.markdown(t("a11y.made.text", locale, date=day_text(STATEMENT_DATE, locale, style="long")))
