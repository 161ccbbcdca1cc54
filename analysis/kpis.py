"""The barometer's tables: one row per company, or per sector x origin group, with every metric of
the product specification (section 4), its n, a small-base mark and a comparison with all
others that is flagged only when it survives the Benjamini-Hochberg correction.

A DataFrame of responses goes in (one row per response, already filtered); the work is a few
counting passes over its columns (one ``bincount`` per metric over company x value), after which
every statistic is computed from small count tables. Groups are sums of company tables, so the
group table costs almost nothing more. See ``docs/methodology.en.md`` (``.fr.md``) for the definitions.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import functools
import math
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from analysis import metrics
from analysis._kernels import (
    DEFAULT_RESAMPLES,
    CompetingPatterns,
    aj_core,
    aj_from_patterns,
    aj_time_in_state,
    bca_mean,
    bca_mean_expansion,
    bca_ratio,
    bca_ratio_expansion,
    boundary_wilson,
    chi_square,
    competing_patterns,
    confidence_band,
    fisher_pvalues,
    grouped_value_counts,
    kruskal_from_counts,
    mann_whitney_from_counts,
    newcombe,
    validate_band_method,
    validate_confidence_level,
    validate_resamples,
    validate_rng,
    wilson,
    z_value,
)
from analysis.proportions import adjust_pvalues

__all__ = [
    "CONFIDENCE_LEVEL",
    "FAMILIES",
    "RESOLVED_WITHIN_DAYS",
    "RMST_HORIZON_DAYS",
    "SIGNIFICANCE_LEVEL",
    "SMALL_BASE",
    "KpiTables",
    "bases",
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
MEDIAN_METHOD = "log"  # the median of the cumulative incidence, from its pointwise log interval
METHODOLOGY_VERSION = 3
"""2: competing outcomes (Aalen-Johansen), delayed entry, effect sizes beside every flag.
3: from 1,000 responses on, every BCa interval in closed form (no resampling)."""


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
OPTIONAL_COLUMNS = ("status_known_on", "refund_amount_requested", "refund_amount_obtained")
"""Read when present (questionnaire version 2 and the refund amounts): an ongoing case is
censored at ``status_known_on`` when it is known; without the amounts, the share of the amount
obtained has a base of 0 (every figure missing, hence suppressed)."""
READ_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
"""Every column the tables read (what a caller fetches, what a snapshot hashes)."""
AMOUNT_SHARE_STEP = 0.001
"""The share of the amount obtained is counted to the nearest 0.1% (a frequency table of at
most 1,001 values per company)."""
BOOTSTRAP_EXPANSION_N = 1000
"""From this base on, every BCa interval of the tables (the means, the scores, the share of the
amount obtained, the callbacks ratio) is the BCa interval of the bootstrap's limit in closed
form (``bca_mean_expansion``, ``bca_ratio_expansion``) rather than 2,000 multinomial resamples
of the unit's value table: one pass over the table instead of 2,000 x its size (up to 1,001
values for the amount share), and no Monte Carlo error. Below it, where the neglected terms of
the expansion grow, the seeded bootstrap itself, as R's ``boot.ci(type = "bca")``."""
_STATUSES = ("resolved", "ongoing", "unresolved")
_OUTCOMES = ("full", "partial", "refused", "pending")


# --- reading the responses --------------------------------------------------------------------


# --- one reading of each column per computation ------------------------------------------------
#
# A dashboard or a snapshot computes tables, curves, cuts, design cells and disclosure holds from
# the same responses: inside ``shared_reading()`` each column of a given frame is turned into
# numbers once, and the readings are shared (read-only arrays) by every function that needs them.

_READINGS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("readings", default=None)


@contextlib.contextmanager
def shared_reading():
    """Within this block, each (frame, column) is read once: the frames must not change.

    >>> frame = pd.DataFrame({"d": pd.to_datetime(["2024-01-02", None])})
    >>> with shared_reading():
    ...     _days(frame, "d") is _days(frame, "d")
    True
    >>> _days(frame, "d") is _days(frame, "d")
    False
    """
    token = _READINGS.set({})
    try:
        yield
    finally:
        _READINGS.reset(token)


def _read_once(function):
    """Memoise ``function(frame, *args)`` on the frame's identity inside ``shared_reading``;
    the frame is kept alive with the reading so that its id cannot be reused."""

    @functools.wraps(function)
    def read(frame, *args):
        readings = _READINGS.get()
        if readings is None:
            return function(frame, *args)
        key = (function.__name__, id(frame), args)
        if key not in readings:
            value = function(frame, *args)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            readings[key] = (frame, value)
        return readings[key][1]

    return read


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


@_read_once
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


@_read_once
def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as floats, NaN for "don't know" (nullable integers, floats, objects)."""
    series = frame[column]
    if series.dtype == np.float64:  # NaN already stands for "don't know": no copy to make
        view = series.to_numpy().view()
        view.flags.writeable = False  # the caller's frame, read, never written
        return view
    if series.dtype == object:
        try:
            series = pd.to_numeric(series)
        except (TypeError, ValueError):
            raise ValueError(f"`responses['{column}']` must hold numbers.") from None
    try:
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"`responses['{column}']` must hold numbers.") from None


@_read_once
def _flags(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A yes/no column as 1.0 / 0.0 / NaN, whatever its storage.

    Accepts numpy ``bool``, pandas nullable ``boolean``, numbers 1/0/NaN, and ``object`` columns
    holding True/False/None/NaN/``pd.NA``.
    """
    series = frame[column]
    if series.dtype == bool or isinstance(series.dtype, pd.BooleanDtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if series.dtype == object:
        # each distinct value is judged once (a hash pass in C, not a comparison per row);
        # None, NaN and pd.NA are missing
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        lookup = []
        for value in list(uniques):
            if (
                value is True
                or value is False
                or isinstance(value, (np.bool_, np.number, int, float))
            ):
                if value == True:  # noqa: E712  (True, 1, 1.0, np.True_)
                    lookup.append(1.0)
                    continue
                if value == False:  # noqa: E712
                    lookup.append(0.0)
                    continue
            raise ValueError(f"`responses['{column}']` must hold True, False or missing values.")
        return np.array([*lookup, np.nan])[codes]
    numbers = _numbers(frame, column)
    known = numbers[~np.isnan(numbers)]
    if np.any((known != 0) & (known != 1)):
        raise ValueError(f"`responses['{column}']` must hold True, False or missing values.")
    return numbers


@_read_once
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


@_read_once
def _units(frame: pd.DataFrame, as_of_day: int) -> _Units:
    submitted = _days(frame, "submitted_on")
    # (a categorical column is factorized on its codes, in order of appearance as for objects)
    codes, uniques = pd.factorize(frame["company"], use_na_sentinel=True)
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
        values = frame[column].iloc[first_rows[order]].to_numpy() if k else []
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


def _units_of_rows(units: _Units, rows: np.ndarray) -> _Units:
    """``units`` restricted to ``rows``: the other rows left out, the companies left without a
    row dropped (the labels, codes and counts :func:`_units` gives for a frame whose other
    rows have no company; the notes of what was excluded stay those of the whole frame)."""
    kept = rows & (units.codes < units.k)
    counts = np.bincount(units.codes[kept], minlength=units.k)
    present = np.flatnonzero(counts)
    k = present.size
    remap = np.full(units.k + 1, k, dtype=np.int64)
    remap[present] = np.arange(k)
    codes = np.where(kept, remap[units.codes], k)
    return _Units(
        labels=[units.labels[i] for i in present],
        names=[units.names[i] for i in present],
        sectors=[units.sectors[i] for i in present],
        origins=[units.origins[i] for i in present],
        codes=codes,
        n=counts[present],
        excluded=units.excluded,
    )


# --- sufficient statistics per company ---------------------------------------------------------


class _ShareCounts(NamedTuple):
    successes: np.ndarray
    n: np.ndarray

    def collapse(self, matrix):
        return _ShareCounts(matrix @ self.successes, matrix @ self.n)

    def restrict(self, keep):
        return _ShareCounts(self.successes * keep, self.n * keep)


class _ValueCounts(NamedTuple):
    values: np.ndarray
    table: np.ndarray  # (k, m)
    scale: float  # the estimate is reported as mean * scale (100 for NPS)

    def collapse(self, matrix):
        return _ValueCounts(self.values, matrix @ self.table, self.scale)

    def restrict(self, keep):
        return _ValueCounts(self.values, self.table * keep[:, None], self.scale)


class _PairCounts(NamedTuple):
    numerators: np.ndarray
    denominators: np.ndarray
    table: np.ndarray

    def collapse(self, matrix):
        return _PairCounts(self.numerators, self.denominators, matrix @ self.table)

    def restrict(self, keep):
        return _PairCounts(self.numerators, self.denominators, self.table * keep[:, None])


class _Bases(NamedTuple):
    """The base of a metric per unit alone (what :func:`bases` needs, no count table)."""

    n: np.ndarray

    def collapse(self, matrix):
        return _Bases(matrix @ self.n)


def _base_of(units: _Units, valid) -> _Bases:
    return _Bases(np.bincount(units.masked(valid), minlength=units.k + 1)[: units.k])


class _Totals(NamedTuple):
    total: np.ndarray
    n: np.ndarray

    def collapse(self, matrix):
        return _Totals(matrix @ self.total, matrix @ self.n)


# --- competing outcomes (Aalen-Johansen) -------------------------------------------------------
#
# Times are shifted by one day inside the kernels: an incident followed from day 0 enters at -1,
# so it is at risk on day 0 as in R's right-censored ``Surv(time, status)``, while an incident
# that began before the launch enters at its delay exactly as ``Surv(entry, exit, status)``
# (at risk on the days after it). Every time read back is shifted again.

CAUSES = 2  # 1: the wanted outcome (resolved, refund received); 2: the other (gave up, refused)


class _CompetingCounts(NamedTuple):
    patterns: CompetingPatterns  # group = unit code
    units: int
    excluded: np.ndarray  # (k,) in scope but not placeable (missing or impossible dates)
    late: np.ndarray  # (k,) entering late (began before the launch)

    def collapse(self, matrix):
        unit_of = np.argmax(matrix, axis=0) if matrix.size else np.zeros(0, dtype=np.int64)
        p = self.patterns
        grouped = CompetingPatterns(p.times, unit_of[p.group], p.first, p.last, p.cause, p.count)
        return _CompetingCounts(
            grouped, matrix.shape[0], matrix @ self.excluded, matrix @ self.late
        )

    def restrict(self, keep):
        """The same units, those outside ``keep`` (0/1 per unit) without any pattern."""
        p = self.patterns
        rows = keep[p.group].astype(bool)
        kept = CompetingPatterns(
            p.times, p.group[rows], p.first[rows], p.last[rows], p.cause[rows], p.count[rows]
        )
        return _CompetingCounts(kept, self.units, self.excluded * keep, self.late * keep)

    def rest(self):
        """For each unit u, the patterns of every other unit, labelled u ("all others")."""
        p, k = self.patterns, self.units
        owner = np.repeat(np.arange(k), p.group.size)
        keep = np.tile(p.group, k) != owner
        pick = np.tile(np.arange(p.group.size), k)[keep]
        return CompetingPatterns(
            p.times, owner[keep], p.first[pick], p.last[pick], p.cause[pick], p.count[pick]
        )


def _competing_counts(
    units: _Units, durations, causes, in_scope, entry=None, *, usable=None, bases_only=False
) -> _CompetingCounts:
    """Pattern table of a metric with competing outcomes; unplaceable rows counted as excluded.

    ``entry`` (days from the start of the problem to the launch, 0 when it began after) makes
    the incidents that began before the launch enter late; one that ended before the launch
    could not have been reported under that rule and is excluded (and counted).
    """
    # ``usable``: :func:`_placeable` of these durations and entries, when already known
    usable = in_scope & (_placeable(durations, entry) if usable is None else usable)
    if bases_only:
        return _base_of(units, usable)
    codes = units.masked(usable)
    keep = codes < units.k
    excluded = np.bincount(units.masked(in_scope & ~usable), minlength=units.k + 1)[: units.k]
    late = np.zeros(units.k, dtype=np.int64)
    if not keep.any():
        empty = np.zeros(0, dtype=np.int64)
        patterns = CompetingPatterns(np.empty(0), empty, empty, empty, empty, empty)
        return _CompetingCounts(patterns, units.k, excluded, late)
    exits = durations[keep] + 1.0
    entries = None
    if entry is not None:
        delayed = entry[keep] > 0
        late = np.bincount(codes[keep][delayed], minlength=units.k)
        if delayed.any():
            entries = np.where(delayed, entry[keep] + 1.0, 0.0)
    patterns = competing_patterns(
        exits,
        causes[keep].astype(np.int64),
        codes[keep],
        units.k,
        entry=entries,
        n_causes=CAUSES,
    )
    return _CompetingCounts(patterns, units.k, excluded, late)


class _Curves(NamedTuple):
    """Aalen-Johansen curves of every unit on the shared grid of (original) days."""

    time: np.ndarray  # (m,) days
    n_at_risk: np.ndarray  # (k, m)
    probability: np.ndarray  # (k, 3, m): no outcome yet, outcome 1, outcome 2
    standard_error: np.ndarray  # (k, 3, m)
    last: np.ndarray  # (k,) index of each unit's last exit time (-1 when it has none)
    n: np.ndarray  # (k,) units entering the metric


def _curves(patterns: CompetingPatterns, k: int, core=None, se_states=None) -> _Curves:
    """``se_states``: the states whose standard errors are wanted (the others NaN)."""
    if patterns.count.size == 0:
        return _Curves(
            np.empty(0),
            np.zeros((k, 0)),
            np.zeros((k, CAUSES + 1, 0)),
            np.zeros((k, CAUSES + 1, 0)),
            np.full(k, -1),
            np.zeros(k, dtype=np.int64),
        )
    curves = aj_from_patterns(patterns, k, CAUSES, core=core, se_states=se_states)
    removed = curves.n_events.sum(axis=1) + curves.n_censored
    seen = removed > 0
    last = np.where(seen.any(axis=1), seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1), -1)
    n = np.bincount(patterns.group, patterns.count, minlength=k).astype(np.int64)
    return _Curves(
        curves.time - 1.0, curves.n_at_risk, curves.probability, curves.standard_error, last, n
    )


