"""Count kernels shared by the statistics modules and the company tables.

Event tables, Kaplan-Meier, Aalen-Johansen and log-rank from counts, Wilson and Fisher, the BCa
bootstrap and rank tests on frequency tables. The module is private to the analysis package
(scipy keeps ``scipy/stats/_survival.py`` this way): its names are ordinary, the module name
carries the privacy. Inputs are assumed checked by the public functions that call these.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy import special, stats

DEFAULT_RESAMPLES = 2000
BAND_METHODS = ("log", "log-log", "plain")
# whole-number values are tabulated with a bincount while their range stays this small
_MAX_BINCOUNT_RANGE = 1 << 20
# a bincount over whole-number durations is used while its table stays this small
_MAX_BINCOUNT_CELLS = 1 << 24


# --- event tables -----------------------------------------------------------------------------


class EventTable(NamedTuple):
    """Counts per (group, distinct time), for the times at which some unit leaves the risk set.

    ``n_events`` is (k, m) for a single event type and (k, n_causes, m) per cause.
    ``n_entered[g, j]`` counts the units of group g that join the risk set in time for ``times[j]``
    (entry in ``[times[j - 1], times[j])``); without delayed entry every unit is in column 0.
    """

    times: np.ndarray
    n_events: np.ndarray
    n_removed: np.ndarray
    n_entered: np.ndarray


class CompetingPatterns(NamedTuple):
    """Distinct (group, entry, exit, cause) patterns with their counts: a sparse count table.

    ``first`` and ``last`` index ``times`` (the distinct exit times): a unit is at risk at
    ``times[first]`` to ``times[last]`` and leaves at ``times[last]`` with ``cause`` (0 censored).
    Without delayed entry ``first`` is 0 and this is the per-cause event table in sparse form.
    """

    times: np.ndarray
    group: np.ndarray
    first: np.ndarray
    last: np.ndarray
    cause: np.ndarray
    count: np.ndarray


def _whole_base(values: np.ndarray, top: float, cells: int):
    """Values as int64 grid indices when they are small whole numbers, else None."""
    if not cells <= _MAX_BINCOUNT_CELLS:
        return None
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    base = values.astype(np.int64)
    return base if np.array_equal(base, values) else None


def time_grid(durations, n_groups: int = 1, entry=None):
    """The grid of distinct times: ``(grid, exit_index, entry_index)``.

    Whole-number times (days) index ``arange(max + 1)`` directly; other times go through one
    ``numpy.unique``. ``entry_index`` is None without delayed entry.
    """
    top = (
        float(durations.max()) if entry is None else max(float(durations.max()), float(entry.max()))
    )
    budget = max(_MAX_BINCOUNT_CELLS, 4 * durations.size)
    cells = (top + 1) * n_groups
    exit_base = _whole_base(durations, top, cells if cells <= budget else math.inf)
    entry_base = None
    if exit_base is not None and entry is not None:
        entry_base = _whole_base(entry, top, cells)
        if entry_base is None:
            exit_base = None
    if exit_base is not None:
        return np.arange(int(top) + 1, dtype=float), exit_base, entry_base
    if entry is None:
        grid, index = np.unique(durations, return_inverse=True)
        return grid, index.reshape(-1), None
    grid, index = np.unique(np.concatenate([durations, entry]), return_inverse=True)
    index = index.reshape(-1)
    return grid, index[: durations.size], index[durations.size :]


def event_table(
    durations, events, codes=None, n_groups: int = 1, *, entry=None, n_causes=None
) -> EventTable:
    """Events, removals and entries per (group, distinct time) in one counting pass.

    Parameters
    ----------
    durations : numpy.ndarray
        Exit times, finite and non-negative (checked by the caller).
    events : numpy.ndarray
        Booleans (one event type) or, with ``n_causes``, integer causes 0 (censored) to
        ``n_causes``.
    codes : numpy.ndarray of int, optional
        Group code of each unit, 0 to ``n_groups - 1``.
    entry : numpy.ndarray, optional
        Entry times (delayed entry), each below its exit time (checked by the caller).

    Returns
    -------
    EventTable
        Only the times at which some unit leaves the risk set are kept, as R's ``survfit``.
    """
    grid, exit_index, entry_index = time_grid(durations, n_groups, entry)
    width = grid.size
    cells_per_time = 2 if n_causes is None else n_causes + 1
    # cell = ((group * width) + time) * cells_per_time + cause: one bincount counts everything
    index = np.multiply(exit_index, cells_per_time, dtype=np.int64)
    if codes is not None:
        index += codes * (width * cells_per_time)
    index += events
    cells = np.bincount(index, minlength=cells_per_time * n_groups * width)
    cells = cells.reshape(n_groups, width, cells_per_time)
    n_removed = cells.sum(axis=2)
    used = n_removed.sum(axis=0) > 0
    per_cause = np.moveaxis(cells[:, used, 1:], 2, 1)  # (k, n_causes, m)
    n_events = per_cause[:, 0] if n_causes is None else per_cause
    n_removed = n_removed[:, used]
    if entry_index is None:
        n_entered = np.zeros_like(n_removed)
        n_entered[:, 0] = n_removed.sum(axis=1)
    else:
        entry_cells = entry_index if codes is None else codes * width + entry_index
        entered = np.bincount(entry_cells, minlength=n_groups * width).reshape(n_groups, width)
        # entries strictly before each kept time, then the increments between kept times
        before = np.concatenate(
            [np.zeros((n_groups, 1), dtype=np.int64), np.cumsum(entered, axis=1)], axis=1
        )[:, np.flatnonzero(used)]
        n_entered = np.diff(before, axis=1, prepend=0)
    return EventTable(grid[used], n_events, n_removed, n_entered)


def at_risk(n_removed, n_entered=None) -> np.ndarray:
    """Number at risk at each time: entered by then, minus removed before it."""
    if n_entered is None:
        return np.cumsum(n_removed[..., ::-1], axis=-1)[..., ::-1]
    return np.cumsum(n_entered, axis=-1) - np.cumsum(n_removed, axis=-1) + n_removed


# --- Kaplan-Meier and log-rank from counts ---------------------------------------------------


class KaplanMeierCounts(NamedTuple):
    """The fields of ``analysis.survival.SurvivalResult``, in its order."""

    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    survival: np.ndarray
    standard_error: np.ndarray
    standard_error_log: np.ndarray
    n_entered: np.ndarray


def km_from_counts(times, n_events, n_removed, n_entered=None) -> KaplanMeierCounts:
    """Kaplan-Meier curve of one group from its per-time counts (zero-removal times dropped).

    Greenwood variance, with delayed entry too (R's ``survfit(Surv(entry, exit, event) ~ 1)``).
    """
    n_removed = np.asarray(n_removed)
    if n_entered is None:
        n_entered = np.zeros_like(n_removed)
        n_entered[..., :1] = n_removed.sum()
    n_at_risk = at_risk(n_removed, n_entered)
    used = n_removed > 0
    entered = np.diff(np.cumsum(n_entered)[used], prepend=0)
    times, n_events, n_removed, n_at_risk = (
        times[used],
        n_events[used],
        n_removed[used],
        n_at_risk[used],
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_events / n_at_risk)
        greenwood = np.where(
            n_events == 0, 0.0, n_events / (n_at_risk * (n_at_risk - n_events).astype(float))
        )
        standard_error_log = np.sqrt(np.cumsum(greenwood))
        standard_error = survival * standard_error_log
    return KaplanMeierCounts(
        times,
        n_at_risk,
        n_events,
        n_removed - n_events,
        survival,
        standard_error,
        standard_error_log,
        entered,
    )


def logrank_components(n_events, n_removed, n_entered=None):
    """Observed, expected and variance matrix of the k-group log-rank test, in floating point.

    ``n_events``, ``n_removed`` (and ``n_entered`` for delayed entry) are (k, m) count tables
    over the same distinct times.
    """
    risk = at_risk(n_removed, n_entered).astype(float)
    total_at_risk = risk.sum(axis=0)
    total_events = n_events.sum(axis=0).astype(float)
    event_times = total_events > 0
    risk = risk[:, event_times]
    n = total_at_risk[event_times]
    d = total_events[event_times]
    share = risk / n
    observed = n_events.sum(axis=1).astype(float)
    expected = share @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    weighted = share * weight
    variance = np.diag(weighted.sum(axis=1)) - weighted @ share.T
    return observed, expected, variance


# --- Aalen-Johansen from a pattern table -----------------------------------------------------


def competing_patterns(
    durations, causes, codes=None, n_groups: int = 1, *, entry=None, n_causes: int, weights=None
) -> CompetingPatterns:
    """The sparse (group, entry, exit, cause) count table of competing outcomes.

    One bincount when the table is small (whole-number days), one ``numpy.unique`` otherwise;
    no Python loop over units. ``weights`` (whole numbers): how many responses each row
    stands for (rows already counted by the database), 1 each when None.
    """
    grid, exit_index, entry_index = time_grid(durations, n_groups, entry)
    width = grid.size
    states = n_causes + 1
    budget = max(_MAX_BINCOUNT_CELLS, 4 * durations.size)
    if entry_index is None:
        exit_full, group, cause, count = _count_patterns(
            exit_index, causes, codes, n_groups, width, states, budget, weights=weights
        )
        entry_full = np.zeros_like(exit_full)
    else:
        # most units enter at the start: count them without the entry dimension, the few late
        # ones with it, so the table stays small
        late = entry_index > 0
        on_time = ~late
        pick = (lambda a: None if a is None else a[on_time]) if late.any() else (lambda a: a)
        exit_a, group_a, cause_a, count_a = _count_patterns(
            pick(exit_index),
            pick(causes),
            pick(codes),
            n_groups,
            width,
            states,
            budget,
            weights=pick(weights),
        )
        if late.any():
            exit_b, group_b, cause_b, count_b = _count_patterns(
                exit_index[late],
                causes[late],
                None if codes is None else codes[late],
                n_groups * width,
                width,
                states,
                budget,
                extra=entry_index[late]
                if codes is None
                else codes[late] * width + entry_index[late],
                weights=None if weights is None else weights[late],
            )
            entry_b, group_b = group_b % width, group_b // width
        else:
            exit_b = group_b = cause_b = count_b = entry_b = np.zeros(0, dtype=np.int64)
        exit_full = np.concatenate([exit_a, exit_b])
        entry_full = np.concatenate([np.zeros_like(exit_a), entry_b])
        group = np.concatenate([group_a, group_b])
        cause = np.concatenate([cause_a, cause_b])
        count = np.concatenate([count_a, count_b])
    removed_anywhere = np.zeros(width, dtype=bool)
    removed_anywhere[exit_full] = True
    # full grid index -> index among the exit times, and -> first exit time after an entry
    kept_upto = np.cumsum(removed_anywhere)
    last = kept_upto[exit_full] - 1
    first = kept_upto[entry_full] if entry_index is not None else np.zeros_like(last)
    kept = np.flatnonzero(removed_anywhere)
    return CompetingPatterns(grid[kept], group, first, last, cause, count)


def _count_patterns(
    exit_index, causes, codes, n_groups, width, states, budget, extra=None, weights=None
):
    """Distinct (group, exit, cause) cells and their counts: one bincount, or one unique.

    ``extra`` (optional) replaces ``codes`` as the slowest-varying key (group and entry);
    ``weights``: the responses each row stands for.
    """
    key = np.multiply(exit_index, states, dtype=np.int64)
    key += causes
    span = width * states
    outer = codes if extra is None else extra
    if outer is not None:
        key += np.multiply(outer, span, dtype=np.int64)
    key_size = n_groups * span
    if weights is not None:
        present, inverse = np.unique(key, return_inverse=True)
        count = np.bincount(inverse.reshape(-1), weights=weights).astype(np.int64)
        present, count = present[count > 0], count[count > 0]
    elif key_size <= budget:
        counts = np.bincount(key, minlength=key_size)
        present = np.flatnonzero(counts)
        count = counts[present]
    else:
        present, count = np.unique(key, return_counts=True)
    cause, rest = present % states, present // states
    return rest % width, rest // width, cause, count


def patterns_from_counts(times, n_events, n_censored) -> CompetingPatterns:
    """Pattern table of right-censored data (no delayed entry) from per-cause count tables.

    ``n_events`` is (k, n_causes, m) and ``n_censored`` (k, m) over ``times``.
    """
    table = np.concatenate([np.asarray(n_censored)[:, None, :], np.asarray(n_events)], axis=1)
    group, cause, last = np.nonzero(table)
    return CompetingPatterns(
        np.asarray(times), group, np.zeros_like(last), last, cause, table[group, cause, last]
    )


class CompetingCurves(NamedTuple):
    """Aalen-Johansen state probabilities per group, with infinitesimal-jackknife errors.

    Shapes: ``n_at_risk``, ``n_censored``, ``n_entered`` (k, m); ``n_events`` (k, K, m);
    ``probability`` and ``standard_error`` (k, K + 1, m), state 0 being "no outcome yet" and
    state c the cumulative incidence of cause c.
    """

    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    n_entered: np.ndarray
    probability: np.ndarray
    standard_error: np.ndarray


class _Influence(NamedTuple):
    """Per-pattern pieces of the influence U_p(t_j) = alpha + g_j * beta (see aj_from_patterns)."""

    g: np.ndarray  # (k, S, m): -probability
    c: np.ndarray  # (k, S, m): influence of a unit at risk since the start, at each time
    alpha: np.ndarray  # (P, S) once exited
    beta: np.ndarray  # (P,)
    psi: np.ndarray  # (P, S): cumulative terms before entry
    eta: np.ndarray  # (P,)


def _aj_core(patterns: CompetingPatterns, n_groups: int, n_causes: int):
    times, group, first, last, cause, count = patterns
    m, k, states = times.size, n_groups, n_causes + 1
    weight = count.astype(float)
    exit_cell = group * m + last
    n_removed = np.bincount(exit_cell, weight, minlength=k * m).reshape(k, m)
    by_cause = np.bincount(
        (group * states + cause) * m + last, weight, minlength=k * states * m
    ).reshape(k, states, m)
    n_entered = np.bincount(group * m + first, weight, minlength=k * m).reshape(k, m)
    n_at_risk = np.cumsum(n_entered, axis=1) - np.cumsum(n_removed, axis=1) + n_removed
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n_at_risk[:, None, :] > 0, by_cause[:, 1:] / n_at_risk[:, None, :], 0.0)
    total = hazard.sum(axis=1)
    survival = np.cumprod(1.0 - total, axis=1)
    before = np.concatenate([np.ones((k, 1)), survival[:, :-1]], axis=1)  # S(t-)
    incidence = np.cumsum(before[:, None, :] * hazard, axis=2)
    probability = np.concatenate([survival[:, None, :], incidence], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 1 / (n (1 - lambda)); zero where the risk set is emptied: every influence vanishes there
        h = np.where((total < 1.0) & (n_at_risk > 0), 1.0 / (n_at_risk * (1.0 - total)), 0.0)
        per_unit = np.where(n_at_risk > 0, before / n_at_risk, 0.0)  # S(t-) / n
    g = -probability
    # increments for a unit at risk without an event at t_j: alpha (per state) and beta
    a_step = np.zeros((k, states, m))
    a_step[:, 1:] = -per_unit[:, None, :] * hazard - incidence * (total * h)[:, None, :]
    a_cum = np.cumsum(a_step, axis=2)
    b_cum = np.cumsum(-total * h, axis=1)
    # (the per-pattern gathers read time-major copies, (k, m, states): the same values, a
    # contiguous row per pattern instead of a strided one)
    a_rows = np.ascontiguousarray(a_cum.transpose(0, 2, 1))
    # the unit's own event at its exit time
    ev_beta = np.where(cause > 0, h[group, last], 0.0)
    own = cause > 0
    ev_alpha = np.zeros((cause.size, states))
    ev_alpha[:, 1:] = np.where(
        own[:, None],
        np.ascontiguousarray(incidence.transpose(0, 2, 1))[group, last] * ev_beta[:, None],
        0.0,
    )
    ev_alpha[np.flatnonzero(own), cause[own]] += per_unit[group[own], last[own]]
    entered_late = first > 0
    if entered_late.any():
        prior = np.where(entered_late, first - 1, 0)
        psi = np.where(entered_late[:, None], a_rows[group, prior], 0.0)
        eta = np.where(entered_late, b_cum[group, prior], 0.0)
    else:  # (what the gathers above give when nobody enters late)
        psi, eta = np.zeros((cause.size, states)), np.zeros(cause.size)
    alpha = a_rows[group, last] - psi + ev_alpha
    beta = b_cum[group, last] - eta + ev_beta
    c = a_cum + g * b_cum[:, None, :]
    counts = (n_at_risk, by_cause[:, 1:], by_cause[:, 0], n_entered)
    return times, probability, counts, _Influence(g, c, alpha, beta, psi, eta), weight


def _grouped_cumsum(cells, weights, k: int, m: int) -> np.ndarray:
    """Cumulative sums along time of ``weights`` bincounted on ``cells`` (group * m + time)."""
    return np.cumsum(np.bincount(cells, weights, minlength=k * m).reshape(k, m), axis=1)


def aj_core(patterns: CompetingPatterns, n_groups: int, n_causes: int):
    """The Aalen-Johansen pieces both :func:`aj_from_patterns` and :func:`aj_time_in_state`
    start from: compute once, pass to both as ``core`` when both are wanted."""
    return _aj_core(patterns, n_groups, n_causes)


def aj_from_patterns(
    patterns: CompetingPatterns, n_groups: int, n_causes: int, *, core=None, se_states=None
) -> CompetingCurves:
    """Aalen-Johansen curves of every group with R's infinitesimal-jackknife standard errors.

    Notes
    -----
    The influence of one unit on the probability of state s at t is, with the hazards
    :math:`\\lambda_{cj} = d_{cj}/n_j`, :math:`\\lambda_j = \\sum_c \\lambda_{cj}`,

    .. math:: U^{(c)}(t) = \\sum_{t_j \\le t} \\Big[S(t_j-) a^c_j
              - \\frac{b_j}{1 - \\lambda_j}\\big(F_c(t) - F_c(t_j)\\big)\\Big], \\qquad
              U^{(0)}(t) = -S(t) \\sum_{t_j \\le t} \\frac{b_j}{1 - \\lambda_j},

    where :math:`a^c_j = (dN^c_j - Y_j\\lambda_{cj})/n_j` and :math:`b_j = \\sum_c a^c_j` are
    the unit's influences on the hazards. It is :math:`\\alpha + g(t)\\beta` with
    :math:`g = -F_c` (or :math:`-S`), and :math:`\\alpha, \\beta` cumulative sums over the
    unit's time at risk; the variance :math:`\\sum_i U_i(t)^2` is then a few cumulative sums
    over exit and entry times, so every group and time costs O(patterns + m).

    ``se_states`` (optional): the states whose standard errors are wanted (0 "no outcome yet",
    c cause c); the others are NaN. Each is the same, bit for bit, as with every state.
    """
    core = _aj_core(patterns, n_groups, n_causes) if core is None else core
    times, probability, counts, inf, weight = core
    _, group, first, last, _, _ = patterns
    k, m = n_groups, times.size
    exit_cell, entry_cell = group * m + last, group * m + first
    states = n_causes + 1
    wanted = range(states) if se_states is None else se_states
    variance = np.full((k, states, m), np.nan)
    at_risk_n = _grouped_cumsum(entry_cell, weight, k, m) - _grouped_cumsum(exit_cell, weight, k, m)

    def still_at_risk(values):  # sum over units entered by t_j that have not yet left
        return _grouped_cumsum(entry_cell, weight * values, k, m) - _grouped_cumsum(
            exit_cell, weight * values, k, m
        )

    e_bb = _grouped_cumsum(exit_cell, weight * inf.beta**2, k, m)
    # without a late entry psi and eta are 0 for every pattern: their sums over the risk set
    # are the zeros still_at_risk would give (+0.0 each), without summing them
    late = bool(np.any(first > 0))
    nothing = np.zeros((k, m))
    s_eta = still_at_risk(inf.eta) if late else nothing
    s_etaeta = still_at_risk(inf.eta**2) if late else nothing
    alphas, psis = np.ascontiguousarray(inf.alpha.T), np.ascontiguousarray(inf.psi.T)
    for s in wanted:  # a loop over the outcome states, not over units
        alpha, psi = alphas[s], psis[s]
        g, c = inf.g[:, s], inf.c[:, s]
        e_aa = _grouped_cumsum(exit_cell, weight * alpha**2, k, m)
        e_ab = _grouped_cumsum(exit_cell, weight * alpha * inf.beta, k, m)
        s_psi = still_at_risk(psi) if late else nothing
        s_psipsi = still_at_risk(psi**2) if late else nothing
        s_psieta = still_at_risk(psi * inf.eta) if late else nothing
        variance[:, s] = (
            e_aa
            + 2 * g * e_ab
            + g**2 * e_bb
            + at_risk_n * c**2
            - 2 * c * (s_psi + g * s_eta)
            + s_psipsi
            + 2 * g * s_psieta
            + g**2 * s_etaeta
        )
    n_at_risk, n_events, n_censored, n_entered = counts
    return CompetingCurves(
        times,
        n_at_risk,
        n_events,
        n_censored,
        n_entered,
        probability,
        np.sqrt(np.clip(variance, 0.0, None)),
    )


def aj_time_in_state(
    patterns: CompetingPatterns,
    n_groups: int,
    n_causes: int,
    tau: float,
    *,
    core=None,
    se_states=None,
):
    """Restricted mean time in each state from 0 to ``tau``, and its IJ standard error.

    Returns ``(estimate, standard_error)``, each (k, K + 1): state 0 is the restricted mean
    time without any outcome, state c the restricted mean time lost to cause c, as R's
    ``print(survfit(...), rmean=tau)`` and its ``se(rmean)``. The curve is held flat after the
    last time, and starts at time 0 in state 0. ``se_states`` (optional): the states whose
    standard errors are wanted, the others NaN (each the same, bit for bit, as with all).
    """
    core = _aj_core(patterns, n_groups, n_causes) if core is None else core
    times, probability, _, inf, weight = core
    _, group, first, last, _, _ = patterns
    k, states = n_groups, n_causes + 1
    right = np.minimum(np.append(times[1:], np.inf), tau)
    width = np.where(times <= tau, right - times, 0.0)
    start = np.zeros(states)
    start[0] = min(times[0], tau) if times.size else tau
    estimate = start + probability @ width

    def suffix(values):  # sum over j >= index, with a trailing zero at index m
        reverse = np.cumsum((values * width)[..., ::-1], axis=-1)[..., ::-1]
        return np.concatenate([reverse, np.zeros(values.shape[:-1] + (1,))], axis=-1)

    d = suffix(np.ones_like(times))
    # (gathered per pattern from time-major copies, (k, m + 1, states): the same values)
    g_sum = np.ascontiguousarray(suffix(inf.g).transpose(0, 2, 1))
    c_sum = np.ascontiguousarray(suffix(inf.c).transpose(0, 2, 1))
    variance = np.full((k, states), np.nan)
    d_last, d_span = d[last], d[first] - d[last]
    for s in range(states) if se_states is None else se_states:
        g_last = g_sum[group, last, s]
        influence = (
            inf.alpha[:, s] * d_last
            + inf.beta * g_last
            + (c_sum[group, first, s] - c_sum[group, last, s])
            - inf.psi[:, s] * d_span
            - inf.eta * (g_sum[group, first, s] - g_last)
        )
        variance[:, s] = np.bincount(group, weight * influence**2, minlength=k)
    return estimate, np.sqrt(variance)


def boundary_wilson(estimate, n, z: float):
    """Wilson interval of a curve sitting exactly at 0 or 1: "0 of n" on the risk set.

    At 0 the interval is [0, upper Wilson bound of 0/n]; at 1, [1 - that bound, 1]. NaN where
    n is 0 or the estimate is strictly inside (0, 1).
    """
    estimate = np.asarray(estimate, dtype=float)
    _, high = wilson(np.zeros_like(estimate), n, z)
    low = np.where(estimate == 0, 0.0, np.where(estimate == 1, 1.0 - high, np.nan))
    up = np.where(estimate == 0, high, np.where(estimate == 1, 1.0, np.nan))
    return low, up


# --- proportions, bootstrap, ranks (shared with proportions.py and counts.py) ----------------


def validate_confidence_level(confidence_level) -> float:
    try:
        level = float(confidence_level)
    except (TypeError, ValueError):
        level = math.nan
    if not 0.0 < level < 1.0:
        raise ValueError("`confidence_level` must be between 0 and 1.")
    return level


def z_value(confidence_level: float) -> float:
    return float(special.ndtri(0.5 + confidence_level / 2.0))


def wilson(successes, n, z: float, *, continuity: bool = False):
    """Wilson score interval for arrays of counts; NaN where ``n == 0``.

    With ``continuity=True`` this is Newcombe's (1998) method 4, i.e. R's
    ``prop.test(correct=TRUE)`` interval with the full 1/2 correction.
    """
    k = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_hat = k / total
        z2n = z * z / (2.0 * total)
        shift = 0.5 / total if continuity else 0.0
        p_up = p_hat + shift
        p_lo = p_hat - shift
        denominator = 1.0 + 2.0 * z2n
        high = (
            p_up
            + z2n
            + z * np.sqrt(np.clip(p_up * (1 - p_up), 0, None) / total + z2n / (2 * total))
        ) / denominator
        low = (
            p_lo
            + z2n
            - z * np.sqrt(np.clip(p_lo * (1 - p_lo), 0, None) / total + z2n / (2 * total))
        ) / denominator
    high = np.where(p_up >= 1.0, 1.0, high)
    low = np.where(p_lo <= 0.0, 0.0, low)
    empty = total == 0
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return low, high


def newcombe(k1, n1, k2, n2, z: float, *, continuity: bool = False):
    """Newcombe's hybrid score interval for p1 - p2 (his methods 10 and 11), vectorised."""
    l1, u1 = wilson(k1, n1, z, continuity=continuity)
    l2, u2 = wilson(k2, n2, z, continuity=continuity)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = np.asarray(k1, dtype=float) / np.asarray(n1, dtype=float)
        p2 = np.asarray(k2, dtype=float) / np.asarray(n2, dtype=float)
    delta = p1 - p2
    low = delta - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = delta + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def fisher_pvalue(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for [[a, b], [c, d]], as R's ``fisher.test``.

    The p-value sums the hypergeometric probabilities of every table, with the same margins,
    that is no more likely than the observed one (relative tolerance 1e-7, as R). The
    probabilities rise then fall, so that set is two tails: each is found by bisection on the
    log-probability and summed with the hypergeometric distribution function.
    """
    return float(fisher_pvalues([a], [b], [c], [d])[0])


def _fisher_tails(a: int, b: int, c: int, d: int):
    """``(total, row, column, left, right)`` of :func:`fisher_pvalue`'s two tails (``left``
    below the support or ``right`` above it when a tail is empty), or None when p is 1."""
    total, row, column = a + b + c + d, a + b, a + c
    low, high = max(0, column - (total - row)), min(row, column)
    if low == high:
        return None

    def log_probability(x: int) -> float:  # up to a constant
        return -(
            math.lgamma(x + 1)
            + math.lgamma(row - x + 1)
            + math.lgamma(column - x + 1)
            + math.lgamma(total - row - column + x + 1)
        )

    threshold = log_probability(a) + math.log1p(1e-7)
    mode = min(max((column + 1) * (row + 1) // (total + 2), low), high)
    if log_probability(mode) <= threshold:
        return None
    # left tail: largest x <= mode with probability <= threshold (probabilities rise up to mode)
    lo, hi = low - 1, mode  # invariant: lo qualifies (or is below the support), hi does not
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if log_probability(middle) <= threshold:
            lo = middle
        else:
            hi = middle
    left = lo if lo >= low else None
    # right tail: smallest x >= mode with probability <= threshold (they fall after mode)
    lo, hi = mode, high + 1
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if log_probability(middle) <= threshold:
            hi = middle
        else:
            lo = middle
    right = hi if hi <= high else None
    return total, row, column, left, right


def fisher_pvalues(a, b, c, d) -> np.ndarray:
    """:func:`fisher_pvalue` of many tables: the tails found table by table, their
    probabilities summed in two vectorised calls of the hypergeometric distribution (a call
    per table costs more than the test at a dozen tables)."""
    tails = [
        _fisher_tails(int(w), int(x), int(y), int(z)) for w, x, y, z in zip(a, b, c, d, strict=True)
    ]
    pvalues = np.ones(len(tails))
    found = [i for i, tail in enumerate(tails) if tail is not None]
    if not found:
        return pvalues
    total, row, column = (np.array([tails[i][j] for i in found]) for j in range(3))
    left = np.array([-1 if tails[i][3] is None else tails[i][3] for i in found])
    right = np.array([-1 if tails[i][4] is None else tails[i][4] for i in found])
    has_left, has_right = left >= 0, right >= 0
    lower = np.where(has_left, stats.hypergeom.cdf(np.maximum(left, 0), total, row, column), 0.0)
    upper = np.where(
        has_right, stats.hypergeom.sf(np.maximum(right, 1) - 1, total, row, column), 0.0
    )
    # (summed as the scalar form adds them: 0.0 + left tail, then + right tail)
    pvalues[found] = np.minimum((0.0 + lower) + upper, 1.0)
    return pvalues


def chi_square(counts: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square for a k x 2 table without continuity correction."""
    rows = counts.sum(axis=1, keepdims=True)
    columns = counts.sum(axis=0, keepdims=True)
    expected = rows * columns / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(np.sum((counts - expected) ** 2 / expected))
    dof = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    return statistic, float(dof)


def validate_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError("`rng` must be a numpy.random.Generator or a non-negative integer seed.")


def validate_resamples(n_resamples) -> int:
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, (int, np.integer))
        or n_resamples < 100
    ):
        raise ValueError("`n_resamples` must be an integer of at least 100.")
    return int(n_resamples)


