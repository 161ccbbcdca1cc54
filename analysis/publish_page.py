"""The researchers' publish page: preview what a comparison snapshot would publish, then publish it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from analysis import snapshot
from survey import i18n
from survey import questionnaire as qn
from survey import store as storage
from survey.validation import paris_today

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
SNAPSHOTS = store.path.parent / "snapshots"


def t(key: str, **params) -> str:
    """A message of the publish page (``publish.*`` in survey/messages/report.toml)."""
    return i18n.t(f"publish.{key}", locale, **params)


def signed_in() -> bool:
    """Set by app.py for every page (OIDC when configured, else the researcher token)."""
    return bool(st.session_state.get("researcher_signed_in"))


@st.cache_data(show_spinner=False, max_entries=8)
def preview(
    _store: storage.Store, db: str, version: storage.DataVersion, as_of: date, min_cell: int
) -> snapshot.Snapshot | str:
    """The snapshot these settings would publish, or the reason it would be refused."""
    del db, version  # cache keys only
    try:
        return snapshot.prepare_snapshot(_store, as_of=as_of, min_cell=min_cell)
    except snapshot.SnapshotRefused as exc:
        return str(exc)


st.title(t("title"))
if not signed_in():
    st.info(
        t("signed_out"),
        icon=":material/lock:",
    )
    st.stop()

st.write(t("intro"))
today = paris_today()
left, right = st.columns(2)
as_of = left.date_input(
    t("as_of"),
    value=today,
    min_value=qn.EARLIEST_DATE,
    max_value=today,
    key="publish_as_of",
    format="DD/MM/YYYY" if locale == "fr" else "YYYY-MM-DD",
)
min_cell = right.number_input(
    t("min_cell"),
    min_value=1,
    value=snapshot.DEFAULT_MIN_CELL,
    step=1,
    key="publish_min_cell",
)

with st.spinner(t("preparing")):
    result = preview(store, str(store.path), store.data_version(), as_of, int(min_cell))

if isinstance(result, str):
    st.warning(result, icon=":material/block:")
else:
    target = SNAPSHOTS / result.name
    overview = result.overview(locale)
    companies = overview[overview["level"] == "company"]
    metrics = st.columns(4)
    metrics[0].metric(t("rows"), i18n.integer(result.rows, locale))
    metrics[1].metric(
        t("companies_published"),
        f"{i18n.integer(companies['shown'].sum(), locale)} / {i18n.integer(len(companies), locale)}",
    )
    metrics[2].metric(t("suppressed_cells"), int(overview["suppressed_metrics"].sum()))
    metrics[3].metric(t("folder"), result.name)
    st.caption(t("fingerprint", sha256=result.input_sha256, folder=target))
    shown_label = t("column_shown")
    st.dataframe(
        pd.DataFrame(
            {
                t("column_unit"): overview["name"],
                "n": overview["n"],
                shown_label: overview["shown"].map(
                    {True: t("shown_yes"), False: t("shown_n_only")}
                ),
                t("column_suppressed"): [
                    f"{k} / {total}"
                    for k, total in zip(
                        overview["suppressed_metrics"], overview["metrics"], strict=True
                    )
                ],
            }
        ),
        hide_index=True,
        width="stretch",
        key="publish_preview",
    )
    if target.exists():
        st.caption(t("exists"))
    if st.button(t("button"), key="publish_button", type="primary"):
        try:
            with st.spinner(t("writing")):
                publication = snapshot.write_snapshot(result, SNAPSHOTS)
        except snapshot.SnapshotRefused as exc:
            st.error(str(exc), icon=":material/block:")
        else:
            if publication.created:
                st.success(
                    t("published", folder=publication.folder, sha256=result.input_sha256),
                    icon=":material/check_circle:",
                )
            else:
                st.info(t("already", folder=publication.folder))

st.subheader(t("existing"))
existing = snapshot.list_snapshots(SNAPSHOTS)
if not existing:
    st.caption(t("none_yet"))
else:
    st.dataframe(
        pd.DataFrame(existing)[["snapshot", "as_of", "rows", "min_cell", "clientroi", "sha256"]],
        hide_index=True,
        width="stretch",
        key="publish_existing",
    )
    chosen = st.selectbox(
        t("download_choice"),
        [item["snapshot"] for item in existing],
        key="publish_download_choice",
    )
    st.download_button(
        t("download"),
        snapshot.zip_snapshot(SNAPSHOTS / chosen),
        file_name=f"clientroi-{chosen}.zip",
        mime="application/zip",
        key="publish_download",
    )
