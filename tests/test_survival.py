"""Kaplan-Meier, median, restricted mean and log-rank: against R's published output, against a
deliberately naive loop implementation, and for their input checks."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from analysis.survival import kaplan_meier, logrank

REFERENCE = json.loads((Path(__file__).parent / "reference" / "survival_r.json").read_text())
AML = REFERENCE["aml"]
EXERCISE = REFERENCE["klein_exercise"]


def _nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _events_only(curve, *arrays):
    keep = curve.n_events > 0
    return [np.asarray(a)[keep] for a in arrays]


# --- published values ------------------------------------------------------------------------


@pytest.mark.parametrize("arm", ["maintained", "nonmaintained"])
def test_kaplan_meier_against_R_aml(arm):
    """R: summary(survfit(Surv(aml$time, aml$status) ~ aml$x)), tests/doaml.Rout.save of the
    survival package (conf.type = "log", R's default). Values printed to 3-4 digits."""
    data, expected = AML[arm], AML[f"summary_{arm}"]
    curve = kaplan_meier(data["time"], data["status"])
    low, high = curve.confidence_band(method="log")
    time, n_risk, n_event, survival, std_err, low, high = _events_only(
        curve, curve.time, curve.n_at_risk, curve.n_events, curve.survival,
        curve.standard_error, low, high,
    )  # fmt: skip
    assert time.tolist() == expected["time"]
    assert n_risk.tolist() == expected["n_risk"]
    assert n_event.tolist() == expected["n_event"]
    assert_allclose(survival, expected["survival"], atol=5e-4)
    assert_allclose(std_err, _nan(expected["std_err"]), atol=5e-5)
    assert_allclose(low, _nan(expected["lower"]), atol=5e-5)
    assert_allclose(high, _nan(expected["upper"]), atol=5e-4)


def test_kaplan_meier_maintained_survival_values_from_issue():
    """Issue 3, from R's doaml.Rout.save: S and Greenwood SE of the maintained arm."""
    curve = kaplan_meier(AML["maintained"]["time"], AML["maintained"]["status"])
    times = [9, 13, 18, 23, 31, 34, 48]
    result = curve.survival_at(times)
    assert_allclose(result.estimate, [0.909, 0.818, 0.716, 0.614, 0.491, 0.368, 0.184], atol=5e-4)
    assert_allclose(
        result.standard_error, [0.0867, 0.1163, 0.1397, 0.1526, 0.1642, 0.1627, 0.1535], atol=5e-5
    )


@pytest.mark.parametrize("arm", ["maintained", "nonmaintained"])
def test_median_against_R_aml(arm):
    """R: print(survfit(Surv(time, status) ~ x, aml)) -> median 0.95LCL 0.95UCL:
    Maintained 31 18 NA, Nonmaintained 23 8 NA (conf.type = "log"), doaml.Rout.save."""
    data = AML[arm]
    median = kaplan_meier(data["time"], data["status"]).median()
    expected = _nan(AML["median_log"][arm])
    assert_allclose(
        [median.estimate, *median.confidence_interval], expected, equal_nan=True, atol=0
    )
    assert median.confidence_level == 0.95


def test_logrank_against_R_aml():
    """R: survdiff(Surv(aml$time, aml$status) ~ aml$x), doaml.Rout.save: Chisq = 3.4 on 1 df,
    p = 0.0653; O 7 / 11, E 10.69 / 7.31, (O-E)^2/V 3.40 (chi-square 3.3964 per issue 3)."""
    expected = AML["survdiff"]
    durations = AML["maintained"]["time"] + AML["nonmaintained"]["time"]
    resolved = AML["maintained"]["status"] + AML["nonmaintained"]["status"]
    groups = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    result = logrank(durations, resolved, groups)
    assert result.groups.tolist() == expected["groups"]
    assert result.n.tolist() == expected["n"]
    assert result.observed.tolist() == expected["observed"]
    assert_allclose(result.expected, expected["expected"], atol=5e-3)
    difference = result.observed - result.expected
    assert_allclose(
        difference**2 / np.diag(result.variance), expected["o_minus_e_squared_over_v"], atol=5e-3
    )
    assert_allclose(result.statistic, expected["chisq"], atol=5e-5)
    assert result.dof == expected["dof"]
    assert_allclose(result.pvalue, expected["pvalue"], atol=5e-5)


def test_kaplan_meier_log_log_against_R_exercise():
    """R survival 3.x: summary(survfit(Surv(time, status) ~ 1, conf.type = "log-log")) and
    print(fit, rmean = "common"), as knitted in the public report 'Regression HW2' (2024):
    median 8.5 [1.5, NA], rmean 7.94 (se 1.12) to 11.5."""
    expected = EXERCISE["summary_loglog"]
    curve = kaplan_meier(EXERCISE["time"], EXERCISE["status"])
    low, high = curve.confidence_band(method="log-log")
    time, survival, std_err, low, high = _events_only(
        curve, curve.time, curve.survival, curve.standard_error, low, high
    )
    assert time.tolist() == expected["time"]
    assert_allclose(survival, expected["survival"], atol=5.1e-4)
    assert_allclose(std_err, _nan(expected["std_err"]), atol=5e-5)
    assert_allclose(low, _nan(expected["lower"]), atol=5e-5)
    assert_allclose(high, _nan(expected["upper"]), atol=5e-4)
    printed = EXERCISE["print_loglog"]
    median = curve.median(method="log-log")
    assert_allclose(
        [median.estimate, *median.confidence_interval],
        _nan([printed["median"], printed["lower"], printed["upper"]]),
        equal_nan=True,
    )
    rmst = curve.rmst(printed["rmean_upper_limit"])
    assert_allclose(rmst.estimate, printed["rmean"], atol=5e-3)
    assert_allclose(rmst.standard_error, printed["se_rmean"], atol=5e-3)


def test_median_midpoint_rule_against_R():
    """Same R report, all ten times as events: S = 0.5 exactly on [5.5, 6.5), so R's
    print.survfit takes the midpoint: median 6 [1.5, 8.5]; rmean 6.3 (se 0.892)."""
    printed = EXERCISE["all_events_print_loglog"]
    curve = kaplan_meier(EXERCISE["time"], np.ones(10))
    median = curve.median(method="log-log")
    assert [median.estimate, *median.confidence_interval] == [6.0, 1.5, 8.5]
    rmst = curve.rmst(printed["rmean_upper_limit"])
    assert_allclose(rmst.estimate, printed["rmean"], atol=5e-4)
    assert_allclose(rmst.standard_error, printed["se_rmean"], atol=5e-4)


def test_rmst_of_uncensored_data_is_the_mean_with_plugin_standard_error():
    """Without censoring and tau beyond the last time, R's survmean variance reduces to
    sum((x - mean)^2) / n^2 (Miller 1981, pp. 195-196): an exact identity."""
    rng = np.random.default_rng(3)
    values = rng.integers(0, 40, 57).astype(float)
    result = kaplan_meier(values, np.ones(values.size)).rmst(values.max())
    assert_allclose(result.estimate, values.mean(), rtol=1e-12)
    assert_allclose(
        result.standard_error,
        math.sqrt(np.sum((values - values.mean()) ** 2)) / values.size,
        rtol=1e-12,
    )
    low, high = result.confidence_interval
    assert_allclose(high - result.estimate, stats.norm.ppf(0.975) * result.standard_error)


def test_median_flat_at_half_until_last_time_follows_print_survfit():
    """R's print.survfit (minmin) returns the start of a flat stretch at 0.5 that lasts to the
    end of follow-up; there is no later drop to average with."""
    curve = kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0])
    assert curve.survival[1] == 0.5
    assert curve.median().estimate == 2.0


