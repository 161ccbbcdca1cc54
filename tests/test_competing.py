"""Aalen-Johansen cumulative incidence of competing outcomes, with delayed entry: against R's
multi-state ``survfit`` (tests/reference/competing_r.json, made by competing_r.R beside it),
against a deliberately naive loop implementation of the estimate and its infinitesimal
jackknife, and for its input checks."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analysis._kernels import (
    aj_from_patterns,
    aj_time_in_state,
    competing_patterns,
    patterns_from_counts,
)
from analysis.survival import aalen_johansen

REFERENCE = json.loads((Path(__file__).parent / "reference" / "competing_r.json").read_text())
MGUS2 = REFERENCE["mgus2"]
SMALL = REFERENCE["small"]


def _nan(rows):
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def _interval_rows(fit, times, cause):
    at = fit.cumulative_incidence_at(np.asarray(times, dtype=float), cause)
    return at.estimate, at.standard_error, *at.confidence_interval


# --- against R --------------------------------------------------------------------------------


def test_aalen_johansen_against_R_mgus2_compete_vignette():
    """R (survival 3.5-3): etime <- with(mgus2, ifelse(pstat == 0, futime, ptime)); event <-
    with(mgus2, ifelse(pstat == 0, 2*death, 1)); fit <- survfit(Surv(etime, factor(event)) ~ 1,
    influence=TRUE); summary(fit, times=c(12, 60, 120, 240, 360)): pstate, std.err, lower,
    upper (conf.type "log"); summary(fit, rmean=240)$table[, c("rmean", "se(rmean)")]."""
    fit = aalen_johansen(MGUS2["etime"], MGUS2["event"])
    assert_array_equal(fit.time, MGUS2["all_time"])
    assert_allclose(fit.cumulative_incidence.T, np.array(MGUS2["all_pstate"])[:, 1:], atol=1e-12)
    assert_allclose(fit.standard_error.T, np.array(MGUS2["all_std_err"])[:, 1:], atol=1e-12)
    assert_allclose(fit.survival, np.array(MGUS2["all_pstate"])[:, 0], atol=1e-12)
    for cause in (1, 2):
        estimate, se, low, high = _interval_rows(fit, MGUS2["times"], cause)
        assert_allclose(estimate, np.array(MGUS2["pstate"])[:, cause], atol=1e-6)
        assert_allclose(se, np.array(MGUS2["std_err"])[:, cause], atol=1e-6)
        assert_allclose(low, np.array(MGUS2["lower"])[:, cause], atol=1e-6)
        assert_allclose(high, np.array(MGUS2["upper"])[:, cause], atol=1e-6)
    in_state = fit.time_in_state(MGUS2["tau"])
    assert in_state.states == ("(s0)", "1", "2")
    assert_allclose(in_state.estimate, MGUS2["rmean"], atol=1e-6)
    assert_allclose(in_state.standard_error, MGUS2["rmean_se"], atol=1e-6)
    lost = fit.restricted_mean_time_lost(MGUS2["tau"], cause=1)
    assert_allclose((lost.estimate, lost.standard_error), (MGUS2["rmean"][1], MGUS2["rmean_se"][1]))


def test_aalen_johansen_with_delayed_entry_against_R():
    """R: fe <- survfit(Surv(entry, time, factor(state)) ~ 1, id=seq_along(time),
    influence=TRUE) on the 20 units of competing_r.json (ties, entries at 0.5 to 6);
    summary(fe, times=c(1, 3, 5, 7.5, 10, 12)) and summary(fe, rmean=10)$table."""
    fit = aalen_johansen(SMALL["time"], SMALL["state"], entry=SMALL["entry"])
    assert_array_equal(fit.time, SMALL["all_time"])
    assert_array_equal(fit.n_at_risk, SMALL["all_n_risk"])
    assert_allclose(fit.cumulative_incidence.T, np.array(SMALL["all_pstate"])[:, 1:], atol=1e-12)
    assert_allclose(fit.standard_error.T, np.array(SMALL["all_std_err"])[:, 1:], atol=1e-12)
    lower, upper = _nan(SMALL["lower"]), _nan(SMALL["upper"])
    for cause in (1, 2):
        estimate, se, low, high = _interval_rows(fit, SMALL["times"], cause)
        assert_allclose(estimate, np.array(SMALL["pstate"])[:, cause], atol=1e-6)
        assert_allclose(se, np.array(SMALL["std_err"])[:, cause], atol=1e-6)
        inside = (estimate > 0) & (estimate < 1)  # R's log band; the Wilson rule elsewhere
        assert_allclose(low[inside], lower[inside, cause], atol=1e-6)
        assert_allclose(high[inside], upper[inside, cause], atol=1e-6)
    in_state = fit.time_in_state(SMALL["tau"])
    assert_allclose(in_state.estimate, SMALL["rmean"], atol=1e-6)
    assert_allclose(in_state.standard_error, SMALL["rmean_se"], atol=1e-6)
    assert_allclose(in_state.estimate.sum(), SMALL["tau"])


def test_aalen_johansen_without_entry_against_R():
    """R: f0 <- survfit(Surv(time, factor(state)) ~ 1, influence=TRUE) on the same 20 units;
    summary(f0, times=c(1, 3, 5, 7.5, 10, 12)); summary(f0, rmean=10)$table."""
    fit = aalen_johansen(SMALL["time"], SMALL["state"])
    expected = SMALL["no_entry"]
    for cause in (1, 2):
        estimate, se, low, high = _interval_rows(fit, SMALL["times"], cause)
        assert_allclose(estimate, np.array(expected["pstate"])[:, cause], atol=1e-6)
        assert_allclose(se, np.array(expected["std_err"])[:, cause], atol=1e-6)
        inside = estimate > 0
        assert_allclose(low[inside], _nan(expected["lower"])[inside, cause], atol=1e-6)
        assert_allclose(high[inside], _nan(expected["upper"])[inside, cause], atol=1e-6)
    in_state = fit.time_in_state(SMALL["tau"])
    assert_allclose(in_state.estimate, expected["rmean"], atol=1e-6)
    assert_allclose(in_state.standard_error, expected["rmean_se"], atol=1e-6)


def test_extend_against_R_summary_extend_true():
    """R: summary(fe, times=c(11, 12, 15), extend=TRUE)$pstate and $std.err."""
    fit = aalen_johansen(SMALL["time"], SMALL["state"], entry=SMALL["entry"])
    at = fit.cumulative_incidence_at(SMALL["extend_times"], 1, extend=True)
    assert_allclose(at.estimate, np.array(SMALL["extend_pstate"])[:, 1], atol=1e-6)
    assert_allclose(at.standard_error, np.array(SMALL["extend_std_err"])[:, 1], atol=1e-6)
    assert at.extended.tolist() == [False, False, True]
    with pytest.warns(RuntimeWarning, match="beyond the last follow-up"):
        plain = fit.cumulative_incidence_at(SMALL["extend_times"], 1)
    assert math.isnan(plain.estimate[2]) and plain.extended[2]


# --- a naive loop implementation ---------------------------------------------------------------


def naive_aalen_johansen(time, cause, entry, n_causes):
    """Aalen-Johansen and its infinitesimal jackknife by the definition, plain loops.

    At each distinct exit time, each unit's influence on the cause hazards is
    (dN_ic - Y_i lambda_c) / n; the influence on S and F_c follows the recursion
    S(t) = S(t-)(1 - lambda), F_c(t) = F_c(t-) + S(t-) lambda_c. Variance: sum of squares.
    """
    n = len(time)
    survival, incidence = 1.0, [0.0] * n_causes
    u_survival = [0.0] * n
    u_incidence = [[0.0] * n_causes for _ in range(n)]
    rows = []
    for t in sorted(set(time)):
        risk = [i for i in range(n) if entry[i] < t <= time[i]]
        n_risk = len(risk)
        deaths = [
            sum(1 for i in risk if time[i] == t and cause[i] == c) for c in range(1, n_causes + 1)
        ]
        hazard = [d / n_risk for d in deaths]
        total = sum(hazard)
        for i in range(n):
            at_risk = entry[i] < t <= time[i]
            a = [0.0] * n_causes
            if at_risk:
                for c in range(n_causes):
                    event = 1.0 if (time[i] == t and cause[i] == c + 1) else 0.0
                    a[c] = (event - hazard[c]) / n_risk
            b = sum(a)
            old = u_survival[i]
            u_survival[i] = old * (1 - total) - survival * b
            for c in range(n_causes):
                u_incidence[i][c] += old * hazard[c] + survival * a[c]
        for c in range(n_causes):
            incidence[c] += survival * hazard[c]
        survival *= 1 - total
        se = [math.sqrt(sum(u_incidence[i][c] ** 2 for i in range(n))) for c in range(n_causes)]
        rows.append((t, n_risk, list(incidence), se))
    return rows


def _random_competing(rng, *, with_entry=True):
    n = int(rng.integers(5, 40))
    time = rng.integers(1, 15, size=n).astype(float)
    cause = rng.integers(0, 3, size=n)
    cause[0] = 1  # at least one outcome
    entry = np.zeros(n)
    if with_entry:
        late = rng.random(n) < 0.35
        entry[late] = np.floor(rng.random(late.sum()) * time[late])
    return time, cause, entry


@pytest.mark.parametrize("seed", range(200))
def test_aalen_johansen_equals_naive_loops(seed):
    rng = np.random.default_rng(seed)
    time, cause, entry = _random_competing(rng, with_entry=seed % 4 != 0)
    fit = aalen_johansen(time, cause, entry=entry)
    rows = naive_aalen_johansen(time.tolist(), cause.tolist(), entry.tolist(), int(cause.max()))
    assert_array_equal(fit.time, [r[0] for r in rows])
    assert_array_equal(fit.n_at_risk, [r[1] for r in rows])
    assert_allclose(fit.cumulative_incidence.T, [r[2] for r in rows], atol=1e-12)
    assert_allclose(fit.standard_error.T, [r[3] for r in rows], atol=1e-10)


# --- the counts-level kernel, vectorised across groups ------------------------------------------


def test_group_kernel_equals_one_fit_per_group():
    rng = np.random.default_rng(3)
    n = 3000
    time = rng.integers(1, 60, size=n)
    cause = rng.integers(0, 3, size=n)
    entry = np.where(rng.random(n) < 0.3, rng.integers(0, 20, size=n), 0)
    entry = np.minimum(entry, time - 1)
    group = rng.integers(0, 5, size=n)
    patterns = competing_patterns(time, cause, group, 5, entry=entry, n_causes=2)
    curves = aj_from_patterns(patterns, 5, 2)
    estimate, standard_error = aj_time_in_state(patterns, 5, 2, 30.0)
    for g in range(5):
        mine = group == g
        fit = aalen_johansen(time[mine], cause[mine], entry=entry[mine])
        at = np.searchsorted(curves.time, fit.time)
        assert_allclose(curves.probability[g, 1:, at].T, fit.cumulative_incidence, atol=1e-12)
        assert_allclose(curves.standard_error[g, 1:, at].T, fit.standard_error, atol=1e-12)
        assert_array_equal(curves.n_at_risk[g, at], fit.n_at_risk)
        in_state = fit.time_in_state(30.0)
        assert_allclose(estimate[g], in_state.estimate, atol=1e-10)
        assert_allclose(standard_error[g], in_state.standard_error, atol=1e-10)


def test_patterns_from_counts_equal_patterns_from_rows():
    rng = np.random.default_rng(5)
    time = rng.integers(1, 30, size=500)
    cause = rng.integers(0, 3, size=500)
    group = rng.integers(0, 3, size=500)
    from_rows = aj_from_patterns(competing_patterns(time, cause, group, 3, n_causes=2), 3, 2)
    table = from_rows.n_events.astype(np.int64), from_rows.n_censored.astype(np.int64)
    from_counts = aj_from_patterns(patterns_from_counts(from_rows.time, *table), 3, 2)
    assert_allclose(from_counts.probability, from_rows.probability, atol=1e-14)
    assert_allclose(from_counts.standard_error, from_rows.standard_error, atol=1e-14)


def test_float_durations_and_entries_use_the_unique_grid():
    rng = np.random.default_rng(11)
    time = rng.integers(1, 15, size=60).astype(float) + 0.25
    cause = rng.integers(0, 3, size=60)
    entry = np.where(rng.random(60) < 0.4, time * rng.random(60), 0.0)
    fit = aalen_johansen(time, cause, entry=entry)
    rows = naive_aalen_johansen(time.tolist(), cause.tolist(), entry.tolist(), 2)
    assert_allclose(fit.cumulative_incidence.T, [r[2] for r in rows], atol=1e-12)
    assert_allclose(fit.standard_error.T, [r[3] for r in rows], atol=1e-10)


# --- intervals at the boundary --------------------------------------------------------------


def test_incidence_zero_gets_a_wilson_interval_on_the_risk_set():
    """No outcome of cause 2 among 10 followed past day 2: [0, 27.8%], Wilson's for 0/10."""
    fit = aalen_johansen([5, 6, 7, 8, 9, 10, 12, 13, 15, 20], [1] * 9 + [2])
    at = fit.cumulative_incidence_at(2, cause=2)
    assert at.estimate == 0.0 and at.boundary
    assert_allclose(tuple(at.confidence_interval), (0.0, 1.96**2 / (10 + 1.96**2)), rtol=1e-4)
    assert "Wilson" in at.method


