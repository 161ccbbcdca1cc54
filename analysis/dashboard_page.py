"""The researchers' dashboard: filters, comparisons with their uncertainty, and (signed in) rows."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import streamlit as st

from analysis import charts, dashboard
from survey import questionnaire as qn
from survey import store as storage
from survey.validation import paris_today

locale: str = st.session_state.get("locale", qn.DEFAULT_LOCALE)
store: storage.Store = st.session_state["store"]
METHODOLOGY = Path(__file__).resolve().parent.parent / "docs" / "methodology.md"


def tr(fr: str, en: str) -> str:
    return en if locale == "en" else fr


@st.cache_data(show_spinner=False, max_entries=24)
def load(
    _store: storage.Store,
    db: str,
    version: storage.DataVersion,
    filters: storage.Filters,
    as_of: date,
) -> tuple[dashboard.Dashboard, int]:
    """Every aggregate of the selection; recomputed only when the data or the filters change."""
    del db, version  # cache keys only
    frame = _store.fetch_responses(
        filters, columns=dashboard.COLUMNS, ordered=False, categorical=True
    )
    return dashboard.compute(frame, as_of=as_of), len(frame)


@st.cache_data(show_spinner=False, max_entries=4)
def source_counts(_store: storage.Store, db: str, version: storage.DataVersion) -> dict:
    del db, version
    return _store.source_counts()


def signed_in() -> bool:
    return bool(st.session_state.get("researcher_signed_in"))


def sign_in_box() -> None:
    with st.sidebar.expander(tr("Espace chercheurs", "Researchers"), expanded=False):
        if signed_in():
            st.caption(
                tr(
                    "Connecté : données ligne à ligne visibles.",
                    "Signed in: row-level data visible.",
                )
            )
            if st.button(tr("Se déconnecter", "Sign out"), key="sign_out"):
                if st.session_state.get("oidc"):
                    st.logout()
                st.session_state["researcher"] = False
                st.rerun()
        elif st.session_state.get("oidc"):
            if st.button(tr("Se connecter", "Sign in"), key="sign_in_oidc"):
                st.login()
        else:
            token = st.text_input(
                tr("Jeton chercheur", "Researcher token"),
                type="password",
                key="researcher_token",
                help=tr("Affiché par `make run` au démarrage.", "Printed by `make run` at start."),
            )
            if st.button(tr("Se connecter", "Sign in"), key="sign_in"):
                if storage.check_researcher_token(store.path, token):
                    st.session_state["researcher"] = True
                    st.rerun()
                else:
                    st.error(tr("Jeton incorrect.", "Wrong token."))


def filter_widgets(only_synthetic: bool) -> storage.Filters:
    side = st.sidebar
    side.header(tr("Filtres", "Filters"))
    company_rows = qn.companies()
    names = {row["id"]: row["name"] for row in company_rows}
    question = qn.QUESTIONS
    sector_names = {k: charts.pick(v, locale) for k, v in charts.SECTOR_LABELS.items()}
    origin_names = {"fr": tr("Française", "French"), "foreign": tr("Étrangère", "Foreign")}
    every = tr("Tous", "All")
    chosen: dict[str, tuple[str, ...]] = {}
    # (filter, widget key = URL parameter, label, options, label of an option)
    for field, key, label, options, label_of in (
        ("companies", "company", tr("Entreprises", "Companies"), list(names), names.get),
        ("sectors", "sector", tr("Secteur", "Sector"), list(sector_names), sector_names.get),
        ("origins", "origin", tr("Origine", "Origin"), list(origin_names), origin_names.get),
        *(
            (
                field,
                qid,
                question[qid].label(locale)
                if qid != "department"
                else tr("Départements", "Départements"),
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
                placeholder=tr("Toutes", "All") if key in ("company", "origin") else every,
            )
        )
    started_from = side.date_input(
        tr("Début du problème, à partir du", "Problem started from"),
        value=None,
        min_value=qn.EARLIEST_DATE,
        max_value=paris_today(),
        key="from",
        bind="query-params",
        format="DD/MM/YYYY" if locale == "fr" else "YYYY-MM-DD",
    )
    started_to = side.date_input(
        tr("… jusqu'au", "… until"),
        value=None,
        min_value=qn.EARLIEST_DATE,
        max_value=paris_today(),
        key="to",
        bind="query-params",
        format="DD/MM/YYYY" if locale == "fr" else "YYYY-MM-DD",
    )
    synthetic = side.toggle(
        tr("Inclure les données synthétiques", "Include synthetic data"),
        value=only_synthetic,
        key="synthetic",
        bind="query-params",
    )
    flagged = side.toggle(
        tr(
            "Inclure les réponses signalées (robot, trop rapides, doublons)",
            "Include flagged responses (bot, too fast, duplicates)",
        ),
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


# --- the page ---------------------------------------------------------------------------------


st.title(tr("Tableau de bord", "Dashboard"))
version = store.data_version()
sources = source_counts(store, str(store.path), version)
only_synthetic = bool(sources) and set(sources) == {"synthetic"}
filters = filter_widgets(only_synthetic)
sign_in_box()
if filters.include_synthetic and sources.get("synthetic"):
    st.warning(
        tr(
            "**Données synthétiques** incluses : elles illustrent l'outil et ne mesurent rien.",
            "**Synthetic data** included: it shows the tool at work and measures nothing.",
        ),
        icon=":material/science:",
    )

as_of = paris_today()
with st.spinner(tr("Calcul…", "Computing…")):
    view, n = load(store, str(store.path), version, filters, as_of)

if n == 0:
    st.info(
        tr("Aucune réponse ne correspond à ces filtres.", "No responses match these filters."),
        icon=":material/filter_alt_off:",
    )
    st.stop()

if not signed_in():
    # The public sees what a published snapshot would show: nothing resting on fewer than
    # 10 responses, so that no filter combination can single out one respondent.
    view = dashboard.protect(view)
    st.caption(
        tr(
            f"Vue publique : tout chiffre reposant sur moins de {dashboard.PUBLIC_MIN_CELL} "
            "réponses est masqué. Les chercheurs connectés voient tout.",
            f"Public view: any figure resting on fewer than {dashboard.PUBLIC_MIN_CELL} "
            "responses is masked. Signed-in researchers see everything.",
        )
    )
table, groups = view.companies, view.groups
names = {
    company: dashboard.company_label(company, name, locale)
    for company, name in zip(table["company"], table["company_name"], strict=True)
}
design = groups[
    groups["sector"].isin(charts.SECTOR_LABELS) & groups["origin"].isin(charts.ORIGIN_LABELS)
]


def forest(family: str) -> None:
    """One metric across companies: estimate, 95% interval and n per company."""
    metric = charts.METRICS[family]
    st.altair_chart(
        charts.forest_chart(
            table,
            estimate=metric.estimate,
            low=metric.low,
            high=metric.high,
            n=metric.n,
            percent=metric.percent,
            title=charts.pick(metric.title, locale),
            x_title=charts.pick(metric.axis, locale),
        ),
        width="stretch",
    )


def curves(frame, kind: str) -> None:
    """Kaplan-Meier curves per company with their 95% bands."""
    curve = charts.CURVES[kind]
    st.altair_chart(
        charts.survival_chart(
            frame,
            names,
            horizon=curve.horizon,
            title=charts.pick(curve.title, locale),
            x_title=charts.pick(curve.x_title, locale),
            y_title=charts.pick(curve.y_title, locale),
        ),
        width="stretch",
    )


st.caption(
    tr(
        f"{n:,} réponses · au {as_of:%d/%m/%Y} · intervalles de confiance à 95 % · "
        "▲/▼ : meilleur/pire que toutes les autres après correction de Benjamini-Hochberg",
        f"{n:,} responses · as of {as_of:%Y-%m-%d} · 95% confidence intervals · "
        "▲/▼: better/worse than all others after Benjamini-Hochberg correction",
    ).replace(",", " ")
)

tabs = st.tabs(
    [
        tr("Synthèse", "Headline"),
        tr("Délais de résolution", "Resolution time"),
        tr("Remboursements", "Refunds"),
        tr("Déplacements et effort", "Trips and effort"),
        tr("Dépannage et rappels", "Loaners and callbacks"),
        tr("France ou secteur ?", "France or the sector?"),
        tr("Méthodologie", "Methodology"),
        tr("Données", "Data"),
    ]
)

with tabs[0]:
    st.dataframe(
        dashboard.headline_table(table, locale),
        hide_index=True,
        key="headline_companies",
        width="stretch",
    )
    st.subheader(tr("Par secteur et origine", "By sector and origin"))
    st.dataframe(
        dashboard.headline_table(groups, locale, label_column="group"),
        hide_index=True,
        key="headline_groups",
        width="stretch",
    )

with tabs[1]:
    curves(view.resolution_curves, "resolution")
    st.caption(
        tr(
            "Nombre d'incidents encore suivis (à risque) aux jours indiqués",
            "Incidents still followed (at risk) at the given days",
        )
    )
    at_risk = dashboard.at_risk_table(view.resolution_curves)
    at_risk.index = [names.get(i, i) for i in at_risk.index]
    st.dataframe(at_risk, width="stretch", key="at_risk")
    naive = view.naive.assign(company_name=view.naive["company"].map(names))
    st.info(
        tr(
            "**Pourquoi pas une simple moyenne ?** Faire la moyenne des seuls incidents résolus "
            "oublie ceux qui durent encore : l'entreprise qui laisse traîner paraît plus rapide. "
            "Ici, les incidents en cours comptent pour « au moins jusqu'au jour du témoignage ».",
            "**Why not a plain average?** Averaging only resolved incidents forgets those still "
            "open: the company that lets things drag looks faster. Here, open incidents count as "
            "lasting “at least until the day of the report”.",
        ),
        icon=":material/lightbulb:",
    )
    st.dataframe(
        naive.rename(
            columns={
                "company_name": tr("Entreprise", "Company"),
                "resolution_median_days": tr("Médiane Kaplan-Meier (j)", "Kaplan-Meier median (d)"),
                "resolution_n": "n",
                "naive_mean_days": tr(
                    "Moyenne naïve des résolus (j)", "Naive mean of resolved (d)"
                ),
                "naive_n": tr("n résolus", "n resolved"),
                "open_share": tr("Part non résolue", "Share not resolved"),
            }
        ).drop(columns=["company"]),
        hide_index=True,
        width="stretch",
        key="naive",
        column_config={
            tr("Part non résolue", "Share not resolved"): st.column_config.NumberColumn(
                format="percent"
            )
        },
    )

with tabs[2]:
    forest("refund_success")
    if not view.refund_curves.empty:
        curves(view.refund_curves, "refund_time")

with tabs[3]:
    forest("wasted_trips")
    st.altair_chart(
        charts.distribution_chart(
            view.trips,
            names,
            title=tr("Répartition des déplacements pour rien", "Distribution of wasted trips"),
            x_title=tr("part des incidents", "share of incidents"),
            legend=tr("déplacements", "trips"),
        ),
        width="stretch",
    )
    km = (
        table[["company_name", "wasted_km_total", "wasted_km_n"]]
        .assign(company_name=table["company"].map(names))
        .rename(
            columns={
                "company_name": tr("Entreprise", "Company"),
                "wasted_km_total": tr(
                    "Kilomètres pour rien (total)", "Kilometres for nothing (total)"
                ),
                "wasted_km_n": "n",
            }
        )
    )
    st.dataframe(km, hide_index=True, width="stretch", key="km")
    forest("useless_visits")
    forest("effort")

with tabs[4]:
    st.altair_chart(
        charts.stages_chart(
            table,
            [
                ("loaner_offered", tr("proposé", "offered")),
                ("loaner_obtained", tr("obtenu, si proposé", "obtained, when offered")),
                (
                    "loaner_cut",
                    tr("coupé avant la fin, si obtenu", "cut before the end, when obtained"),
                ),
            ],
            title=tr(
                "Matériel de dépannage : de la proposition à la coupure",
                "Loaner equipment: from offer to cut-off",
            ),
            x_title=tr("part (IC de Wilson 95 %)", "share (95% Wilson CI)"),
        ),
        width="stretch",
    )
    forest("false_resolved")
    forest("callbacks_kept")

with tabs[5]:
    st.write(charts.pick(charts.SECTOR_ORIGIN_INTRO, locale))
    for family in charts.SECTOR_ORIGIN_METRICS:
        metric = charts.METRICS[family]
        st.altair_chart(
            charts.sector_origin_chart(
                design,
                estimate=metric.estimate,
                low=metric.low,
                high=metric.high,
                n=metric.n,
                title=charts.pick(metric.title, locale),
                sector_labels={k: charts.pick(v, locale) for k, v in charts.SECTOR_LABELS.items()},
                origin_labels={k: charts.pick(v, locale) for k, v in charts.ORIGIN_LABELS.items()},
                percent=metric.percent,
                legend="%" if metric.percent else tr("jours", "days"),
            ),
            width="stretch",
        )

with tabs[6]:
    if METHODOLOGY.exists():
        st.markdown(METHODOLOGY.read_text(encoding="utf-8"))

with tabs[7]:
    if not signed_in():
        st.info(
            tr(
                "Les données ligne à ligne et les récits sont réservés aux chercheurs "
                "connectés (menu « Espace chercheurs »).",
                "Row-level data and narratives are for signed-in researchers (“Researchers” menu).",
            ),
            icon=":material/lock:",
        )
    else:
        rows = store.fetch_responses(filters)
        st.caption(
            tr(
                f"{len(rows)} réponses (aperçu des 1 000 plus récentes)",
                f"{len(rows)} responses (preview of the 1,000 most recent)",
            )
        )
        st.dataframe(rows.tail(1000).iloc[::-1], hide_index=True, key="rows", width="stretch")
        st.subheader(tr("Récits", "Narratives"))
        stories = rows[rows["narrative"].notna()].tail(20).iloc[::-1]
        for _, story in stories.iterrows():
            with st.container(border=True):
                st.caption(
                    f"{story['company_name'] or story['company']} · {story['started_on']:%Y-%m-%d}"
                )
                st.text(story["narrative"])  # plain text: never HTML, never Markdown
        columns = st.columns(2)
        for column, fmt in zip(columns, ("csv", "parquet"), strict=True):
            if column.button(
                tr(f"Préparer l'export {fmt.upper()}", f"Prepare {fmt.upper()} export"),
                key=f"prepare_{fmt}",
            ):
                with tempfile.TemporaryDirectory() as folder:
                    out = Path(folder) / f"clientroi.{fmt}"
                    store.export(out, fmt=fmt, filters=filters)
                    st.session_state[f"export_{fmt}"] = out.read_bytes()
            if st.session_state.get(f"export_{fmt}"):
                column.download_button(
                    tr(f"Télécharger ({fmt.upper()})", f"Download ({fmt.upper()})"),
                    st.session_state[f"export_{fmt}"],
                    file_name=f"clientroi.{fmt}",
                    key=f"download_{fmt}",
                )