def test_median_of_1_to_100_uses_the_tolerance_as_R():
    """R's print.survfit source: survfit(Surv(1:100) ~ 1) has S = 0.5 + 1.1e-16 at t = 50,
    which R treats as 0.5 (all.equal tolerance), giving the midpoint median 50.5."""
    curve = kaplan_meier(np.arange(1, 101), np.ones(100, dtype=bool))
    assert curve.median().estimate == 50.5


def test_median_not_reached_is_nan():
    median = kaplan_meier([1, 2, 3, 4], [1, 0, 0, 0]).median()
    assert math.isnan(median.estimate)


# --- a naive reference implementation, checked against the fast one --------------------------


def naive_kaplan_meier(durations, events):
    """Plain loops over the sorted distinct times: the textbook definition."""
    rows = []
    survival, greenwood = 1.0, 0.0
    for t in sorted(set(durations)):
        at_risk = sum(1 for d in durations if d >= t)
        died = sum(1 for d, e in zip(durations, events, strict=True) if d == t and e)
        censored = sum(1 for d, e in zip(durations, events, strict=True) if d == t and not e)
        survival *= 1 - died / at_risk
        if died:
            greenwood = (
                math.inf if died == at_risk else greenwood + died / (at_risk * (at_risk - died))
            )
        rows.append((t, at_risk, died, censored, survival, math.sqrt(greenwood)))
    return [np.array(column) for column in zip(*rows, strict=True)]


