"""The barometer's tables: one row per company, or per sector x origin group, with every metric of
the product specification (section 4), its n, a small-base mark and a comparison with all
others that is flagged only when it survives the Benjamini-Hochberg correction.

A DataFrame of responses goes in (one row per response, already filtered); the work is a few
counting passes over its columns (one ``bincount`` per metric over company x value), after which
every statistic is computed from small count tables. Groups are sums of company tables, so the
group table costs almost nothing more. See ``docs/methodology.md`` for the definitions.
"""

from __future__ import annotations

import datetime as _dt
import math
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from analysis import metrics
from analysis.counts import (
    DEFAULT_RESAMPLES,
    _bca_mean,
    _bca_ratio,
    _grouped_value_counts,
    _kruskal_from_counts,
    _mann_whitney_from_counts,
    _validate_resamples,
    _validate_rng,
)
from analysis.proportions import (
    _chi_square,
    _fisher_pvalue,
    _validate_confidence_level,
    _wilson,
    _z_value,
    adjust_pvalues,
)
from analysis.survival import (
    _chi_square_from_components,
    _event_table,
    _kaplan_meier_from_counts,
    _logrank_components,
)

__all__ = [
    "CONFIDENCE_LEVEL",
    "FAMILIES",
    "RESOLVED_WITHIN_DAYS",
    "RMST_HORIZON_DAYS",
    "SIGNIFICANCE_LEVEL",
    "SMALL_BASE",
    "KpiTables",
    "company_table",
    "group_table",
    "resolution_curves",
    "summary_tables",
    "survival_curves",
]

SMALL_BASE = 30
"""A cell resting on fewer responses than this is marked ``small_base``."""
CONFIDENCE_LEVEL = 0.95
SIGNIFICANCE_LEVEL = 0.05
"""False discovery rate of the "vs all others" flags (Benjamini-Hochberg, across the table)."""
RESOLVED_WITHIN_DAYS = metrics.RESOLVED_WITHIN_DAYS
REFUNDED_WITHIN_DAYS = metrics.REFUNDED_WITHIN_DAYS
RMST_HORIZON_DAYS = metrics.RMST_HORIZON_DAYS
MEDIAN_METHOD = "log-log"  # PRODUCT.md section 4: median CI, Brookmeyer-Crowley on log-log scale


class Family(NamedTuple):
    """A compared metric as the table build dispatches it (read from ``analysis.metrics``)."""

    name: str
    kind: str  # "survival", "share", "mean", "ratio"
    higher_is_better: bool
    label: str


FAMILIES: tuple[Family, ...] = tuple(
    Family(metric.name, metric.kind, metric.higher_is_better, metric.label("en"))
    for metric in metrics.METRICS
    if metric.compared
)
"""The metrics with a "vs all others" comparison, in table order (from the catalogue)."""
_FAMILY = {family.name: family for family in FAMILIES}

REQUIRED_COLUMNS = (
    "company",
    "sector",
    "origin",
    "status",
    "started_on",
    "ended_on",
    "submitted_on",
    "refund_requested",
    "refund_outcome",
    "refund_requested_on",
    "refund_received_on",
    "wasted_trips",
    "wasted_km",
    "technician_visits_useless",
    "callbacks_promised",
    "callbacks_received",
    "false_resolved_count",
    "loaner_offered",
    "loaner_obtained",
    "loaner_cut_before_resolution",
    "csat",
    "effort",
    "nps",
)
_STATUSES = ("resolved", "ongoing", "unresolved")
_OUTCOMES = ("full", "partial", "refused", "pending")


# --- reading the responses --------------------------------------------------------------------


def _validate_frame(responses, columns) -> pd.DataFrame:
    if not isinstance(responses, pd.DataFrame):
        raise ValueError("`responses` must be a pandas DataFrame.")
    missing = [column for column in columns if column not in responses.columns]
    if missing:
        raise ValueError(f"`responses` lacks the columns: {', '.join(missing)}.")
    return responses


def _validate_as_of(as_of) -> int:
    """Day number (days since 1970-01-01) of ``as_of``."""
    if isinstance(as_of, (str, _dt.date, np.datetime64, pd.Timestamp)):
        try:
            stamp = pd.Timestamp(as_of)
        except (TypeError, ValueError):
            stamp = pd.NaT
        if stamp is not pd.NaT and not pd.isna(stamp):
            if stamp.tzinfo is not None:
                stamp = stamp.tz_localize(None)
            return int(np.datetime64(stamp.date(), "D").astype(np.int64))
    raise ValueError("`as_of` must be a date (datetime.date, ISO string or Timestamp).")


def _days(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Calendar day numbers of a date column, NaN where missing (NaT)."""
    series = frame[column]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    elif series.dtype.kind != "M":
        try:
            series = pd.to_datetime(series)
        except (TypeError, ValueError):
            raise ValueError(f"`responses['{column}']` must hold dates.") from None
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)
    values = series.to_numpy()
    days = values.astype("datetime64[D]").view(np.int64).astype(float)
    days[np.isnat(values)] = np.nan
    return days


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as floats, NaN for "don't know" (nullable integers, floats, objects)."""
    series = frame[column]
    if series.dtype == object:
        try:
            series = pd.to_numeric(series)
        except (TypeError, ValueError):
            raise ValueError(f"`responses['{column}']` must hold numbers.") from None
    try:
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"`responses['{column}']` must hold numbers.") from None


