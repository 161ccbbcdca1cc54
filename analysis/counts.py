"""Counts per incident (wasted trips, useless visits, scores): means and pooled ratios with BCa
bootstrap intervals, and rank tests (Mann-Whitney, Kruskal-Wallis).

Answers are small whole numbers, so everything works on the table of distinct values and their
frequencies: resampling n responses with replacement is a multinomial draw over that table, and
ranks with ties follow from cumulative frequencies. The results are those of resampling or
ranking the rows, at a cost that does not grow with the number of rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis._kernels import (
    DEFAULT_RESAMPLES,
    bca_mean,
    bca_ratio,
    grouped_value_counts,
    kruskal_from_counts,
    mann_whitney_from_counts,
    validate_confidence_level,
    validate_resamples,
    validate_rng,
)
from analysis.proportions import ConfidenceInterval, TestResult

__all__ = [
    "MeanResult",
    "RatioResult",
    "compare_ratios",
    "kruskal_wallis",
    "mann_whitney",
    "mean_with_ci",
    "ratio_with_ci",
]


# --- validation -------------------------------------------------------------------------------


def _validate_values(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be numbers.") from None
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional.")
    if not np.isfinite(array).all():
        raise ValueError(
            f"`{name}` must be finite: drop missing answers first (don't know is not zero)."
        )
    return array


# --- frequency tables -------------------------------------------------------------------------


def _pair_counts(numerators: np.ndarray, denominators: np.ndarray, codes=None, n_groups: int = 1):
    """Distinct (numerator, denominator) pairs and their counts per group, shape (k, m)."""
    num_values, num_index = np.unique(numerators, return_inverse=True)
    den_values, den_index = np.unique(denominators, return_inverse=True)
    pair = num_index.reshape(-1) * den_values.size + den_index.reshape(-1)
    width = num_values.size * den_values.size
    if codes is not None:
        pair = codes * width + pair
    table = np.bincount(pair, minlength=n_groups * width).reshape(n_groups, width)
    present = table.sum(axis=0) > 0
    cells = np.flatnonzero(present)
    return (
        num_values[cells // den_values.size],
        den_values[cells % den_values.size],
        table[:, present],
    )


# --- public results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanResult:
    """A mean with its BCa bootstrap interval; see :func:`mean_with_ci`.

    Attributes
    ----------
    estimate : float
        The sample mean.
    n : int
        Number of values.
    confidence_interval : ConfidenceInterval
        BCa bootstrap interval.
    standard_error : float
        Classical standard error, ``s / sqrt(n)`` with ``s`` the sample standard deviation.
    confidence_level : float
    n_resamples : int
    method : str
    """

    estimate: float
    n: int
    confidence_interval: ConfidenceInterval
    standard_error: float
    confidence_level: float
    n_resamples: int
    method: str


@dataclass(frozen=True)
class RatioResult:
    """A pooled ratio ``sum(numerators) / sum(denominators)``; see :func:`ratio_with_ci`.

    Attributes
    ----------
    estimate : float
        The pooled ratio.
    numerator_total, denominator_total : float
        The two sums.
    n : int
        Number of responses.
    confidence_interval : ConfidenceInterval
        BCa bootstrap interval, resampling responses.
    standard_error : float
        Linearised (delta-method) standard error of the ratio estimator.
    confidence_level : float
    n_resamples : int
    method : str
    """

    estimate: float
    numerator_total: float
    denominator_total: float
    n: int
    confidence_interval: ConfidenceInterval
    standard_error: float
    confidence_level: float
    n_resamples: int
    method: str


def mean_with_ci(
    values,
    *,
    rng,
    confidence_level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> MeanResult:
    """Mean of per-incident values with a bias-corrected and accelerated (BCa) bootstrap interval.

    Parameters
    ----------
    values : array_like of float
        One value per response (e.g. wasted trips); missing answers must be dropped first.
    rng : numpy.random.Generator or int
        Source of randomness, or a seed: the same seed gives the same interval.
    confidence_level : float, default 0.95
    n_resamples : int, default 2000
        Bootstrap resamples (Efron and Tibshirani recommend 1000 to 2000 for BCa intervals; the
        Monte Carlo error of each bound is then a few percent of the interval's width).

    Returns
    -------
    MeanResult

    Notes
    -----
    Resampling the n rows with replacement is drawn as a multinomial over the distinct values,
    which is the same distribution at a cost independent of n. With :math:`\\hat\\theta^*_b` the
    resampled means, the bias correction is
    :math:`z_0 = \\Phi^{-1}\\big((\\#\\{\\hat\\theta^*_b < \\hat\\theta\\} +
    \\tfrac12 \\#\\{\\hat\\theta^*_b = \\hat\\theta\\}) / B\\big)` (ties count half: with
    small whole numbers a resampled mean often equals the estimate; without ties this is
    Efron's definition, used by ``scipy.stats.bootstrap``). The acceleration comes from the
    jackknife, in closed form per distinct value:
    :math:`a = \\sum (x_i - \\bar x)^3 / (6 [\\sum (x_i - \\bar x)^2]^{3/2})`. The bounds are
    the :math:`\\Phi(z_0 + (z_0 + z_\\alpha)/(1 - a(z_0 + z_\\alpha)))` quantiles of the
    resampled means (linear interpolation). When all values are equal the interval is not
    estimable (NaN bounds, with a ``RuntimeWarning``), as R's ``boot.ci`` refuses such data.

    References
    ----------
    B. Efron (1987), Better bootstrap confidence intervals, JASA 82:171-185. B. Efron and
    R. J. Tibshirani (1993), An Introduction to the Bootstrap, Chapman & Hall, ch. 14.

    Examples
    --------
    >>> import numpy as np
    >>> from analysis.counts import mean_with_ci
    >>> trips = [0, 0, 0, 1, 0, 2, 0, 0, 1, 3, 0, 0]
    >>> result = mean_with_ci(trips, rng=np.random.default_rng(42))
    >>> round(result.estimate, 3), result.n
    (0.583, 12)
    >>> low, high = result.confidence_interval
    >>> bool(0 <= low < result.estimate < high)
    True
    """
    array = _validate_values(values, "values")
    generator = validate_rng(rng)
    level = validate_confidence_level(confidence_level)
    resamples = validate_resamples(n_resamples)
    if array.size == 0:
        warnings.warn("No values: the mean is undefined.", RuntimeWarning, stacklevel=2)
    elif np.ptp(array) == 0:
        warnings.warn(
            "All values are equal: the bootstrap interval is not estimable (NaN).",
            RuntimeWarning,
            stacklevel=2,
        )
    distinct, table = grouped_value_counts(array)
    estimate, low, high, standard_error = bca_mean(
        distinct, table[0], rng=generator, n_resamples=resamples, level=level
    )
    return MeanResult(
        estimate,
        int(array.size),
        ConfidenceInterval(low, high),
        standard_error,
        level,
        resamples,
        "BCa bootstrap",
    )


def _validate_ratio(numerators, denominators) -> tuple[np.ndarray, np.ndarray]:
    num = _validate_values(numerators, "numerators")
    den = _validate_values(denominators, "denominators")
    if num.shape != den.shape:
        raise ValueError("`denominators` must have the same length as `numerators`.")
    if np.any(den < 0):
        raise ValueError("`denominators` must be non-negative.")
    return num, den


def ratio_with_ci(
    numerators,
    denominators,
    *,
    rng,
    confidence_level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> RatioResult:
    """Pooled ratio such as callbacks kept = sum(received) / sum(promised), with a BCa interval.

    Parameters
    ----------
    numerators, denominators : array_like of float
        One pair per response (e.g. callbacks received and promised), denominators >= 0.
    rng : numpy.random.Generator or int
        Source of randomness, or a seed.
    confidence_level : float, default 0.95
    n_resamples : int, default 2000

    Returns
    -------
    RatioResult

    Notes
    -----
    The ratio :math:`R = \\sum y_i / \\sum x_i` pools all promises, so a response with many
    promises weighs more. Its interval resamples *responses* (pairs), since the callbacks of one
    response are not independent; it is a BCa interval whose acceleration is the jackknife
    leaving out one response, in closed form per distinct pair. The ``standard_error`` is the
    linearised (delta-method) one of the ratio estimator,
    :math:`\\sqrt{\\tfrac{n}{n-1} \\sum (y_i - R x_i)^2} / \\sum x_i` (Cochran 1977, section
    6.3), used by :func:`compare_ratios`. When every response has the same ratio (e.g. no
    promised callback was ever kept), every resample gives that ratio again: the interval is
    not estimable (NaN bounds, with a ``RuntimeWarning``) rather than of zero width, as for
    :func:`mean_with_ci`.

    References
    ----------
    W. G. Cochran (1977), Sampling Techniques, 3rd ed., Wiley. B. Efron and R. J. Tibshirani
    (1993), An Introduction to the Bootstrap, Chapman & Hall.

    Examples
    --------
    >>> import numpy as np
    >>> from analysis.counts import ratio_with_ci
    >>> received = [0, 1, 0, 2, 0, 1, 0, 0]
    >>> promised = [2, 1, 3, 2, 1, 2, 1, 2]
    >>> result = ratio_with_ci(received, promised, rng=np.random.default_rng(7))
    >>> round(result.estimate, 3)
    0.286
    """
    num, den = _validate_ratio(numerators, denominators)
    generator = validate_rng(rng)
    level = validate_confidence_level(confidence_level)
    resamples = validate_resamples(n_resamples)
    if num.size == 0 or den.sum() == 0:
        warnings.warn(
            "The denominators sum to zero: the ratio is undefined.", RuntimeWarning, stacklevel=2
        )
    elif np.all(num * den.sum() == num.sum() * den):
        warnings.warn(
            "Every response has the same ratio: the bootstrap interval is not estimable (NaN).",
            RuntimeWarning,
            stacklevel=2,
        )
    num_values, den_values, table = _pair_counts(num, den)
    estimate, low, high, standard_error = bca_ratio(
        num_values, den_values, table[0], rng=generator, n_resamples=resamples, level=level
    )
    return RatioResult(
        estimate,
        float(num.sum()),
        float(den.sum()),
        int(num.size),
        ConfidenceInterval(low, high),
        standard_error,
        level,
        resamples,
        "BCa bootstrap resampling responses",
    )


def compare_ratios(numerators1, denominators1, numerators2, denominators2) -> TestResult:
    """Wald test that two pooled ratios are equal (e.g. callbacks kept, one company vs others).

    Parameters
    ----------
    numerators1, denominators1 : array_like of float
        Pairs of the first group.
    numerators2, denominators2 : array_like of float
        Pairs of the second group.

    Returns
    -------
    TestResult
        ``statistic`` is :math:`z = (R_1 - R_2) / \\sqrt{v_1 + v_2}` with linearised variances
        (see :func:`ratio_with_ci`), two-sided normal p-value.

    Examples
    --------
    >>> from analysis.counts import compare_ratios
    >>> result = compare_ratios([1, 1, 2, 0], [1, 2, 2, 1], [0, 0, 1, 0], [2, 1, 3, 2])
    >>> round(result.statistic, 3), round(result.pvalue, 3)
    (2.37, 0.018)
    """
    num1, den1 = _validate_ratio(numerators1, denominators1)
    num2, den2 = _validate_ratio(numerators2, denominators2)
    first = _linearised_ratio(num1, den1)
    second = _linearised_ratio(num2, den2)
    statistic, pvalue = _wald(first, second)
    if math.isnan(pvalue):
        warnings.warn("The ratio comparison is undefined.", RuntimeWarning, stacklevel=2)
    return TestResult(statistic, pvalue, math.nan, "Wald z-test, linearised variance")


def _linearised_ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    n = num.size
    total = den.sum()
    if n < 2 or total == 0:
        return math.nan, math.nan
    estimate = num.sum() / total
    residuals = num - estimate * den
    return float(estimate), float(n / (n - 1) * np.sum(residuals**2) / total**2)


def _wald(first, second) -> tuple[float, float]:
    (r1, v1), (r2, v2) = first, second
    variance = v1 + v2
    if not variance > 0:
        return math.nan, math.nan
    z = (r1 - r2) / math.sqrt(variance)
    return float(z), float(2.0 * special.ndtr(-abs(z)))


# --- rank tests -------------------------------------------------------------------------------


def mann_whitney(x, y, *, continuity: bool = True) -> TestResult:
    """Mann-Whitney (Wilcoxon rank-sum) test, two-sided, normal approximation with ties.

    Parameters
    ----------
    x, y : array_like of float
        The two samples (e.g. wasted trips of one company and of all others).
    continuity : bool, default True
        Apply the 1/2 continuity correction.

    Returns
    -------
    TestResult
        ``statistic`` is U for ``x`` (R's ``W``): the number of (x, y) pairs with x > y, plus
        half the ties. ``U / (len(x) * len(y))`` estimates P(X > Y) + P(X = Y) / 2.

    Notes
    -----
    Ranks are mid-ranks computed from the pooled frequency table. With :math:`t_j` the sizes
    of the tied groups, :math:`\\sigma^2 = \\frac{n_x n_y}{12}\\big(n + 1 -
    \\frac{\\sum (t_j^3 - t_j)}{n(n-1)}\\big)` and
    :math:`z = (|U - n_x n_y / 2| - 1/2) / \\sigma`. Equals
    ``scipy.stats.mannwhitneyu(x, y, method="asymptotic")`` and R's
    ``wilcox.test(x, y, exact=FALSE, correct=continuity)``. When every value is tied the test
    is undefined: NaN with a ``RuntimeWarning`` (R gives NA, scipy 1).

    References
    ----------
    H. B. Mann and D. R. Whitney (1947), Annals of Mathematical Statistics 18:50-60.
    M. Hollander and D. A. Wolfe (1973), Nonparametric Statistical Methods, Wiley.

    Examples
    --------
    Hollander and Wolfe's permeability data (R's ``?wilcox.test``):

    >>> from analysis.counts import mann_whitney
    >>> x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    >>> y = [1.15, 0.88, 0.90, 0.74, 1.21]
    >>> result = mann_whitney(x, y, continuity=False)
    >>> result.statistic, round(result.pvalue / 2, 4)
    (35.0, 0.1103)
    """
    first = _validate_values(x, "x")
    second = _validate_values(y, "y")
    if first.size == 0 or second.size == 0:
        warnings.warn("An empty sample: no Mann-Whitney test.", RuntimeWarning, stacklevel=2)
        return TestResult(math.nan, math.nan, math.nan, "Mann-Whitney U")
    codes = np.concatenate([np.zeros(first.size, np.int64), np.ones(second.size, np.int64)])
    _, table = grouped_value_counts(np.concatenate([first, second]), codes, 2)
    u, pvalue = mann_whitney_from_counts(table, continuity=continuity)
    if np.isnan(pvalue):
        warnings.warn("All values are tied: no Mann-Whitney test.", RuntimeWarning, stacklevel=2)
    return TestResult(float(u), float(pvalue), math.nan, "Mann-Whitney U")


def kruskal_wallis(*samples) -> TestResult:
    """Kruskal-Wallis test that k samples come from the same distribution.

    Parameters
    ----------
    *samples : array_like of float
        Two or more samples; empty ones are left out.

    Returns
    -------
    TestResult
        ``statistic`` is H (tie-corrected), chi-square with k - 1 degrees of freedom.

    Notes
    -----
    .. math:: H = \\frac{\\frac{12}{n(n+1)} \\sum_i R_i^2 / n_i - 3(n+1)}
              {1 - \\sum_j (t_j^3 - t_j) / (n^3 - n)}

    with :math:`R_i` the rank sum of sample :math:`i` (mid-ranks) and :math:`t_j` the sizes of
    tied groups. Equals ``scipy.stats.kruskal`` and R's ``kruskal.test``.

    References
    ----------
    W. H. Kruskal and W. A. Wallis (1952), JASA 47:583-621.

    Examples
    --------
    Hollander and Wolfe's mucociliary efficiency data (R's ``?kruskal.test``):

    >>> from analysis.counts import kruskal_wallis
    >>> result = kruskal_wallis([2.9, 3.0, 2.5, 2.6, 3.2], [3.8, 2.7, 4.0, 2.4],
    ...                         [2.8, 3.4, 3.7, 2.2, 2.0])
    >>> round(result.statistic, 5), result.dof, round(result.pvalue, 2)
    (0.77143, 2.0, 0.68)
    """
    if len(samples) < 2:
        raise ValueError("`samples` must be at least two samples.")
    arrays = [_validate_values(sample, f"samples[{i}]") for i, sample in enumerate(samples)]
    codes = np.concatenate([np.full(a.size, i, dtype=np.int64) for i, a in enumerate(arrays)])
    _, table = grouped_value_counts(np.concatenate(arrays), codes, len(arrays))
    h, dof, pvalue = kruskal_from_counts(table)
    if math.isnan(pvalue):
        warnings.warn(
            "Fewer than two non-empty samples, or all values tied: no Kruskal-Wallis test.",
            RuntimeWarning,
            stacklevel=2,
        )
    return TestResult(h, pvalue, dof, "Kruskal-Wallis H")