def naive_logrank(durations, events, groups):
    labels = sorted(set(groups))
    k = len(labels)
    observed, expected = np.zeros(k), np.zeros(k)
    variance = np.zeros((k, k))
    for t in sorted({d for d, e in zip(durations, events, strict=True) if e}):
        at_risk = [
            sum(1 for d, g in zip(durations, groups, strict=True) if d >= t and g == label)
            for label in labels
        ]
        died = [
            sum(
                1
                for d, e, g in zip(durations, events, groups, strict=True)
                if d == t and e and g == label
            )
            for label in labels
        ]
        n, d = sum(at_risk), sum(died)
        for i in range(k):
            observed[i] += died[i]
            expected[i] += at_risk[i] * d / n
            if n > 1:
                for j in range(k):
                    share_j = at_risk[j] / n
                    variance[i, j] += d * (n - d) / (n - 1) * at_risk[i] / n * ((i == j) - share_j)
    kept = expected > 0
    if kept.sum() < 2:  # R's survdiff reports chisq 0 on 0 df here; we report NaN
        return observed, expected, variance, math.nan, int(kept.sum()) - 1
    difference = (observed - expected)[kept][1:]
    matrix = variance[np.ix_(kept, kept)][1:, 1:]
    chi = float(difference @ np.linalg.solve(matrix, difference))
    return observed, expected, variance, chi, int(kept.sum()) - 1


def _random_data(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 120))
    durations = rng.integers(0, rng.integers(2, 40), n).astype(float)  # many ties, zeros
    censoring = rng.uniform(0.0, 0.9)  # up to 90% censored
    events = rng.random(n) >= censoring
    events[rng.integers(n)] = True
    groups = rng.integers(0, rng.integers(2, 6), n)
    groups[:2] = [0, 1]
    return durations, events, groups


@pytest.mark.parametrize("seed", range(200))
def test_kaplan_meier_matches_naive_loops(seed):
    durations, events, _ = _random_data(seed)
    curve = kaplan_meier(durations, events)
    time, at_risk, died, censored, survival, se_log = naive_kaplan_meier(
        durations.tolist(), events.tolist()
    )
    assert_array_equal(curve.time, time)
    assert_array_equal(curve.n_at_risk, at_risk)
    assert_array_equal(curve.n_events, died)
    assert_array_equal(curve.n_censored, censored)
    assert_allclose(curve.survival, survival, rtol=1e-12, atol=1e-15)
    assert_allclose(curve.standard_error_log, se_log, rtol=1e-12)