def _incidence_at(curves: _Curves, cause: int, days, z: float):
    """F_cause at each of ``days`` for every unit: (estimate, low, high, se, extended), (k, d).

    Log interval as R's multi-state ``summary(fit, times = t)`` (F exp(+-z se / F), capped at
    1); where F is 0 or 1 the interval is Wilson's for "0 of n" on the risk set. A day after a
    unit's last time gives its last estimate, marked ``extended`` (R's ``extend = TRUE``).
    """
    days = np.asarray(days, dtype=float)
    k = curves.probability.shape[0]
    index = np.searchsorted(curves.time, days, side="right") - 1  # (d,)
    started = index >= 0
    safe = np.clip(index, 0, None)
    if curves.time.size == 0:
        nan = np.full((k, days.size), np.nan)
        return nan, nan, nan, nan, np.zeros((k, days.size), dtype=bool)
    estimate = np.where(started, curves.probability[:, cause, safe], 0.0)
    se = np.where(started, curves.standard_error[:, cause, safe], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(se == 0, 0.0, se / estimate)
        low = estimate * np.exp(-z * se_log)
        high = np.minimum(1.0, estimate * np.exp(z * se_log))
    nxt = np.minimum(index + 1, curves.time.size - 1)
    n_next = curves.n_at_risk[:, nxt]
    n_here = curves.n_at_risk[:, safe]
    boundary = (estimate == 0) | (estimate == 1)
    if boundary.any():
        w_low, w_high = boundary_wilson(estimate, np.where(estimate == 1, n_here, n_next), z)
        low, high = np.where(boundary, w_low, low), np.where(boundary, w_high, high)
    last_time = np.where(curves.last >= 0, curves.time[np.clip(curves.last, 0, None)], -np.inf)
    extended = days[None, :] > last_time[:, None]
    empty = curves.n == 0
    estimate, low, high, se = (
        np.where(empty[:, None], np.nan, a) for a in (estimate, low, high, se)
    )
    return estimate, low, high, se, extended & ~empty[:, None]


def _incidence_median(curves: _Curves, cause: int, z: float):
    """First day F_cause reaches 1/2, with the days where its upper and lower bounds do."""
    k = curves.probability.shape[0]
    out = np.full((3, k), np.nan)
    if curves.time.size == 0:
        return out
    estimate = curves.probability[:, cause]
    se = curves.standard_error[:, cause]
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(se == 0, 0.0, se / estimate)
        low = estimate * np.exp(-z * se_log)
        high = np.minimum(1.0, estimate * np.exp(z * se_log))
    half = 0.5 - 1e-12
    for row, values in enumerate((estimate, high, low)):
        reached = values >= half
        first = np.argmax(reached, axis=1)
        out[row] = np.where(reached.any(axis=1), curves.time[first], np.nan)
    out[:, curves.n == 0] = np.nan
    return out


def _time_without(patterns: CompetingPatterns, k: int, tau: float, core=None):
    """Restricted mean days without outcome 1 within ``tau`` (tau minus the mean time lost to
    it, R's ``print(fit, rmean = tau)``) and its standard error, per unit."""
    if patterns.count.size == 0:
        return np.full(k, np.nan), np.full(k, np.nan)
    # (the standard error of the time lost to outcome 1 alone: the only one read)
    estimate, standard_error = aj_time_in_state(
        patterns, k, CAUSES, tau + 1.0, core=core, se_states=(1,)
    )
    n = np.bincount(patterns.group, patterns.count, minlength=k)
    without = np.where(n > 0, tau - estimate[:, 1], np.nan)
    return without, np.where(n > 0, standard_error[:, 1], np.nan)


def _wald_difference(first, first_se, second, second_se, z: float):
    """Difference of two independent estimates: (difference, low, high, two-sided p)."""
    difference = first - second
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(first_se**2 + second_se**2)
        valid = np.isfinite(difference) & np.isfinite(se) & (se > 0)
        pvalue = np.where(valid, 2.0 * stats.norm.sf(np.abs(difference) / se), np.nan)
    difference = np.where(valid, difference, np.nan)
    return difference, difference - z * se, difference + z * se, pvalue


def _heterogeneity(estimate, standard_error) -> tuple[float, float, float]:
    """Wald chi-square of equal estimates across units (units with a standard error only)."""
    valid = np.isfinite(estimate) & np.isfinite(standard_error) & (standard_error > 0)
    if valid.sum() < 2:
        return math.nan, math.nan, math.nan
    weight = 1.0 / standard_error[valid] ** 2
    mean = np.sum(weight * estimate[valid]) / weight.sum()
    statistic = float(np.sum(weight * (estimate[valid] - mean) ** 2))
    dof = int(valid.sum() - 1)
    return statistic, dof, float(stats.chi2.sf(statistic, dof))


def _competing_columns(name: str, counts: _CompetingCounts):
    """Median, cumulative incidences within fixed days, the comparison measure, and each unit
    against all the others pooled."""
    k = counts.units
    z = z_value(CONFIDENCE_LEVEL)
    resolution = name == "resolution"
    # (the curves and the restricted mean start from the same pieces: computed once)
    core = aj_core(counts.patterns, k, CAUSES) if counts.patterns.count.size else None
    curves = _curves(counts.patterns, k, core)
    within = RESOLVED_WITHIN_DAYS if resolution else (REFUNDED_WITHIN_DAYS,)
    prefix = "resolved_within" if resolution else "refunded_within"
    n_events = np.bincount(
        counts.patterns.group[counts.patterns.cause == 1],
        counts.patterns.count[counts.patterns.cause == 1],
        minlength=k,
    ).astype(np.int64)
    n_other = np.bincount(
        counts.patterns.group[counts.patterns.cause == 2],
        counts.patterns.count[counts.patterns.cause == 2],
        minlength=k,
    ).astype(np.int64)
    other = "gave_up" if resolution else "refused"
    columns = {
        f"{name}_n": curves.n,
        f"{name}_events": n_events,
        f"{name}_{other}": n_other,
        f"{name}_excluded": counts.excluded,
    }
    if resolution:
        columns[f"{name}_late_entry"] = counts.late
    median = _incidence_median(curves, 1, z)
    columns[f"{name}_median_days"] = median[0]
    columns[f"{name}_median_low"] = median[1]
    columns[f"{name}_median_high"] = median[2]
    share, low, high, se, extended = _incidence_at(curves, 1, within, z)
    for i, day in enumerate(within):
        columns[f"{prefix}_{day}d_share"] = share[:, i]
        columns[f"{prefix}_{day}d_low"] = low[:, i]
        columns[f"{prefix}_{day}d_high"] = high[:, i]
        columns[f"{name}_within_{day}d_extended"] = extended[:, i]
    if resolution:
        gave_up, g_low, g_high, _, _ = _incidence_at(curves, 2, within, z)
        for i, day in enumerate(within):
            columns[f"gave_up_within_{day}d_share"] = gave_up[:, i]
            columns[f"gave_up_within_{day}d_low"] = g_low[:, i]
            columns[f"gave_up_within_{day}d_high"] = g_high[:, i]
        tau = float(RMST_HORIZON_DAYS)
        without, without_se = _time_without(counts.patterns, k, tau, core)
        columns[f"{name}_unresolved{RMST_HORIZON_DAYS}_days"] = without
        columns[f"{name}_unresolved{RMST_HORIZON_DAYS}_low"] = np.clip(
            without - z * without_se, 0.0, tau
        )
        columns[f"{name}_unresolved{RMST_HORIZON_DAYS}_high"] = np.clip(
            without + z * without_se, 0.0, tau
        )
        columns[f"{name}_unresolved{RMST_HORIZON_DAYS}_se"] = without_se
        rest_without, rest_se = _time_without(counts.rest(), k, tau)
        size = _wald_difference(without, without_se, rest_without, rest_se, z)
        overall = _heterogeneity(without, without_se)
    else:
        day = float(REFUNDED_WITHIN_DAYS)
        rest = _curves(counts.rest(), k, se_states=(1,))  # (read at one day, outcome 1)
        rest_share, _, _, rest_se, _ = _incidence_at(rest, 1, [day], z)
        size = _wald_difference(share[:, 0], se[:, 0], rest_share[:, 0], rest_se[:, 0], z)
        overall = _heterogeneity(share[:, 0], se[:, 0])
    difference, diff_low, diff_high, pvalue = size
    return columns, pvalue, difference, overall, (difference, diff_low, diff_high)


def _share_counts(units: _Units, valid, success, *, bases_only: bool = False) -> _ShareCounts:
    if bases_only:
        return _base_of(units, valid)
    codes = units.masked(valid)
    cells = np.bincount(codes * 2 + (success & valid), minlength=2 * (units.k + 1))
    cells = cells.reshape(units.k + 1, 2)[: units.k]
    return _ShareCounts(cells[:, 1], cells.sum(axis=1))


def _value_counts(
    units: _Units, values, *, scale: float = 1.0, step=None, bases_only: bool = False
) -> _ValueCounts:
    """Frequency table per unit; ``step``: the values are whole multiples of it (counted as
    whole numbers, one bincount, then given back as the same multiples)."""
    valid = ~np.isnan(values)
    if bases_only:
        return _base_of(units, valid)
    if step is None:
        distinct, table = grouped_value_counts(
            np.where(valid, values, 0.0), units.masked(valid), units.k + 1
        )
        return _ValueCounts(distinct, table[: units.k], scale)
    multiples = np.round(np.where(valid, values, 0.0) / step)
    distinct, table = grouped_value_counts(multiples, units.masked(valid), units.k + 1)
    return _ValueCounts(distinct * step, table[: units.k], scale)


def _pair_counts(
    units: _Units, numerators, denominators, valid, *, bases_only: bool = False
) -> _PairCounts:
    if bases_only:
        return _base_of(units, valid)
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
    distinct, table = grouped_value_counts(values)
    if distinct.size and distinct[0] >= 0 and np.array_equal(distinct, np.floor(distinct)):
        lookup = np.full(int(distinct[-1]) + 1, -1, dtype=np.int64)
        lookup[distinct.astype(np.int64)] = np.arange(distinct.size)
        return distinct, lookup[values.astype(np.int64)]
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, inverse.reshape(-1)


_EVERY_FAMILY = frozenset(family.name for family in FAMILIES)


@dataclass
class _Prepared:
    units: _Units
    stats: dict
    excluded: dict
    launch_day: float | None = None


def _prepare(
    frame: pd.DataFrame,
    as_of_day: int,
    families=None,
    launch_day: float | None = None,
    units: _Units | None = None,
    *,
    bases_only: bool = False,
) -> _Prepared:
    """Read the responses once and build the count tables of every requested family
    (``bases_only``: only their bases, per unit); inside ``shared_reading()`` the same request
    (frame, date, families, launch, units) is built once (a dashboard asks the bases of the
    same responses several times), and served from the tables of every family when built."""
    wanted = {family.name for family in FAMILIES} if families is None else set(families)
    units = _units(frame, as_of_day) if units is None else units
    readings = _READINGS.get()
    if readings is None:
        return _prepare_counts(frame, as_of_day, wanted, launch_day, units, bases_only)
    # the frame and the units are kept with the result, so that their ids cannot be reused
    request = ("_prepare", id(frame), as_of_day, frozenset(wanted), launch_day, id(units))
    key = (*request, bases_only)
    if key not in readings:
        every = ("_prepare", id(frame), as_of_day, _EVERY_FAMILY, launch_day, id(units), False)
        if bases_only and (*request, False) in readings:  # the full tables give the bases
            prepared = readings[(*request, False)][2]
        elif every in readings:  # the count tables of every family are there: take those asked
            whole = readings[every][2]
            subset = {name: counts for name, counts in whole.stats.items() if name in wanted}
            prepared = _Prepared(whole.units, subset, whole.excluded, whole.launch_day)
        else:
            prepared = _prepare_counts(frame, as_of_day, wanted, launch_day, units, bases_only)
        readings[key] = (frame, units, prepared)
    return readings[key][2]


def _prepare_counts(frame, as_of_day, wanted, launch_day, units, bases_only=False) -> _Prepared:
    """The count tables of the ``wanted`` families (``bases_only``: their bases alone)."""
    stats: dict = {}
    notes: dict = {}
    shares = functools.partial(_share_counts, bases_only=bases_only)
    value_table = functools.partial(_value_counts, bases_only=bases_only)
    pairs = functools.partial(_pair_counts, bases_only=bases_only)
    competing = functools.partial(_competing_counts, bases_only=bases_only)

    if "resolution" in wanted:
        status = _choice_codes(frame, "status", _STATUSES)
        durations, causes, entry, usable = _resolution_rows(frame, as_of_day, launch_day)
        # every response enters; an unknown status or a missing or negative duration is
        # left out and counted in resolution_excluded
        everyone = np.ones(durations.size, dtype=bool)
        stats["resolution"] = competing(units, durations, causes, everyone, entry, usable=usable)
        notes["unrecognised_status"] = int(np.count_nonzero(units.masked(status == -2) < units.k))
        notes["missing_status"] = int(np.count_nonzero(units.masked(status == -1) < units.k))
        if entry is not None:
            before = (entry > 0) & np.isfinite(durations) & (durations <= entry)
            notes["ended_before_launch"] = int(np.count_nonzero(units.masked(before) < units.k))

    outcome = None
    if wanted & {
        "refund_success",
        "refund_full",
        "refund_partial",
        "refund_amount_share",
        "refund_time",
    }:
        outcome = _choice_codes(frame, "refund_outcome", _OUTCOMES)
        notes["unrecognised_refund_outcome"] = int(
            np.count_nonzero(units.masked(outcome == -2) < units.k)
        )
        decided = (outcome >= 0) & (outcome <= 2)
        paid = (outcome == 0) | (outcome == 1)
        # (only what is asked: a cut asks refund success alone)
        if "refund_success" in wanted:
            stats["refund_success"] = shares(units, decided, paid)
        if "refund_full" in wanted:
            stats["refund_full"] = shares(units, decided, outcome == 0)
        if "refund_partial" in wanted:
            stats["refund_partial"] = shares(units, decided, outcome == 1)
        if "refund_amount_share" in wanted:
            stats["refund_amount_share"] = value_table(
                units, _amount_share(frame, outcome, notes, units), step=AMOUNT_SHARE_STEP
            )
    if "refund_time" in wanted:
        requested = _flags(frame, "refund_requested")
        asked_on = _days(frame, "refund_requested_on")
        received_on = _days(frame, "refund_received_on")
        submitted = _days(frame, "submitted_on")
        paid = (outcome == 0) | (outcome == 1)
        # received and refused compete; a refusal is known by the report, a pending request is
        # followed until it: nothing depends on the date the table is computed
        stop = np.select([paid, outcome == 2, outcome == 3], [received_on, submitted, submitted])
        stop = np.where(paid | (outcome == 2) | (outcome == 3), stop, np.nan)
        causes = np.select([paid, outcome == 2], [1, 2], default=0)
        # a request whose outcome is unknown enters the metric but cannot be placed: excluded
        in_scope = (outcome >= 0) | (requested == 1)
        stats["refund_time"] = competing(units, stop - asked_on, causes, in_scope)

    if wanted & {"wasted_trips", "wasted_trips_any"}:
        trips = _non_negative(_numbers(frame, "wasted_trips"), "wasted_trips", notes, units)
        stats["wasted_trips"] = value_table(units, trips)
        stats["wasted_trips_any"] = shares(units, ~np.isnan(trips), trips >= 1)
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
        stats["useless_visits"] = value_table(units, useless)
        stats["useless_visits_any"] = shares(units, ~np.isnan(useless), useless >= 1)
    if "callbacks_kept" in wanted:
        promised = _non_negative(
            _numbers(frame, "callbacks_promised"), "callbacks_promised", notes, units
        )
        received = _non_negative(
            _numbers(frame, "callbacks_received"), "callbacks_received", notes, units
        )
        valid = (promised > 0) & ~np.isnan(received)
        stats["callbacks_kept"] = pairs(units, received, promised, valid)
    if "false_resolved" in wanted:
        false_resolved = _non_negative(
            _numbers(frame, "false_resolved_count"), "false_resolved_count", notes, units
        )
        stats["false_resolved"] = shares(units, ~np.isnan(false_resolved), false_resolved >= 1)
    if wanted & {"loaner_offered", "loaner_obtained", "loaner_cut"}:
        offered = _flags(frame, "loaner_offered")
        obtained = _flags(frame, "loaner_obtained")
        cut = _flags(frame, "loaner_cut_before_resolution")
        stats["loaner_offered"] = shares(units, ~np.isnan(offered), offered == 1)
        stats["loaner_obtained"] = shares(
            units, (offered == 1) & ~np.isnan(obtained), obtained == 1
        )
        stats["loaner_cut"] = shares(units, (obtained == 1) & ~np.isnan(cut), cut == 1)
    if wanted & {"csat", "csat_satisfied"}:
        csat = _in_range(_numbers(frame, "csat"), 1, 5, "csat", notes, units)
        stats["csat"] = value_table(units, csat)
        stats["csat_satisfied"] = shares(units, ~np.isnan(csat), csat >= 4)
    if "effort" in wanted:
        stats["effort"] = value_table(
            units, _in_range(_numbers(frame, "effort"), 1, 7, "effort", notes, units)
        )
    if "nps" in wanted:
        nps = _in_range(_numbers(frame, "nps"), 0, 10, "nps", notes, units)
        # promoters (9-10) count +1, detractors (0-6) -1, passives 0: NPS = 100 x their mean
        category = np.where(nps >= 9, 1.0, np.where(nps <= 6, -1.0, 0.0))
        stats["nps"] = value_table(units, np.where(np.isnan(nps), np.nan, category), scale=100.0)
    return _Prepared(units, stats, {**units.excluded, **notes}, launch_day)


@_read_once
def _resolution_rows(frame: pd.DataFrame, as_of_day: int, launch_day):
    """Per response, what time to resolution reads whatever the units: (duration in days,
    cause, delayed entry or None, usable) where usable marks the rows that can be placed."""
    status = _choice_codes(frame, "status", _STATUSES)
    started = _days(frame, "started_on")
    ended = _days(frame, "ended_on")
    submitted = _days(frame, "submitted_on")
    # an ongoing incident is followed until the last day its status was known: the date
    # the person gave ("où en est-on, à quelle date ?", or a later update), else the report
    censored = _status_known(frame, started, submitted, as_of_day)
    stop = np.where(status == 1, censored, np.where(status >= 0, ended, np.nan))
    causes = np.select([status == 0, status == 2], [1, 2], default=0)
    entry = None
    # each incident enters at the opening of the survey that collected it: an imported
    # row carries its own (``collected_from``), the others Client Roi's launch
    opening = np.full(started.size, np.nan if launch_day is None else float(launch_day))
    if "collected_from" in frame.columns:
        collected = _days(frame, "collected_from")
        opening = np.where(np.isfinite(collected), collected, opening)
    if np.isfinite(opening).any():
        known = np.isfinite(started) & np.isfinite(opening)
        entry = np.where(known, np.maximum(opening - started, 0.0), 0.0)
    durations = stop - started
    usable = _placeable(durations, entry)
    for array in (durations, causes, entry, usable):
        if array is not None:
            array.flags.writeable = False
    return durations, causes, entry, usable


def _placeable(durations, entry) -> np.ndarray:
    """Rows whose duration can be placed: known, not negative, and (with a delayed entry)
    not ended before it."""
    usable = np.isfinite(durations) & (durations >= 0)
    if entry is not None:
        usable &= (entry <= 0) | (durations > entry)
    return usable


def _status_known(frame: pd.DataFrame, started, submitted, as_of_day) -> np.ndarray:
    """The day an ongoing case was last known to be ongoing: ``status_known_on`` when given
    and within [start, ``as_of``], else the report (``submitted_on``). The form asks it no later
    than the report; a later update of the testimony may move it after the report, never after
    the day the table is computed for."""
    if "status_known_on" not in frame.columns:
        return submitted
    known = _days(frame, "status_known_on")
    usable = np.isfinite(known) & ~(known < started) & ~(known > as_of_day)
    return np.where(usable, known, submitted)


def _amount_share(frame: pd.DataFrame, outcome, notes, units) -> np.ndarray:
    """Per decided request, the amount obtained over the amount requested, in [0, 1].

    A refusal obtained 0; a refund (full or partial) obtained its amount over the amount
    requested, capped at 1 (a goodwill gesture above the request obtained all of it); a full
    refund whose amount obtained is not known obtained all of it. NaN where the amount
    requested is unknown or zero, for a partial refund of unknown amount and for pending or
    unknown outcomes. Counted to the nearest :data:`AMOUNT_SHARE_STEP`.
    """

    def amounts(column: str) -> np.ndarray:
        if column not in frame.columns:  # a frame of the first questionnaire's columns only
            return np.full(len(frame), np.nan)
        return _non_negative(_numbers(frame, column), column, notes, units)

    requested = amounts("refund_amount_requested")
    obtained = amounts("refund_amount_obtained")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.minimum(obtained / requested, 1.0)
    share = np.select(
        [outcome == 2, (outcome == 0) & np.isnan(obtained), (outcome == 0) | (outcome == 1)],
        [0.0, 1.0, ratio],
        default=np.nan,
    )
    share = np.where(requested > 0, share, np.nan)
    return np.round(share / AMOUNT_SHARE_STEP) * AMOUNT_SHARE_STEP


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


# --- the same count tables, counted in the database --------------------------------------------
#
# At a million rows and more, reading every row into numpy costs more than the statistics: the
# database groups the rows by unit and by what a metric reads (a status and a duration in days,
# a score, a pair of counts), and only those groups (a few thousand rows) come back: the SQL is
# the store's (``Store.grouped_responses``), the rules of ``_prepare_counts`` above are applied
# here to the groups; ``tests/test_counted.py`` checks both give the same tables on the same
# responses.


_RANGES = {"csat": (1, 5), "effort": (1, 7), "nps": (0, 10)}
COUNTED_COLUMNS = tuple(
    c for c in (*READ_COLUMNS, "collected_from") if c not in ("sector", "origin")
)
"""What :func:`summary_tables_counted` asks of the store (which adds each company's name,
sector and origin)."""


def _floats(array) -> np.ndarray:
    """A fetched column as floats, NaN for NULL (yes/no answers: 1.0 and 0.0)."""
    if array.dtype != object:
        return array.astype(float)
    # (pandas' own conversion, not a Python loop over the groups)
    return pd.array(array, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)


def _unit_codes(units: _Units, unit) -> np.ndarray:
    """Index of each fetched unit label among ``units.labels``; ``k`` for NULL (outside)."""
    codes = pd.Categorical(unit, categories=units.labels).codes.astype(np.int64)
    outside = codes < 0
    if outside.any():
        unknown = pd.notna(np.asarray(unit, dtype=object)[outside])
        if unknown.any():  # (the units are those of the scan: no other label can come back)
            raise KeyError(np.asarray(unit, dtype=object)[outside][unknown][0])
        codes[outside] = units.k
    return codes


def _counted_value_table(units, codes, values, weights, *, scale=1.0, step=None) -> _ValueCounts:
    """:func:`_value_counts` from grouped rows (``codes`` of their units, ``units.k`` outside
    the table, ``values`` NaN when missing or invalid): the distinct values are those of every
    valid row, and 0 when a row is missing one, as the row-wise pass counts them."""
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    if step is not None:
        filled = np.round(filled / step)
    if filled.size == 0:
        return _ValueCounts(np.empty(0), np.zeros((units.k, 0), dtype=np.int64), scale)
    distinct = np.unique(filled)
    index = np.searchsorted(distinct, filled)
    code = np.where(valid, codes, units.k)
    table = np.bincount(
        code * distinct.size + index, weights=weights, minlength=(units.k + 1) * distinct.size
    ).reshape(units.k + 1, distinct.size)[: units.k]
    distinct = distinct * step if step is not None else distinct
    return _ValueCounts(distinct, table.astype(np.int64), scale)


def _counted_shares(units, codes, valid, success, weights) -> _ShareCounts:
    """:func:`_share_counts` from grouped rows of units ``codes`` (all inside the table)."""
    n = np.bincount(codes[valid], weights[valid], minlength=units.k).astype(np.int64)
    hits = valid & success
    s = np.bincount(codes[hits], weights[hits], minlength=units.k).astype(np.int64)
    return _ShareCounts(s, n)


def _counted_competing(units, codes, durations, causes, in_scope, entry, weights):
    """:func:`_competing_counts` from grouped rows of units ``codes`` (inside the table)."""
    usable = in_scope & _placeable(durations, entry)
    excluded = np.bincount(
        codes[in_scope & ~usable], weights[in_scope & ~usable], minlength=units.k
    ).astype(np.int64)
    late = np.zeros(units.k, dtype=np.int64)
    if not usable.any():
        empty = np.zeros(0, dtype=np.int64)
        patterns = CompetingPatterns(np.empty(0), empty, empty, empty, empty, empty)
        return _CompetingCounts(patterns, units.k, excluded, late)
    entries = None
    if entry is not None:
        delayed = entry[usable] > 0
        late = np.bincount(
            codes[usable][delayed], weights[usable][delayed], minlength=units.k
        ).astype(np.int64)
        if delayed.any():
            entries = np.where(delayed, entry[usable] + 1.0, 0.0)
    patterns = competing_patterns(
        durations[usable] + 1.0,
        causes[usable].astype(np.int64),
        codes[usable],
        units.k,
        entry=entries,
        n_causes=CAUSES,
        weights=weights[usable],
    )
    return _CompetingCounts(patterns, units.k, excluded, late)


def _cleaned(values, weights, inside, column, notes, low=None, high=None) -> np.ndarray:
    """:func:`_non_negative` (``low`` None) or :func:`_in_range` of grouped raw answers: NaN
    where invalid, and the note the row-wise pass writes when any row holds one."""
    if low is None:
        bad = values < 0
    else:
        bad = ((values < low) | (values > high) | (values != np.floor(values))) & ~np.isnan(values)
    if not bad.any():
        return values
    notes[f"invalid_{column}"] = int(weights[bad & inside].sum())
    return np.where(bad, np.nan, values)


def _with_codes(got: dict, units) -> dict:
    """A group table with each group's unit index (``_codes``) once the units are known."""
    return {**got, "_codes": None if units is None else _unit_codes(units, got["unit"])}


def _prepare_counted(groups: dict, companies: pd.DataFrame, launch_day) -> _Prepared:
    """:func:`_prepare_counts` of every family from the store's grouped responses
    (``Store.grouped_responses``: seven scans, the metrics that share one grouped together,
    raw answers checked here on the groups) and its companies table."""
    # 1. the units, what is left out, and whether any incident enters at its survey's opening
    units = None
    got = _with_codes(groups["units"], units)
    company = list(got["company"])
    order = sorted(
        (i for i, c in enumerate(company) if c is not None and got["n"][i] > 0),
        key=lambda i: company[i],
    )
    labels = [company[i] for i in order]
    known = {  # (the read's LEFT JOIN companies)
        id_: (name, sector, origin)
        for id_, name, sector, origin in zip(
            companies["id"],
            companies["name"],
            companies["sector"],
            companies["origin"],
            strict=True,
        )
    }
    identity = [known.get(label, (None, None, None)) for label in labels]

    def text(i):
        return [None if row[i] is None else str(row[i]) for row in identity]

    units = _Units(
        labels=labels,
        names=text(0),
        sectors=text(1),
        origins=text(2),
        codes=np.empty(0, dtype=np.int64),  # no rows here: every table below is counted
        n=np.array([got["n"][i] for i in order], dtype=np.int64),
        excluded={
            "submitted_after_as_of": int(got["after"].sum()),
            "missing_submitted_on": int(got["missing"].sum()),
            "missing_company": int(
                sum(got["n_all"][i] for i, c in enumerate(company) if c is None)
            ),
        },
    )
    # (the row-wise pass gives every row an entry when any row has an opening)
    entry_rule = bool(company) and (launch_day is not None or bool(np.any(got["collected"])))
    stats: dict = {}
    notes: dict = {}

    # 2. time to resolution, competing with "gave up"
    got = _with_codes(groups["resolution"], units)
    codes, w, s = got["_codes"], got["n"].astype(float), got["s"]
    durations = _floats(got["d"])
    entry = _floats(got["entry"]) if entry_rule else None
    everyone = np.ones(s.size, dtype=bool)
    stats["resolution"] = _counted_competing(
        units, codes, durations, got["cause"], everyone, entry, w
    )
    notes["unrecognised_status"] = int(w[s == -2].sum())
    notes["missing_status"] = int(w[s == -1].sum())
    if entry is not None:
        before = (entry > 0) & np.isfinite(durations) & (durations <= entry)
        notes["ended_before_launch"] = int(w[before].sum())

    # 3. refunds: obtained, in full, in part, and the share of the amount obtained
    got = _with_codes(groups["refunds"], units)
    codes, w, o = got["_codes"], got["n"].astype(float), got["o"]
    inside = codes < units.k
    for column, bad in (
        ("refund_amount_requested", "bad_requested"),
        ("refund_amount_obtained", "bad_obtained"),
    ):
        if got[bad].sum() > 0:
            notes[f"invalid_{column}"] = int(got[bad][inside].sum())
    notes["unrecognised_refund_outcome"] = int(w[inside & (o == -2)].sum())
    decided = inside & (o >= 0) & (o <= 2)
    stats["refund_success"] = _counted_shares(units, codes, decided, (o == 0) | (o == 1), w)
    stats["refund_full"] = _counted_shares(units, codes, decided, o == 0, w)
    stats["refund_partial"] = _counted_shares(units, codes, decided, o == 1, w)
    # the row-wise pass keeps round(share / step) * step, then counts round(that / step)
    stats["refund_amount_share"] = _counted_value_table(
        units, codes, _floats(got["m"]) * AMOUNT_SHARE_STEP, w, step=AMOUNT_SHARE_STEP
    )

    # 4. the time to the refund, competing with a refusal
    got = _with_codes(groups["refund_time"], units)
    stats["refund_time"] = _counted_competing(
        units,
        got["_codes"],
        _floats(got["d"]),
        got["cause"],
        got["scope"].astype(bool),
        None,
        got["n"].astype(float),
    )

    # 5. what went wrong on the way: trips, visits, false "resolved", the loaner, kilometres
    got = _with_codes(groups["incidents"], units)
    codes, w = got["_codes"], got["n"].astype(float)
    inside = codes < units.k
    for name, column, raw in (
        ("wasted_trips", "trips", "wasted_trips"),
        ("useless_visits", "useless", "technician_visits_useless"),
    ):
        v = _cleaned(_floats(got[column]), w, inside, raw, notes)
        stats[name] = _counted_value_table(units, got["_codes"], v, w)
        stats[f"{name}_any"] = _counted_shares(units, codes, inside & ~np.isnan(v), v >= 1, w)
    if got["km_bad"].sum() > 0:
        notes["invalid_wasted_km"] = int(got["km_bad"][inside].sum())
    stats["wasted_km"] = _Totals(
        np.bincount(codes[inside], np.nan_to_num(_floats(got["km"]))[inside], minlength=units.k),
        np.bincount(codes[inside], got["km_n"][inside].astype(float), minlength=units.k).astype(
            np.int64
        ),
    )
    false_resolved = _cleaned(
        _floats(got["false_resolved"]), w, inside, "false_resolved_count", notes
    )
    stats["false_resolved"] = _counted_shares(
        units, codes, inside & ~np.isnan(false_resolved), false_resolved >= 1, w
    )
    offered, obtained, cut = (_floats(got[c]) for c in ("offered", "obtained", "cut"))
    stats["loaner_offered"] = _counted_shares(
        units, codes, inside & ~np.isnan(offered), offered == 1, w
    )
    stats["loaner_obtained"] = _counted_shares(
        units, codes, inside & (offered == 1) & ~np.isnan(obtained), obtained == 1, w
    )
    stats["loaner_cut"] = _counted_shares(
        units, codes, inside & (obtained == 1) & ~np.isnan(cut), cut == 1, w
    )

    # 6. callbacks kept: the table of (received, promised) pairs
    got = _with_codes(groups["callbacks"], units)
    codes, w = got["_codes"], got["n"].astype(float)
    inside = codes < units.k
    promised = _cleaned(_floats(got["promised"]), w, inside, "callbacks_promised", notes)
    received = _cleaned(_floats(got["received"]), w, inside, "callbacks_received", notes)
    valid = inside & (promised > 0) & ~np.isnan(received)
    pairs = np.column_stack([received[valid], promised[valid]])
    distinct, index = (
        np.unique(pairs, axis=0, return_inverse=True)
        if len(pairs)
        else (np.empty((0, 2)), np.zeros(0, dtype=np.int64))
    )
    table = np.bincount(
        codes[valid] * len(distinct) + index.reshape(-1),
        weights=w[valid],
        minlength=units.k * len(distinct),
    ).reshape(units.k, len(distinct))
    stats["callbacks_kept"] = _PairCounts(distinct[:, 0], distinct[:, 1], table.astype(np.int64))

    # 7. the scores (one scan: at most 6 x 8 x 12 groups per unit)
    got = _with_codes(groups["scores"], units)
    codes, w = got["_codes"], got["n"].astype(float)
    inside = codes < units.k
    scores = {
        c: _cleaned(_floats(got[c]), w, inside, c, notes, low, high)
        for c, (low, high) in _RANGES.items()
    }
    csat = scores["csat"]
    stats["csat"] = _counted_value_table(units, got["_codes"], csat, w)
    stats["csat_satisfied"] = _counted_shares(units, codes, inside & ~np.isnan(csat), csat >= 4, w)
    stats["effort"] = _counted_value_table(units, got["_codes"], scores["effort"], w)
    nps = scores["nps"]
    # promoters (9-10) count +1, detractors (0-6) -1, passives 0: NPS = 100 x their mean
    category = np.where(nps >= 9, 1.0, np.where(nps <= 6, -1.0, 0.0))
    stats["nps"] = _counted_value_table(
        units, codes, np.where(np.isnan(nps), np.nan, category), w, scale=100.0
    )
    return _Prepared(units, stats, {**units.excluded, **notes}, launch_day)


def summary_tables_counted(
    store,
    filters=None,
    *,
    as_of,
    rng,
    n_resamples: int = DEFAULT_RESAMPLES,
    launch=None,
    company_pools=None,
    group_pools=None,
) -> KpiTables:
    """:func:`summary_tables` of the responses ``store`` holds (``filters``) as known on
    ``as_of``, counted in the database: the same tables as ``summary_tables`` of
    ``store.fetch_responses(filters, known_on=as_of)``, without reading the rows. A store
    that cannot count (PostgreSQL) is read and counted here."""
    as_of_day = _validate_as_of(as_of)
    generator = validate_rng(rng)
    resamples = validate_resamples(n_resamples)
    launch_day = _validate_launch(launch)
    known_on = _dt.date.fromordinal(_dt.date(1970, 1, 1).toordinal() + as_of_day)
    grouped = getattr(store, "grouped_responses", None)
    if grouped is None:
        frame = store.fetch_responses(
            filters,
            columns=list(COUNTED_COLUMNS),
            ordered=False,
            categorical=True,
            known_on=known_on,
        )
        return summary_tables(
            frame,
            as_of=as_of,
            rng=generator,
            n_resamples=resamples,
            launch=launch,
            company_pools=company_pools,
            group_pools=group_pools,
        )
    entropy = int(generator.integers(0, 2**63))
    with store.holding():  # one open of the file for the events, the scans and the companies
        groups = grouped(
            filters,
            list(COUNTED_COLUMNS),
            known_on=known_on,
            as_of_day=as_of_day,
            launch_day=launch_day,
            statuses=_STATUSES,
            outcomes=_OUTCOMES,
            share_step=AMOUNT_SHARE_STEP,
            scores=_RANGES,
        )
        companies = store.companies()
    prepared = _prepare_counted(groups, companies, launch_day)
    return KpiTables(
        _company_table(prepared, as_of_day, entropy, resamples, company_pools),
        _group_table(prepared, as_of_day, entropy, resamples, group_pools),
    )


# --- statistics per unit -----------------------------------------------------------------------


def _stream(entropy: int, family: str, label: str) -> np.random.Generator:
    """An independent generator per (metric, company), so adding a company changes no other."""
    key = (zlib.crc32(family.encode()), zlib.crc32(label.encode()))
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


def _share_columns(name: str, counts: _ShareCounts):
    k = counts.n.size
    z = z_value(CONFIDENCE_LEVEL)
    low, high = wilson(counts.successes, counts.n, z)
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
    tested = [unit for unit in range(k) if counts.n[unit] > 0 and total_n - counts.n[unit] > 0]
    if tested:
        s, n = counts.successes[tested].astype(np.int64), counts.n[tested].astype(np.int64)
        rest_s, rest_n = total_s - s, total_n - n
        pvalues[tested] = fisher_pvalues(s, n - s, rest_s, rest_n - rest_s)
        effect[tested] = [
            int(s[i]) / int(n[i]) - int(rest_s[i]) / int(rest_n[i]) for i in range(len(tested))
        ]
    overall = (math.nan, math.nan, math.nan)
    table = np.column_stack([counts.successes, counts.n - counts.successes])
    table = table[counts.n > 0]
    if table.shape[0] >= 2 and np.all(table.sum(axis=0) > 0):
        statistic, dof = chi_square(table.astype(float))
        overall = (statistic, dof, float(stats.chi2.sf(statistic, dof)))
    rest_s, rest_n = total_s - counts.successes, total_n - counts.n
    diff_low, diff_high = newcombe(counts.successes, counts.n, rest_s, rest_n, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = share - rest_s / rest_n
    valid = (counts.n > 0) & (rest_n > 0)
    size = tuple(np.where(valid, a, np.nan) for a in (difference, diff_low, diff_high))
    return columns, pvalues, effect, overall, size


def _mean_columns(name, counts: _ValueCounts, labels, entropy, n_resamples):
    k = counts.table.shape[0]
    estimate, low, high = (np.full(k, np.nan) for _ in range(3))
    for unit in range(k):
        row = counts.table[unit]
        size = row.sum()
        if size == 0:
            continue
        if size >= BOOTSTRAP_EXPANSION_N:
            estimate[unit], low[unit], high[unit], _ = bca_mean_expansion(
                counts.values, row, level=CONFIDENCE_LEVEL
            )
            continue
        estimate[unit], low[unit], high[unit], _ = bca_mean(
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
    u, pvalue = mann_whitney_from_counts(np.stack([counts.table, rest]))
    effect = u - n * (n.sum() - n) / 2.0
    pvalue = np.where((n > 0) & (n.sum() - n > 0), pvalue, np.nan)
    h, dof, p_all = kruskal_from_counts(counts.table)
    size = _mean_difference(counts.values, counts.table, rest, counts.scale)
    return columns, pvalue, effect, (h, dof, p_all), size


def _mean_difference(values, table, rest, scale: float):
    """Difference of means, unit minus all others, with a normal (Welch) 95% interval."""

    def moments(rows):
        n = rows.sum(axis=1).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = rows @ values / n
            variance = (rows @ values**2 - n * mean**2) / (n - 1)
        return mean, np.where(n > 1, np.maximum(variance, 0.0) / n, np.nan)

    mean, variance = moments(table)
    rest_mean, rest_variance = moments(rest)
    z = z_value(CONFIDENCE_LEVEL)
    difference, low, high, _ = _wald_difference(
        mean, np.sqrt(variance), rest_mean, np.sqrt(rest_variance), z
    )
    return difference * scale, low * scale, high * scale


def _ratio_columns(name, counts: _PairCounts, labels, entropy, n_resamples):
    k = counts.table.shape[0]
    estimate, low, high, variance = (np.full(k, np.nan) for _ in range(4))
    for unit in range(k):
        row = counts.table[unit]
        if row.sum() == 0:
            continue
        if row.sum() >= BOOTSTRAP_EXPANSION_N:
            estimate[unit], low[unit], high[unit], se = bca_ratio_expansion(
                counts.numerators, counts.denominators, row, level=CONFIDENCE_LEVEL
            )
            variance[unit] = se**2
            continue
        estimate[unit], low[unit], high[unit], se = bca_ratio(
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
    size = np.full((3, k), np.nan)
    z_level = z_value(CONFIDENCE_LEVEL)
    for unit in range(k):
        r1, v1 = estimate[unit], variance[unit]
        r2, v2 = _linearised_from_table(counts.numerators, counts.denominators, rest[unit])
        total = v1 + v2
        if np.isfinite(total) and total > 0:
            z = (r1 - r2) / math.sqrt(total)
            pvalue[unit] = math.erfc(abs(z) / math.sqrt(2.0))
            effect[unit] = r1 - r2
            half = z_level * math.sqrt(total)
            size[:, unit] = (r1 - r2, r1 - r2 - half, r1 - r2 + half)
    return columns, pvalue, effect, (math.nan, math.nan, math.nan), tuple(size)


def _linearised_from_table(numerators, denominators, counts) -> tuple[float, float]:
    n = counts.sum()
    den_total = counts @ denominators
    if n < 2 or den_total == 0:
        return math.nan, math.nan
    ratio = (counts @ numerators) / den_total
    residual = counts @ (numerators - ratio * denominators) ** 2
    return float(ratio), float(n / (n - 1) * residual / den_total**2)


def _family_columns(family: Family, counts, labels, entropy, n_resamples):
    if family.kind == "survival":
        return _competing_columns(family.name, counts)
    if family.kind == "share":
        return _share_columns(family.name, counts)
    if family.kind == "mean":
        return _mean_columns(family.name, counts, labels, entropy, n_resamples)
    return _ratio_columns(family.name, counts, labels, entropy, n_resamples)


def _build_table(
    prepared: _Prepared,
    unit_frame: pd.DataFrame,
    matrix,
    labels,
    *,
    entropy,
    n_resamples,
    pools=None,
):
    """Every metric column for the units defined by ``matrix`` (units x companies).

    ``pools`` (family -> 0/1 per unit) restricts the comparisons of a family to the units of
    its pool: a unit outside it is neither compared nor part of any other unit's "all
    others", of the k-unit test or of the Benjamini-Hochberg family; its own figures stay.
    """
    columns: dict = {}
    tests: dict = {}
    family_p: dict = {}
    family_effect: dict = {}
    family_size: dict = {}
    for family in FAMILIES:
        if family.name not in prepared.stats:
            continue
        counts = prepared.stats[family.name].collapse(matrix)
        block, pvalue, effect, overall, size = _family_columns(
            family, counts, labels, entropy, n_resamples
        )
        keep = None if pools is None else pools.get(family.name)
        if keep is not None and not keep.all():
            # the comparisons again, on the pool alone (the unit's own figures are unchanged)
            _, pvalue, effect, overall, size = _family_columns(
                family, counts.restrict(keep), labels, entropy, n_resamples
            )
            out = ~keep.astype(bool)
            pvalue = np.where(out, np.nan, pvalue)
            effect = np.where(out, 0.0, effect)
            size = tuple(np.where(out, np.nan, np.asarray(a, dtype=float)) for a in size)
        if family.kind == "survival":
            method = (
                "Wald chi-square, restricted mean days without resolution"
                if family.name == "resolution"
                else "Wald chi-square, cumulative incidence at 30 days"
            )
            tests[family.name] = _overall(method, overall)
        elif family.kind == "share":
            tests[family.name] = _overall("Pearson's chi-square", overall)
        elif family.kind == "mean":
            tests[family.name] = _overall("Kruskal-Wallis H", overall)
        family_size[family.name] = size
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
        difference, low, high = family_size[name]
        columns[f"{name}_vs_others_diff"] = np.asarray(difference, dtype=float)
        columns[f"{name}_vs_others_diff_low"] = np.asarray(low, dtype=float)
        columns[f"{name}_vs_others_diff_high"] = np.asarray(high, dtype=float)
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


def _validate_launch(launch) -> float | None:
    """Day number of the survey's launch, or None (no incident enters late)."""
    if launch is None:
        return None
    try:
        return float(_validate_as_of(launch))
    except ValueError:
        raise ValueError("`launch` must be a date or None.") from None


def _validate_table_options(responses, as_of, rng, n_resamples, launch=None):
    frame = _validate_frame(responses, REQUIRED_COLUMNS)
    as_of_day = _validate_as_of(as_of)
    generator = validate_rng(rng)
    resamples = validate_resamples(n_resamples)
    return frame, as_of_day, generator, resamples, _validate_launch(launch)


def _pool_vectors(pools, labels) -> dict | None:
    """``pools`` (metric -> the unit labels compared) as 0/1 vectors over ``labels``."""
    if pools is None:
        return None
    if not isinstance(pools, dict):
        raise ValueError("`pools` must be a dict of metric name -> unit labels, or None.")
    unknown = sorted(set(pools) - {family.name for family in FAMILIES})
    if unknown:
        raise ValueError(f"`pools` names unknown metrics: {', '.join(unknown)}.")
    index = pd.Index(labels, dtype=object)
    return {
        name: index.isin([str(label) for label in members]).astype(np.int64)
        for name, members in pools.items()
    }


def summary_tables(
    responses: pd.DataFrame,
    *,
    as_of,
    rng,
    n_resamples: int = DEFAULT_RESAMPLES,
    launch=None,
    company_pools=None,
    group_pools=None,
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
    launch : datetime.date, optional
        See :func:`company_table`.
    company_pools, group_pools : dict, optional
        Metric name -> the companies (group labels ``sector/origin``) that take part in that
        metric's comparisons; see ``pools`` in :func:`company_table`.

    Returns
    -------
    KpiTables
        ``companies`` and ``groups``, each exactly as :func:`company_table` and
        :func:`group_table` return them for the same arguments.
    """
    frame, as_of_day, generator, resamples, launch_day = _validate_table_options(
        responses, as_of, rng, n_resamples, launch
    )
    entropy = int(generator.integers(0, 2**63))
    prepared = _prepare(frame, as_of_day, launch_day=launch_day)
    return KpiTables(
        _company_table(prepared, as_of_day, entropy, resamples, company_pools),
        _group_table(prepared, as_of_day, entropy, resamples, group_pools),
    )


def _unit_bases(stats) -> np.ndarray:
    """The responses entering a metric, per unit, from its collapsed counts."""
    if isinstance(stats, _CompetingCounts):
        p = stats.patterns
        return np.bincount(p.group, p.count, minlength=stats.units).astype(np.int64)
    if isinstance(stats, (_ShareCounts, _Totals, _Bases)):
        return np.asarray(stats.n, dtype=np.int64)
    return stats.table.sum(axis=1).astype(np.int64)


def bases(responses: pd.DataFrame, *, as_of, launch=None, full_counts: bool = False) -> KpiTables:
    """The bases alone: per company and per group, ``n`` and ``<metric>_n`` of every metric.

    What :func:`summary_tables` would give in those columns (same rows, same order), without
    any estimate, interval or test: cheap enough to decide what may be shown before the
    tables are computed (``analysis.disclosure.published_tables``).

    ``full_counts``: inside ``shared_reading()``, count every metric's tables in full (the
    same bases): :func:`summary_tables` of the same responses then counts nothing again.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.kpis import REQUIRED_COLUMNS, bases
    >>> responses = pd.DataFrame({column: [None] * 3 for column in REQUIRED_COLUMNS})
    >>> responses["company"] = ["orange", "free", "orange"]
    >>> responses["sector"], responses["origin"] = "isp", "fr"
    >>> responses["submitted_on"] = pd.Timestamp("2024-02-01")
    >>> responses["csat"] = [4, None, 2]
    >>> tables = bases(responses, as_of="2024-06-30")
    >>> tables.companies[["company", "n", "csat_n"]].to_dict("list")
    {'company': ['free', 'orange'], 'n': [1, 2], 'csat_n': [0, 2]}
    >>> tables.groups[["group", "n", "csat_n"]].to_dict("list")
    {'group': ['isp/fr'], 'n': [3], 'csat_n': [2]}
    """
    frame = _validate_frame(responses, REQUIRED_COLUMNS)
    as_of_day = _validate_as_of(as_of)
    bases_only = not (full_counts and _READINGS.get() is not None)
    launch_day = _validate_launch(launch)
    prepared = _prepare(frame, as_of_day, launch_day=launch_day, bases_only=bases_only)
    units = prepared.units
    keys, matrix = _group_keys(units)
    companies = pd.DataFrame(
        {
            "company": units.labels,
            "company_name": units.names,
            "sector": units.sectors,
            "origin": units.origins,
            "n": units.n,
        }
    )
    groups = pd.DataFrame(
        {
            "group": [f"{sector}/{origin}" for sector, origin in keys],
            "sector": [sector for sector, _ in keys],
            "origin": [origin for _, origin in keys],
            "n": matrix @ units.n,
        }
    )
    identity = np.eye(units.k, dtype=np.int64)
    for metric in metrics.METRICS:
        if metric.name in prepared.stats:
            stats = prepared.stats[metric.name]
            companies[metric.n] = _unit_bases(stats.collapse(identity))
            groups[metric.n] = _unit_bases(stats.collapse(matrix))
    return KpiTables(companies, groups)


def company_table(
    responses: pd.DataFrame,
    *,
    as_of,
    rng,
    n_resamples: int = DEFAULT_RESAMPLES,
    launch=None,
    pools=None,
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
        ``attrs["excluded"]``); nothing else depends on it (a refused refund is a competing
        outcome known by the report). It is recorded in ``attrs["as_of"]``.
    rng : numpy.random.Generator or int
        Randomness of the bootstrap intervals. One number is drawn from it, and each
        (metric, company) gets its own stream derived from that number and the names, so the
        table is reproducible and one company's interval does not depend on the others.
    n_resamples : int, default 2000
        Bootstrap resamples per interval.
    launch : datetime.date, optional
        The survey's opening: an incident that began before it enters late, at
        ``launch - started_on`` days (delayed entry), and one that ended before it is excluded
        and counted (``attrs["excluded"]["ended_before_launch"]``). None: every incident is
        followed from its first day. Recorded in ``attrs["launch"]``.
    pools : dict, optional
        Metric name -> the company ids that take part in that metric's comparisons. A company
        outside its metric's pool keeps its own figures but gets no comparison (p-values,
        flag, effect size NaN or ""), and enters nobody's "all others", the k-company test or
        the Benjamini-Hochberg family: the disclosure control leaves the companies it hides
        out this way (``analysis.disclosure.published_tables``). Metrics not named: everyone.

    Returns
    -------
    pandas.DataFrame
        Sorted by company id. Columns: ``company, company_name, sector, origin, n``, then for
        each metric family (``FAMILIES``) its estimates with ``_low`` / ``_high`` 95% bounds,
        ``<family>_n`` (responses that enter the metric), ``<family>_small_base``
        (n < 30), and ``<family>_vs_others_p``, ``_p_adj`` (Benjamini-Hochberg across every
        comparison of the table) and ``_flag`` ("better", "worse", or "" unless the adjusted
        p-value is below 0.05), with the effect size beside it: ``_vs_others_diff``,
        ``_diff_low``, ``_diff_high`` (the company minus all the others pooled). Time-to-event
        families also give ``_events``, the competing outcomes (``resolution_gave_up``,
        ``refund_time_refused``), ``_excluded`` (missing or negative durations, left out and
        counted) and ``_within_<d>d_extended`` (the figure is the last estimate, follow-up
        having stopped before d days). ``attrs`` holds ``as_of``, ``launch``, the exclusion
        counts, the k-group tests across companies (Wald chi-square, chi-square,
        Kruskal-Wallis), ``methodology_version`` and the settings. A selection with no row
        left (nothing submitted by ``as_of``, or no rows at all) gives the table with its
        columns and no row, and ``attrs["empty_reason"]`` says why (None otherwise).

    Notes
    -----
    Definitions and methods are in ``docs/methodology.en.md``; in short (methodology version
    2): resolution and giving up are competing outcomes, estimated by Aalen-Johansen with
    infinitesimal-jackknife standard errors as R's multi-state ``survfit`` (on durations
    shifted by one day, so that a same-day outcome is at risk on day 0); the shares resolved
    (or given up) within 2, 7, 30 and 90 days are cumulative incidences with R's log interval,
    Wilson's on the risk set where the estimate is 0 or 1; the median is the first day the
    incidence of resolution reaches one half; ``resolution_unresolved90_days`` is 90 minus the
    restricted mean time lost to resolution, the measure of every resolution comparison (Wald
    z of the difference); refunds received and refused compete likewise; shares have Wilson
    intervals and Fisher's exact test, with Newcombe's interval for the difference; means and the callbacks ratio have BCa bootstrap intervals (in closed form
    from :data:`BOOTSTRAP_EXPANSION_N` responses), with Mann-Whitney and a
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
    frame, as_of_day, generator, resamples, launch_day = _validate_table_options(
        responses, as_of, rng, n_resamples, launch
    )
    entropy = int(generator.integers(0, 2**63))
    return _company_table(
        _prepare(frame, as_of_day, launch_day=launch_day), as_of_day, entropy, resamples, pools
    )


def group_table(
    responses: pd.DataFrame,
    *,
    as_of,
    rng,
    n_resamples: int = DEFAULT_RESAMPLES,
    launch=None,
    pools=None,
) -> pd.DataFrame:
    """One row per sector x origin group (e.g. French ISPs), with the same columns as
    :func:`company_table` after ``group, sector, origin, companies, n``.

    Each group pools the responses of its companies; its "vs all others" comparisons set it
    against the responses of the other groups, and the Benjamini-Hochberg correction runs
    across this table's comparisons. ``attrs`` holds the k-group tests across groups.
    ``pools`` (metric -> group labels ``sector/origin``) restricts comparisons as in
    :func:`company_table`.
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
    frame, as_of_day, generator, resamples, launch_day = _validate_table_options(
        responses, as_of, rng, n_resamples, launch
    )
    entropy = int(generator.integers(0, 2**63))
    return _group_table(
        _prepare(frame, as_of_day, launch_day=launch_day), as_of_day, entropy, resamples, pools
    )


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
        "launch": (
            None
            if prepared.launch_day is None
            else str(np.datetime64(int(prepared.launch_day), "D"))
        ),
        "methodology_version": METHODOLOGY_VERSION,
    }


def _company_table(
    prepared: _Prepared, as_of_day, entropy, n_resamples, pools=None
) -> pd.DataFrame:
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
        prepared,
        unit_frame,
        identity,
        units.labels,
        entropy=entropy,
        n_resamples=n_resamples,
        pools=_pool_vectors(pools, units.labels),
    )
    table.attrs = _attrs(prepared, as_of_day, entropy, n_resamples, tests)
    return table


def _group_keys(units: _Units):
    keys = sorted({(str(s), str(o)) for s, o in zip(units.sectors, units.origins, strict=True)})
    matrix = np.zeros((len(keys), units.k), dtype=np.int64)
    for company, key in enumerate(zip(units.sectors, units.origins, strict=True)):
        matrix[keys.index((str(key[0]), str(key[1])))][company] = 1
    return keys, matrix


def _group_table(prepared: _Prepared, as_of_day, entropy, n_resamples, pools=None) -> pd.DataFrame:
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
        prepared,
        unit_frame,
        matrix,
        labels,
        entropy=entropy,
        n_resamples=n_resamples,
        pools=_pool_vectors(pools, labels),
    )
    table.attrs = _attrs(prepared, as_of_day, entropy, n_resamples, tests)
    return table


DESIGN_METRICS = (
    "resolution_unresolved90_days",
    "resolved_within_30d_share",
    "refund_success_share",
)
"""The figures compared across companies to answer "France or the sector?"."""


def _cell_units(units: _Units, frame: pd.DataFrame) -> tuple[_Units, list[str]]:
    """Units of company x problem type (rows without a problem type left out)."""
    codes, problems = pd.factorize(frame["problem"].astype(object), use_na_sentinel=True)
    problems = [str(p) for p in problems]
    width = max(len(problems), 1)
    cells = units.k * width
    valid = (units.codes < units.k) & (codes >= 0)
    cell_codes = np.where(valid, units.codes * width + codes, cells)
    repeat = lambda values: [v for v in values for _ in range(width)]  # noqa: E731
    labels = [f"{c}|{p}" for c in units.labels for p in problems]
    return (
        _Units(
            labels=labels,
            names=repeat(units.names),
            sectors=repeat(units.sectors),
            origins=repeat(units.origins),
            codes=cell_codes,
            n=np.bincount(cell_codes, minlength=cells + 1)[:cells],
            excluded=units.excluded,
        ),
        problems,
    )


def design_cells(responses: pd.DataFrame, *, as_of, launch=None) -> pd.DataFrame:
    """Per company and problem type, the three figures compared across companies, with their
    standard errors: the input of :func:`analysis.design.standardise`.

    Parameters
    ----------
    responses : pandas.DataFrame
        As for :func:`company_table`, with a ``problem`` column.
    as_of, launch
        As for :func:`company_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric, company, sector, origin, problem, estimate, standard_error, n``:
        ``resolution_unresolved90_days`` (restricted mean days without resolution within 90
        days, infinitesimal-jackknife standard error), ``resolved_within_30d_share``
        (Aalen-Johansen cumulative incidence at 30 days) and ``refund_success_share``
        (binomial standard error :math:`\\sqrt{p(1-p)/n}`); cells without responses are left out.
    """
    frame = _validate_frame(responses, (*REQUIRED_COLUMNS, "problem"))
    as_of_day = _validate_as_of(as_of)
    launch_day = _validate_launch(launch)
    company_units = _units(frame, as_of_day)
    units, problems = _cell_units(company_units, frame)
    prepared = _prepare(
        frame,
        as_of_day,
        families=["resolution", "refund_success"],
        launch_day=launch_day,
        units=units,
    )
    z = z_value(CONFIDENCE_LEVEL)
    counts = prepared.stats["resolution"]
    curves = _curves(counts.patterns, units.k)
    share, _, _, share_se, _ = _incidence_at(curves, 1, [30.0], z)
    without, without_se = _time_without(counts.patterns, units.k, float(RMST_HORIZON_DAYS))
    refunds = prepared.stats["refund_success"]
    with np.errstate(divide="ignore", invalid="ignore"):
        success = refunds.successes / refunds.n
        success_se = np.sqrt(success * (1.0 - success) / refunds.n)
    width = max(len(problems), 1)
    base = pd.DataFrame(
        {
            "company": np.repeat(company_units.labels, width),
            "sector": units.sectors,
            "origin": units.origins,
            "problem": problems * company_units.k,
        }
    )
    pieces = []
    for metric, estimate, se, n in (
        (DESIGN_METRICS[0], without, without_se, curves.n),
        (DESIGN_METRICS[1], share[:, 0], share_se[:, 0], curves.n),
        (DESIGN_METRICS[2], success, success_se, refunds.n),
    ):
        piece = base.assign(metric=metric, estimate=estimate, standard_error=se, n=n)
        pieces.append(piece[piece["n"] > 0])
    columns = [
        "metric",
        "company",
        "sector",
        "origin",
        "problem",
        "estimate",
        "standard_error",
        "n",
    ]
    return pd.concat(pieces, ignore_index=True)[columns]


def survival_curves(
    responses: pd.DataFrame,
    *,
    as_of,
    metric: str = "resolution",
    by: str = "company",
    confidence_level: float = CONFIDENCE_LEVEL,
    method: str = "log",
    launch=None,
) -> pd.DataFrame:
    """Curves of the share still without the outcome per company (or group), tidy, to draw.

    The share still without resolution (or refund) at t is 1 minus the Aalen-Johansen
    cumulative incidence of resolution (refund received), with giving up (refusal) as the
    competing outcome: an incident that ended without a fix stays "not resolved" for ever.

    Parameters
    ----------
    responses : pandas.DataFrame
        As for :func:`company_table` (only the columns of ``metric`` are read).
    as_of : datetime.date or str
        Analysis date, as for :func:`company_table`.
    metric : {"resolution", "refund_time"}
    by : {"company", "group"}
    confidence_level : float, default 0.95
    method : {"log", "log-log", "plain"}
        Scale of the pointwise interval of the cumulative incidence (R's default for
        multi-state curves is "log").
    launch : datetime.date, optional
        Launch of the survey: incidents that began before it enter late (resolution only).

    Returns
    -------
    pandas.DataFrame
        Columns ``company`` (or ``group``), ``time`` (days), ``n_at_risk``, ``n_events``
        (outcomes), ``n_other`` (competing outcomes), ``n_censored``, ``survival`` (share
        still without the outcome), ``low``, ``high``, ``other`` (share with the competing
        outcome by then): one row per time at which the unit has an exit, preceded by a row at
        day 0 with survival 1.
    """
    if metric not in ("resolution", "refund_time"):
        raise ValueError("`metric` must be 'resolution' or 'refund_time'.")
    if by not in ("company", "group"):
        raise ValueError("`by` must be 'company' or 'group'.")
    level = validate_confidence_level(confidence_level)
    validate_band_method(method)
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
    prepared = _prepare(frame, as_of_day, families=[metric], launch_day=_validate_launch(launch))
    units = prepared.units
    if by == "company":
        labels, matrix = units.labels, np.eye(units.k, dtype=np.int64)
    else:
        keys, matrix = _group_keys(units)
        labels = [f"{sector}/{origin}" for sector, origin in keys]
    counts = prepared.stats[metric].collapse(matrix)
    columns = [by, "time", "n_at_risk", "n_events", "n_other", "n_censored"]
    columns += ["survival", "low", "high", "other"]
    if counts.patterns.count.size == 0:
        return pd.DataFrame(columns=columns)
    curves = aj_from_patterns(counts.patterns, len(labels), CAUSES)
    z = z_value(level)
    incidence, incidence_se = curves.probability[:, 1], curves.standard_error[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(incidence_se == 0, 0.0, incidence_se / incidence)
    low, high = confidence_band(incidence, se_log, z, method)
    # a band is undefined where nothing has happened yet: the curve is exactly 1 there
    low = np.where(incidence == 0, 0.0, np.minimum(low, 1.0))
    high = np.where(incidence == 0, 0.0, np.minimum(high, 1.0))
    removed = curves.n_events.sum(axis=1) + curves.n_censored
    pieces = []
    for unit, label in enumerate(labels):  # a loop over the ~20 units, not over responses
        used = removed[unit] > 0
        if not used.any():
            continue
        time = curves.time[used] - 1.0
        piece = pd.DataFrame(
            {
                "time": time,
                "n_at_risk": curves.n_at_risk[unit, used].astype(np.int64),
                "n_events": curves.n_events[unit, 0, used].astype(np.int64),
                "n_other": curves.n_events[unit, 1, used].astype(np.int64),
                "n_censored": curves.n_censored[unit, used].astype(np.int64),
                "survival": 1.0 - incidence[unit, used],
                "low": 1.0 - high[unit, used],
                "high": 1.0 - low[unit, used],
                "other": curves.probability[unit, 2, used],
            }
        )
        if time[0] > 0:
            start = {
                "time": 0.0,
                "n_at_risk": int(curves.n_at_risk[unit, used][0]),
                "n_events": 0,
                "n_other": 0,
                "n_censored": 0,
                "survival": 1.0,
                "low": 1.0,
                "high": 1.0,
                "other": 0.0,
            }
            piece = pd.concat([pd.DataFrame([start]), piece], ignore_index=True)
        piece.insert(0, by, label)
        pieces.append(piece)
    if not pieces:
        return pd.DataFrame(columns=columns)
    result = pd.concat(pieces, ignore_index=True)
    result.attrs = {
        "as_of": str(np.datetime64(as_of_day, "D")),
        "metric": metric,
        "method": f"Aalen-Johansen, {method} interval",
    }
    return result


def resolution_curves(responses: pd.DataFrame, *, as_of, by: str = "company") -> pd.DataFrame:
    """Time-to-resolution curves per company or group; see :func:`survival_curves`."""
    return survival_curves(responses, as_of=as_of, metric="resolution", by=by)


def refund_sensitivity(responses: pd.DataFrame, *, as_of) -> pd.DataFrame:
    """Refunds within 30 days per company, complete cases and reweighted by outcome.

    A paid refund needs two known dates and a refused one needs one, so dropping requests
    with a missing date drops more paid ones and biases the figure down. The reweighted
    figure gives each complete request of an outcome (received, refused, pending) the weight
    ``requests of that outcome / complete requests of that outcome``, per company, so each
    outcome counts as often as it was reported (inverse probability weighting, assuming dates
    are missing at random within an outcome).

    Returns
    -------
    pandas.DataFrame
        ``company, n, complete, refunded_within_30d_share, reweighted_share``.
    """
    frame = _validate_frame(responses, REQUIRED_COLUMNS)
    as_of_day = _validate_as_of(as_of)
    prepared = _prepare(frame, as_of_day, families=["refund_time"])
    units, counts = prepared.units, prepared.stats["refund_time"]
    outcome = _choice_codes(frame, "refund_outcome", _OUTCOMES)
    causes = np.select([(outcome == 0) | (outcome == 1), outcome == 2], [1, 2], default=0)
    reported = units.masked(outcome >= 0)
    total = np.bincount(reported * (CAUSES + 1) + causes, minlength=(units.k + 1) * (CAUSES + 1))
    total = total.reshape(units.k + 1, CAUSES + 1)[: units.k].astype(float)
    p = counts.patterns
    complete = np.bincount(
        p.group * (CAUSES + 1) + p.cause, p.count, minlength=units.k * (CAUSES + 1)
    ).reshape(units.k, CAUSES + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(complete > 0, total / complete, 0.0)
    weighted = CompetingPatterns(
        p.times, p.group, p.first, p.last, p.cause, p.count * weight[p.group, p.cause]
    )
    z = z_value(CONFIDENCE_LEVEL)
    plain = _incidence_at(_curves(p, units.k), 1, [float(REFUNDED_WITHIN_DAYS)], z)[0][:, 0]
    if weighted.count.size:
        curves = aj_from_patterns(weighted, units.k, CAUSES)
        index = np.searchsorted(curves.time, REFUNDED_WITHIN_DAYS + 1.0, side="right") - 1
        reweighted = np.where(index >= 0, curves.probability[:, 1, max(index, 0)], 0.0)
    else:
        reweighted = np.full(units.k, np.nan)
    n = total.sum(axis=1).astype(np.int64)
    return pd.DataFrame(
        {
            "company": units.labels,
            "n": n,
            "complete": complete.sum(axis=1).astype(np.int64),
            "refunded_within_30d_share": plain,
            "reweighted_share": np.where(n > 0, reweighted, np.nan),
        }
    )


CUTS = ("problem", "year")
"""The public's fixed cuts besides companies and groups: by problem type, by year of the start
of the problem."""
CUT_FIGURES = (
    ("resolution", "resolved_within_30d"),
    ("resolution", f"resolution_unresolved{RMST_HORIZON_DAYS}_days"),
    ("refund_success", "refund_success"),
)
"""(metric, estimate name in ``analysis.metrics``) of the figures a cut shows, each with its
``_low`` and ``_high``; its base is ``<metric>_n``."""


@_read_once
def _cut_labels(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """The cut's value of each row as a frame of units (``company`` the cut), read once."""
    if by == "problem":
        key = frame["problem"]
    else:
        # the year as a label per row, through codes (no string per row)
        started = _days(frame, "started_on")
        known = np.isfinite(started)
        years = np.where(known, started, 0.0).astype("datetime64[D]").astype("datetime64[Y]")
        years = years.astype(np.int64) + 1970
        first = int(years[known].min()) if known.any() else 0
        codes = np.where(known, years - first, -1)
        span = int(codes.max()) + 1 if known.any() else 0
        key = pd.Series(
            pd.Categorical.from_codes(codes, categories=[str(first + i) for i in range(span)]),
            index=frame.index,
        )
    # the cut's values stand for the companies; every other column is read from ``frame``
    # itself (shared with the other tables under ``shared_reading``), never copied
    return pd.DataFrame(
        {"company": key, "company_name": key, "submitted_on": frame["submitted_on"]},
        index=frame.index,
    ).assign(sector="all", origin="all")


def cut_table(responses: pd.DataFrame, *, by: str, as_of, launch=None) -> pd.DataFrame:
    """One row per problem type (``by="problem"``) or year of the start of the problem
    (``by="year"``), all companies pooled: ``cut, n``, then for time to resolution and refund
    success their base and the figures of :data:`CUT_FIGURES` with 95% intervals, computed as
    in :func:`company_table` (no comparison: a cut is described, not ranked)."""
    if by not in CUTS:
        raise ValueError(f"`by` must be one of {CUTS}.")
    frame = _validate_frame(
        responses, (*REQUIRED_COLUMNS, "problem") if by == "problem" else REQUIRED_COLUMNS
    )
    as_of_day = _validate_as_of(as_of)
    labels = _cut_labels(frame, by)
    prepared = _prepare(
        frame,
        as_of_day,
        families=["resolution", "refund_success"],
        launch_day=_validate_launch(launch),
        units=_units(labels, as_of_day),
    )
    units = prepared.units
    wanted = [
        "resolution_n",
        "resolved_within_30d_share",
        "resolved_within_30d_low",
        "resolved_within_30d_high",
        f"resolution_unresolved{RMST_HORIZON_DAYS}_days",
        f"resolution_unresolved{RMST_HORIZON_DAYS}_low",
        f"resolution_unresolved{RMST_HORIZON_DAYS}_high",
    ]
    refunds = ["refund_success_n", "refund_success_share", "refund_success_low"]
    refunds.append("refund_success_high")
    if units.k == 0:
        return pd.DataFrame(columns=["cut", "n", *wanted, *refunds])
    identity = np.eye(units.k, dtype=np.int64)
    columns, _, _, _, _ = _competing_columns(
        "resolution", prepared.stats["resolution"].collapse(identity)
    )
    shares, _, _, _, _ = _share_columns(
        "refund_success", prepared.stats["refund_success"].collapse(identity)
    )
    out = pd.DataFrame({"cut": units.labels, "n": units.n})
    for column in wanted:
        out[column] = columns[column]
    for column in (
        "refund_success_n",
        "refund_success_share",
        "refund_success_low",
        "refund_success_high",
    ):
        out[column] = shares[column]
    return out


def resolution_figures(responses: pd.DataFrame, *, as_of, launch=None, rows=None) -> pd.DataFrame:
    """Per company, only the time-to-resolution figures of :func:`company_table` (same values,
    none of the other metrics, no bootstrap): for the sensitivity analyses.

    ``rows`` (a yes/no per response): the figures of those responses alone, the same as those
    of a frame whose other rows have no company, from the readings of ``responses`` (inside
    ``shared_reading()``, those the tables of the same frame made: no column read again).
    """
    frame = _validate_frame(responses, REQUIRED_COLUMNS)
    as_of_day = _validate_as_of(as_of)
    units = _units(frame, as_of_day)
    if rows is not None:
        rows = np.asarray(rows, dtype=bool)
        if rows.shape != (len(frame),):
            raise ValueError("`rows` must hold one yes/no per response.")
        units = _units_of_rows(units, rows)
    prepared = _prepare(
        frame, as_of_day, families=["resolution"], launch_day=_validate_launch(launch), units=units
    )
    units = prepared.units
    out = pd.DataFrame({"company": units.labels})
    if units.k == 0:  # nothing left: the columns, no row
        named = metrics.METRIC["resolution"].columns
        return pd.DataFrame(columns=["company", *named])
    identity = np.eye(units.k, dtype=np.int64)
    columns = _competing_columns("resolution", prepared.stats["resolution"].collapse(identity))[0]
    for column, values in columns.items():
        out[column] = values
    return out
