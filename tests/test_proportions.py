"""Shares, differences of shares, Fisher / chi-square and Benjamini-Hochberg: against published
values (sources in tests/reference/proportions_published.json) and against scipy."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import stats

from analysis._kernels import fisher_pvalue
from analysis.proportions import (
    ConfidenceInterval,
    adjust_pvalues,
    compare_proportions,
    proportion,
    proportion_difference,
)

PUBLISHED = json.loads(
    (Path(__file__).parent / "reference" / "proportions_published.json").read_text()
)


def test_wilson_interval_13_of_16_against_R_prop_test():
    """Issue 3: prop.test(13, 16, correct = FALSE)$conf.int = 0.5699-0.9341, and
    prop.test(13, 16)$conf.int (continuity-corrected) = 0.5369-0.9503."""
    case = PUBLISHED["wilson_13_of_16"]
    result = proportion(case["successes"], case["n"])
    assert_allclose(result.confidence_interval(method="wilson"), case["wilson"], atol=5e-5)
    assert_allclose(result.confidence_interval(method="wilsoncc"), case["wilsoncc"], atol=5e-5)


@pytest.mark.parametrize("case", PUBLISHED["newcombe_1998a"]["cases"], ids=str)
def test_single_proportion_intervals_against_newcombe_1998(case):
    """Newcombe (1998), Statistics in Medicine 17:857-872, Table II: methods 3 (Wilson),
    4 (Wilson with continuity correction) and 5 (Clopper-Pearson)."""
    result = proportion(case["successes"], case["n"])
    for method in ("wilson", "wilsoncc", "exact"):
        if method in case:
            assert_allclose(result.confidence_interval(method=method), case[method], atol=5e-5)


@pytest.mark.parametrize("case", PUBLISHED["newcombe_1998b"]["cases"], ids=str)
def test_difference_interval_against_newcombe_1998b(case):
    """Newcombe (1998b), Statistics in Medicine 17:873-890, Table II: methods 10 and 11."""
    result = proportion_difference(case["k1"], case["n1"], case["k2"], case["n2"])
    assert_allclose(result.estimate, case["k1"] / case["n1"] - case["k2"] / case["n2"])
    assert_allclose(result.confidence_interval(), case["newcombe"], atol=5e-5)
    if "newcombe_cc" in case:
        assert_allclose(
            result.confidence_interval(method="newcombe-cc"), case["newcombe_cc"], atol=5e-5
        )


@pytest.mark.parametrize("name", ["fisher_tea_tasting", "fisher_convictions"])
def test_fisher_exact_against_R(name):
    """R ?fisher.test examples: TeaTasting p = 0.4857 (OR 6.408309); Convictions
    p = 0.0005367 (OR 0.04693661). R's odds ratio is a uniroot() estimate (about 6 digits)."""
    case = PUBLISHED[name]
    result = compare_proportions(case["table"])
    assert result.method == "Fisher's exact test"
    assert_allclose(result.pvalue, case["pvalue"], rtol=1.1e-4)  # R prints 4 significant digits
    assert_allclose(result.statistic, case["odds_ratio"], rtol=5e-6)


def test_chi_square_against_R_party_gender():
    """R ?chisq.test (Agresti 2007, p. 39): X-squared = 30.07, df = 2, p-value = 2.954e-07."""
    case = PUBLISHED["chisq_party_gender"]
    result = compare_proportions(case["table_groups_by_rows"])
    assert result.method == "Pearson's chi-square"
    assert_allclose(result.statistic, case["statistic"], atol=5e-3)
    assert result.dof == case["dof"]
    assert_allclose(result.pvalue, case["pvalue"], rtol=2e-4)


def test_benjamini_hochberg_against_the_1995_paper():
    """Benjamini and Hochberg (1995), section 4: the four smallest of 15 p-values are rejected
    at q = 0.05."""
    case = PUBLISHED["benjamini_hochberg_1995"]
    adjusted = adjust_pvalues(case["pvalues"])
    assert int(np.sum(adjusted <= 0.05)) == case["rejected_at_0_05"]