@pytest.mark.parametrize("seed", range(200))
def test_logrank_matches_naive_loops(seed):
    durations, events, groups = _random_data(seed)
    observed, expected, variance, chi, dof = naive_logrank(
        durations.tolist(), events.tolist(), groups.tolist()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a few sets have one group with events
        result = logrank(durations, events, groups)
    assert_allclose(result.observed, observed)
    assert_allclose(result.expected, expected, rtol=1e-12)
    assert_allclose(result.variance, variance, rtol=1e-10, atol=1e-12)
    assert result.dof == max(dof, 0)
    assert_allclose(result.statistic, chi, rtol=1e-9, atol=1e-12)


def test_logrank_two_groups_equals_scipy_squared_statistic():
    """scipy.stats.logrank (1.11+) returns the signed z of the same two-sample test."""
    rng = np.random.default_rng(11)
    durations = rng.integers(0, 60, 400).astype(float)
    events = rng.random(400) < 0.6
    groups = rng.integers(0, 2, 400)
    x = stats.CensoredData(
        uncensored=durations[(groups == 0) & events], right=durations[(groups == 0) & ~events]
    )
    y = stats.CensoredData(
        uncensored=durations[(groups == 1) & events], right=durations[(groups == 1) & ~events]
    )
    reference = stats.logrank(x, y)
    result = logrank(durations, events, groups)
    assert_allclose(result.statistic, reference.statistic**2, rtol=1e-10)
    assert_allclose(result.pvalue, reference.pvalue, rtol=1e-8)


def test_logrank_large_sample_with_day_ties_stays_finite_and_order_free():
    """Day-level ties over 300,000 rows: floating point throughout, and row order does not matter."""
    rng = np.random.default_rng(5)
    n = 300_000
    groups = rng.integers(0, 12, n)
    durations = np.floor(rng.exponential(20 + groups, n))
    events = rng.random(n) < 0.7
    result = logrank(durations, events, groups)
    order = rng.permutation(n)
    shuffled = logrank(durations[order], events[order], groups[order])
    assert np.isfinite(result.statistic) and result.dof == 11
    assert_allclose(shuffled.statistic, result.statistic, rtol=1e-10)
    assert_allclose(result.expected.sum(), result.observed.sum(), rtol=1e-12)


def test_non_integer_durations_give_the_same_curve_as_scaled_integers():
    rng = np.random.default_rng(8)
    days = rng.integers(0, 30, 200)
    events = rng.random(200) < 0.5
    whole = kaplan_meier(days, events)
    halves = kaplan_meier(days * 0.5 + 0.25, events)
    assert_allclose(halves.time, whole.time * 0.5 + 0.25)
    assert_allclose(halves.survival, whole.survival, rtol=1e-15)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=1, max_size=60))
def test_kaplan_meier_properties(observations):
    """Any data: S steps down from at most 1, never below 0, bands contain S, counts add up."""
    durations = [d for d, _ in observations]
    events = [e for _, e in observations]
    curve = kaplan_meier(durations, events)
    assert np.all(np.diff(curve.survival) <= 0)
    assert 0 <= curve.survival[-1] <= curve.survival[0] <= 1
    assert curve.n_at_risk[0] == len(observations)
    assert curve.n_events.sum() + curve.n_censored.sum() == len(observations)
    low, high = curve.confidence_band(method="log-log")
    defined = ~np.isnan(low)
    assert np.all(low[defined] <= curve.survival[defined] + 1e-12)
    assert np.all(curve.survival[defined] <= high[defined] + 1e-12)


# --- behaviour of the result -----------------------------------------------------------------


def test_survival_at_reads_the_step_function():
    curve = kaplan_meier(AML["maintained"]["time"], AML["maintained"]["status"])
    before = curve.survival_at(5, method="log")
    assert before.estimate == 1.0
    # S = 1 before the first event: Wilson's "0 of 11 resolved", not R's zero-width [1, 1]
    wilson_high = 1.96**2 / (11 + 1.96**2)
    for method in ("log", "log-log", "plain"):
        low, high = curve.survival_at(5, method=method).confidence_interval
        assert_allclose((low, high), (1 - wilson_high, 1.0), rtol=1e-4)
    assert before.boundary
    assert curve.survival_at(9).estimate == curve.survival[0]
    assert curve.survival_at(12.9).estimate == curve.survival[0]
    assert_allclose(curve.survival_at(161).estimate, curve.survival[-1])


def test_survival_at_beyond_follow_up_warns_and_is_nan():
    curve = kaplan_meier(AML["maintained"]["time"], AML["maintained"]["status"])
    with pytest.warns(RuntimeWarning, match="beyond the last follow-up"):
        result = curve.survival_at([30, 200])
    assert math.isnan(result.estimate[1]) and not math.isnan(result.estimate[0])


def test_survival_beyond_a_curve_that_reached_zero_is_zero():
    curve = kaplan_meier(AML["nonmaintained"]["time"], AML["nonmaintained"]["status"])
    assert curve.survival_at(100).estimate == 0.0


def test_rmst_beyond_follow_up_warns_and_holds_the_curve_flat():
    curve = kaplan_meier([1, 2, 3], [1, 0, 0])
    with pytest.warns(RuntimeWarning, match="held flat"):
        result = curve.rmst(5)
    assert_allclose(result.estimate, 1 + (2 / 3) * 4)