# --- input checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "causes", "entry", "match"),
    [
        ([1, 2, 3], [1, 0], None, "`causes` must have the same length"),
        ([1, 2, 3], [1, 0, -1], None, "`causes` must be non-negative"),
        ([1, 2, 3], [1, 0.5, 0], None, "`causes` must be integers"),
        ([1, 2, 3], [True, False, True], None, "`causes` must be integers"),
        ([1, 2, 3], [0, 0, 0], None, "at least one outcome"),
        ([1, -2, 3], [1, 0, 1], None, "`durations` must be non-negative"),
        ([1, np.nan, 3], [1, 0, 1], None, "`durations` must be finite"),
        ([1, 2, 3], [1, 0, 1], [0, 1], "`entry` must have the same length"),
        ([1, 2, 3], [1, 0, 1], [0, -1, 0], "`entry` must be non-negative"),
        ([1, 2, 3], [1, 0, 1], [0, np.nan, 0], "`entry` must be finite"),
        ([1, 2, 3], [1, 0, 1], [5, 5, 5], "`entry` must be before the exit time"),
    ],
)
def test_aalen_johansen_input_checks(durations, causes, entry, match):
    with pytest.raises(ValueError, match=match):
        aalen_johansen(durations, causes, entry=entry)


def test_entry_not_before_exit_is_dropped_with_a_warning_as_R():
    """R: Surv(entry, exit, event) warns "Stop time must be > start time, NA created"."""
    time, cause, entry = [2, 3, 3, 5, 6], [1, 2, 1, 0, 1], [0, 3, 1, 0, 6]
    with pytest.warns(RuntimeWarning, match="2 unit"):
        fit = aalen_johansen(time, cause, entry=entry)
    kept = aalen_johansen([2, 3, 5], [1, 1, 0], entry=[0, 1, 0])
    assert_array_equal(fit.cumulative_incidence[0], kept.cumulative_incidence[0])
    assert_array_equal(fit.cumulative_incidence[1], 0.0)  # the level stays, as R's factor's


