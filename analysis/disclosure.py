"""What may be shown to the public: one minimum cell, primary suppression of small company cells,
secondary suppression of group cells that would give a hidden company away by subtraction, and
curves cut where too few incidents remain at risk. The public dashboard (:func:`protect`) and the
published snapshot apply the same rules through these functions.

Examples
--------
>>> import pandas as pd
>>> from analysis import disclosure
>>> companies = pd.DataFrame({
...     "company": ["a", "b", "c"], "sector": "isp", "origin": "fr", "n": [40, 25, 4],
...     "nps_n": [40, 25, 4], "nps_score": [10.0, -5.0, 50.0],
... })
>>> groups = pd.DataFrame({"group": ["isp/fr"], "sector": "isp", "origin": "fr", "n": [69],
...                        "nps_n": [69], "nps_score": [6.5]})
>>> layout = disclosure.metric_layout(companies)
>>> hidden = disclosure.company_suppression(companies, layout)
>>> hidden["nps"].tolist()
[False, False, True]
>>> disclosure.group_suppression(groups, companies, hidden, layout)["nps"].tolist()
[True]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import design, kpis, metrics

__all__ = [
    "MIN_CELL",
    "PublishedTables",
    "company_suppression",
    "cut_curves",
    "group_suppression",
    "masked",
    "metric_layout",
    "protect",
    "published_tables",
    "secondary_group_suppression",
]

MIN_CELL = 10
"""No published figure rests on fewer responses than this (dashboard for the public, snapshot)."""


def _validate_min_cell(min_cell) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < 1:
        raise ValueError("`min_cell` must be a whole number of at least 1.")
    return int(min_cell)


def metric_layout(table: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The metrics of ``table`` in catalogue order, each with its columns present in the table.

    A metric without its base ``<name>_n`` in the table is left out: a column that cannot be
    tied to a base is never published.
    """
    present = set(table.columns)
    layout = []
    for metric in metrics.METRICS:
        if metric.n not in present:
            continue
        columns = [c for c in (*metric.columns, metric.suppressed) if c in present]
        layout.append((metric.name, columns))
    return layout


def company_suppression(
    companies: pd.DataFrame, layout, min_cell: int = MIN_CELL
) -> dict[str, np.ndarray]:
    """Primary suppression: per metric, the companies whose figure is hidden.

    A company with fewer than ``min_cell`` responses in all is hidden in every metric (only
    its n is shown); otherwise a metric is hidden where its own base is under ``min_cell``.
    """
    min_cell = _validate_min_cell(min_cell)
    small_company = companies["n"].to_numpy() < min_cell
    return {
        family: small_company | (companies[f"{family}_n"].to_numpy() < min_cell)
        for family, _ in layout
    }


def secondary_group_suppression(
    groups: pd.DataFrame,
    companies: pd.DataFrame,
    company_hidden: dict[str, np.ndarray],
    layout,
    min_cell: int = MIN_CELL,
) -> dict[str, np.ndarray]:
    """Per metric, the groups hidden *only* to protect a hidden company of theirs (their own
    base is large enough): the page says so ("masqué pour protéger une autre entreprise")."""
    min_cell = _validate_min_cell(min_cell)
    hidden = group_suppression(groups, companies, company_hidden, layout, min_cell)
    small_group = groups["n"].to_numpy() < min_cell
    return {
        family: hidden[family] & ~small_group & (groups[f"{family}_n"].to_numpy() >= min_cell)
        for family, _ in layout
    }


def group_suppression(
    groups: pd.DataFrame,
    companies: pd.DataFrame,
    company_hidden: dict[str, np.ndarray],
    layout,
    min_cell: int = MIN_CELL,
) -> dict[str, np.ndarray]:
    """Secondary suppression: per metric, the groups whose figure is hidden.

    A group cell is hidden when its own base is small, or when the hidden company cells of the
    group hold between 1 and ``min_cell - 1`` responses together: publishing the group and its
    other companies would give those away by difference. (Hidden companies holding together
    ``min_cell`` or more responses are a publishable aggregate of their own.)
    """
    min_cell = _validate_min_cell(min_cell)
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