def test_benjamini_hochberg_definition_and_missing_values():
    """R: p.adjust(c(0.01, NA, 0.04, 0.03, 0.2), "BH") = 0.04 NA 0.0533 0.0533 0.2 (NA left out
    of the count)."""
    adjusted = adjust_pvalues([0.01, np.nan, 0.04, 0.03, 0.2])
    assert_allclose(adjusted, [0.04, np.nan, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2], equal_nan=True)
    rng = np.random.default_rng(0)
    p = rng.random(50) ** 3
    adjusted = adjust_pvalues(p)
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= 0)
    assert np.all(adjusted >= p)
    expected = np.minimum.accumulate((p[order] * 50 / np.arange(1, 51))[::-1])[::-1]
    assert_allclose(adjusted[order], np.minimum(expected, 1))
    assert adjust_pvalues([]).size == 0


def test_intervals_equal_scipy_binomtest():
    """scipy.stats.binomtest(k, n).proportion_ci implements the same three methods."""
    for n in (1, 2, 7, 30, 101, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            result = proportion(k, n)
            reference = stats.binomtest(k, n)
            for method in ("wilson", "wilsoncc", "exact"):
                expected = reference.proportion_ci(method=method)
                assert_allclose(
                    result.confidence_interval(method=method),
                    (expected.low, expected.high),
                    atol=1e-12,
                    err_msg=f"{method} {k}/{n}",
                )


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_intervals_contain_the_estimate_and_nest(counts):
    """For every k <= n: 0 <= low <= k/n <= high <= 1, and the continuity correction widens."""
    k, n = counts
    result = proportion(k, n)
    wilson = result.confidence_interval()
    corrected = result.confidence_interval(method="wilsoncc")
    assert 0 <= wilson.low <= result.estimate <= wilson.high <= 1
    assert corrected.low <= wilson.low + 1e-15 and wilson.high <= corrected.high + 1e-15


def test_fisher_pvalue_equals_scipy_on_random_tables():
    rng = np.random.default_rng(12)
    for _ in range(2000):
        scale = rng.choice([4, 15, 60, 500, 50_000])
        a, b, c, d = (int(v) for v in rng.integers(0, scale, 4))
        expected = stats.fisher_exact([[a, b], [c, d]]).pvalue
        got = fisher_pvalue(a, b, c, d)
        if expected > 1e-250:
            assert_allclose(got, expected, rtol=1e-9, err_msg=str((a, b, c, d)))
        else:
            assert got < 1e-250


def test_compare_proportions_drops_empty_rows_and_handles_constant_outcomes():
    result = compare_proportions([[3, 1], [0, 0], [1, 3]])
    assert result.method == "Fisher's exact test"
    assert_allclose(result.pvalue, 0.4857, atol=5e-5)
    with pytest.warns(RuntimeWarning, match="does not vary"):
        constant = compare_proportions([[3, 0], [5, 0], [2, 0]])
    assert math.isnan(constant.pvalue)
    with pytest.warns(RuntimeWarning, match="below 5"):
        compare_proportions([[3, 1], [1, 3], [2, 2]])


def test_proportion_of_nothing_warns():
    result = proportion(0, 0)
    assert math.isnan(result.estimate)
    with pytest.warns(RuntimeWarning, match="zero responses"):
        low, high = result.confidence_interval()
    assert math.isnan(low) and math.isnan(high)


def test_results_are_frozen():
    result = proportion(3, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.n = 11
    interval = result.confidence_interval()
    assert isinstance(interval, ConfidenceInterval)
    assert interval.low < 0.3 < interval.high


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: proportion(5, 3), "`successes` must not exceed `n`"),
        (lambda: proportion(-1, 3), "`successes` must be non-negative"),
        (lambda: proportion(1.5, 3), "`successes` must be a whole number"),
        (lambda: proportion(1, "x"), "`n` must be a whole number"),
        (lambda: proportion_difference(1, 2, 4, 3), "`k2` must not exceed `n2`"),
        (lambda: proportion(1, 3).confidence_interval(method="wald"), "`method` must be one of"),
        (lambda: proportion(1, 3).confidence_interval(confidence_level=1), "`confidence_level`"),
        (lambda: compare_proportions([[1, 2, 3]]), "`table` must have one row per group"),
        (lambda: compare_proportions([[1, -2], [3, 4]]), "`table` must hold non-negative"),
        (lambda: adjust_pvalues([0.5, 1.5]), "`pvalues` must be numbers between 0 and 1"),
    ],
)
def test_input_checks(call, message):
    with pytest.raises(ValueError, match=message):
        call()
