"""The web face of Client Roi: page config, language switch, cached store, who is signed in,
then routing. Pages read ``locale``, ``store``, ``oidc`` and ``researcher_signed_in`` from the
session state set here. Every string shown here comes from the catalogue (survey/messages/)."""

import json

import streamlit as st

from survey import i18n
from survey import store as storage
from survey.i18n import t

# The shared setup (one stderr handler, level from $CLIENTROI_LOG_LEVEL): safe on every rerun.
storage.configure_logging()


@st.cache_resource(show_spinner=False)
def open_store(path: str) -> storage.Store:
    # Kept open while busy (fast submissions), released after 2 s idle so the CLI can work;
    # the same object as the process's background warming of the dashboard uses.
    return storage.app_store(path)


if "locale" not in st.session_state:
    requested = st.query_params.get("lang")
    st.session_state["locale"] = requested if requested in i18n.LOCALES else i18n.DEFAULT_LOCALE
locale = st.session_state["locale"]
st.session_state["store"] = open_store(str(storage.default_db_path()))


def oidc_configured() -> bool:
    """An OpenID Connect provider in .streamlit/secrets.toml ([auth]) replaces the token."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001  (no secrets.toml at all)
        return False


def oidc_researcher() -> bool:
    """Signed in with the provider *and* on the researchers' list: a provider such as Google
    lets anyone log in, so [clientroi] researchers (e-mails) or researcher_domains decide."""
    if not getattr(st.user, "is_logged_in", False):
        return False
    email = str(getattr(st.user, "email", "") or "").lower()
    allowed = st.secrets.get("clientroi", {})
    emails = {e.lower() for e in allowed.get("researchers", [])}
    domains = {d.lower().lstrip("@") for d in allowed.get("researcher_domains", [])}
    return bool(email) and (email in emails or email.rpartition("@")[2] in domains)


st.session_state["oidc"] = oidc_configured()
st.session_state["researcher_signed_in"] = (
    oidc_researcher() if st.session_state["oidc"] else bool(st.session_state.get("researcher"))
)

pages = [
    st.Page(
        "survey/form_page.py", title=t("app.page.form", locale), url_path="temoigner", default=True
    ),
    st.Page("survey/update_page.py", title=t("app.page.update", locale), url_path="completer"),
    st.Page("survey/resume_page.py", title=t("app.page.resume", locale), url_path="reprendre"),
    st.Page("survey/delete_page.py", title=t("app.page.delete", locale), url_path="supprimer"),
    st.Page(
        "analysis/dashboard_page.py", title=t("app.page.dashboard", locale), url_path="tableau"
    ),
    st.Page("analysis/publish_page.py", title=t("app.page.publish", locale), url_path="publier"),
    st.Page(
        "survey/accessibility_page.py",
        title=t("app.page.accessibility", locale),
        url_path="accessibilite",
    ),
]
page = st.navigation(pages, position="top")
st.set_page_config(
    page_title=t("app.browser_title", locale, page=page.title),
    page_icon=":material/support_agent:",
    layout="wide" if page.url_path == "tableau" else "centered",
)
st.segmented_control(
    t("language", locale),
    i18n.LOCALES,
    # Each language named in itself (autonyms), the same whatever the current locale.
    format_func={"fr": "Français", "en": "English"}.get,
    key="locale",
    required=True,
    label_visibility="collapsed",
)
# Streamlit's page says <html lang="en"> whatever the language, and names its own controls in
# English ("Help for ...", "Clear date"): a screen reader would read French with English sounds
# (WCAG 3.1.1, 3.1.2). This script sets the language and swaps those names (catalogue keys
# streamlit.*, both ways, so a switch back to English restores them). No user text here.
# The observer renames only what changed (the elements added, with what they hold, and the
# names set again): a scan of the whole page at each change took 10-46 ms of the browser's
# main thread to a dashboard's first chart at 1M (1,500 elements, 30-40 changes); 1.6-3.2 ms.
STREAMLIT_NAMES = (
    *("link_to_heading", "expand_sidebar", "collapse_sidebar", "sidebar", "main_menu"),
    *(
        "app_pages",
        "open",
        "clear",
        "clear_value",
        "clear_all",
        "clear_date",
        "fullscreen",
        "close_fullscreen",
    ),
    *("download_csv", "search", "show_hide_columns", "show_password", "hide_password"),
    *("scroll_tabs_left", "scroll_tabs_right", "running", "progress"),
)
names = {
    i18n.t(f"streamlit.{name}", other): i18n.t(f"streamlit.{name}", locale)
    for name in STREAMLIT_NAMES
    for other in i18n.LOCALES
    if other != locale
}
prefixes = {i18n.t("streamlit.help_for", o): t("streamlit.help_for", locale) for o in i18n.LOCALES}
st.html(
    "<script>(() => {document.documentElement.lang = "
    + json.dumps(locale)
    + ";\nwindow.clientroiNames = "
    + json.dumps(names)
    + ";\nwindow.clientroiPrefixes = "
    + json.dumps(prefixes)
    + """;
const rename = (element, attribute) => {
  const value = element.getAttribute(attribute);
  if (!value) return;
  let renamed = window.clientroiNames[value];
  for (const [from, to] of Object.entries(window.clientroiPrefixes)) {
    if (renamed === undefined && from !== to && value.startsWith(from)) {
      renamed = to + value.slice(from.length);
    }
  }
  if (renamed !== undefined && renamed !== value) element.setAttribute(attribute, renamed);
};
const renameAll = (root) => {
  if (root.nodeType !== Node.ELEMENT_NODE) return;
  rename(root, "aria-label");
  rename(root, "title");
  for (const element of root.querySelectorAll("[aria-label], [title]")) {
    rename(element, "aria-label");
    rename(element, "title");
  }
};
const renameChanged = (records) => {
  for (const record of records) {
    if (record.type === "attributes") rename(record.target, record.attributeName);
    else record.addedNodes.forEach(renameAll);
  }
};
if (!window.clientroiRenamer) {
  window.clientroiRenamer = new MutationObserver(renameChanged);
  window.clientroiRenamer.observe(document.body, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["aria-label", "title"],
  });
}
renameAll(document.body);})();</script>""",
    unsafe_allow_javascript=True,
)
page.run()