def grouped_value_counts(values: np.ndarray, codes=None, n_groups: int = 1):
    """Distinct values (sorted) and their counts per group, shape (n_groups, m)."""
    if values.size == 0:
        return np.empty(0), np.zeros((n_groups, 0), dtype=np.int64)
    low = float(values.min())
    span = float(values.max()) - low
    if span < _MAX_BINCOUNT_RANGE and np.array_equal(values, np.floor(values)):
        width = int(span) + 1
        index = (values - low).astype(np.int64)
        if codes is not None:
            index = codes * width + index
        table = np.bincount(index, minlength=n_groups * width).reshape(n_groups, width)
        present = table.sum(axis=0) > 0
        return np.arange(width, dtype=float)[present] + low, table[:, present]
    distinct, inverse = np.unique(values, return_inverse=True)
    index = inverse.reshape(-1)
    if codes is not None:
        index = codes * distinct.size + index
    table = np.bincount(index, minlength=n_groups * distinct.size)
    return distinct, table.reshape(n_groups, distinct.size)


def resample_counts(counts: np.ndarray, n_resamples: int, rng: np.random.Generator):
    """Frequencies of each distinct value in ``n_resamples`` resamples of the rows, (B, m).

    Drawing n rows with replacement is a multinomial draw over the distinct values; when there
    are nearly as many distinct values as rows, indices are drawn instead (same distribution).
    """
    n = int(counts.sum())
    m = counts.size
    if m * 8 <= n or m <= 16:
        return rng.multinomial(n, counts / n, size=n_resamples)
    rows = np.repeat(np.arange(m), counts)
    draws = np.empty((n_resamples, m), dtype=np.int64)
    chunk = max(1, (1 << 22) // n)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        picked = rows[rng.integers(0, n, size=(stop - start, n))]
        offsets = np.arange(stop - start)[:, None] * m
        flat = np.bincount((picked + offsets).ravel(), minlength=(stop - start) * m)
        draws[start:stop] = flat.reshape(stop - start, m)
    return draws


def acceleration(jackknife: np.ndarray, counts: np.ndarray) -> float:
    """BCa acceleration from leave-one-out values, one per distinct value, weighted by counts."""
    weights = counts.astype(float)
    mean = np.sum(weights * jackknife) / weights.sum()
    spread = mean - jackknife
    denominator = 6.0 * np.sum(weights * spread**2) ** 1.5
    if not denominator > 0 or not np.isfinite(denominator):
        return 0.0
    return float(np.sum(weights * spread**3) / denominator)


def bca_bounds(resampled, below: int, equal: int, acceleration: float, level: float):
    """BCa percentile bounds; ties with the estimate count half in the bias correction."""
    n_resamples = resampled.size
    z0 = special.ndtri((below + 0.5 * equal) / n_resamples)
    z_low, z_high = special.ndtri((1.0 - level) / 2.0), special.ndtri((1.0 + level) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha_low = special.ndtr(z0 + (z0 + z_low) / (1.0 - acceleration * (z0 + z_low)))
        alpha_high = special.ndtr(z0 + (z0 + z_high) / (1.0 - acceleration * (z0 + z_high)))
    if not (np.isfinite(alpha_low) and np.isfinite(alpha_high)):
        return math.nan, math.nan
    low, high = np.quantile(resampled, [alpha_low, alpha_high])
    return float(low), float(high)


def bca_mean(values, counts, *, rng, n_resamples: int, level: float):
    """(estimate, low, high, standard error) of the mean from a frequency table."""
    present = counts > 0  # resample only the values this unit has: its result then depends
    values, counts = values[present], counts[present]  # on its own rows alone
    n = int(counts.sum())
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    total = float(counts @ values)
    estimate = total / n
    deviations = values - estimate
    sum_squares = float(counts @ deviations**2)
    standard_error = math.sqrt(sum_squares / (n - 1) / n) if n > 1 else math.nan
    if np.count_nonzero(counts) < 2:
        # One distinct value: every resample gives the same mean, which says nothing about
        # the uncertainty. Not estimable, as R's boot.ci refuses it (no zero-width interval).
        return estimate, math.nan, math.nan, standard_error
    draws = resample_counts(counts, n_resamples, rng)
    sums = draws @ values
    below = int(np.count_nonzero(sums < total))
    equal = int(np.count_nonzero(sums == total))
    jackknife = (total - values) / (n - 1)
    low, high = bca_bounds(sums / n, below, equal, acceleration(jackknife, counts), level)
    return estimate, low, high, standard_error


def bca_mean_expansion(values, counts, *, level: float):
    """(estimate, low, high, standard error) of the mean from a frequency table: the BCa
    interval of the bootstrap taken to infinitely many resamples, in closed form.

    The bootstrap distribution of the mean of n draws from the table has the cumulants of the
    table divided by n^(r-1); its quantiles are read from their Cornish-Fisher expansion (to
    order 1/n), its bias correction z0 from the Edgeworth expansion of P*(mean* < mean), and the
    acceleration is the jackknife one of :func:`bca_mean`. What :func:`bca_mean` estimates by
    Monte Carlo, without its Monte Carlo error (and without resampling: O(m), not O(B m)), up to
    terms of order n^(-3/2) of the standardised quantiles (DiCiccio and Efron 1996, section 4).
    """
    present = counts > 0
    values, counts = values[present], counts[present]
    n = int(counts.sum())
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    weights = counts.astype(float)
    total = float(weights @ values)
    estimate = total / n
    deviations = values - estimate
    sum_squares = float(weights @ deviations**2)
    standard_error = math.sqrt(sum_squares / (n - 1) / n) if n > 1 else math.nan
    if np.count_nonzero(counts) < 2 or not sum_squares > 0:
        return estimate, math.nan, math.nan, standard_error  # as bca_mean: not estimable
    variance = sum_squares / n  # of one draw from the table (divisor n: the bootstrap's)
    skewness = float(weights @ deviations**3) / n / variance**1.5 / math.sqrt(n)
    kurtosis = (float(weights @ deviations**4) / n / variance**2 - 3.0) / n
    z0 = float(special.ndtri(0.5 + skewness / (6.0 * math.sqrt(2.0 * math.pi))))
    accel = acceleration((total - values) / (n - 1), counts)
    spread = math.sqrt(variance / n)
    bounds = []
    for z in (special.ndtri((1.0 - level) / 2.0), special.ndtri((1.0 + level) / 2.0)):
        adjusted = z0 + (z0 + z) / (1.0 - accel * (z0 + z))
        if not np.isfinite(adjusted):
            return estimate, math.nan, math.nan, standard_error
        w = float(adjusted)  # the BCa level's normal quantile: Phi^-1(Phi(adjusted))
        quantile = (
            w
            + skewness / 6.0 * (w**2 - 1.0)
            + kurtosis / 24.0 * (w**3 - 3.0 * w)
            - skewness**2 / 36.0 * (2.0 * w**3 - 5.0 * w)
        )
        bounds.append(estimate + spread * quantile)
    return estimate, bounds[0], bounds[1], standard_error


class _RatioTable(NamedTuple):
    """A pair table's non-empty rows and what both ratio intervals start from."""

    numerators: np.ndarray
    denominators: np.ndarray
    counts: np.ndarray
    n: int
    num_total: float
    den_total: float
    estimate: float
    residuals: np.ndarray  # num - R den
    standard_error: float  # linearised
    answer: tuple | None  # the result when there is no interval to compute, else None


def _ratio_table(numerators, denominators, counts) -> _RatioTable:
    """R = sum(num) / sum(den) from a pair table, its residuals and linearised standard error.
    ``answer`` is set when there is no interval: all NaN when n or sum(den) is 0; the estimate
    alone when every response has the ratio of the estimate (e.g. no promised callback ever
    kept: every resample gives it again, a zero-width interval that says nothing)."""
    present = counts > 0
    numerators, denominators, counts = numerators[present], denominators[present], counts[present]
    n = int(counts.sum())
    num_total = float(counts @ numerators)
    den_total = float(counts @ denominators)
    if n == 0 or den_total == 0:
        nothing = (math.nan, math.nan, math.nan, math.nan)
        return _RatioTable(
            numerators, denominators, counts, n, 0.0, 0.0, math.nan, numerators, math.nan, nothing
        )
    estimate = num_total / den_total
    residuals = numerators - estimate * denominators
    standard_error = (
        math.sqrt(n / (n - 1) * float(counts @ residuals**2)) / den_total if n > 1 else math.nan
    )
    one_ratio = np.count_nonzero(counts) < 2 or np.all(
        numerators * den_total == num_total * denominators
    )
    answer = (estimate, math.nan, math.nan, standard_error) if one_ratio else None
    return _RatioTable(
        numerators,
        denominators,
        counts,
        n,
        num_total,
        den_total,
        estimate,
        residuals,
        standard_error,
        answer,
    )


def bca_ratio_expansion(numerators, denominators, counts, *, level: float):
    """(estimate, low, high, linearised standard error) of sum(num) / sum(den) from a pair
    table: the BCa interval of :func:`bca_ratio`'s bootstrap taken to infinitely many resamples,
    in closed form.

    With ``u = num - R den`` and ``d = den - mean(den)``, the resampled ratio is
    ``R + mean*(u) / (mean(den) + mean*(d))``; to order n^(-1/2) of its standardised
    quantiles its bootstrap distribution has mean ``R - s_ud / (n D^2)``, variance
    ``s_uu / (n D^2)`` and third cumulant ``(m_uuu / D^3 - 6 s_uu s_ud / D^4) / n^2`` (``D``
    the mean denominator, moments of the table with divisor n). Bounds are its Cornish-Fisher
    quantiles at the BCa levels, with z0 from its Edgeworth expansion and the jackknife
    acceleration of :func:`bca_ratio`.
    """
    table = _ratio_table(numerators, denominators, counts)
    if table.answer is not None:
        return table.answer
    numerators, denominators, counts, n, num_total, den_total, estimate, residuals = table[:8]
    standard_error = table.standard_error
    weights = counts.astype(float)
    mean_den = den_total / n
    spread_den = denominators - mean_den
    s_uu = float(weights @ residuals**2) / n
    s_ud = float(weights @ (residuals * spread_den)) / n
    m_uuu = float(weights @ residuals**3) / n
    shift = -s_ud / (n * mean_den**2)
    spread = math.sqrt(s_uu / n) / mean_den
    third = (m_uuu / mean_den**3 - 6.0 * s_uu * s_ud / mean_den**4) / n**2
    skewness = third / spread**3
    z0 = -shift / spread + skewness / 6.0
    with np.errstate(divide="ignore", invalid="ignore"):
        jackknife = (num_total - numerators) / (den_total - denominators)
    accel = acceleration(jackknife, counts) if np.all(np.isfinite(jackknife)) else 0.0
    bounds = []
    for z in (special.ndtri((1.0 - level) / 2.0), special.ndtri((1.0 + level) / 2.0)):
        w = z0 + (z0 + z) / (1.0 - accel * (z0 + z))
        if not np.isfinite(w):
            return estimate, math.nan, math.nan, standard_error
        bounds.append(estimate + shift + spread * (w + skewness / 6.0 * (w**2 - 1.0)))
    return estimate, bounds[0], bounds[1], standard_error


def bca_ratio(numerators, denominators, counts, *, rng, n_resamples: int, level: float):
    """(estimate, low, high, linearised standard error) of sum(num) / sum(den), pair table."""
    table = _ratio_table(numerators, denominators, counts)
    if table.answer is not None:
        return table.answer
    numerators, denominators, counts, _, num_total, den_total, estimate = table[:7]
    standard_error = table.standard_error
    draws = resample_counts(counts, n_resamples, rng)
    num_star = draws @ numerators
    den_star = draws @ denominators
    valid = den_star > 0
    # compare num*/den* with N/D without division, so exact ties are recognised
    cross = num_star * den_total - num_total * den_star
    below = int(np.count_nonzero(cross[valid] < 0))
    equal = int(np.count_nonzero(cross[valid] == 0))
    ratios = num_star[valid] / den_star[valid]
    with np.errstate(divide="ignore", invalid="ignore"):
        jackknife = (num_total - numerators) / (den_total - denominators)
    accel = acceleration(jackknife, counts) if np.all(np.isfinite(jackknife)) else 0.0
    if ratios.size < 2:
        return estimate, math.nan, math.nan, standard_error
    low, high = bca_bounds(ratios, below, equal, accel, level)
    return estimate, low, high, standard_error


def midranks(total_counts: np.ndarray) -> np.ndarray:
    """Average rank of each distinct value, given the pooled frequency of each (sorted)."""
    cumulative = np.cumsum(total_counts, dtype=float)
    return cumulative - (total_counts - 1) / 2.0


def tie_term(total_counts: np.ndarray) -> float:
    t = total_counts.astype(float)
    return float(np.sum(t**3 - t))


def mann_whitney_from_counts(table: np.ndarray, *, continuity: bool = True):
    """U of row 0 against row 1 and its two-sided p-value, from a (2, m) frequency table.

    Also works row-wise on a stack: ``table`` of shape (2, ..., m).
    """
    x, y = table[0].astype(float), table[1].astype(float)
    total = x + y
    n_x, n_y = x.sum(axis=-1), y.sum(axis=-1)
    n = n_x + n_y
    ranks = np.cumsum(total, axis=-1) - (total - 1) / 2.0
    u = np.sum(x * ranks, axis=-1) - n_x * (n_x + 1) / 2.0
    tie = np.sum(total**3 - total, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(n_x * n_y / 12.0 * ((n + 1) - tie / (n * (n - 1))))
        shift = np.abs(u - n_x * n_y / 2.0)
        if continuity:
            shift = shift - 0.5
        z = shift / sigma
        pvalue = np.minimum(2.0 * special.ndtr(-z), 1.0)
    pvalue = np.where(sigma > 0, pvalue, np.nan)
    return u, pvalue


def kruskal_from_counts(table: np.ndarray) -> tuple[float, float, float]:
    """H, degrees of freedom and p-value from a (k, m) frequency table (empty rows dropped)."""
    table = table[table.sum(axis=1) > 0]
    k = table.shape[0]
    if k < 2:
        return math.nan, math.nan, math.nan
    total = table.sum(axis=0)
    n = float(total.sum())
    ranks = midranks(total)
    rank_sums = table @ ranks
    sizes = table.sum(axis=1).astype(float)
    correction = 1.0 - tie_term(total) / (n**3 - n)
    if not correction > 0:
        return math.nan, float(k - 1), math.nan
    h = (12.0 / (n * (n + 1)) * np.sum(rank_sums**2 / sizes) - 3.0 * (n + 1)) / correction
    return float(h), float(k - 1), float(stats.chi2.sf(h, k - 1))


def validate_band_method(method: str) -> None:
    if method not in BAND_METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, BAND_METHODS))}.")