def test_result_methods_check_their_arguments():
    fit = aalen_johansen([1, 2, 3, 4], [1, 2, 0, 1])
    with pytest.raises(ValueError, match="`cause` must be one of"):
        fit.cumulative_incidence_at(2, cause=3)
    with pytest.raises(ValueError, match="`t` must not be NaN"):
        fit.cumulative_incidence_at(np.nan, cause=1)
    with pytest.raises(ValueError, match="`tau` must be a non-negative number"):
        fit.restricted_mean_time_lost(-1, cause=1)
    with pytest.raises(ValueError, match="`confidence_level` must be between 0 and 1"):
        fit.cumulative_incidence_at(2, cause=1, confidence_level=1.5)
    with pytest.raises(ValueError, match="`method` must be one of"):
        fit.cumulative_incidence_at(2, cause=1, method="logit")


def test_result_is_frozen_and_read_only():
    fit = aalen_johansen([1, 2, 3, 4], [1, 2, 0, 1])
    with pytest.raises(ValueError):
        fit.cumulative_incidence[0, 0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit.n == 4


def test_the_standard_errors_of_some_states_are_those_of_all_states_bit_for_bit():
    """``se_states``: the tables read one state's errors of the "all others" curves and of the
    restricted mean; computing that state alone gives the same floats, the others NaN."""
    from analysis import _kernels

    rng = np.random.default_rng(11)
    n = 3000
    entry = np.where(rng.random(n) < 0.3, rng.integers(1, 60, n).astype(float), 0.0)
    durations = np.maximum(rng.integers(1, 200, n).astype(float), entry + 1.0)
    for late in (entry, None):
        patterns = _kernels.competing_patterns(
            durations, rng.integers(0, 3, n), rng.integers(0, 5, n), 5, entry=late, n_causes=2
        )
        core = _kernels.aj_core(patterns, 5, 2)
        every = _kernels.aj_from_patterns(patterns, 5, 2, core=core)
        one = _kernels.aj_from_patterns(patterns, 5, 2, core=core, se_states=(1,))
        assert np.array_equal(one.standard_error[:, 1], every.standard_error[:, 1])
        assert np.isnan(one.standard_error[:, [0, 2]]).all()
        assert np.array_equal(one.probability, every.probability)
        estimate, se = _kernels.aj_time_in_state(patterns, 5, 2, 90.0, core=core)
        estimate1, se1 = _kernels.aj_time_in_state(patterns, 5, 2, 90.0, core=core, se_states=(1,))
        assert np.array_equal(estimate1, estimate) and np.array_equal(se1[:, 1], se[:, 1])
        assert np.isnan(se1[:, [0, 2]]).all()
        assert not np.isnan(se).any() and not np.isnan(every.standard_error).any()
