"""Releases that cannot be differenced: what earlier snapshots published, and which figures of
a new one must be held back because they would change on fewer than ``min_cell`` responses.

Two releases one respondent apart would give that respondent's answers by difference. Before a
snapshot is built, every earlier snapshot of the output folder (or a given list) is read back
from its ``kpis.csv`` and ``manifest.json``; for each company and group, and each metric, the
responses added since it (submitted after its ``as_of``) and removed from it (deleted, flagged
or withdrawn since: the earlier base plus the added minus the present base) are counted. A
figure resting on a change of 1 to ``min_cell - 1`` responses since any earlier release that
published it is *suppressed* (held back) in the new release, and so is every figure of a unit
whose total changed that little, so that what is held does not depend on the answers; the
manifest lists them. Releases follow a cadence: one per month, as of the month's last day
(:func:`last_full_month_end`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import kpis, metrics

__all__ = [
    "Release",
    "Holds",
    "earlier_releases",
    "held_back",
    "last_full_month_end",
    "read_release",
]


def last_full_month_end(today: date) -> date:
    """The last day of the last full month before ``today`` (the release cadence).

    >>> last_full_month_end(date(2026, 6, 15)), last_full_month_end(date(2026, 7, 1))
    (datetime.date(2026, 5, 31), datetime.date(2026, 6, 30))
    """
    return today.replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class Release:
    """An earlier snapshot as the public has it: its name, date and published table."""

    name: str
    as_of: date
    kpis: pd.DataFrame


def read_release(folder: str | os.PathLike) -> Release:
    """The release in ``folder`` (its ``manifest.json`` and ``kpis.csv``)."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        table = pd.read_csv(
            folder / "kpis.csv", na_values=["suppressed"], keep_default_na=False, dtype={"id": str}
        )
        as_of = date.fromisoformat(manifest["as_of"])
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"`previous`: {folder} is not a readable snapshot ({error}).") from None
    return Release(str(manifest.get("snapshot", folder.name)), as_of, table)


def earlier_releases(out: str | os.PathLike) -> list[Release]:
    """Every snapshot published under ``out`` (folders holding a manifest), oldest first."""
    out = Path(out)
    if not out.is_dir():
        return []
    found = [
        read_release(folder)
        for folder in sorted(out.iterdir())
        if not folder.name.startswith(".") and (folder / "manifest.json").is_file()
    ]
    return sorted(found, key=lambda release: (release.as_of, release.name))


@dataclass(frozen=True)
class Holds:
    """Per metric, the companies and the groups held back, and the list for the manifest."""

    companies: dict
    groups: dict
    records: list


def _changes(now: pd.DataFrame, added: pd.DataFrame, earlier: pd.DataFrame, key: str, column):
    """Responses added plus removed, per unit of ``now``, for one base column; NaN where the
    earlier release did not publish that base. ``added`` and ``earlier`` are indexed by unit
    (``earlier`` by its ``id``)."""
    ids = now[key].astype(str)
    before = earlier[column] if column in earlier else pd.Series(dtype=float)
    before = pd.to_numeric(before.reindex(ids), errors="coerce").to_numpy(dtype=float)
    plus = added[column].reindex(ids).fillna(0).to_numpy(dtype=float)
    present = now[column].to_numpy(dtype=float)
    # back-dated arrivals (an import) show as negative removals: counted as changes all the same
    return plus + np.abs(before + plus - present)