def confidence_band(survival, standard_error_log, z: float, method: str):
    """Pointwise interval of S(t), exactly as R's ``survfit_confint`` (``survival`` 3.x).

    ``standard_error_log`` is the Greenwood standard error of log S(t), R's ``fit$std.err``.
    """
    s = np.asarray(survival, dtype=float)
    se = np.asarray(standard_error_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if method == "plain":
            half_width = se * s * z
            low = np.maximum(s - half_width, 0.0)
            high = np.minimum(s + half_width, 1.0)
        elif method == "log":
            x = np.where(s == 0, np.nan, s)
            low = np.exp(np.log(x) - z * se)
            high = np.minimum(np.exp(np.log(x) + z * se), 1.0)
        else:  # log-log
            x = np.where((s == 0) | (s == 1), np.nan, s)
            scaled = z * se / np.log(x)
            low = np.exp(-np.exp(np.log(-np.log(x)) - scaled))
            high = np.exp(-np.exp(np.log(-np.log(x)) + scaled))
    return low, high


def chi_square_from_components(observed, expected, variance) -> tuple[float, int, float]:
    """R's survdiff: drop groups with expected == 0, then solve on all but the first."""
    kept = expected > 0
    dof = int(kept.sum()) - 1
    if dof < 1:
        warnings.warn(
            "Fewer than two groups have expected events: no log-rank test.",
            RuntimeWarning,
            stacklevel=3,
        )
        return math.nan, max(dof, 0), math.nan
    difference = (observed - expected)[kept][1:]
    matrix = variance[np.ix_(kept, kept)][1:, 1:]
    try:
        statistic = float(difference @ np.linalg.solve(matrix, difference))
    except np.linalg.LinAlgError:
        warnings.warn(
            "The log-rank variance matrix is singular: no test.", RuntimeWarning, stacklevel=3
        )
        return math.nan, dof, math.nan
    return statistic, dof, float(stats.chi2.sf(statistic, dof))
