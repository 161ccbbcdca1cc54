"""Shares and their comparison: Wilson, Newcombe and exact intervals, Fisher and chi-square tests,
and the Benjamini-Hochberg adjustment used by every table that makes many comparisons.

This module also defines the result types shared by the whole statistics engine:
:class:`ConfidenceInterval`, :class:`IntervalEstimate` and :class:`TestResult`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special, stats

from analysis._kernels import (
    chi_square,
    fisher_pvalue,
    newcombe,
    validate_confidence_level,
    wilson,
    z_value,
)

__all__ = [
    "ConfidenceInterval",
    "IntervalEstimate",
    "ProportionDifferenceResult",
    "ProportionResult",
    "TestResult",
    "adjust_pvalues",
    "compare_proportions",
    "proportion",
    "proportion_difference",
]


class ConfidenceInterval(NamedTuple):
    """A confidence interval: ``low`` and ``high`` (floats, or arrays for pointwise bands).

    NaN stands for a bound that is not defined or not reached (R prints ``NA``).
    """

    low: float
    high: float


@dataclass(frozen=True)
class IntervalEstimate:
    """An estimate with its confidence interval.

    Attributes
    ----------
    estimate : float
        The point estimate (NaN when it is not defined, e.g. a median not reached).
    confidence_interval : ConfidenceInterval
        Its interval at ``confidence_level``.
    standard_error : float
        Its standard error, NaN where the method does not use one (e.g. the median).
    confidence_level : float
        The confidence level of the interval, e.g. 0.95.
    method : str
        How the interval was computed, in words.
    """

    estimate: float
    confidence_interval: ConfidenceInterval
    standard_error: float
    confidence_level: float
    method: str

    def __post_init__(self):
        # arrays (estimates at several times at once) are copied and made read-only
        object.__setattr__(self, "estimate", _freeze(self.estimate))
        object.__setattr__(self, "standard_error", _freeze(self.standard_error))
        low, high = self.confidence_interval
        object.__setattr__(
            self, "confidence_interval", ConfidenceInterval(_freeze(low), _freeze(high))
        )


def _freeze(value):
    if isinstance(value, np.ndarray):
        value = np.array(value, copy=True)
        value.setflags(write=False)
    return value


@dataclass(frozen=True)
class TestResult:
    """The outcome of a hypothesis test.

    Attributes
    ----------
    statistic : float
        The test statistic (see ``method``: chi-square, Mann-Whitney U, z, or for Fisher's exact
        test the conditional maximum-likelihood odds ratio, as R's ``fisher.test`` reports it).
    pvalue : float
        The two-sided p-value.
    dof : float
        Degrees of freedom of a chi-square statistic; NaN for tests that have none.
    method : str
        The name of the test.
    """

    __test__ = False  # not a pytest test class, despite its name

    statistic: float
    pvalue: float
    dof: float
    method: str


_WILSON_METHODS = ("wilson", "wilsoncc", "exact")
_NEWCOMBE_METHODS = ("newcombe", "newcombe-cc")


def _validate_count(value, name: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a whole number.") from None
    if not math.isfinite(number) or number != math.floor(number):
        raise ValueError(f"`{name}` must be a whole number.")
    if number < 0:
        raise ValueError(f"`{name}` must be non-negative.")
    return int(number)


def _validate_proportion(successes, n, names=("successes", "n")) -> tuple[int, int]:
    k = _validate_count(successes, names[0])
    total = _validate_count(n, names[1])
    if k > total:
        raise ValueError(f"`{names[0]}` must not exceed `{names[1]}`.")
    return k, total


# --- vectorised interval formulas (arrays of counts in, arrays of bounds out) -------------------


def _clopper_pearson(successes, n, confidence_level: float):
    k = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    alpha = 1.0 - confidence_level
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, special.betaincinv(k, total - k + 1, alpha / 2), 0.0)
        high = np.where(k < total, special.betaincinv(k + 1, total - k, 1 - alpha / 2), 1.0)
    empty = total == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def _proportion_interval(successes, n, confidence_level: float, method: str):
    if method == "exact":
        return _clopper_pearson(successes, n, confidence_level)
    return wilson(successes, n, z_value(confidence_level), continuity=method == "wilsoncc")


def _newcombe(k1, n1, k2, n2, confidence_level: float, *, continuity: bool = False):
    return newcombe(k1, n1, k2, n2, z_value(confidence_level), continuity=continuity)


def _as_float(value) -> float:
    return float(np.asarray(value))


@dataclass(frozen=True)
class ProportionResult:
    """A share ``successes / n``; see :func:`proportion`.

    Attributes
    ----------
    successes, n : int
        The counts.
    estimate : float
        ``successes / n`` (NaN when ``n == 0``).
    """

    successes: int
    n: int
    estimate: float

    def confidence_interval(
        self, *, confidence_level: float = 0.95, method: str = "wilson"
    ) -> ConfidenceInterval:
        """Confidence interval of the share.

        Parameters
        ----------
        confidence_level : float, default 0.95
        method : {"wilson", "wilsoncc", "exact"}
            ``"wilson"``: Wilson score interval, as R's ``prop.test(x, n, correct=FALSE)``.
            ``"wilsoncc"``: Wilson with continuity correction (Newcombe 1998, method 4), as
            R's ``prop.test(x, n, correct=TRUE)``. ``"exact"``: Clopper-Pearson, as R's
            ``binom.test``.

        Returns
        -------
        ConfidenceInterval
            NaN bounds (with a ``RuntimeWarning``) when ``n == 0``.
        """
        level = validate_confidence_level(confidence_level)
        if method not in _WILSON_METHODS:
            raise ValueError(f"`method` must be one of {', '.join(map(repr, _WILSON_METHODS))}.")
        if self.n == 0:
            warnings.warn(
                "A share of zero responses has no interval.", RuntimeWarning, stacklevel=2
            )
        low, high = _proportion_interval(self.successes, self.n, level, method)
        return ConfidenceInterval(_as_float(low), _as_float(high))


def proportion(successes, n) -> ProportionResult:
    """A share of successes among ``n`` responses, with its confidence intervals.

    Parameters
    ----------
    successes : int
        Number of responses with the outcome (whole number, ``0 <= successes <= n``).
    n : int
        Number of responses that answered.

    Returns
    -------
    ProportionResult
        Call ``.confidence_interval(method=...)`` for the interval.

    Notes
    -----
    Wilson's score interval is

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n},

    the set of true shares that a score test would not reject; it keeps close to its nominal
    coverage even for small ``n`` and shares near 0 or 1, unlike the textbook Wald interval.

    Convention against R: ``"wilson"`` equals ``prop.test(x, n, correct=FALSE)$conf.int``;
    ``"exact"`` equals ``binom.test(x, n)$conf.int``. ``"wilsoncc"`` is Newcombe's method 4,
    which equals ``prop.test(x, n, correct=TRUE)$conf.int`` except when ``|x - n/2| < 1/2``:
    R then shrinks the continuity correction to ``|x - n p0|`` (``p0 = 0.5`` being the null of its
    test), a quirk that makes its interval depend on the null hypothesis; we always use 1/2.

    References
    ----------
    E. B. Wilson (1927), Probable inference, the law of succession, and statistical inference,
    JASA 22:209-212. R. G. Newcombe (1998), Two-sided confidence intervals for the single
    proportion: comparison of seven methods, Statistics in Medicine 17:857-872.
    C. J. Clopper and E. S. Pearson (1934), Biometrika 26:404-413.

    Examples
    --------
    >>> from analysis.proportions import proportion
    >>> result = proportion(13, 16)
    >>> round(result.estimate, 4)
    0.8125
    >>> low, high = result.confidence_interval(method="wilson")
    >>> round(low, 4), round(high, 4)
    (0.5699, 0.9341)
    >>> low, high = result.confidence_interval(method="wilsoncc")
    >>> round(low, 4), round(high, 4)
    (0.5369, 0.9503)
    """
    k, total = _validate_proportion(successes, n)
    estimate = k / total if total else math.nan
    return ProportionResult(successes=k, n=total, estimate=estimate)


@dataclass(frozen=True)
class ProportionDifferenceResult:
    """The difference of two shares ``p1 - p2``; see :func:`proportion_difference`.

    Attributes
    ----------
    successes1, n1, successes2, n2 : int
        The counts of the two groups.
    estimate : float
        ``successes1 / n1 - successes2 / n2``.
    """

    successes1: int
    n1: int
    successes2: int
    n2: int
    estimate: float

    def confidence_interval(
        self, *, confidence_level: float = 0.95, method: str = "newcombe"
    ) -> ConfidenceInterval:
        """Newcombe's hybrid score interval for ``p1 - p2``.

        Parameters
        ----------
        confidence_level : float, default 0.95
        method : {"newcombe", "newcombe-cc"}
            ``"newcombe"`` combines the two Wilson intervals (Newcombe 1998b, method 10);
            ``"newcombe-cc"`` combines continuity-corrected Wilson intervals (method 11).

        Returns
        -------
        ConfidenceInterval
        """
        level = validate_confidence_level(confidence_level)
        if method not in _NEWCOMBE_METHODS:
            raise ValueError(f"`method` must be one of {', '.join(map(repr, _NEWCOMBE_METHODS))}.")
        if self.n1 == 0 or self.n2 == 0:
            warnings.warn(
                "A difference with an empty group has no interval.", RuntimeWarning, stacklevel=2
            )
        low, high = _newcombe(
            self.successes1,
            self.n1,
            self.successes2,
            self.n2,
            level,
            continuity=method == "newcombe-cc",
        )
        return ConfidenceInterval(_as_float(low), _as_float(high))


def proportion_difference(k1, n1, k2, n2) -> ProportionDifferenceResult:
    """Difference between two independent shares, ``k1/n1 - k2/n2``.

    Parameters
    ----------
    k1, n1 : int
        Successes and responses in the first group.
    k2, n2 : int
        Successes and responses in the second group.

    Returns
    -------
    ProportionDifferenceResult
        Call ``.confidence_interval()`` for Newcombe's hybrid score interval.

    Notes
    -----
    With :math:`(l_i, u_i)` the Wilson interval of :math:`\\hat p_i`, Newcombe's interval is

    .. math:: \\hat p_1 - \\hat p_2 - \\sqrt{(\\hat p_1 - l_1)^2 + (u_2 - \\hat p_2)^2},\\quad
              \\hat p_1 - \\hat p_2 + \\sqrt{(u_1 - \\hat p_1)^2 + (\\hat p_2 - l_2)^2}.

    It is method 10 of Newcombe (1998b); base R has no function for it (the R package
    DescTools names it ``BinomDiffCI(..., method = "score")``). The interval always lies within
    [-1, 1] and, unlike the Wald interval, behaves well for shares near 0 or 1.

    References
    ----------
    R. G. Newcombe (1998b), Interval estimation for the difference between independent
    proportions: comparison of eleven methods, Statistics in Medicine 17:873-890.

    Examples
    --------
    >>> from analysis.proportions import proportion_difference
    >>> result = proportion_difference(56, 70, 48, 80)
    >>> round(result.estimate, 4)
    0.2
    >>> low, high = result.confidence_interval()
    >>> round(low, 4), round(high, 4)
    (0.0524, 0.3339)
    """
    a, first = _validate_proportion(k1, n1, ("k1", "n1"))
    b, second = _validate_proportion(k2, n2, ("k2", "n2"))
    estimate = (a / first if first else math.nan) - (b / second if second else math.nan)
    return ProportionDifferenceResult(a, first, b, second, estimate)


def _validate_table(table) -> np.ndarray:
    try:
        counts = np.asarray(table, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("`table` must be a 2-D array of counts.") from None
    if counts.ndim != 2 or counts.shape[1] != 2 or counts.shape[0] < 2:
        raise ValueError(
            "`table` must have one row per group (at least two) and two columns "
            "(successes, failures)."
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.floor(counts)):
        raise ValueError("`table` must hold non-negative whole numbers.")
    return counts


def compare_proportions(table) -> TestResult:
    """Test whether a share differs between groups.

    Parameters
    ----------
    table : array_like, shape (k, 2)
        One row per group, columns (successes, failures). Rows with no response at all are
        dropped before testing.

    Returns
    -------
    TestResult
        For a 2 x 2 table, Fisher's exact test: ``statistic`` is the conditional
        maximum-likelihood odds ratio and ``dof`` is NaN. Otherwise Pearson's chi-square test
        with ``k - 1`` degrees of freedom.

    Notes
    -----
    Fisher's two-sided p-value sums the probabilities of all tables with the same margins that
    are no more likely than the one observed (R's ``fisher.test``, with the same relative
    tolerance of 1e-7). The chi-square statistic is
    :math:`X^2 = \\sum (O - E)^2 / E`, as R's ``chisq.test(table)`` for tables larger than 2 x 2
    (R applies no continuity correction there). When some expected count is below 5 a
    ``RuntimeWarning`` says the approximation may be poor (R warns likewise); when the outcome
    does not vary the statistic is undefined and the result is NaN with a warning.

    References
    ----------
    R. A. Fisher (1935), The Design of Experiments, Oliver and Boyd (the lady tasting tea).
    A. Agresti (2007), An Introduction to Categorical Data Analysis, 2nd ed., Wiley.

    Examples
    --------
    >>> from analysis.proportions import compare_proportions
    >>> result = compare_proportions([[3, 1], [1, 3]])
    >>> result.method
    "Fisher's exact test"
    >>> round(result.pvalue, 4)
    0.4857
    """
    counts = _validate_table(table)
    counts = counts[counts.sum(axis=1) > 0]
    if counts.shape[0] < 2:
        warnings.warn("Fewer than two groups have responses.", RuntimeWarning, stacklevel=2)
        return TestResult(math.nan, math.nan, math.nan, "no test")
    if counts.shape[0] == 2:
        a, b, c, d = (int(v) for v in counts.ravel())
        pvalue = fisher_pvalue(a, b, c, d)
        if min(a + c, b + d) == 0:
            odds_ratio = math.nan
        else:
            odds_ratio = float(
                stats.contingency.odds_ratio([[a, b], [c, d]], kind="conditional").statistic
            )
        return TestResult(odds_ratio, pvalue, math.nan, "Fisher's exact test")
    columns = counts.sum(axis=0)
    if np.any(columns == 0):
        warnings.warn(
            "The outcome does not vary: the chi-square test is undefined.",
            RuntimeWarning,
            stacklevel=2,
        )
        return TestResult(math.nan, math.nan, float(counts.shape[0] - 1), "Pearson's chi-square")
    expected = counts.sum(axis=1, keepdims=True) * columns / counts.sum()
    if np.any(expected < 5):
        warnings.warn(
            "Some expected counts are below 5: the chi-square approximation may be poor.",
            RuntimeWarning,
            stacklevel=2,
        )
    statistic, dof = chi_square(counts)
    return TestResult(statistic, float(stats.chi2.sf(statistic, dof)), dof, "Pearson's chi-square")


def adjust_pvalues(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate).

    Parameters
    ----------
    pvalues : array_like
        P-values in [0, 1]; NaN marks a comparison that could not be made.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape; NaN where the input is NaN. A comparison is declared
        significant at false discovery rate ``q`` when its adjusted p-value is below ``q``.

    Notes
    -----
    With the :math:`m` non-missing p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,

    .. math:: \\tilde p_{(i)} = \\min\\Big(1, \\min_{j \\ge i} \\frac{m}{j} p_{(j)}\\Big).

    Identical to R's ``p.adjust(p, method = "BH")``, which also leaves NA out of :math:`m`.

    References
    ----------
    Y. Benjamini and Y. Hochberg (1995), Controlling the false discovery rate: a practical and
    powerful approach to multiple testing, JRSS B 57:289-300.

    Examples
    --------
    >>> from analysis.proportions import adjust_pvalues
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.20]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    try:
        p = np.array(pvalues, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("`pvalues` must be numbers between 0 and 1.") from None
    present = ~np.isnan(p)
    if np.any((p[present] < 0) | (p[present] > 1)):
        raise ValueError("`pvalues` must be numbers between 0 and 1.")
    values = p[present]
    m = values.size
    adjusted = np.full(p.shape, np.nan)
    if m == 0:
        return adjusted
    order = np.argsort(values, kind="stable")
    scaled = values[order] * m / np.arange(1, m + 1)
    running = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(running, 1.0)
    adjusted[present] = result
    return adjusted
