"""What the dashboard shows, computed without Streamlit: tables, curves and display tables.

``compute`` turns a DataFrame of responses into every aggregate the views draw, once, so the
page only caches and draws it. Display helpers format the company table for people (French or
English headings, intervals as text, significance and small-base marks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analysis import kpis

AT_RISK_DAYS = (0, 7, 30, 90, 180, 365)
OTHER_NAME = "other"  # the name of companies outside the reference list, until displayed
OTHER_LABELS = ("Autres entreprises (hors liste)", "Other companies (not listed)")
# What the views read: the storage layer adds company_name, sector and origin to every row.
COLUMNS = [c for c in kpis.REQUIRED_COLUMNS if c not in ("sector", "origin")]
DEFAULT_SEED = 20231010  # fixed so the same data always gives the same intervals


@dataclass(frozen=True)
class Dashboard:
    """Every aggregate of one selection of responses."""

    as_of: date
    n: int
    companies: pd.DataFrame  # kpis.company_table
    groups: pd.DataFrame  # kpis.group_table
    resolution_curves: pd.DataFrame  # kpis.survival_curves(metric="resolution")
    refund_curves: pd.DataFrame  # kpis.survival_curves(metric="refund_time")
    naive: pd.DataFrame  # per company: naive mean of resolved cases vs Kaplan-Meier median
    trips: pd.DataFrame  # per company and number of wasted trips: responses (distribution)


def compute(responses: pd.DataFrame, *, as_of: date, seed: int = DEFAULT_SEED) -> Dashboard:
    """All the dashboard's aggregates for ``responses`` (already filtered), as of ``as_of``."""
    if responses.empty:
        empty = pd.DataFrame()
        return Dashboard(as_of, 0, empty, empty, empty, empty, empty, empty)
    # Companies outside the reference list ("other") have no sector or origin: a group of
    # their own, kept out of the 2 x 2 design.
    responses = responses.assign(
        sector=responses["sector"].astype(object).where(responses["sector"].notna(), UNLISTED),
        origin=responses["origin"].astype(object).where(responses["origin"].notna(), UNLISTED),
        company_name=responses["company_name"]
        .astype(object)
        .where(responses["company_name"].notna(), OTHER_NAME),
    )
    tables = kpis.summary_tables(responses, as_of=as_of, rng=np.random.default_rng(seed))
    resolution = kpis.survival_curves(responses, as_of=as_of, metric="resolution")
    refunds = kpis.survival_curves(responses, as_of=as_of, metric="refund_time")
    return Dashboard(
        as_of=as_of,
        n=len(responses),
        companies=tables.companies,
        groups=tables.groups,
        resolution_curves=resolution,
        refund_curves=refunds,
        naive=naive_versus_survival(responses, tables.companies),
        trips=trip_distribution(responses),
    )