def test_rmst_before_first_time_is_tau():
    result = kaplan_meier([5, 6], [1, 1]).rmst(2)
    assert result.estimate == 2.0
    assert result.standard_error == 0.0


def test_results_are_frozen_with_read_only_arrays():
    curve = kaplan_meier([1, 2, 3], [1, 1, 0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        curve.survival = np.zeros(3)
    with pytest.raises(ValueError, match="read-only"):
        curve.survival[0] = 0.0
    result = logrank([1, 2, 3, 4], [1, 1, 1, 1], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="read-only"):
        result.expected[0] = 0.0
    at = curve.survival_at([1, 2])
    with pytest.raises(ValueError, match="read-only"):
        at.confidence_interval.low[0] = 0.0


def test_logrank_with_one_group_having_events_warns():
    with pytest.warns(RuntimeWarning, match="Fewer than two groups"):
        result = logrank([5, 6, 1, 2], [1, 1, 0, 0], ["a", "a", "b", "b"])
    assert math.isnan(result.pvalue)


def test_logrank_accepts_string_and_integer_groups_alike():
    durations, events, groups = _random_data(42)
    by_code = logrank(durations, events, groups)
    by_name = logrank(durations, events, np.array([f"company-{g}" for g in groups], dtype=object))
    assert_allclose(by_name.statistic, by_code.statistic, rtol=1e-14)


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "resolved", "message"),
    [
        ([1, -2], [1, 1], "`durations` must be non-negative"),
        ([1, np.nan], [1, 1], "`durations` must be finite"),
        ([], [], "`durations` must not be empty"),
        ([1, 2], [1], "`resolved` must have the same length"),
        ([1, 2], [1, 2], "`resolved` must be booleans"),
        ([[1, 2]], [[1, 1]], "`durations` must be one-dimensional"),
        (["a", "b"], [1, 1], "`durations` must be numbers"),
    ],
)
def test_kaplan_meier_rejects_bad_input(durations, resolved, message):
    with pytest.raises(ValueError, match=message):
        kaplan_meier(durations, resolved)


def test_logrank_rejects_bad_groups():
    with pytest.raises(ValueError, match="`groups` must contain at least two groups"):
        logrank([1, 2], [1, 1], [0, 0])
    with pytest.raises(ValueError, match="`groups` must have the same length"):
        logrank([1, 2], [1, 1], [0])
    with pytest.raises(ValueError, match="`groups` must not contain missing values"):
        logrank([1, 2], [1, 1], ["a", None])


def test_methods_reject_bad_options():
    curve = kaplan_meier([1, 2, 3], [1, 1, 0])
    with pytest.raises(ValueError, match="`method` must be one of"):
        curve.median(method="logit")
    with pytest.raises(ValueError, match="`confidence_level` must be between 0 and 1"):
        curve.survival_at(1, confidence_level=95)
    with pytest.raises(ValueError, match="`tau` must be a non-negative number"):
        curve.rmst(-1)
    with pytest.raises(ValueError, match="`t` must not be NaN"):
        curve.survival_at(np.nan)


# --- delayed entry (left truncation) -----------------------------------------------------------

COMPETING = json.loads((Path(__file__).parent / "reference" / "competing_r.json").read_text())
HEART = COMPETING["heart_km"]
HEART_LOGRANK = COMPETING["heart_logrank"]


def test_kaplan_meier_with_delayed_entry_against_R_heart():
    """R (survival 3.5-3): km <- survfit(Surv(start, stop, event) ~ 1, data=heart) and the
    same with conf.type="log-log": time, n.risk, n.event, surv, std.err, lower, upper;
    summary(km)$table median, 0.95LCL, 0.95UCL (competing_r.json, heart_km)."""
    curve = kaplan_meier(HEART["stop"], HEART["event"], entry=HEART["start"])
    assert_allclose(curve.time, HEART["time"])
    assert_array_equal(curve.n_at_risk, HEART["n_risk"])
    assert_array_equal(curve.n_events, HEART["n_event"])
    assert_allclose(curve.survival, HEART["surv"], atol=1e-12)
    assert_allclose(curve.standard_error_log, HEART["std_err"], atol=1e-12)
    for method, suffix in (("log", ""), ("log-log", "_loglog")):
        low, high = curve.confidence_band(method=method)
        assert_allclose(low, HEART[f"lower{suffix}"], atol=1e-9)
        assert_allclose(high, HEART[f"upper{suffix}"], atol=1e-9)
    median = curve.median()
    assert (median.estimate, *median.confidence_interval) == (
        HEART["median"],
        HEART["median_lower"],
        HEART["median_upper"],
    )
    median = curve.median(method="log-log")
    assert tuple(median.confidence_interval) == (
        HEART["median_loglog_lower"],
        HEART["median_loglog_upper"],
    )


