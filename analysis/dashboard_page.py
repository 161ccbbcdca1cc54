"""The researchers' dashboard: filters, comparisons with their uncertainty, and (signed in) rows."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import tempfile
import time
from importlib import resources
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.elements import vega_charts

from analysis import charts, dashboard, dashboard_parts, disclosure, kpis, metrics
from analysis.snapshot import releases
from survey import i18n
from survey import questionnaire as qn
from survey import store as storage
from survey.validation import paris_today

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
DOCS = resources.files("analysis") / "docs"  # package data: the methodology ships with it
# (button key, store format, CSV dialect, file suffix): csv-fr is the French Excel reading
# (';' and UTF-8 with a byte order mark); sav: SPSS, dta: Stata
EXPORTS = (
    ("csv", "csv", "comma", "csv"),
    ("csv-fr", "csv", "fr", "csv"),
    ("parquet", "parquet", None, "parquet"),
    ("sav", "sav", None, "sav"),
    ("dta", "dta", None, "dta"),
)
PREVIEW_ROWS = 1000
MISSING = "—"  # what a table shows for a missing or masked figure (Streamlit says "None")
log = logging.getLogger("clientroi.dashboard")


def t(key: str, **params) -> str:
    return i18n.t(key, locale, **params)


def methodology():
    """The methodology in the page's language (analysis/docs/methodology.<locale>.md)."""
    return DOCS / f"methodology.{locale}.md"


def export_bytes(fmt: str, dialect: str | None = None, suffix: str | None = None) -> bytes:
    """The filtered responses in ``fmt``, column labels in the reader's language where the
    store supports it (``lang``, with the SPSS and Stata formats)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"clientroi.{suffix or fmt}"
        options = {"dialect": dialect} if dialect else {}
        store.export(out, fmt=fmt, filters=filters, lang=locale, **options)
        return out.read_bytes()


@st.cache_data(show_spinner=False, max_entries=4)
def source_counts(_store: storage.Store, db: str, version: storage.DataVersion) -> dict:
    del db, version
    return _store.source_counts()


@st.cache_data(show_spinner=False, max_entries=4)
def launch_date(_store: storage.Store, db: str, version: storage.DataVersion):
    """The survey's opening: a scan of the responses (0.2 s at a million), once per version."""
    del db, version
    return _store.launch_date()


def signed_in() -> bool:
    return bool(st.session_state.get("researcher_signed_in"))


FREE_ATTEMPTS = 3  # failed sign-ins before each attempt waits (2 s, 4 s, ... up to 30 s)


@st.cache_resource
def _failed_sign_ins() -> dict:
    """Failed sign-ins per keyed client address, in memory only (never written to disk)."""
    return {"salt": secrets.token_bytes(16), "day": None, "counts": {}}