def naive_versus_survival(responses: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """The misleading number next to the honest one, per company.

    The naive figure averages ``ended_on - started_on`` over resolved incidents only, ignoring
    every incident still open; the Kaplan-Meier median counts open incidents as lasting at
    least until their report.
    """
    resolved = responses["status"].eq("resolved") & responses["ended_on"].notna()
    days = (responses["ended_on"] - responses["started_on"]).dt.days
    naive = (
        pd.DataFrame({"company": responses["company"], "days": days})[resolved]
        .groupby("company", observed=True)["days"]
        .agg(naive_mean_days="mean", naive_n="size")
    )
    open_share = (
        responses["status"]
        .ne("resolved")
        .groupby(responses["company"], observed=True)
        .mean()
        .rename("open_share")
    )
    out = companies[["company", "company_name", "resolution_median_days", "resolution_n"]]
    out = out.merge(naive, on="company", how="left").merge(open_share, on="company", how="left")
    return out.sort_values("resolution_median_days", ascending=False, na_position="first")


def trip_distribution(responses: pd.DataFrame, *, cap: int = 5) -> pd.DataFrame:
    """Responses per company and number of wasted trips (0, 1, ..., ``cap``+), answered only."""
    trips = pd.to_numeric(responses["wasted_trips"], errors="coerce")
    known = trips.notna()
    bucket = np.minimum(trips[known].to_numpy(dtype=float), cap).astype(int)
    frame = pd.DataFrame({"company": responses.loc[known, "company"].to_numpy(), "trips": bucket})
    counts = frame.value_counts().rename("responses").reset_index()
    counts["share"] = counts["responses"] / counts.groupby("company")["responses"].transform("sum")
    counts["trips_label"] = counts["trips"].map(lambda t: f"{t}+" if t == cap else str(t))
    return counts.sort_values(["company", "trips"]).reset_index(drop=True)


def at_risk_table(curves: pd.DataFrame, *, days=AT_RISK_DAYS, by: str = "company") -> pd.DataFrame:
    """Numbers still at risk (not yet resolved, still followed) at given days, per curve.

    As R's ``summary(survfit, times=...)``: at day t, the number at risk at the first event or
    censoring time at or after t (0 once every incident has left follow-up).
    """
    rows = {}
    for label, curve in curves.groupby(by, sort=True):
        times = curve["time"].to_numpy(dtype=float)
        at_risk = curve["n_at_risk"].to_numpy()
        # Row 0 is the synthetic day-0 point; later rows are real times.
        index = np.searchsorted(times, np.asarray(days, dtype=float), side="left")
        rows[label] = [int(at_risk[i]) if i < len(times) else 0 for i in index]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"{d}" for d in days])


# --- disclosure control ---------------------------------------------------------------------

UNLISTED = "unlisted"  # sector and origin of a company outside the reference list ("other")
PUBLIC_MIN_CELL = 10  # as the published snapshot: no figure resting on fewer responses

IDENTITY_COLUMNS = ("company", "company_name", "sector", "origin", "n", "group", "companies")
_EXTRA_PREFIXES = (
    ("resolved_within_", "resolution"),
    ("refunded_within_", "refund_time"),
    ("wasted_km_", "wasted_km"),
)
_FAMILY_NAMES = tuple(family.name for family in kpis.FAMILIES) + ("wasted_km",)
FAMILY_LABELS = {family.name: family.label for family in kpis.FAMILIES}
FAMILY_LABELS["wasted_km"] = "kilometres driven for nothing"


def family_of(column: str) -> str | None:
    """The metric family a column of the kpis table belongs to (None for identity columns)."""
    if column in IDENTITY_COLUMNS:
        return None
    for prefix, family in _EXTRA_PREFIXES:
        if column.startswith(prefix):
            return family
    matches = [name for name in _FAMILY_NAMES if column.startswith(name + "_")]
    return max(matches, key=len) if matches else None