def test_logrank_with_delayed_entry_against_R_coxph_score():
    """R: coxph(Surv(start, stop, event) ~ surgery, data=heart, ties="exact")$score, and with
    factor(g3), three age groups; survdiff refuses counting-process data, and the exact-ties
    score test is the log-rank (checked without entry: survdiff(Surv(stop, event) ~ surgery)
    $chisq equals coxph(Surv(stop, event) ~ surgery, ties="exact")$score)."""
    assert_allclose(HEART_LOGRANK["no_entry_survdiff"], HEART_LOGRANK["no_entry_score"])
    two = logrank(HEART["stop"], HEART["event"], HEART["surgery"], entry=HEART["start"])
    assert_allclose(two.statistic, HEART_LOGRANK["score_surgery"], rtol=1e-9)
    three = logrank(HEART["stop"], HEART["event"], HEART_LOGRANK["groups3"], entry=HEART["start"])
    assert_allclose(three.statistic, HEART_LOGRANK["score_groups3"], rtol=1e-9)
    assert three.dof == 2
    plain = logrank(HEART["stop"], HEART["event"], HEART["surgery"])
    assert_allclose(plain.statistic, HEART_LOGRANK["no_entry_survdiff"], rtol=1e-9)


def naive_kaplan_meier_with_entry(time, event, entry):
    """Plain loops: at each exit time, n = #{entry < t <= exit}, d = events at t."""
    survival, greenwood, rows = 1.0, 0.0, []
    for t in sorted(set(time)):
        n = sum(1 for i in range(len(time)) if entry[i] < t <= time[i])
        d = sum(1 for i in range(len(time)) if time[i] == t and event[i])
        survival *= 1 - d / n
        if d and n > d:
            greenwood += d / (n * (n - d))
        rows.append((t, n, d, survival, math.sqrt(greenwood)))
    return rows


def naive_logrank_with_entry(time, event, group, entry):
    """Plain loops: observed, expected and the hypergeometric variance over the risk sets."""
    levels = sorted(set(group))
    k = len(levels)
    observed, expected = [0.0] * k, [0.0] * k
    variance = [[0.0] * k for _ in range(k)]
    for t in sorted({time[i] for i in range(len(time)) if event[i]}):
        risk = [sum(1 for i in range(len(time)) if group[i] == g and entry[i] < t <= time[i])
                for g in levels]  # fmt: skip
        dead = [sum(1 for i in range(len(time)) if group[i] == g and time[i] == t and event[i])
                for g in levels]  # fmt: skip
        n, d = sum(risk), sum(dead)
        for a in range(k):
            observed[a] += dead[a]
            expected[a] += d * risk[a] / n
            if n > 1:
                for b in range(k):
                    delta = 1.0 if a == b else 0.0
                    variance[a][b] += d * (n - d) / (n - 1) * risk[a] / n * (delta - risk[b] / n)
    u = np.subtract(observed, expected)[1:]
    v = np.array(variance)[1:, 1:]
    return float(u @ np.linalg.solve(v, u))


def _random_entry_data(rng, n_groups=1):
    n = int(rng.integers(6, 40))
    time = rng.integers(1, 15, size=n).astype(float)
    event = rng.random(n) < 0.7
    late = rng.random(n) < 0.35
    entry = np.where(late, np.floor(rng.random(n) * time), 0.0)
    group = rng.integers(0, n_groups, size=n)
    return time, event, entry, group


