"""Means and ratios with BCa bootstrap intervals, and rank tests from frequency tables: against
R's published examples, against scipy (exactly for the rank tests), and against explicit
resampling and jackknife computations on the rows."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analysis._kernels import acceleration, grouped_value_counts
from analysis.counts import (
    _pair_counts,
    compare_ratios,
    kruskal_wallis,
    mann_whitney,
    mean_with_ci,
    ratio_with_ci,
)

PUBLISHED = json.loads((Path(__file__).parent / "reference" / "counts_published.json").read_text())


# --- rank tests ------------------------------------------------------------------------------


def test_mann_whitney_against_R_permeability():
    """R ?wilcox.test (Hollander & Wolfe 1973, p. 69): wilcox.test(x, y, alternative =
    "greater", exact = FALSE, correct = FALSE) gives W = 35, p = 0.1103; the two-sided
    normal-approximation p-value is twice that."""
    case = PUBLISHED["wilcox_permeability"]
    result = mann_whitney(case["x"], case["y"], continuity=False)
    assert result.statistic == case["W"]
    assert_allclose(result.pvalue / 2, case["pvalue_greater_no_correction"], atol=5e-5)


def test_kruskal_wallis_against_R_mucociliary():
    """R ?kruskal.test (Hollander & Wolfe 1973, p. 116): chi-squared = 0.77143, df = 2, p = 0.68."""
    case = PUBLISHED["kruskal_mucociliary"]
    result = kruskal_wallis(*case["samples"])
    assert_allclose(result.statistic, case["statistic"], atol=5e-6)
    assert result.dof == case["dof"]
    assert_allclose(result.pvalue, case["pvalue"], atol=5e-3)


@pytest.mark.parametrize("seed", range(40))
def test_rank_tests_equal_scipy_with_ties(seed):
    """Ranks from value counts reproduce scipy's tie-corrected asymptotic results."""
    rng = np.random.default_rng(seed)
    top = int(rng.integers(1, 12))
    samples = [rng.integers(0, top + 1, int(rng.integers(1, 300))).astype(float) for _ in range(3)]
    if rng.random() < 0.3:
        samples = [s + rng.normal(0, 1, s.size) for s in samples]  # continuous: no ties
    if np.ptp(np.concatenate(samples[:2])) > 0:
        got = mann_whitney(samples[0], samples[1])
        expected = stats.mannwhitneyu(samples[0], samples[1], method="asymptotic")
        assert got.statistic == expected.statistic
        assert_allclose(got.pvalue, expected.pvalue, rtol=1e-12)
        raw = mann_whitney(samples[0], samples[1], continuity=False)
        expected_raw = stats.mannwhitneyu(
            samples[0], samples[1], method="asymptotic", use_continuity=False
        )
        assert_allclose(raw.pvalue, expected_raw.pvalue, rtol=1e-12)
    if np.ptp(np.concatenate(samples)) > 0:
        got = kruskal_wallis(*samples)
        expected = stats.kruskal(*samples)
        assert_allclose(got.statistic, expected.statistic, rtol=1e-12)
        assert_allclose(got.pvalue, expected.pvalue, rtol=1e-10)


def test_mann_whitney_on_a_million_counts_equals_scipy():
    rng = np.random.default_rng(1)
    x = rng.poisson(0.4, 600_000).astype(float)
    y = rng.poisson(0.45, 400_000).astype(float)
    got = mann_whitney(x, y)
    expected = stats.mannwhitneyu(x, y, method="asymptotic")
    assert got.statistic == expected.statistic
    assert_allclose(got.pvalue, expected.pvalue, rtol=1e-9)


def test_rank_tests_with_everything_tied_warn():
    with pytest.warns(RuntimeWarning, match="All values are tied"):
        result = mann_whitney([1, 1, 1], [1, 1])
    assert math.isnan(result.pvalue)
    with pytest.warns(RuntimeWarning, match="no Kruskal-Wallis test"):
        assert math.isnan(kruskal_wallis([2, 2], [2], [2, 2]).pvalue)


# --- frequency tables ------------------------------------------------------------------------