def metric_layout(table: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """Families in table order with their columns; a family without its ``_n`` base is left out
    (a column that cannot be tied to a base is never published)."""
    layout: dict[str, list[str]] = {}
    for column in table.columns:
        family = family_of(column)
        if family is not None:
            layout.setdefault(family, []).append(column)
    return [(f, cols) for f, cols in layout.items() if f"{f}_n" in cols]


def company_suppression(companies, layout, min_cell) -> dict[str, np.ndarray]:
    small_company = companies["n"].to_numpy() < min_cell
    return {
        family: small_company | (companies[f"{family}_n"].to_numpy() < min_cell)
        for family, _ in layout
    }


def group_suppression(groups, companies, company_hidden, layout, min_cell):
    """A group cell is suppressed when its own base is small, or when the suppressed company
    cells of the group hold between 1 and ``min_cell - 1`` responses: publishing the group and
    its other companies would give those away by difference."""
    keys = (companies["sector"].astype(str) + "/" + companies["origin"].astype(str)).to_numpy()
    group_keys = groups["group"].astype(str).to_numpy()
    small_group = groups["n"].to_numpy() < min_cell
    hidden = {}
    for family, _ in layout:
        base = companies[f"{family}_n"].to_numpy()
        shown = pd.Series(np.where(company_hidden[family], 0, base)).groupby(keys).sum()
        group_base = groups[f"{family}_n"].to_numpy()
        residual = group_base - shown.reindex(group_keys).fillna(0).to_numpy()
        hidden[family] = (
            small_group | (group_base < min_cell) | ((residual > 0) & (residual < min_cell))
        )
    return hidden


def protect(view: Dashboard, *, min_cell: int = PUBLIC_MIN_CELL) -> Dashboard:
    """The view as the public may see it: every figure resting on fewer than ``min_cell``
    responses is masked (NaN, with ``<family>_suppressed``), as in the published snapshot.

    A company under ``min_cell`` keeps only its n; a group cell is masked too when the masked
    companies inside it would be given away by difference; curves stop before the first day
    with fewer than ``min_cell`` incidents at risk; distributions of masked companies go.
    """
    if view.n == 0:
        return view
    layout = metric_layout(view.companies)
    company_hidden = company_suppression(view.companies, layout, min_cell)
    group_hidden = group_suppression(view.groups, view.companies, company_hidden, layout, min_cell)
    companies = _masked(view.companies, layout, company_hidden)
    groups = _masked(view.groups, layout, group_hidden)
    ids = view.companies["company"].astype(str).to_numpy()

    def visible(family: str) -> set[str]:
        return set(ids[~company_hidden[family]])

    def cut(curves: pd.DataFrame, family: str) -> pd.DataFrame:
        if curves.empty:
            return curves
        shown = curves[curves["company"].astype(str).isin(visible(family))]
        at_risk_ok = shown.groupby("company", observed=True)["n_at_risk"].transform(
            lambda at_risk: np.minimum.accumulate(at_risk.to_numpy()) >= min_cell
        )
        return shown[at_risk_ok.astype(bool)]

    naive = view.naive[view.naive["company"].astype(str).isin(visible("resolution"))].copy()
    naive.loc[naive["naive_n"] < min_cell, "naive_mean_days"] = np.nan
    trips = view.trips[view.trips["company"].astype(str).isin(visible("wasted_trips"))]
    return Dashboard(
        as_of=view.as_of,
        n=view.n,
        companies=companies,
        groups=groups,
        resolution_curves=cut(view.resolution_curves, "resolution"),
        refund_curves=cut(view.refund_curves, "refund_time"),
        naive=naive,
        trips=trips,
    )


def _masked(table: pd.DataFrame, layout, hidden: dict[str, np.ndarray]) -> pd.DataFrame:
    out = table.copy()
    for family, columns in layout:
        mask = hidden[family]
        for column in columns:
            if column == f"{family}_n" or column.endswith("_small_base"):
                continue
            if column.endswith("_flag"):
                out.loc[mask, column] = ""
            elif pd.api.types.is_numeric_dtype(out[column]):
                out.loc[mask, column] = np.nan
        out[f"{family}_suppressed"] = mask
    return out


# --- display -------------------------------------------------------------------------------

MARKS = {"better": "▲", "worse": "▼", "": ""}


def _interval(low, high, *, percent: bool = False, digits: int = 0) -> str:
    if low is None or high is None or pd.isna(low) and pd.isna(high):
        return ""
    scale = 100 if percent else 1

    def fmt(x):
        return "NA" if pd.isna(x) else f"{x * scale:.{digits}f}"

    return f"[{fmt(low)}–{fmt(high)}]"


HEADLINE = (
    # (family, estimate column, low, high, percent, digits, label fr, label en)
    (
        "resolution",
        "resolution_median_days",
        "resolution_median_low",
        "resolution_median_high",
        False,
        0,
        "Médiane de résolution (jours)",
        "Median days to resolution",
    ),
    (
        "resolution",
        "resolved_within_30d_share",
        "resolved_within_30d_low",
        "resolved_within_30d_high",
        True,
        0,
        "Résolus en 30 jours (%)",
        "Resolved within 30 days (%)",
    ),
    (
        "refund_success",
        "refund_success_share",
        "refund_success_low",
        "refund_success_high",
        True,
        0,
        "Remboursement obtenu (%)",
        "Refund obtained (%)",
    ),
    (
        "wasted_trips",
        "wasted_trips_mean",
        "wasted_trips_low",
        "wasted_trips_high",
        False,
        2,
        "Déplacements pour rien par incident",
        "Wasted trips per incident",
    ),
    (
        "false_resolved",
        "false_resolved_share",
        "false_resolved_low",
        "false_resolved_high",
        True,
        0,
        "Faux « résolu » (%)",
        "False “resolved” (%)",
    ),
    ("csat", "csat_mean", "csat_low", "csat_high", False, 2, "Satisfaction (1-5)", "CSAT (1-5)"),
    ("nps", "nps_score", "nps_low", "nps_high", False, 0, "NPS", "NPS"),
)


GROUP_LABELS = {
    "isp/fr": ("Fournisseurs d'accès français", "French internet providers"),
    "isp/foreign": ("Fournisseurs d'accès étrangers", "Foreign internet providers"),
    "retailer/fr": ("Commerçants français", "French retailers"),
    "retailer/foreign": ("Commerçants étrangers", "Foreign retailers"),
    f"{UNLISTED}/{UNLISTED}": ("Entreprises hors liste", "Companies outside the list"),
}


def company_label(company: str, name: str, locale: str) -> str:
    """The display name of a company; companies outside the list are pooled as "other"."""
    if company == "other":
        return OTHER_LABELS[1] if locale == "en" else OTHER_LABELS[0]
    return str(name)


def group_label(group: str, locale: str) -> str:
    fr, en = GROUP_LABELS.get(group, (group, group))
    return en if locale == "en" else fr


def headline_table(table: pd.DataFrame, locale: str, *, label_column: str = "company_name"):
    """The headline table for people: numbers stay numbers (sortable), intervals as text.

    Each metric gives three columns: the estimate, its 95% interval, and a mark: ▲ / ▼ when it
    differs from all others after Benjamini-Hochberg, "petite base" / "small base" when n < 30.
    """
    english = locale == "en"
    if label_column == "group":
        heading = "Group" if english else "Groupe"
        labels = [group_label(g, locale) for g in table["group"]]
    else:
        heading = "Company" if english else "Entreprise"
        labels = [
            company_label(c, name, locale)
            for c, name in zip(table["company"], table[label_column], strict=True)
        ]
    out = pd.DataFrame({heading: labels, "n": table["n"].to_numpy()})
    small = "small base" if english else "petite base"
    masked = "masked" if english else "masqué"
    for family, estimate, low, high, percent, digits, fr, en in HEADLINE:
        label = en if english else fr
        scale = 100.0 if percent else 1.0
        out[label] = (table[estimate].astype(float) * scale).round(digits).to_numpy()
        out[f"{label} · IC 95 %" if not english else f"{label} · 95% CI"] = [
            _interval(lo, hi, percent=percent, digits=digits)
            for lo, hi in zip(table[low], table[high], strict=True)
        ]
        marks = []
        hidden = table.get(f"{family}_suppressed", pd.Series(False, index=table.index))
        for flag, is_small, n, is_hidden in zip(
            table[f"{family}_vs_others_flag"],
            table[f"{family}_small_base"],
            table[f"{family}_n"],
            hidden,
            strict=True,
        ):
            mark = MARKS.get(flag or "", "")
            if bool(is_hidden):
                mark = f"{masked} (n={int(n)} < {PUBLIC_MIN_CELL})"
            elif bool(is_small):
                mark = (mark + " " if mark else "") + f"{small} (n={int(n)})"
            marks.append(mark)
        out[f"{label} · signe" if not english else f"{label} · mark"] = marks
    return out
