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

import numpy as np
import pandas as pd

from analysis import design, kpis, metrics

__all__ = [
    "MIN_CELL",
    "company_suppression",
    "cut_curves",
    "group_suppression",
    "masked",
    "metric_layout",
    "protect",
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


def masked(table: pd.DataFrame, layout, hidden: dict[str, np.ndarray]) -> pd.DataFrame:
    """A copy of ``table`` with the hidden cells blanked (NaN, flags ""), the bases and the
    small-base marks kept, and a ``<metric>_suppressed`` column per metric."""
    out = table.copy()
    for family, columns in layout:
        mask = hidden[family]
        metric = metrics.METRIC[family]
        for column in columns:
            if column in (metric.n, metric.small_base, metric.suppressed):
                continue
            if column == metric.flag:
                out.loc[mask, column] = ""
            elif pd.api.types.is_bool_dtype(out[column]):
                if mask.any():  # a hidden mark is unknown, not False
                    out[column] = out[column].astype("boolean").mask(mask)
            elif pd.api.types.is_numeric_dtype(out[column]):
                out.loc[mask, column] = np.nan
        out[metric.suppressed] = mask
    return out


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

    ``view`` is an ``analysis.dashboard.Dashboard`` (any frozen dataclass with its fields). A
    company under ``min_cell`` keeps only its n; a group cell is masked too when the masked
    companies inside it would be given away by difference; curves stop before the first day
    with fewer than ``min_cell`` incidents at risk; distributions of masked companies go.
    """
    min_cell = _validate_min_cell(min_cell)
    if view.n == 0:
        return view
    layout = metric_layout(view.companies)
    company_hidden = company_suppression(view.companies, layout, min_cell)
    group_hidden = group_suppression(view.groups, view.companies, company_hidden, layout, min_cell)
    ids = view.companies["company"].astype(str).to_numpy()

    def visible(family: str) -> set[str]:
        return set(ids[~company_hidden[family]])

    naive = view.naive[view.naive["company"].astype(str).isin(visible("resolution"))].copy()
    naive.loc[naive["naive_n"] < min_cell, "naive_mean_days"] = np.nan
    return dataclasses.replace(
        view,
        companies=masked(view.companies, layout, company_hidden),
        groups=masked(view.groups, layout, group_hidden),
        resolution_curves=cut_curves(
            view.resolution_curves, visible("resolution"), min_cell=min_cell
        ),
        refund_curves=cut_curves(view.refund_curves, visible("refund_time"), min_cell=min_cell),
        naive=naive,
        trips=view.trips[view.trips["company"].astype(str).isin(visible("wasted_trips"))],
        design=protected_design(view.design_cells, min_cell=min_cell),
    )


def protected_design(cells: pd.DataFrame, *, min_cell: int = MIN_CELL):
    """The "France or the sector?" analysis refitted without the companies whose standardised
    input rests on fewer than ``min_cell`` responses: a hidden company takes no part in a
    published model (its figure could otherwise be read back from the fit)."""
    if cells is None or cells.empty:
        return None
    return design.analyse(cells, metrics=kpis.DESIGN_METRICS, min_n=min_cell)