def _added_bases(responses: pd.DataFrame, days, *, as_of: date, launch) -> list[tuple]:
    """For each day of ``days``, the bases (``n`` and ``<metric>_n``) of the responses
    submitted after it, per company and per group (frames indexed by unit): what
    ``kpis.bases`` gives on those rows, from a single reading.

    Each response is counted under a unit of its own: its company and the interval between
    two of the ``days`` in which it was submitted. A base counts responses, so the bases of
    the responses added since a day are the sums over the intervals after it, as kpis sums
    the companies of a group: one reading of the responses added since the earliest day,
    instead of one per day of those added since it."""
    cuts = np.unique(np.array(list(days), dtype="datetime64[D]"))
    submitted = pd.to_datetime(responses["submitted_on"]).to_numpy().astype("datetime64[D]")
    interval = np.searchsorted(cuts, submitted, side="left")  # how many cuts came before
    codes, names = pd.factorize(responses["company"].astype(object), use_na_sentinel=True)
    # only the responses added since the earliest day: a month or a few of them, usually
    added = np.flatnonzero((codes >= 0) & (interval > 0) & ~np.isnat(submitted))
    width = len(cuts) + 1
    units = pd.Categorical.from_codes(
        codes[added] * width + interval[added],
        categories=[f"{name}\t{k}" for name in names for k in range(width)],
    )
    split = responses.iloc[added].assign(company=units)
    tables = kpis.bases(split, as_of=as_of, launch=launch).companies
    counts = [c for c in tables.columns if c == "n" or c.endswith("_n")]
    unit = tables["company"].astype(str).str.rsplit("\t", n=1)
    tables = tables.assign(
        company=unit.str[0],
        interval=pd.to_numeric(unit.str[1]),
        group=tables["sector"].astype(str) + "/" + tables["origin"].astype(str),
    ).sort_values(["company", "interval"], kind="stable")
    since_cut = []
    for position in range(len(cuts)):
        after = tables[tables["interval"] > position]
        by_company = after.groupby("company")
        # a company's group: that of its first responses after the cut, as kpis takes it
        # (sector and origin come from the reference list: the same for all its responses)
        group = by_company["group"].first()
        totals = by_company[counts].sum()
        since_cut.append((totals, totals.groupby(group.reindex(totals.index)).sum()))
    return [since_cut[int(np.searchsorted(cuts, np.datetime64(day, "D")))] for day in days]


def held_back(
    responses: pd.DataFrame,
    *,
    as_of: date,
    previous,
    min_cell: int,
    launch: date | None = None,
) -> Holds:
    """The figures a release as of ``as_of`` must hold back against the ``previous`` releases.

    Parameters
    ----------
    responses : pandas.DataFrame
        The publishable responses (with ``sector`` and ``origin`` filled).
    as_of : datetime.date
    previous : sequence of Release
        Earlier releases; one dated on or after ``as_of`` is refused (``ValueError``): a
        release cannot be placed before one already published.
    min_cell : int
    launch : datetime.date, optional

    Returns
    -------
    Holds
    """
    if not previous:  # a first release holds nothing back
        return Holds({}, {}, [])
    now = kpis.bases(responses, as_of=as_of, launch=launch)
    layout = [m for m in metrics.METRICS if m.n in now.companies.columns]
    companies = {m.name: np.zeros(len(now.companies), dtype=bool) for m in layout}
    groups = {m.name: np.zeros(len(now.groups), dtype=bool) for m in layout}
    records = []
    for release in previous:
        if release.as_of >= as_of:
            raise ValueError(
                f"`previous` holds {release.name}, as of {release.as_of.isoformat()}, on or "
                f"after {as_of.isoformat()}: publish after it, not before."
            )
    added_since = _added_bases(
        responses, [release.as_of for release in previous], as_of=as_of, launch=launch
    )
    for release, (added_companies, added_groups) in zip(previous, added_since, strict=True):
        for level, table, key, held, added in (
            ("company", now.companies, "company", companies, added_companies),
            ("group", now.groups, "group", groups, added_groups),
        ):
            earlier = release.kpis[release.kpis["level"] == level].set_index("id")
            total = _changes(table, added, earlier, key, "n")
            small_total = (total > 0) & (total < min_cell)
            for metric in layout:
                change = _changes(table, added, earlier, key, metric.n)
                was_shown = ~np.isnan(change)
                small = was_shown & (((change > 0) & (change < min_cell)) | small_total)
                for position in np.flatnonzero(small & ~held[metric.name]):
                    records.append(
                        {
                            "level": level,
                            "id": str(table[key].iloc[position]),
                            "metric": metric.name,
                            "since": release.name,
                            "action": "suppressed",
                        }
                    )
                held[metric.name] |= small
    # a group holding a held company is held too: the group minus its published companies
    # would otherwise give the held company's present figure, to set against its earlier one
    keys = now.companies["sector"].astype(str) + "/" + now.companies["origin"].astype(str)
    group_ids = now.groups["group"].astype(str)
    for metric in layout:
        holding = set(keys[companies[metric.name]])
        extra = group_ids.isin(holding).to_numpy() & ~groups[metric.name]
        for position in np.flatnonzero(extra):
            records.append(
                {
                    "level": "group",
                    "id": str(group_ids.iloc[position]),
                    "metric": metric.name,
                    "since": "a held company of the group",
                    "action": "suppressed",
                }
            )
        groups[metric.name] |= extra
    return Holds(companies, groups, records)