@pytest.mark.parametrize("seed", range(200))
def test_kaplan_meier_with_entry_equals_naive_loops(seed):
    time, event, entry, _ = _random_entry_data(np.random.default_rng(seed))
    curve = kaplan_meier(time, event, entry=entry)
    rows = naive_kaplan_meier_with_entry(time.tolist(), event.tolist(), entry.tolist())
    assert_array_equal(curve.time, [r[0] for r in rows])
    assert_array_equal(curve.n_at_risk, [r[1] for r in rows])
    assert_array_equal(curve.n_events, [r[2] for r in rows])
    assert_allclose(curve.survival, [r[3] for r in rows], atol=1e-12)
    finite = curve.survival > 0
    assert_allclose(curve.standard_error_log[finite], np.array([r[4] for r in rows])[finite])


@pytest.mark.parametrize("seed", range(200))
def test_logrank_with_entry_equals_naive_loops(seed):
    rng = np.random.default_rng(1000 + seed)
    time, event, entry, group = _random_entry_data(rng, n_groups=3)
    group[:3] = [0, 1, 2]
    event[:3] = True
    entry[:3] = 0.0
    fast = logrank(time, event, group, entry=entry)
    if not np.all(fast.expected > 0):
        pytest.skip("a group without expected events is left out, as survdiff does")
    slow = naive_logrank_with_entry(time.tolist(), event.tolist(), group.tolist(), entry.tolist())
    assert_allclose(fast.statistic, slow, rtol=1e-9)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ([0, 1], "`entry` must have the same length"),
        ([0, -1, 0], "`entry` must be non-negative"),
        ([0, np.inf, 0], "`entry` must be finite"),
        (["a", "b", "c"], "`entry` must be numbers"),
        ([9, 9, 9], "`entry` must be before the exit time"),
    ],
)
def test_entry_input_checks(entry, match):
    with pytest.raises(ValueError, match=match):
        kaplan_meier([1, 2, 3], [1, 0, 1], entry=entry)
    with pytest.raises(ValueError, match=match):
        logrank([1, 2, 3], [1, 0, 1], [0, 1, 1], entry=entry)


def test_entry_not_before_exit_is_left_out_with_a_warning_as_R():
    """R: Surv(c(2, 1), c(1, 3), c(1, 1)) warns "Stop time must be > start time, NA created"
    and survfit leaves the NA out."""
    with pytest.warns(RuntimeWarning, match="1 unit"):
        curve = kaplan_meier([1, 3, 4, 5], [1, 1, 0, 1], entry=[2, 0, 0, 1])
    kept = kaplan_meier([3, 4, 5], [1, 0, 1], entry=[0, 0, 1])
    assert_array_equal(curve.survival, kept.survival)


# --- intervals where the curve sits at 0 or 1 ------------------------------------------------


def test_none_resolved_within_two_days_has_a_wilson_interval():
    """0 of 10 resolved by day 2: S = 1 and R prints [1, 1] (summary(survfit(...,
    conf.type="log-log"), times=2)); here [1 - 27.8%, 1], Wilson's for 0 of 10."""
    curve = kaplan_meier([5, 6, 7, 8, 9, 10, 12, 13, 15, 20], [1] * 10)
    at = curve.survival_at(2)
    assert at.estimate == 1.0 and at.boundary
    assert_allclose(tuple(at.confidence_interval), (1 - 1.96**2 / (10 + 1.96**2), 1), rtol=1e-4)
    assert "Wilson" in at.method
    inside = curve.survival_at(9)  # strictly inside (0, 1): R's log-log values
    assert not inside.boundary and "Wilson" not in inside.method


def test_curve_at_zero_has_a_wilson_interval_on_the_last_risk_set():
    """The non-maintained aml arm ends with its last unit resolved (S = 0; R prints NA)."""
    curve = kaplan_meier(AML["nonmaintained"]["time"], AML["nonmaintained"]["status"])
    at = curve.survival_at([45, 100])
    assert at.estimate.tolist() == [0.0, 0.0]
    assert at.boundary.tolist() == [True, True]
    assert_allclose(at.confidence_interval.high, 1.96**2 / (1 + 1.96**2), rtol=1e-4)
    assert at.confidence_interval.low.tolist() == [0.0, 0.0]


def test_survival_at_extend_carries_the_last_estimate_and_marks_it():
    curve = kaplan_meier(AML["maintained"]["time"], AML["maintained"]["status"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at = curve.survival_at([30, 161, 200], extend=True)
    assert at.extended.tolist() == [False, False, True]
    assert at.estimate[2] == curve.survival[-1]
    assert at.confidence_interval.low[2] == at.confidence_interval.low[1]