def _client_key() -> str | None:
    """A keyed hash of the client address, salt rotated daily; the address is not kept."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context (tests, bare mode)
        return None
    if not isinstance(address, str) or not address:
        return None
    table = _failed_sign_ins()
    today = paris_today()
    if table["day"] != today:  # a new day: a new salt, yesterday's counts forgotten
        table.update(salt=secrets.token_bytes(16), day=today, counts={})
    return hmac.new(table["salt"], address.encode(), hashlib.sha256).hexdigest()


def sign_in_failures() -> int:
    """Failed sign-ins of this session or of this client address today, the larger."""
    key = _client_key()
    by_address = _failed_sign_ins()["counts"].get(key, 0) if key else 0
    return max(int(st.session_state.get("failed_sign_ins", 0)), by_address)


def sign_in_delay(failures: int) -> float:
    """Seconds an attempt waits after ``failures`` failed ones."""
    return 0.0 if failures < FREE_ATTEMPTS else float(min(2 ** (failures - FREE_ATTEMPTS + 1), 30))


def record_failed_sign_in() -> None:
    st.session_state["failed_sign_ins"] = int(st.session_state.get("failed_sign_ins", 0)) + 1
    key = _client_key()
    counts = _failed_sign_ins()["counts"]
    if key:
        counts[key] = counts.get(key, 0) + 1
    # neither the token tried nor the address: the count and a key that changes daily
    log.warning(
        "failed researcher sign-in (%d in this session; client %s)",
        st.session_state["failed_sign_ins"],
        key[:12] if key else "unknown",
    )


def sign_in_box() -> None:
    with st.sidebar.expander(t("dashboard.researchers.box"), expanded=False):
        if signed_in():
            st.caption(t("dashboard.researchers.signed_in"))
            if st.button(t("dashboard.researchers.sign_out"), key="sign_out"):
                if st.session_state.get("oidc"):
                    st.logout()
                st.session_state["researcher"] = False
                st.rerun()
        elif st.session_state.get("oidc"):
            if st.button(t("dashboard.researchers.sign_in"), key="sign_in_oidc"):
                st.login()
        else:
            token = st.text_input(
                t("dashboard.researchers.token"),
                type="password",
                key="researcher_token",
                help=t("dashboard.researchers.token_help"),
            )
            if st.button(t("dashboard.researchers.sign_in"), key="sign_in"):
                failures = sign_in_failures()
                time.sleep(sign_in_delay(failures))  # slowed after a few failed attempts
                if storage.check_researcher_token(store.path, token):
                    st.session_state["researcher"] = True
                    st.rerun()
                else:
                    record_failed_sign_in()
                    st.error(t("dashboard.researchers.wrong_token"))


def filter_widgets(only_synthetic: bool) -> storage.Filters:
    side = st.sidebar
    side.header(t("dashboard.filters.header"))
    company_rows = qn.companies()
    names = {row["id"]: row["name"] for row in company_rows}
    question = qn.QUESTIONS
    sector_names = {k: charts.pick(v, locale) for k, v in metrics.SECTOR_LABELS.items()}
    origin_names = {k: charts.pick(v, locale) for k, v in metrics.ORIGIN_LABELS.items()}
    every = t("dashboard.filters.all_masculine")
    chosen: dict[str, tuple[str, ...]] = {}
    # (filter, widget key = URL parameter, label, options, label of an option)
    for field, key, label, options, label_of in (
        ("companies", "company", t("dashboard.filters.companies"), list(names), names.get),
        ("sectors", "sector", t("dashboard.filters.sector"), list(sector_names), sector_names.get),
        ("origins", "origin", t("dashboard.filters.origin"), list(origin_names), origin_names.get),
        *(
            (
                field,
                qid,
                question[qid].label(locale)
                if qid != "department"
                else t("dashboard.filters.departments"),
                list(question[qid].choice_values()),
                lambda value, qid=qid: question[qid].choice_label(value, locale),
            )
            for field, qid in (
                ("problems", "problem"),
                ("services", "service"),
                ("departments", "department"),
            )
        ),
    ):
        chosen[field] = tuple(
            side.multiselect(
                label,
                options,
                format_func=label_of,
                key=key,
                bind="query-params",
                placeholder=t("dashboard.filters.all_feminine")
                if key in ("company", "origin")
                else every,
            )
        )
    started_from = side.date_input(
        t("dashboard.filters.started_from"),
        value=None,
        min_value=qn.EARLIEST_DATE,
        max_value=paris_today(),
        key="from",
        bind="query-params",
        format="DD/MM/YYYY" if locale == "fr" else "YYYY-MM-DD",
    )
    started_to = side.date_input(
        t("dashboard.filters.started_to"),
        value=None,
        min_value=qn.EARLIEST_DATE,
        max_value=paris_today(),
        key="to",
        bind="query-params",
        format="DD/MM/YYYY" if locale == "fr" else "YYYY-MM-DD",
    )
    synthetic = side.toggle(
        t("dashboard.filters.synthetic"),
        value=only_synthetic,
        key="synthetic",
        bind="query-params",
    )
    flagged = side.toggle(
        t("dashboard.filters.flagged"),
        value=False,
        key="flagged",
        bind="query-params",
    )
    return storage.Filters(
        **chosen,
        started_from=started_from,
        started_to=started_to,
        include_synthetic=synthetic,
        include_flagged=flagged,
    )


def public_filters(only_synthetic: bool) -> storage.Filters:
    """The public's one view: every listed company, every period; only the synthetic data
    (not people) can be shown or hidden. Free filters are for signed-in researchers."""
    side = st.sidebar
    side.header(t("dashboard.filters.header"))
    side.info(
        t(
            "dashboard.filters.public",
            month=i18n.date(releases.last_full_month_end(paris_today()), locale),
        ),
        icon=":material/lock:",
    )
    synthetic = side.toggle(
        t("dashboard.filters.synthetic"), value=only_synthetic, key="synthetic", bind="query-params"
    )
    return storage.Filters(include_synthetic=synthetic)


# --- the page ---------------------------------------------------------------------------------


st.title(t("dashboard.title"))
version = dashboard.data_version(store)  # (a stat of the file when nothing changed)
sources = source_counts(store, str(store.path), version)
only_synthetic = bool(sources) and set(sources) == {"synthetic"}
public = not signed_in()
if public:
    # The public sees one fixed view, as of the end of the last full month (the release
    # cadence), never free queries: two filter sets one respondent apart cannot be differenced.
    filters = public_filters(only_synthetic)
    as_of = releases.last_full_month_end(paris_today())
else:
    filters = filter_widgets(only_synthetic)
    as_of = paris_today()
sign_in_box()
if filters.include_synthetic and sources.get("synthetic"):
    st.warning(t("dashboard.synthetic_banner"), icon=":material/science:")

# Computed once per data version and filter set for every session (and the public view in
# advance, by the app process's background warming); the public view comes under the
# disclosure control: nothing resting on fewer than MIN_CELL responses, as in a snapshot.
with st.spinner(t("dashboard.computing")):
    view = dashboard.view_for(
        store,
        filters,
        as_of=as_of,
        public=public,
        version=version,
        launch=launch_date(store, str(store.path), version),
    )
n = view.n

if n == 0:
    st.info(t("dashboard.no_match"), icon=":material/filter_alt_off:")
    st.stop()

if public:
    st.caption(t("dashboard.public_view", min_cell=i18n.integer(disclosure.MIN_CELL, locale)))
# (Streamlit's conversion of a chart, the one the background warming was given too)
dashboard_parts.use_converter(vega_charts._convert_altair_to_vega_lite_spec)
parts = dashboard_parts.of(view, locale)  # what this view draws, built once (or in advance)


def draw_spec(spec: dict) -> None:
    """A chart from its shared Vega-Lite spec (:func:`analysis.dashboard_parts.vega_lite`:
    Streamlit's own conversion, as ``st.altair_chart`` would make it)."""
    # Streamlit takes the datasets out of the spec it is given: a copy of the top level.
    drawn = dict(spec)
    if "datasets" in drawn:
        drawn["datasets"] = dict(drawn["datasets"])
    st.vega_lite_chart(spec=drawn, width="stretch")


def figures(title: str, frame: pd.DataFrame, *, folded: bool = True) -> None:
    """A chart's text alternative (WCAG 1.1.1): its figures as a plain HTML table, under it,
    folded in an expander (``folded=False`` inside an expander, which cannot hold another)."""
    if folded:
        with st.expander(t("chart.alt.expander", title=title)):
            st.table(frame.set_index(frame.columns[0]))
    else:
        st.caption(t("chart.alt.expander", title=title))
        st.table(frame.set_index(frame.columns[0]))


def drawn(part: dashboard_parts.Drawn, *, folded: bool = True) -> None:
    """A shared chart and its figures."""
    draw_spec(part.spec)
    figures(part.title, part.figures, folded=folded)


def forest(family: str) -> None:
    """One metric across companies: estimate, 95% interval and n per company."""
    drawn(parts.forest(family))


st.caption(
    t(
        "dashboard.summary",
        responses=i18n.plural(n, "responses", locale),
        as_of=i18n.date(as_of, locale),
    )
)


def headline_tab() -> None:
    """The companies' and the groups' headline tables, then the cuts (by problem, by year)."""
    st.dataframe(
        parts.headline(),
        hide_index=True,
        key="headline_companies",
        placeholder=MISSING,
        width="stretch",
    )
    st.subheader(t("dashboard.by_sector_origin"))
    st.dataframe(
        parts.headline_groups(),
        hide_index=True,
        key="headline_groups",
        placeholder=MISSING,
        width="stretch",
    )
    for by in parts.cuts():
        st.subheader(t(f"dashboard.cut.title_{by}"))
        st.dataframe(
            parts.cut(by),
            hide_index=True,
            key=f"cut_{by}",
            placeholder=MISSING,
            width="stretch",
        )


def resolution_tab() -> None:
    """The time to resolution: Kaplan-Meier curves, the numbers at risk, the naive figures."""
    drawn(parts.curves("resolution"))
    st.caption(t("dashboard.at_risk_caption"))
    st.dataframe(
        parts.at_risk(),
        width="stretch",
        key="at_risk",
        placeholder=MISSING,
    )
    st.info(t("dashboard.naive.why"), icon=":material/lightbulb:")
    open_share = t("dashboard.naive.open_share")
    st.dataframe(
        parts.naive(),
        hide_index=True,
        width="stretch",
        key="naive",
        placeholder=MISSING,
        column_config={open_share: st.column_config.NumberColumn(format="percent")},
    )


def refunds_tab() -> None:
    """Refunds: success across companies, then the time to a refund."""
    forest("refund_success")
    if not view.refund_curves.empty:
        drawn(parts.curves("refund_time"))


def trips_tab() -> None:
    """Trips and effort: wasted trips, their distribution and kilometres, visits, effort."""
    forest("wasted_trips")
    drawn(parts.trips())
    st.dataframe(
        parts.kilometres(),
        hide_index=True,
        width="stretch",
        key="km",
        placeholder=MISSING,
    )
    forest("useless_visits")
    forest("effort")


def loaners_tab() -> None:
    """Loaners (offered, obtained, cut), false resolutions, callbacks kept."""
    drawn(parts.loaners())
    forest("false_resolved")
    forest("callbacks_kept")


def design_tab() -> None:
    """ "France or the sector?": the verdict, the effects and their inputs, the pooled cells."""
    answer = view.design
    if answer is None or answer.effects.empty:
        st.info(t("dashboard.design.none"), icon=":material/info:")
    else:
        metric_id = st.segmented_control(
            t("dashboard.design.metric_label"),
            kpis.DESIGN_METRICS,
            format_func=lambda m: t(f"dashboard.design.metric.{m}"),
            default=kpis.DESIGN_METRICS[0],
            required=True,
            key="design_metric",
        )
        shown = parts.design(metric_id)
        percent, effects, inputs = shown.percent, shown.effects, shown.inputs
        st.subheader(t("dashboard.design.verdict"))
        for sentence in shown.verdict:
            st.text(sentence)
        st.caption(t("dashboard.design.caveat"))
        # Its text alternative is the effects table drawn right under it (design_effects).
        draw_spec(shown.effects_spec)
        st.dataframe(
            shown.effects_table,
            hide_index=True,
            width="stretch",
            key="design_effects",
            placeholder=MISSING,
        )
        model = effects.iloc[0]
        shared = answer.shared_types.get(metric_id, ())
        st.caption(
            t(
                "dashboard.design.model",
                method=str(model["method"]),
                tau2=i18n.number(model["tau2"] * (1e4 if percent else 1.0), locale, digits=2),
                i2=i18n.number(model["i2"], locale, digits=0),
                types=", ".join(shared),
            )
        )
        st.subheader(t("dashboard.design.groups"))
        st.dataframe(
            shown.groups_table,
            hide_index=True,
            width="stretch",
            key="design_groups",
            placeholder=MISSING,
        )
        st.caption(t("dashboard.design.weights_note"))
        drawn(shown.inputs_drawn)
        coverage = i18n.percent(float(inputs["coverage"].mean()), locale) if len(inputs) else "NA"
        st.caption(t("dashboard.design.inputs_note", coverage=coverage))
    with st.expander(t("dashboard.design.pooled")):
        st.write(charts.pick(charts.SECTOR_ORIGIN_INTRO, locale))
        for family in charts.SECTOR_ORIGIN_METRICS:
            drawn(parts.sector_origin(family), folded=False)


def methodology_tab() -> None:
    """The methodology in the page's language."""
    document = methodology()
    if document.is_file():
        # the first line links to the other language's file, which the tab replaces
        st.markdown(document.read_text(encoding="utf-8").split("\n", 1)[1])


def data_tab() -> None:
    """The rows, the narratives and the exports: signed-in researchers only."""
    if not signed_in():
        st.info(t("dashboard.data.locked"), icon=":material/lock:")
    else:
        rows = store.fetch_responses(filters)
        st.caption(
            i18n.plural(
                len(rows),
                "dashboard.data.preview",
                locale,
                preview=i18n.integer(PREVIEW_ROWS, locale),
            )
        )
        st.dataframe(
            rows.tail(PREVIEW_ROWS).iloc[::-1], hide_index=True, key="rows", width="stretch"
        )
        st.subheader(t("dashboard.data.narratives"))
        stories = rows[rows["narrative"].notna()].tail(20).iloc[::-1]
        for _, story in stories.iterrows():
            with st.container(border=True):
                started = story["started_on"]
                day = i18n.date(started.date(), locale) if pd.notna(started) else ""
                st.caption(f"{story['company_name'] or story['company']} · {day}")
                st.text(story["narrative"])  # plain text: never HTML, never Markdown
        for column, (fmt, kind, dialect, suffix) in zip(
            st.columns(len(EXPORTS)), EXPORTS, strict=True
        ):
            label = t("dashboard.data.csv_fr") if fmt == "csv-fr" else fmt.upper()
            if column.button(t("dashboard.data.prepare", format=label), key=f"prepare_{fmt}"):
                try:
                    st.session_state[f"export_{fmt}"] = export_bytes(kind, dialect, suffix)
                except ValueError as error:  # a format the store does not write yet
                    column.error(t("dashboard.data.export_failed", format=label, reason=error))
            if st.session_state.get(f"export_{fmt}"):
                column.download_button(
                    t("dashboard.data.download", format=label),
                    st.session_state[f"export_{fmt}"],
                    file_name=f"clientroi{'-fr' if fmt == 'csv-fr' else ''}.{suffix}",
                    key=f"download_{fmt}",
                )


TABS = {
    "headline": headline_tab,
    "resolution": resolution_tab,
    "refunds": refunds_tab,
    "trips": trips_tab,
    "loaners": loaners_tab,
    "design": design_tab,
    "methodology": methodology_tab,
    "data": data_tab,
}


@st.fragment
def tabbed() -> None:
    """The tabs. Only the selected tab runs and is sent (the others on their first click,
    from the shared view): the first chart of a visit waits for one tab, not eight; the tab
    is in the address. A fragment: a click on a tab reruns this function only, not app.py
    and the page's head (the browser redraws the tab, not the whole page); new data since
    the page was drawn (a new submission, an import) reruns the whole page instead, its head
    and figures from the new view (the check: a stat of the file, no query)."""
    if dashboard.data_version(store) != version:
        st.rerun(scope="app")
    tabs = st.tabs(
        [t(f"dashboard.tab.{tab}") for tab in TABS],
        key="tab",
        on_change="rerun",
        bind="query-params",
    )
    for tab, draw in zip(tabs, TABS.values(), strict=True):
        if tab.open:
            with tab:
                draw()


tabbed()