def test_frequency_tables_count_every_row():
    rng = np.random.default_rng(2)
    values = rng.integers(-3, 9, 5000).astype(float)
    codes = rng.integers(0, 4, 5000)
    distinct, table = grouped_value_counts(values, codes, 4)
    for group in range(4):
        expected_values, expected_counts = np.unique(values[codes == group], return_counts=True)
        present = table[group] > 0
        assert distinct[present].tolist() == expected_values.tolist()
        assert table[group][present].tolist() == expected_counts.tolist()
    halves = values / 2  # not whole numbers: the np.unique path
    distinct, table = grouped_value_counts(halves, codes, 4)
    assert table.sum() == 5000
    assert_allclose(distinct, np.unique(halves))


# --- bootstrap means -------------------------------------------------------------------------


def test_acceleration_equals_the_explicit_jackknife():
    """The closed form per distinct value equals leaving out each row in turn (Efron 1987)."""
    rng = np.random.default_rng(4)
    values = rng.poisson(1.3, 80).astype(float)
    n = values.size
    leave_one_out = (values.sum() - values) / (n - 1)
    spread = leave_one_out.mean() - leave_one_out
    explicit = np.sum(spread**3) / (6 * np.sum(spread**2) ** 1.5)
    distinct, table = grouped_value_counts(values)
    closed_form = acceleration((values.sum() - distinct) / (n - 1), table[0])
    assert_allclose(closed_form, explicit, rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_mean_interval_agrees_with_scipy_bootstrap_bca(seed):
    """Same BCa method, independent resamples: bounds agree within Monte Carlo error."""
    rng = np.random.default_rng(seed)
    values = rng.normal(10, 3, 150) if seed % 2 else rng.exponential(2.0, 150)
    got = mean_with_ci(values, rng=seed, n_resamples=20_000)
    expected = stats.bootstrap(
        (values,), np.mean, method="BCa", n_resamples=20_000, rng=np.random.default_rng(99)
    ).confidence_interval
    width = expected.high - expected.low
    assert_allclose(got.confidence_interval, (expected.low, expected.high), atol=0.03 * width)
    assert_allclose(got.standard_error, values.std(ddof=1) / np.sqrt(values.size))


def test_mean_interval_on_small_whole_numbers_agrees_with_row_resampling():
    """Multinomial draws over the value table have the distribution of row resampling."""
    rng = np.random.default_rng(6)
    trips = rng.poisson(0.5, 2000).astype(float)
    got = mean_with_ci(trips, rng=1, n_resamples=20_000)
    expected = stats.bootstrap(
        (trips,), np.mean, method="BCa", n_resamples=20_000, rng=np.random.default_rng(2)
    ).confidence_interval
    assert_allclose(got.confidence_interval, (expected.low, expected.high), atol=2e-3)


def test_mean_interval_is_reproducible_and_seed_dependent():
    values = [0, 0, 1, 2, 0, 3, 1, 0, 0, 4, 1, 0]
    first = mean_with_ci(values, rng=np.random.default_rng(5))
    again = mean_with_ci(values, rng=np.random.default_rng(5))
    other = mean_with_ci(values, rng=np.random.default_rng(6))
    assert first == again
    assert first.confidence_interval != other.confidence_interval
    assert first.n_resamples == 2000 and first.method == "BCa bootstrap"


def test_mean_of_identical_values_warns_and_has_no_interval():
    """Like R's boot.ci, which refuses all-equal data: no zero-width interval is shown."""
    with pytest.warns(RuntimeWarning, match="All values are equal"):
        result = mean_with_ci([2, 2, 2], rng=0)
    assert result.estimate == 2.0
    assert all(math.isnan(bound) for bound in result.confidence_interval)
    with pytest.warns(RuntimeWarning, match="No values"):
        empty = mean_with_ci([], rng=0)
    assert math.isnan(empty.estimate)


def test_results_are_frozen():
    result = mean_with_ci([1, 2, 3, 5], rng=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.estimate = 0.0


# --- pooled ratios ---------------------------------------------------------------------------


def _callbacks(seed, n=300):
    rng = np.random.default_rng(seed)
    promised = rng.integers(1, 6, n).astype(float)
    received = rng.binomial(promised.astype(int), 0.4).astype(float)
    return received, promised


def test_ratio_estimate_jackknife_and_linearised_standard_error():
    received, promised = _callbacks(1)
    result = ratio_with_ci(received, promised, rng=0)
    assert_allclose(result.estimate, received.sum() / promised.sum())
    n = received.size
    residual = received - result.estimate * promised
    assert_allclose(
        result.standard_error, math.sqrt(n / (n - 1) * np.sum(residual**2)) / promised.sum()
    )
    leave_one_out = (received.sum() - received) / (promised.sum() - promised)
    spread = leave_one_out.mean() - leave_one_out
    explicit = np.sum(spread**3) / (6 * np.sum(spread**2) ** 1.5)
    num, den, table = _pair_counts(received, promised)
    closed_form = acceleration((received.sum() - num) / (promised.sum() - den), table[0])
    assert_allclose(closed_form, explicit, rtol=1e-12)


def test_ratio_interval_agrees_with_scipy_paired_bootstrap():
    received, promised = _callbacks(3, n=400)
    got = ratio_with_ci(received, promised, rng=1, n_resamples=20_000)
    expected = stats.bootstrap(
        (received, promised),
        lambda r, p, axis=-1: r.sum(axis=axis) / p.sum(axis=axis),
        paired=True,
        method="BCa",
        n_resamples=20_000,
        rng=np.random.default_rng(5),
    ).confidence_interval
    width = expected.high - expected.low
    assert_allclose(got.confidence_interval, (expected.low, expected.high), atol=0.03 * width)


def test_compare_ratios_is_a_wald_test_on_linearised_variances():
    first = _callbacks(1, n=200)
    second = (np.minimum(first[0] + 1, first[1]), first[1])
    result = compare_ratios(*first, *second)

    def linearised(num, den):
        ratio = num.sum() / den.sum()
        n = num.size
        return ratio, n / (n - 1) * np.sum((num - ratio * den) ** 2) / den.sum() ** 2

    (r1, v1), (r2, v2) = linearised(*first), linearised(*second)
    z = (r1 - r2) / math.sqrt(v1 + v2)
    assert_allclose(result.statistic, z)
    assert_allclose(result.pvalue, 2 * stats.norm.sf(abs(z)))


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mean_with_ci([1, np.nan], rng=0), "`values` must be finite"),
        (lambda: mean_with_ci([1, 2], rng="seed"), "`rng` must be a numpy.random.Generator"),
        (lambda: mean_with_ci([1, 2], rng=0, n_resamples=10), "`n_resamples` must be an integer"),
        (lambda: mean_with_ci([1, 2], rng=0, confidence_level=0), "`confidence_level`"),
        (lambda: ratio_with_ci([1], [1, 2], rng=0), "`denominators` must have the same length"),
        (lambda: ratio_with_ci([1, 2], [1, -2], rng=0), "`denominators` must be non-negative"),
        (lambda: mann_whitney([1, 2], [[3]]), "`y` must be one-dimensional"),
        (lambda: kruskal_wallis([1, 2]), "`samples` must be at least two samples"),
    ],
)
def test_input_checks(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("received", "promised"),
    [([0, 0, 0, 0], [1, 2, 3, 1]), ([1, 2, 3, 1], [1, 2, 3, 1]), ([1, 2, 2], [2, 4, 4])],
)
def test_ratio_with_one_ratio_for_every_response_is_not_estimable(received, promised):
    """Every response has the same ratio (none kept, all kept, always half): every resample
    gives it again, so no zero-width [0, 0] or [1, 1] but NaN bounds, as for the mean."""
    with pytest.warns(RuntimeWarning, match="not estimable"):
        result = ratio_with_ci(received, promised, rng=1)
    assert result.estimate == sum(received) / sum(promised)
    assert math.isnan(result.confidence_interval.low)
    assert math.isnan(result.confidence_interval.high)


def test_ratio_with_two_ratios_keeps_its_interval():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ratio_with_ci([0, 1, 0, 1, 1], [1, 1, 1, 1, 2], rng=1)
    low, high = result.confidence_interval
    assert low < result.estimate < high