def masked(
    table: pd.DataFrame,
    layout,
    hidden: dict[str, np.ndarray],
    *,
    keep_bases: bool = False,
    protecting: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """A copy of ``table`` with the hidden cells blanked (NaN, flags ""), their bases too
    unless ``keep_bases``, and a ``<metric>_suppressed`` column per metric; with
    ``protecting`` (:func:`secondary_group_suppression`), a ``<metric>_protects_other``
    column marks the cells hidden only to protect another company."""
    out = table.copy()
    for family, columns in layout:
        mask = hidden[family]
        metric = metrics.METRIC[family]
        for column in columns:
            if column in (metric.small_base, metric.suppressed):
                continue
            if column == metric.n:
                if not keep_bases and mask.any():
                    out[column] = out[column].astype(float).mask(mask)
                continue
            if column == metric.flag:
                out.loc[mask, column] = ""
            elif pd.api.types.is_bool_dtype(out[column]):
                if mask.any():  # a hidden mark is unknown, not False
                    out[column] = out[column].astype("boolean").mask(mask)
            elif pd.api.types.is_numeric_dtype(out[column]):
                out.loc[mask, column] = np.nan
        out[metric.suppressed] = mask
        if protecting is not None:
            out[f"{family}_protects_other"] = protecting[family]
    return out


@dataclass(frozen=True)
class PublishedTables:
    """The company and group tables as they may be published, before any cell is blanked.

    Attributes
    ----------
    companies, groups : pandas.DataFrame
        As :func:`analysis.kpis.summary_tables`, except that every comparison of a metric
        (p-values, adjusted p-values, flags, effect sizes, k-unit tests) is computed among
        the units published in that metric only.
    layout : list
        :func:`metric_layout` of the tables.
    company_hidden, group_hidden : dict
        Per metric, the units hidden (primary, then secondary suppression).
    group_protecting : dict
        Per metric, the groups hidden only to protect a hidden company.
    """

    companies: pd.DataFrame
    groups: pd.DataFrame
    layout: list
    company_hidden: dict
    group_hidden: dict
    group_protecting: dict

    def masked_companies(self, *, keep_bases: bool = False) -> pd.DataFrame:
        return masked(self.companies, self.layout, self.company_hidden, keep_bases=keep_bases)

    def masked_groups(self, *, keep_bases: bool = False) -> pd.DataFrame:
        return masked(
            self.groups,
            self.layout,
            self.group_hidden,
            keep_bases=keep_bases,
            protecting=self.group_protecting,
        )


def published_tables(
    responses: pd.DataFrame,
    *,
    as_of,
    rng,
    launch=None,
    n_resamples: int | None = None,
    min_cell: int = MIN_CELL,
    held_companies: dict | None = None,
    held_groups: dict | None = None,
) -> PublishedTables:
    """The company and group tables with one disclosure control over both.

    The bases come first (:func:`analysis.kpis.bases`); primary suppression
    (:func:`company_suppression`) and secondary suppression (:func:`group_suppression`) are
    decided on them; then the tables are computed with, for each metric, only the published
    companies (groups) in its comparison pool. A hidden unit takes no part in any published
    p-value, adjusted p-value, flag, effect size or k-unit test: the "all others" of a
    published company are the other companies published in that metric, and no count of a
    hidden company can be read back from a published test by trying every possible value.

    ``held_companies`` and ``held_groups`` (metric -> bool per unit, in the order of
    :func:`analysis.kpis.bases`) hide more cells before anything is computed: the figures a
    release holds back (``analysis.snapshot.releases``); they count as hidden everywhere.

    Examples
    --------
    >>> from datetime import date
    >>> from survey.demo import generate_frame
    >>> frame = generate_frame(300, seed=3, today=date(2026, 6, 15))
    >>> published = published_tables(frame, as_of="2026-06-15", rng=1, n_resamples=200)
    >>> hidden = published.companies["company"][published.company_hidden["nps"]].tolist()
    >>> bool(published.companies.set_index("company").loc[hidden, "nps_vs_others_p"].isna().all())
    True
    """
    min_cell = _validate_min_cell(min_cell)
    # (inside kpis.shared_reading(), the tables below are counted here once, bases included)
    base = kpis.bases(responses, as_of=as_of, launch=launch, full_counts=True)
    base_layout = metric_layout(base.companies)
    company_hidden = company_suppression(base.companies, base_layout, min_cell)
    if held_companies:
        company_hidden = {
            f: hidden | np.asarray(held_companies.get(f, False), dtype=bool)
            for f, hidden in company_hidden.items()
        }
    group_hidden = group_suppression(
        base.groups, base.companies, company_hidden, base_layout, min_cell
    )
    if held_groups:
        group_hidden = {
            f: hidden | np.asarray(held_groups.get(f, False), dtype=bool)
            for f, hidden in group_hidden.items()
        }
    company_ids = base.companies["company"].astype(str).to_numpy()
    group_ids = base.groups["group"].astype(str).to_numpy()
    compared = {family.name for family in kpis.FAMILIES}
    options = {} if n_resamples is None else {"n_resamples": n_resamples}
    tables = kpis.summary_tables(
        responses,
        as_of=as_of,
        rng=rng,
        launch=launch,
        company_pools={
            f: company_ids[~company_hidden[f]].tolist() for f, _ in base_layout if f in compared
        },
        group_pools={
            f: group_ids[~group_hidden[f]].tolist() for f, _ in base_layout if f in compared
        },
        **options,
    )
    layout = metric_layout(tables.companies)
    return PublishedTables(
        companies=tables.companies,
        groups=tables.groups,
        layout=layout,
        company_hidden=company_hidden,
        group_hidden=group_hidden,
        group_protecting=secondary_group_suppression(
            base.groups, base.companies, company_hidden, base_layout, min_cell
        ),
    )


def cut_curves(
    curves: pd.DataFrame, visible: set[str], *, min_cell: int = MIN_CELL, by: str = "company"
) -> pd.DataFrame:
    """The curves of the ``visible`` units, each stopped before its first point with fewer than
    ``min_cell`` incidents at risk (and never drawn again after it)."""
    min_cell = _validate_min_cell(min_cell)
    if curves.empty:
        return curves
    shown = curves[curves[by].astype(str).isin(visible)]
    at_risk_ok = shown.groupby(by, observed=True)["n_at_risk"].transform(
        lambda at_risk: np.minimum.accumulate(at_risk.to_numpy()) >= min_cell
    )
    return shown[at_risk_ok.astype(bool)]


def protect(view, *, min_cell: int = MIN_CELL):
    """The dashboard view as the public may see it: every figure resting on fewer than
    ``min_cell`` responses is masked (NaN, with ``<metric>_suppressed``), as in the snapshot.

    ``view`` is an ``analysis.dashboard.Dashboard`` computed with ``public=True`` (its
    ``published`` tables hold comparisons among the published units only). A company under
    ``min_cell`` keeps only its n; a hidden figure loses its base too; a group cell is masked
    when the masked companies inside it would be given away by difference, and says it
    protects another company; curves stop before the first day with fewer than ``min_cell``
    incidents at risk; distributions of masked companies go; the design is refitted without
    the hidden companies.
    """
    min_cell = _validate_min_cell(min_cell)
    if view.n == 0:
        return view
    published = getattr(view, "published", None)
    if published is None:
        raise ValueError(
            "`view` must be computed with public=True: its comparisons must leave hidden "
            "companies out."
        )
    if min_cell != MIN_CELL:
        raise ValueError("`min_cell` must be the one the view was computed with (MIN_CELL).")
    company_hidden = published.company_hidden
    ids = view.companies["company"].astype(str).to_numpy()

    def visible(family: str) -> set[str]:
        return set(ids[~company_hidden[family]])

    naive = view.naive[view.naive["company"].astype(str).isin(visible("resolution"))].copy()
    naive.loc[naive["naive_n"] < min_cell, ["naive_mean_days", "naive_n"]] = np.nan
    return dataclasses.replace(
        view,
        companies=published.masked_companies(),
        groups=published.masked_groups(),
        resolution_curves=cut_curves(
            view.resolution_curves, visible("resolution"), min_cell=min_cell
        ),
        refund_curves=cut_curves(view.refund_curves, visible("refund_time"), min_cell=min_cell),
        naive=naive,
        trips=view.trips[view.trips["company"].astype(str).isin(visible("wasted_trips"))],
        design=protected_design(
            view.design_cells,
            min_cell=min_cell,
            companies=published.companies,
            company_hidden=company_hidden,
        ),
    )


DESIGN_FAMILY = {
    "resolution_unresolved90_days": "resolution",
    "resolved_within_30d_share": "resolution",
    "refund_success_share": "refund_success",
}
"""The metric family whose suppression decides whether a company enters a design input."""


def published_design_cells(
    cells: pd.DataFrame, companies: pd.DataFrame, company_hidden: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The design cells of the companies published in each design metric's family only."""
    if cells is None or cells.empty:
        return cells
    ids = companies["company"].astype(str).to_numpy()
    keep = np.zeros(len(cells), dtype=bool)
    for metric, family in DESIGN_FAMILY.items():
        if family not in company_hidden:
            continue
        shown = ids[~company_hidden[family]]
        keep |= (cells["metric"] == metric).to_numpy() & cells["company"].astype(str).isin(
            shown
        ).to_numpy()
    return cells[keep].reset_index(drop=True)


def protected_design(
    cells: pd.DataFrame,
    *,
    min_cell: int = MIN_CELL,
    companies: pd.DataFrame | None = None,
    company_hidden: dict[str, np.ndarray] | None = None,
):
    """The "France or the sector?" analysis refitted without the companies whose standardised
    input rests on fewer than ``min_cell`` responses, nor (given ``companies`` and
    ``company_hidden``) those hidden in the metric's family: a hidden company takes no part in
    a published model (its figure could otherwise be read back from the fit)."""
    if cells is None or cells.empty:
        return None
    if companies is not None and company_hidden is not None:
        cells = published_design_cells(cells, companies, company_hidden)
        if cells.empty:
            return None
    return design.analyse(cells, metrics=kpis.DESIGN_METRICS, min_n=min_cell)


def protect_cuts(
    cut: pd.DataFrame,
    *,
    min_cell: int = MIN_CELL,
    held: dict | None = None,
    must_hide: frozenset = frozenset(),
) -> pd.DataFrame:
    """A cut (:func:`analysis.kpis.cut_table`) as the public may see it.

    Each cut partitions the same responses as the company table, so the whole population's
    figure is known from any fully published view, and one hidden cell would be the whole
    minus the published ones. Per metric: cells under ``min_cell`` are hidden (primary), then,
    while the hidden cells of the cut rest on 1 to ``min_cell - 1`` responses together, the
    smallest published cell is hidden too (complementary suppression). ``held`` (metric ->
    cells) hides cells the monthly hold keeps back. For a metric in ``must_hide`` (one whose
    company or group table hides a cell) at least one cell is hidden, so that the whole
    population's figure cannot be rebuilt from the cut and set against the published groups to
    give the hidden group by difference. A hidden cell shows neither figure nor base.
    """
    min_cell = _validate_min_cell(min_cell)
    out = cut.copy()
    for family in dict.fromkeys(metric for metric, _ in kpis.CUT_FIGURES):
        base = out[f"{family}_n"].to_numpy(dtype=float)
        hidden = base < min_cell
        if held and family in held:
            hidden |= out["cut"].isin(held[family]).to_numpy()
        if family in must_hide and not hidden.any() and len(base):
            hidden[np.argmin(base)] = True
        while 0 < base[hidden].sum() < min_cell and (~hidden).any():
            smallest = np.flatnonzero(~hidden)[np.argmin(base[~hidden])]
            hidden[smallest] = True
        figures = [metrics.estimate(name) for metric, name in kpis.CUT_FIGURES if metric == family]
        for column in [f"{family}_n", *(c for f in figures for c in f.columns)]:
            out.loc[hidden, column] = np.nan
        out[f"{family}_suppressed"] = hidden
    # a cell hidden in every metric hides its n too
    every = np.logical_and.reduce(
        [out[c].to_numpy() for c in out.columns if c.endswith("_suppressed")]
    )
    out["n"] = out["n"].astype(float).where(~every)
    return out