def _flags(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A yes/no column as 1.0 / 0.0 / NaN, whatever its storage.

    Accepts numpy ``bool``, pandas nullable ``boolean``, numbers 1/0/NaN, and ``object`` columns
    holding True/False/None/NaN/``pd.NA``.
    """
    series = frame[column]
    if series.dtype == bool or isinstance(series.dtype, pd.BooleanDtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if series.dtype == object:
        values = series.to_numpy(dtype=object)
        missing = pd.isna(values)
        # pd.NA compares to NA, not to a bool: compare the known values only (None == True
        # is plainly False)
        known = np.where(missing, None, values)
        true = np.asarray(known == True, dtype=bool)  # noqa: E712  (True, 1, 1.0, np.True_)
        false = np.asarray(known == False, dtype=bool)  # noqa: E712
        if np.any(~(missing | true | false)):
            raise ValueError(f"`responses['{column}']` must hold True, False or missing values.")
        return np.where(true, 1.0, np.where(false, 0.0, np.nan))
    numbers = _numbers(frame, column)
    known = numbers[~np.isnan(numbers)]
    if np.any((known != 0) & (known != 1)):
        raise ValueError(f"`responses['{column}']` must hold True, False or missing values.")
    return numbers


def _choice_codes(frame: pd.DataFrame, column: str, choices: tuple[str, ...]):
    """Index of each value in ``choices``; -1 for missing, -2 for an unrecognised value."""
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    lookup = np.array(
        [choices.index(value) if value in choices else -2 for value in list(uniques)] + [-1],
        dtype=np.int64,
    )
    return lookup[codes]


@dataclass
class _Units:
    """Which company each response belongs to, after the ``as_of`` filter.

    ``codes`` holds the company index of each row, or ``k`` (one past the last company) for rows
    left out, so every count table is one ``bincount`` over ``k + 1`` rows whose last is dropped.
    """

    labels: list[str]
    names: list[str]
    sectors: list[str]
    origins: list[str]
    codes: np.ndarray
    n: np.ndarray
    excluded: dict

    @property
    def k(self) -> int:
        return len(self.labels)

    def masked(self, valid: np.ndarray) -> np.ndarray:
        return np.where(valid, self.codes, self.k)


def _units(frame: pd.DataFrame, as_of_day: int) -> _Units:
    submitted = _days(frame, "submitted_on")
    company = frame["company"]
    if isinstance(company.dtype, pd.CategoricalDtype):
        company = company.astype(object)
    codes, uniques = pd.factorize(company, use_na_sentinel=True)
    uniques = [str(value) for value in list(uniques)]
    in_time = ~np.isnan(submitted) & (submitted <= as_of_day)
    kept = (codes >= 0) & in_time
    counts = np.bincount(codes[kept], minlength=len(uniques))
    present = [i for i in range(len(uniques)) if counts[i] > 0]
    order = sorted(present, key=lambda i: uniques[i])
    k = len(order)
    remap = np.full(len(uniques) + 1, k, dtype=np.int64)
    remap[order] = np.arange(k)
    row_codes = np.where(kept, remap[codes], k)
    # pandas numbers uniques by first appearance, so a running maximum finds each first row
    first_rows = np.searchsorted(np.maximum.accumulate(codes), np.arange(len(uniques)))

    def per_company(column: str) -> list[str]:
        if column not in frame.columns:
            return [uniques[i] for i in order]
        values = frame[column].to_numpy()[first_rows[order]] if k else []
        return [None if pd.isna(v) else str(v) for v in values]

    return _Units(
        labels=[uniques[i] for i in order],
        names=per_company("company_name"),
        sectors=per_company("sector"),
        origins=per_company("origin"),
        codes=row_codes,
        n=np.bincount(row_codes, minlength=k + 1)[:k],
        excluded={
            "submitted_after_as_of": int(np.count_nonzero(submitted > as_of_day)),
            "missing_submitted_on": int(np.count_nonzero(np.isnan(submitted))),
            "missing_company": int(np.count_nonzero(codes < 0)),
        },
    )


# --- sufficient statistics per company ---------------------------------------------------------


class _SurvivalCounts(NamedTuple):
    times: np.ndarray
    events: np.ndarray  # (k, m)
    removed: np.ndarray  # (k, m)
    excluded: np.ndarray  # (k,)

    def collapse(self, matrix):
        return _SurvivalCounts(
            self.times, matrix @ self.events, matrix @ self.removed, matrix @ self.excluded
        )


class _ShareCounts(NamedTuple):
    successes: np.ndarray
    n: np.ndarray

    def collapse(self, matrix):
        return _ShareCounts(matrix @ self.successes, matrix @ self.n)


class _ValueCounts(NamedTuple):
    values: np.ndarray
    table: np.ndarray  # (k, m)
    scale: float  # the estimate is reported as mean * scale (100 for NPS)

    def collapse(self, matrix):
        return _ValueCounts(self.values, matrix @ self.table, self.scale)


class _PairCounts(NamedTuple):
    numerators: np.ndarray
    denominators: np.ndarray
    table: np.ndarray

    def collapse(self, matrix):
        return _PairCounts(self.numerators, self.denominators, matrix @ self.table)


class _Totals(NamedTuple):
    total: np.ndarray
    n: np.ndarray

    def collapse(self, matrix):
        return _Totals(matrix @ self.total, matrix @ self.n)


def _survival_counts(units: _Units, durations, events, in_scope) -> _SurvivalCounts:
    """Count table of one time-to-event metric; out-of-range durations are counted as excluded."""
    usable = in_scope & np.isfinite(durations) & (durations >= 0)
    if durations.size == 0:  # no rows at all: the event table has no times
        empty = np.zeros((units.k, 0), dtype=np.int64)
        return _SurvivalCounts(np.empty(0), empty, empty, np.zeros(units.k, dtype=np.int64))
    codes = units.masked(usable)
    times, n_events, n_removed = _event_table(
        np.where(usable, durations, 0.0), events & usable, codes, units.k + 1
    )
    excluded = np.bincount(units.masked(in_scope & ~usable), minlength=units.k + 1)[: units.k]
    return _SurvivalCounts(times, n_events[: units.k], n_removed[: units.k], excluded)


def _share_counts(units: _Units, valid, success) -> _ShareCounts:
    codes = units.masked(valid)
    cells = np.bincount(codes * 2 + (success & valid), minlength=2 * (units.k + 1))
    cells = cells.reshape(units.k + 1, 2)[: units.k]
    return _ShareCounts(cells[:, 1], cells.sum(axis=1))


def _value_counts(units: _Units, values, *, scale: float = 1.0) -> _ValueCounts:
    valid = ~np.isnan(values)
    distinct, table = _grouped_value_counts(
        np.where(valid, values, 0.0), units.masked(valid), units.k + 1
    )
    return _ValueCounts(distinct, table[: units.k], scale)


def _pair_counts(units: _Units, numerators, denominators, valid) -> _PairCounts:
    num = np.where(valid, numerators, 0.0)
    den = np.where(valid, denominators, 0.0)
    codes = units.masked(valid)
    num_values, num_index = _small_whole_codes(num)
    den_values, den_index = _small_whole_codes(den)
    width = num_values.size * den_values.size
    table = np.bincount(
        codes * width + num_index * den_values.size + den_index, minlength=(units.k + 1) * width
    ).reshape(units.k + 1, width)[: units.k]
    present = table.sum(axis=0) > 0
    cells = np.flatnonzero(present)
    return _PairCounts(
        num_values[cells // den_values.size], den_values[cells % den_values.size], table[:, present]
    )


def _small_whole_codes(values: np.ndarray):
    """Distinct values and each row's index among them (bincount when small whole numbers)."""
    distinct, table = _grouped_value_counts(values)
    if distinct.size and distinct[0] >= 0 and np.array_equal(distinct, np.floor(distinct)):
        lookup = np.full(int(distinct[-1]) + 1, -1, dtype=np.int64)
        lookup[distinct.astype(np.int64)] = np.arange(distinct.size)
        return distinct, lookup[values.astype(np.int64)]
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, inverse.reshape(-1)


@dataclass
class _Prepared:
    units: _Units
    stats: dict
    excluded: dict


def _prepare(frame: pd.DataFrame, as_of_day: int, families=None) -> _Prepared:
    """Read the responses once and build the count tables of every requested family."""
    wanted = {family.name for family in FAMILIES} if families is None else set(families)
    units = _units(frame, as_of_day)
    stats: dict = {}
    notes: dict = {}

    if "resolution" in wanted:
        status = _choice_codes(frame, "status", _STATUSES)
        started = _days(frame, "started_on")
        ended = _days(frame, "ended_on")
        submitted = _days(frame, "submitted_on")
        stop = np.where(status == 1, submitted, np.where(status >= 0, ended, np.nan))
        # every response enters; an unknown status or a missing or negative duration is
        # left out and counted in resolution_excluded
        everyone = np.ones(stop.size, dtype=bool)
        stats["resolution"] = _survival_counts(units, stop - started, status == 0, everyone)
        notes["unrecognised_status"] = int(np.count_nonzero(units.masked(status == -2) < units.k))
        notes["missing_status"] = int(np.count_nonzero(units.masked(status == -1) < units.k))

    outcome = None
    if wanted & {"refund_success", "refund_full", "refund_time"}:
        outcome = _choice_codes(frame, "refund_outcome", _OUTCOMES)
        notes["unrecognised_refund_outcome"] = int(
            np.count_nonzero(units.masked(outcome == -2) < units.k)
        )
        decided = (outcome >= 0) & (outcome <= 2)
        paid = (outcome == 0) | (outcome == 1)
        stats["refund_success"] = _share_counts(units, decided, paid)
        stats["refund_full"] = _share_counts(units, decided, outcome == 0)
    if "refund_time" in wanted:
        requested = _flags(frame, "refund_requested")
        asked_on = _days(frame, "refund_requested_on")
        received_on = _days(frame, "refund_received_on")
        submitted = _days(frame, "submitted_on")
        paid = (outcome == 0) | (outcome == 1)
        stop = np.select(
            [paid, outcome == 3, outcome == 2],
            [received_on, submitted, float(as_of_day)],
            default=np.nan,
        )
        # a request whose outcome is unknown enters the metric but cannot be placed: excluded
        in_scope = (outcome >= 0) | (requested == 1)
        stats["refund_time"] = _survival_counts(units, stop - asked_on, paid, in_scope)

    if wanted & {"wasted_trips", "wasted_trips_any"}:
        trips = _non_negative(_numbers(frame, "wasted_trips"), "wasted_trips", notes, units)
        stats["wasted_trips"] = _value_counts(units, trips)
        stats["wasted_trips_any"] = _share_counts(units, ~np.isnan(trips), trips >= 1)
        km = _non_negative(_numbers(frame, "wasted_km"), "wasted_km", notes, units)
        known = ~np.isnan(km)
        codes = units.masked(known)
        stats["wasted_km"] = _Totals(
            np.bincount(codes, weights=np.where(known, km, 0.0), minlength=units.k + 1)[: units.k],
            np.bincount(codes, minlength=units.k + 1)[: units.k],
        )
    if wanted & {"useless_visits", "useless_visits_any"}:
        useless = _non_negative(
            _numbers(frame, "technician_visits_useless"), "technician_visits_useless", notes, units
        )
        stats["useless_visits"] = _value_counts(units, useless)
        stats["useless_visits_any"] = _share_counts(units, ~np.isnan(useless), useless >= 1)
    if "callbacks_kept" in wanted:
        promised = _non_negative(
            _numbers(frame, "callbacks_promised"), "callbacks_promised", notes, units
        )
        received = _non_negative(
            _numbers(frame, "callbacks_received"), "callbacks_received", notes, units
        )
        valid = (promised > 0) & ~np.isnan(received)
        stats["callbacks_kept"] = _pair_counts(units, received, promised, valid)
    if "false_resolved" in wanted:
        false_resolved = _non_negative(
            _numbers(frame, "false_resolved_count"), "false_resolved_count", notes, units
        )
        stats["false_resolved"] = _share_counts(
            units, ~np.isnan(false_resolved), false_resolved >= 1
        )
    if wanted & {"loaner_offered", "loaner_obtained", "loaner_cut"}:
        offered = _flags(frame, "loaner_offered")
        obtained = _flags(frame, "loaner_obtained")
        cut = _flags(frame, "loaner_cut_before_resolution")
        stats["loaner_offered"] = _share_counts(units, ~np.isnan(offered), offered == 1)
        stats["loaner_obtained"] = _share_counts(
            units, (offered == 1) & ~np.isnan(obtained), obtained == 1
        )
        stats["loaner_cut"] = _share_counts(units, (obtained == 1) & ~np.isnan(cut), cut == 1)
    if wanted & {"csat", "csat_satisfied"}:
        csat = _in_range(_numbers(frame, "csat"), 1, 5, "csat", notes, units)
        stats["csat"] = _value_counts(units, csat)
        stats["csat_satisfied"] = _share_counts(units, ~np.isnan(csat), csat >= 4)
    if "effort" in wanted:
        stats["effort"] = _value_counts(
            units, _in_range(_numbers(frame, "effort"), 1, 7, "effort", notes, units)
        )
    if "nps" in wanted:
        nps = _in_range(_numbers(frame, "nps"), 0, 10, "nps", notes, units)
        # promoters (9-10) count +1, detractors (0-6) -1, passives 0: NPS = 100 x their mean
        category = np.where(nps >= 9, 1.0, np.where(nps <= 6, -1.0, 0.0))
        stats["nps"] = _value_counts(units, np.where(np.isnan(nps), np.nan, category), scale=100.0)
    return _Prepared(units, stats, {**units.excluded, **notes})


def _non_negative(values, column, notes, units) -> np.ndarray:
    bad = values < 0
    if np.any(bad):
        notes[f"invalid_{column}"] = int(np.count_nonzero(units.masked(bad) < units.k))
        values = np.where(bad, np.nan, values)
    return values


def _in_range(values, low, high, column, notes, units) -> np.ndarray:
    bad = (values < low) | (values > high) | (values != np.floor(values))
    bad &= ~np.isnan(values)
    if np.any(bad):
        notes[f"invalid_{column}"] = int(np.count_nonzero(units.masked(bad) < units.k))
        values = np.where(bad, np.nan, values)
    return values


# --- statistics per unit -----------------------------------------------------------------------


def _stream(entropy: int, family: str, label: str) -> np.random.Generator:
    """An independent generator per (metric, company), so adding a company changes no other."""
    key = (zlib.crc32(family.encode()), zlib.crc32(label.encode()))
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


def _survival_columns(name: str, counts: _SurvivalCounts) -> dict:
    """Median, shares within fixed days and RMST per unit, and the log-rank vs all others."""
    k = counts.events.shape[0]
    columns = {
        f"{name}_n": counts.removed.sum(axis=1),
        f"{name}_events": counts.events.sum(axis=1),
        f"{name}_excluded": counts.excluded,
    }
    within = RESOLVED_WITHIN_DAYS if name == "resolution" else (REFUNDED_WITHIN_DAYS,)
    prefix = "resolved_within" if name == "resolution" else "refunded_within"
    estimates = {key: np.full(k, np.nan) for key in ("median", "median_low", "median_high")}
    shares = {day: np.full((3, k), np.nan) for day in within}
    rmst = np.full((3, k), np.nan)
    days = np.array(within, dtype=float)
    for unit in range(k):
        if counts.removed[unit].sum() == 0:
            continue
        curve = _kaplan_meier_from_counts(counts.times, counts.events[unit], counts.removed[unit])
        median = curve.median(confidence_level=CONFIDENCE_LEVEL, method=MEDIAN_METHOD)
        estimates["median"][unit] = median.estimate
        estimates["median_low"][unit], estimates["median_high"][unit] = median.confidence_interval
        # S(t) is unknown (NaN) past the last follow-up unless the curve reached 0: ask only
        # for the days it knows, so that no warning is raised and silenced
        known = (days <= curve.time[-1]) | (curve.survival[-1] == 0)
        if known.any():
            at = curve.survival_at(days[known], method=MEDIAN_METHOD)
            low, high = at.confidence_interval
            for i, day in enumerate(np.asarray(within)[known]):
                shares[int(day)][:, unit] = (1.0 - at.estimate[i], 1.0 - high[i], 1.0 - low[i])
        if name == "resolution" and (
            curve.time[-1] >= RMST_HORIZON_DAYS or curve.survival[-1] == 0
        ):
            result = curve.rmst(RMST_HORIZON_DAYS)
            rmst[:, unit] = (result.estimate, *result.confidence_interval)
    columns[f"{name}_median_days"] = estimates["median"]
    columns[f"{name}_median_low"] = estimates["median_low"]
    columns[f"{name}_median_high"] = estimates["median_high"]
    for day in within:
        columns[f"{prefix}_{day}d_share"] = shares[day][0]
        columns[f"{prefix}_{day}d_low"] = shares[day][1]
        columns[f"{prefix}_{day}d_high"] = shares[day][2]
    if name == "resolution":
        columns[f"{name}_rmst{RMST_HORIZON_DAYS}_days"] = rmst[0]
        columns[f"{name}_rmst{RMST_HORIZON_DAYS}_low"] = rmst[1]
        columns[f"{name}_rmst{RMST_HORIZON_DAYS}_high"] = rmst[2]
    return columns


def _logrank_vs_others(counts: _SurvivalCounts):
    """Each unit against all the others pooled: (p-value, O - E) per unit, and the k-group test.

    For unit c against the rest, O - E and its variance are the c-th entries of the k-group
    computation (expected events and the diagonal of the variance matrix), as R's ``survdiff``
    would give on the two-group data.
    """
    k = counts.events.shape[0]
    if k == 0 or counts.events.sum() == 0:
        return np.full(k, np.nan), np.zeros(k), (math.nan, 0, math.nan)
    observed, expected, variance = _logrank_components(counts.events, counts.removed)
    rest_expected = expected.sum() - expected
    diagonal = np.diag(variance)
    difference = observed - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = difference**2 / diagonal
    pvalue = stats.chi2.sf(statistic, 1)
    valid = (expected > 0) & (rest_expected > 0) & (diagonal > 0)
    overall = (math.nan, 0, math.nan)
    if k >= 2:
        # a unit without expected events makes a 0/0 in the k-group statistic's pieces
        with np.errstate(divide="ignore", invalid="ignore"):
            overall = _chi_square_from_components(observed, expected, variance)
    return np.where(valid, pvalue, np.nan), difference, overall


def _share_columns(name: str, counts: _ShareCounts):
    k = counts.n.size
    z = _z_value(CONFIDENCE_LEVEL)
    low, high = _wilson(counts.successes, counts.n, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = counts.successes / counts.n
    columns = {
        f"{name}_share": share,
        f"{name}_low": low,
        f"{name}_high": high,
        f"{name}_n": counts.n,
    }
    total_s, total_n = counts.successes.sum(), counts.n.sum()
    pvalues = np.full(k, np.nan)
    effect = np.zeros(k)
    for unit in range(k):
        s, n = int(counts.successes[unit]), int(counts.n[unit])
        rest_s, rest_n = int(total_s - s), int(total_n - n)
        if n == 0 or rest_n == 0:
            continue
        pvalues[unit] = _fisher_pvalue(s, n - s, rest_s, rest_n - rest_s)
        effect[unit] = s / n - rest_s / rest_n
    overall = (math.nan, math.nan, math.nan)
    table = np.column_stack([counts.successes, counts.n - counts.successes])
    table = table[counts.n > 0]
    if table.shape[0] >= 2 and np.all(table.sum(axis=0) > 0):
        statistic, dof = _chi_square(table.astype(float))
        overall = (statistic, dof, float(stats.chi2.sf(statistic, dof)))
    return columns, pvalues, effect, overall


def _mean_columns(name, counts: _ValueCounts, labels, entropy, n_resamples):
    k = counts.table.shape[0]
    estimate, low, high = (np.full(k, np.nan) for _ in range(3))
    for unit in range(k):
        row = counts.table[unit]
        if row.sum() == 0:
            continue
        estimate[unit], low[unit], high[unit], _ = _bca_mean(
            counts.values,
            row,
            rng=_stream(entropy, name, labels[unit]),
            n_resamples=n_resamples,
            level=CONFIDENCE_LEVEL,
        )
    stat = "score" if counts.scale != 1.0 else "mean"
    n = counts.table.sum(axis=1)
    columns = {
        f"{name}_{stat}": estimate * counts.scale,
        f"{name}_low": low * counts.scale,
        f"{name}_high": high * counts.scale,
        f"{name}_n": n,
    }
    rest = counts.table.sum(axis=0) - counts.table
    u, pvalue = _mann_whitney_from_counts(np.stack([counts.table, rest]))
    effect = u - n * (n.sum() - n) / 2.0
    pvalue = np.where((n > 0) & (n.sum() - n > 0), pvalue, np.nan)
    h, dof, p_all = _kruskal_from_counts(counts.table)
    return columns, pvalue, effect, (h, dof, p_all)


def _ratio_columns(name, counts: _PairCounts, labels, entropy, n_resamples):
    k = counts.table.shape[0]
    estimate, low, high, variance = (np.full(k, np.nan) for _ in range(4))
    for unit in range(k):
        row = counts.table[unit]
        if row.sum() == 0:
            continue
        estimate[unit], low[unit], high[unit], se = _bca_ratio(
            counts.numerators,
            counts.denominators,
            row,
            rng=_stream(entropy, name, labels[unit]),
            n_resamples=n_resamples,
            level=CONFIDENCE_LEVEL,
        )
        variance[unit] = se**2
    n = counts.table.sum(axis=1)
    columns = {
        f"{name}_ratio": estimate,
        f"{name}_low": low,
        f"{name}_high": high,
        f"{name}_n": n,
        f"{name}_promised_total": counts.table @ counts.denominators,
    }
    rest = counts.table.sum(axis=0) - counts.table
    pvalue = np.full(k, np.nan)
    effect = np.zeros(k)
    for unit in range(k):
        r1, v1 = estimate[unit], variance[unit]
        r2, v2 = _linearised_from_table(counts.numerators, counts.denominators, rest[unit])
        total = v1 + v2
        if np.isfinite(total) and total > 0:
            z = (r1 - r2) / math.sqrt(total)
            pvalue[unit] = math.erfc(abs(z) / math.sqrt(2.0))
            effect[unit] = r1 - r2
    return columns, pvalue, effect, (math.nan, math.nan, math.nan)


def _linearised_from_table(numerators, denominators, counts) -> tuple[float, float]:
    n = counts.sum()
    den_total = counts @ denominators
    if n < 2 or den_total == 0:
        return math.nan, math.nan
    ratio = (counts @ numerators) / den_total
    residual = counts @ (numerators - ratio * denominators) ** 2
    return float(ratio), float(n / (n - 1) * residual / den_total**2)


def _build_table(
    prepared: _Prepared, unit_frame: pd.DataFrame, matrix, labels, *, entropy, n_resamples
):
    """Every metric column for the units defined by ``matrix`` (units x companies)."""
    columns: dict = {}
    tests: dict = {}
    family_p: dict = {}
    family_effect: dict = {}
    for family in FAMILIES:
        if family.name not in prepared.stats:
            continue
        counts = prepared.stats[family.name].collapse(matrix)
        if family.kind == "survival":
            block = _survival_columns(family.name, counts)
            pvalue, effect, overall = _logrank_vs_others(counts)
            tests[family.name] = _overall("log-rank", overall)
        elif family.kind == "share":
            block, pvalue, effect, overall = _share_columns(family.name, counts)
            tests[family.name] = _overall("Pearson's chi-square", overall)
        elif family.kind == "mean":
            block, pvalue, effect, overall = _mean_columns(
                family.name, counts, labels, entropy, n_resamples
            )
            tests[family.name] = _overall("Kruskal-Wallis H", overall)
        else:
            block, pvalue, effect, overall = _ratio_columns(
                family.name, counts, labels, entropy, n_resamples
            )
        n_column = block[f"{family.name}_n"]
        block[f"{family.name}_small_base"] = np.asarray(n_column) < SMALL_BASE
        columns.update(block)
        family_p[family.name] = np.asarray(pvalue, dtype=float)
        family_effect[family.name] = np.asarray(effect, dtype=float)
    for metric in metrics.METRICS:
        if metric.kind == "total" and metric.name in prepared.stats:
            totals = prepared.stats[metric.name].collapse(matrix)
            columns[metric.main.estimate] = totals.total
            columns[metric.n] = totals.n
    # one Benjamini-Hochberg family: every "vs all others" comparison of the table
    names = list(family_p)
    stacked = np.concatenate([family_p[name] for name in names]) if names else np.empty(0)
    adjusted = adjust_pvalues(stacked) if stacked.size else stacked
    k = len(labels)
    for position, name in enumerate(names):
        p_adj = adjusted[position * k : (position + 1) * k]
        effect = family_effect[name]
        better = (effect > 0) == _FAMILY[name].higher_is_better
        significant = p_adj < SIGNIFICANCE_LEVEL
        flag = np.where(significant & (effect != 0), np.where(better, "better", "worse"), "")
        columns[f"{name}_vs_others_p"] = family_p[name]
        columns[f"{name}_vs_others_p_adj"] = p_adj
        columns[f"{name}_vs_others_flag"] = flag
    ordered = _ordered_columns(columns)
    body = pd.DataFrame({column: columns[column] for column in ordered}, index=unit_frame.index)
    return pd.concat([unit_frame, body], axis=1), tests


def _overall(method: str, overall) -> dict:
    statistic, dof, pvalue = overall
    return {
        "method": method,
        "statistic": _clean(statistic),
        "dof": _clean(dof),
        "pvalue": _clean(pvalue),
    }


def _clean(value):
    value = float(value)
    return None if math.isnan(value) else value


def _ordered_columns(columns: dict) -> list[str]:
    """Metric by metric, in catalogue order (``analysis.metrics.Metric.columns``)."""
    return metrics.ordered(columns)


# --- public API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiTables:
    """Both tables from one reading of the responses; see :func:`summary_tables`.

    Attributes
    ----------
    companies : pandas.DataFrame
        One row per company (see :func:`company_table`).
    groups : pandas.DataFrame
        One row per sector x origin group (see :func:`group_table`).
    """

    companies: pd.DataFrame
    groups: pd.DataFrame


def _validate_table_options(responses, as_of, rng, n_resamples):
    frame = _validate_frame(responses, REQUIRED_COLUMNS)
    as_of_day = _validate_as_of(as_of)
    generator = _validate_rng(rng)
    resamples = _validate_resamples(n_resamples)
    return frame, as_of_day, generator, resamples


def summary_tables(
    responses: pd.DataFrame, *, as_of, rng, n_resamples: int = DEFAULT_RESAMPLES
) -> KpiTables:
    """The company table and the sector x origin table from one reading of ``responses``.

    Parameters
    ----------
    responses : pandas.DataFrame
        One row per response (see :func:`company_table` for the columns).
    as_of : datetime.date or str
        Analysis date (see :func:`company_table`).
    rng : numpy.random.Generator or int
        Randomness of the bootstrap intervals; the same seed gives the same tables.
    n_resamples : int, default 2000
        Bootstrap resamples per interval.

    Returns
    -------
    KpiTables
        ``companies`` and ``groups``, each exactly as :func:`company_table` and
        :func:`group_table` return them for the same arguments.
    """
    frame, as_of_day, generator, resamples = _validate_table_options(
        responses, as_of, rng, n_resamples
    )
    entropy = int(generator.integers(0, 2**63))
    prepared = _prepare(frame, as_of_day)
    return KpiTables(
        _company_table(prepared, as_of_day, entropy, resamples),
        _group_table(prepared, as_of_day, entropy, resamples),
    )


def company_table(
    responses: pd.DataFrame, *, as_of, rng, n_resamples: int = DEFAULT_RESAMPLES
) -> pd.DataFrame:
    """One row per company with every metric, its n, a small-base mark and "vs all others" flags.

    Parameters
    ----------
    responses : pandas.DataFrame
        One row per response, already filtered to the rows to analyse, with the columns
        ``company, sector, origin, status, started_on, ended_on, submitted_on,
        refund_requested, refund_outcome, refund_requested_on, refund_received_on,
        wasted_trips, wasted_km, technician_visits_useless, callbacks_promised,
        callbacks_received, false_resolved_count, loaner_offered, loaner_obtained,
        loaner_cut_before_resolution, csat, effort, nps`` (``company_name`` is used when
        present). Dates are datetime64 columns (any unit) with NaT for missing; counts may be
        nullable integers or floats with NaN for "don't know" (never read as zero); yes/no
        answers may be ``bool``, nullable ``boolean``, 1.0/0.0/NaN or objects.
    as_of : datetime.date or str
        The analysis date. Responses submitted after it are left out (their number is in
        ``attrs["excluded"]``), and a refused refund request counts as still unrefunded up to
        this date. It is recorded in ``attrs["as_of"]``.
    rng : numpy.random.Generator or int
        Randomness of the bootstrap intervals. One number is drawn from it, and each
        (metric, company) gets its own stream derived from that number and the names, so the
        table is reproducible and one company's interval does not depend on the others.
    n_resamples : int, default 2000
        Bootstrap resamples per interval.

    Returns
    -------
    pandas.DataFrame
        Sorted by company id. Columns: ``company, company_name, sector, origin, n``, then for
        each metric family (``FAMILIES``) its estimates with ``_low`` / ``_high`` 95% bounds,
        ``<family>_n`` (responses that enter the metric), ``<family>_small_base``
        (n < 30), and ``<family>_vs_others_p``, ``_p_adj`` (Benjamini-Hochberg across every
        comparison of the table) and ``_flag`` ("better", "worse", or "" unless the adjusted
        p-value is below 0.05). Time-to-event families also give ``_events`` and
        ``_excluded`` (missing or negative durations, left out and counted).
        ``attrs`` holds ``as_of``, the exclusion counts, the k-group tests across companies
        (log-rank, chi-square, Kruskal-Wallis) and the settings. A selection with no row
        left (nothing submitted by ``as_of``, or no rows at all) gives the table with its
        columns and no row, and ``attrs["empty_reason"]`` says why (None otherwise).

    Notes
    -----
    Definitions, censoring rules and methods are in ``docs/methodology.md``; in short: time to
    resolution is Kaplan-Meier with its median (log-log interval), the shares resolved within
    2, 7, 30 and 90 days (1 - S(t), log-log interval) and the restricted mean to 90 days
    (NaN when follow-up stops before 90 days); shares have Wilson intervals and Fisher's exact
    test; means and the callbacks ratio have BCa bootstrap intervals, with Mann-Whitney and a
    linearised Wald test respectively; the NPS is 100 x the mean of +1 (9-10), 0 (7-8) and
    -1 (0-6).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from analysis.kpis import company_table
    >>> day = pd.Timestamp
    >>> responses = pd.DataFrame({
    ...     "company": ["a", "a", "b", "b"], "sector": "isp", "origin": "fr",
    ...     "status": ["resolved", "ongoing", "resolved", "unresolved"],
    ...     "started_on": [day("2024-01-01")] * 4,
    ...     "ended_on": [day("2024-01-05"), pd.NaT, day("2024-01-03"), day("2024-02-01")],
    ...     "submitted_on": [day("2024-03-01")] * 4,
    ...     "refund_requested": [True, False, None, None],
    ...     "refund_outcome": ["full", None, None, None],
    ...     "refund_requested_on": [day("2024-01-02"), pd.NaT, pd.NaT, pd.NaT],
    ...     "refund_received_on": [day("2024-01-20"), pd.NaT, pd.NaT, pd.NaT],
    ...     "wasted_trips": [0, 2, None, 1], "wasted_km": [0, 30, None, 12],
    ...     "technician_visits_useless": [0, 1, None, None],
    ...     "callbacks_promised": [2, 1, 0, None], "callbacks_received": [1, 0, 0, None],
    ...     "false_resolved_count": [0, 1, 0, 0],
    ...     "loaner_offered": [True, False, None, None], "loaner_obtained": [True, None, None, None],
    ...     "loaner_cut_before_resolution": [False, None, None, None],
    ...     "csat": [4, 1, 5, 2], "effort": [2, 7, 1, 5], "nps": [9, 0, 10, 3],
    ... })
    >>> table = company_table(responses, as_of="2024-06-30", rng=1)
    >>> print(table[["company", "n", "resolution_median_days", "wasted_trips_mean"]])
      company  n  resolution_median_days  wasted_trips_mean
    0       a  2                     4.0                1.0
    1       b  2                     2.0                1.0
    >>> bool(table["resolution_small_base"].all())
    True
    """
    frame, as_of_day, generator, resamples = _validate_table_options(
        responses, as_of, rng, n_resamples
    )
    entropy = int(generator.integers(0, 2**63))
    return _company_table(_prepare(frame, as_of_day), as_of_day, entropy, resamples)


def group_table(
    responses: pd.DataFrame, *, as_of, rng, n_resamples: int = DEFAULT_RESAMPLES
) -> pd.DataFrame:
    """One row per sector x origin group (e.g. French ISPs), with the same columns as
    :func:`company_table` after ``group, sector, origin, companies, n``.

    Each group pools the responses of its companies; its "vs all others" comparisons set it
    against the responses of the other groups, and the Benjamini-Hochberg correction runs
    across this table's comparisons. ``attrs`` holds the k-group tests across groups.
    Parameters and returns as :func:`company_table`; a company's sector and origin are read
    from its first response (the storage layer joins them from the reference list).

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.kpis import REQUIRED_COLUMNS, group_table
    >>> day = pd.Timestamp
    >>> responses = pd.DataFrame({column: [None] * 3 for column in REQUIRED_COLUMNS})
    >>> responses["company"] = ["orange", "free", "amazon"]
    >>> responses["sector"] = ["isp", "isp", "retailer"]
    >>> responses["origin"] = ["fr", "fr", "foreign"]
    >>> responses["status"] = ["resolved", "ongoing", "resolved"]
    >>> responses["started_on"] = [day("2024-01-01")] * 3
    >>> responses["ended_on"] = [day("2024-01-05"), pd.NaT, day("2024-01-02")]
    >>> responses["submitted_on"] = [day("2024-02-01")] * 3
    >>> table = group_table(responses, as_of="2024-06-30", rng=1)
    >>> print(table[["group", "companies", "n", "resolution_events"]])
                  group     companies  n  resolution_events
    0            isp/fr  free, orange  2                  1
    1  retailer/foreign        amazon  1                  1
    """
    frame, as_of_day, generator, resamples = _validate_table_options(
        responses, as_of, rng, n_resamples
    )
    entropy = int(generator.integers(0, 2**63))
    return _group_table(_prepare(frame, as_of_day), as_of_day, entropy, resamples)


def _empty_reason(prepared: _Prepared) -> str | None:
    """Why a table has no row: None when it has rows."""
    if prepared.units.k:
        return None
    excluded = prepared.excluded
    if excluded["submitted_after_as_of"] or excluded["missing_submitted_on"]:
        return "no response submitted on or before `as_of`"
    if excluded["missing_company"]:
        return "no response names a company"
    return "no responses"


def _attrs(prepared: _Prepared, as_of_day: int, entropy: int, n_resamples: int, tests) -> dict:
    return {
        "as_of": str(np.datetime64(as_of_day, "D")),
        "empty_reason": _empty_reason(prepared),
        "excluded": dict(prepared.excluded),
        "overall_tests": tests,
        "n_resamples": n_resamples,
        "entropy": entropy,
        "confidence_level": CONFIDENCE_LEVEL,
        "small_base": SMALL_BASE,
        "significance_level": SIGNIFICANCE_LEVEL,
        "median_method": MEDIAN_METHOD,
    }


def _company_table(prepared: _Prepared, as_of_day, entropy, n_resamples) -> pd.DataFrame:
    units = prepared.units
    identity = np.eye(units.k, dtype=np.int64)
    unit_frame = pd.DataFrame(
        {
            "company": units.labels,
            "company_name": units.names,
            "sector": units.sectors,
            "origin": units.origins,
            "n": units.n,
        }
    )
    table, tests = _build_table(
        prepared, unit_frame, identity, units.labels, entropy=entropy, n_resamples=n_resamples
    )
    table.attrs = _attrs(prepared, as_of_day, entropy, n_resamples, tests)
    return table


def _group_keys(units: _Units):
    keys = sorted({(str(s), str(o)) for s, o in zip(units.sectors, units.origins, strict=True)})
    matrix = np.zeros((len(keys), units.k), dtype=np.int64)
    for company, key in enumerate(zip(units.sectors, units.origins, strict=True)):
        matrix[keys.index((str(key[0]), str(key[1])))][company] = 1
    return keys, matrix


def _group_table(prepared: _Prepared, as_of_day, entropy, n_resamples) -> pd.DataFrame:
    units = prepared.units
    keys, matrix = _group_keys(units)
    labels = [f"{sector}/{origin}" for sector, origin in keys]
    unit_frame = pd.DataFrame(
        {
            "group": labels,
            "sector": [sector for sector, _ in keys],
            "origin": [origin for _, origin in keys],
            "companies": [
                ", ".join(units.labels[c] for c in np.flatnonzero(row)) for row in matrix
            ],
            "n": matrix @ units.n,
        }
    )
    table, tests = _build_table(
        prepared, unit_frame, matrix, labels, entropy=entropy, n_resamples=n_resamples
    )
    table.attrs = _attrs(prepared, as_of_day, entropy, n_resamples, tests)
    return table


def survival_curves(
    responses: pd.DataFrame,
    *,
    as_of,
    metric: str = "resolution",
    by: str = "company",
    confidence_level: float = CONFIDENCE_LEVEL,
    method: str = "log-log",
) -> pd.DataFrame:
    """Kaplan-Meier curves per company (or group), tidy, ready to draw.

    Parameters
    ----------
    responses : pandas.DataFrame
        As for :func:`company_table` (only the columns of ``metric`` are read).
    as_of : datetime.date or str
        Analysis date, as for :func:`company_table`.
    metric : {"resolution", "refund_time"}
    by : {"company", "group"}
    confidence_level : float, default 0.95
    method : {"log-log", "log", "plain"}
        Pointwise band (R's ``conf.type``).

    Returns
    -------
    pandas.DataFrame
        Columns ``company`` (or ``group``), ``time`` (days), ``n_at_risk``, ``n_events``,
        ``n_censored``, ``survival`` (share not yet resolved), ``low``, ``high``: one row per
        distinct time of each curve, preceded by a row at day 0 with survival 1. For drawing,
        the band is 1 where the survival is 1 (R leaves it undefined under log-log).
    """
    if metric not in ("resolution", "refund_time"):
        raise ValueError("`metric` must be 'resolution' or 'refund_time'.")
    if by not in ("company", "group"):
        raise ValueError("`by` must be 'company' or 'group'.")
    level = _validate_confidence_level(confidence_level)
    from analysis.survival import _confidence_band, _validate_band_method

    _validate_band_method(method)
    needed = {
        "resolution": (
            "company",
            "sector",
            "origin",
            "status",
            "started_on",
            "ended_on",
            "submitted_on",
        ),
        "refund_time": (
            "company",
            "sector",
            "origin",
            "submitted_on",
            "refund_requested",
            "refund_outcome",
            "refund_requested_on",
            "refund_received_on",
        ),
    }[metric]
    frame = _validate_frame(responses, needed)
    as_of_day = _validate_as_of(as_of)
    prepared = _prepare(frame, as_of_day, families=[metric])
    units = prepared.units
    if by == "company":
        labels, matrix = units.labels, np.eye(units.k, dtype=np.int64)
    else:
        keys, matrix = _group_keys(units)
        labels = [f"{sector}/{origin}" for sector, origin in keys]
    counts = prepared.stats[metric].collapse(matrix)
    pieces = []
    z = _z_value(level)
    for unit, label in enumerate(labels):
        if counts.removed[unit].sum() == 0:
            continue
        curve = _kaplan_meier_from_counts(counts.times, counts.events[unit], counts.removed[unit])
        low, high = _confidence_band(curve.survival, curve.standard_error_log, z, method)
        at_one = curve.survival == 1
        piece = pd.DataFrame(
            {
                "time": curve.time,
                "n_at_risk": curve.n_at_risk,
                "n_events": curve.n_events,
                "n_censored": curve.n_censored,
                "survival": curve.survival,
                "low": np.where(at_one, 1.0, low),
                "high": np.where(at_one, 1.0, high),
            }
        )
        if curve.time[0] > 0:
            start = pd.DataFrame(
                {
                    "time": [0.0],
                    "n_at_risk": [curve.n_at_risk[0]],
                    "n_events": [0],
                    "n_censored": [0],
                    "survival": [1.0],
                    "low": [1.0],
                    "high": [1.0],
                }
            )
            piece = pd.concat([start, piece], ignore_index=True)
        piece.insert(0, by, label)
        pieces.append(piece)
    columns = [by, "time", "n_at_risk", "n_events", "n_censored", "survival", "low", "high"]
    if not pieces:
        return pd.DataFrame(columns=columns)
    result = pd.concat(pieces, ignore_index=True)
    result.attrs = {"as_of": str(np.datetime64(as_of_day, "D")), "metric": metric, "method": method}
    return result


def resolution_curves(responses: pd.DataFrame, *, as_of, by: str = "company") -> pd.DataFrame:
    """Time-to-resolution curves per company or group; see :func:`survival_curves`."""
    return survival_curves(responses, as_of=as_of, metric="resolution", by=by)
