"""The researchers' publish page: preview what a comparison snapshot would publish, then publish it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from analysis import snapshot
from survey import questionnaire as qn
from survey import store as storage
from survey.validation import paris_today

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
SNAPSHOTS = store.path.parent / "snapshots"


def tr(fr: str, en: str) -> str:
    return en if locale == "en" else fr


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


st.title(tr("Publier", "Publish"))
if not signed_in():
    st.info(
        tr(
            "La publication d'un instantané est réservée aux chercheurs connectés : connectez-vous "
            "depuis le menu « Espace chercheurs » du tableau de bord.",
            "Publishing a snapshot is reserved for signed-in researchers: sign in from the "
            "“Researchers” menu of the dashboard.",
        ),
        icon=":material/lock:",
    )
    st.stop()

st.write(
    tr(
        "Un instantané fige la comparaison à une date : un rapport qui s'ouvre sans réseau "
        "(français et anglais), les tableaux agrégés (CSV, Parquet), leur descripteur et un "
        "manifeste pour le reproduire à l'octet près. Il ne contient que des agrégats des "
        "réponses consenties, non signalées et non synthétiques ; toute valeur reposant sur trop "
        "peu de réponses est masquée.",
        "A snapshot freezes the comparison at a date: a report that opens without a network "
        "(French and English), the aggregate tables (CSV, Parquet), their descriptor and a "
        "manifest to reproduce it byte for byte. It holds only aggregates of consented, "
        "unflagged, non-synthetic responses; every value resting on too few responses is "
        "suppressed.",
    )
)
today = paris_today()
left, right = st.columns(2)
as_of = left.date_input(
    tr("Réponses envoyées jusqu'au", "Responses submitted up to"),
    value=today,
    min_value=qn.EARLIEST_DATE,
    max_value=today,
    key="publish_as_of",
    format="DD/MM/YYYY" if locale == "fr" else "YYYY-MM-DD",
)
min_cell = right.number_input(
    tr("Réponses minimales par valeur publiée", "Minimum responses per published value"),
    min_value=1,
    value=snapshot.DEFAULT_MIN_CELL,
    step=1,
    key="publish_min_cell",
)

with st.spinner(tr("Préparation de l'aperçu…", "Preparing the preview…")):
    result = preview(store, str(store.path), store.data_version(), as_of, int(min_cell))

if isinstance(result, str):
    st.warning(result, icon=":material/block:")
else:
    target = SNAPSHOTS / result.name
    overview = result.overview(locale)
    companies = overview[overview["level"] == "company"]
    metrics = st.columns(4)
    metrics[0].metric(tr("Réponses", "Responses"), f"{result.rows:,}".replace(",", " "))
    metrics[1].metric(
        tr("Entreprises publiées", "Companies published"),
        f"{int(companies['shown'].sum())} / {len(companies)}",
    )
    metrics[2].metric(
        tr("Cases masquées", "Suppressed cells"), int(overview["suppressed_metrics"].sum())
    )
    metrics[3].metric(tr("Dossier", "Folder"), result.name)
    st.caption(
        tr(
            f"Empreinte SHA-256 des lignes d'entrée : `{result.input_sha256}` · dossier `{target}`",
            f"SHA-256 of the input rows: `{result.input_sha256}` · folder `{target}`",
        )
    )
    shown_label = tr("Chiffres publiés", "Figures published")
    st.dataframe(
        pd.DataFrame(
            {
                tr("Entreprise ou groupe", "Company or group"): overview["name"],
                "n": overview["n"],
                shown_label: overview["shown"].map(
                    {True: tr("oui", "yes"), False: tr("effectif seul", "n only")}
                ),
                tr("Indicateurs masqués", "Metrics suppressed"): [
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
        st.caption(
            tr(
                "Un instantané de ce nom existe déjà : republier des fichiers identiques ne "
                "change rien, un contenu différent est refusé.",
                "A snapshot of this name exists: publishing identical files again changes "
                "nothing, different content is refused.",
            )
        )
    if st.button(
        tr("Publier l'instantané", "Publish the snapshot"), key="publish_button", type="primary"
    ):
        try:
            with st.spinner(tr("Écriture…", "Writing…")):
                publication = snapshot.write_snapshot(result, SNAPSHOTS)
        except snapshot.SnapshotRefused as exc:
            st.error(str(exc), icon=":material/block:")
        else:
            if publication.created:
                st.success(
                    tr(
                        f"Publié dans `{publication.folder}` (empreinte `{result.input_sha256}`).",
                        f"Published to `{publication.folder}` (fingerprint "
                        f"`{result.input_sha256}`).",
                    ),
                    icon=":material/check_circle:",
                )
            else:
                st.info(
                    tr(
                        f"Déjà publié, identique : `{publication.folder}`.",
                        f"Already published, identical: `{publication.folder}`.",
                    )
                )

st.subheader(tr("Instantanés publiés", "Published snapshots"))
existing = snapshot.list_snapshots(SNAPSHOTS)
if not existing:
    st.caption(tr("Aucun instantané pour l'instant.", "No snapshot yet."))
else:
    st.dataframe(
        pd.DataFrame(existing)[["snapshot", "as_of", "rows", "min_cell", "clientroi", "sha256"]],
        hide_index=True,
        width="stretch",
        key="publish_existing",
    )
    chosen = st.selectbox(
        tr("Instantané à télécharger", "Snapshot to download"),
        [item["snapshot"] for item in existing],
        key="publish_download_choice",
    )
    st.download_button(
        tr("Télécharger (zip)", "Download (zip)"),
        snapshot.zip_snapshot(SNAPSHOTS / chosen),
        file_name=f"clientroi-{chosen}.zip",
        mime="application/zip",
        key="publish_download",
    )
