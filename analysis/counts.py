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
from scipy import special, stats

from analysis.proportions import (
    ConfidenceInterval,
    TestResult,
    _validate_confidence_level,
)

__all__ = [
    "MeanResult",
    "RatioResult",
    "compare_ratios",
    "kruskal_wallis",
    "mann_whitney",
    "mean_with_ci",
    "ratio_with_ci",
]

DEFAULT_RESAMPLES = 2000
# whole-number values are tabulated with a bincount while their range stays this small
_MAX_BINCOUNT_RANGE = 1 << 20


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


def _validate_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError("`rng` must be a numpy.random.Generator or a non-negative integer seed.")


def _validate_resamples(n_resamples) -> int:
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, (int, np.integer))
        or n_resamples < 100
    ):
        raise ValueError("`n_resamples` must be an integer of at least 100.")
    return int(n_resamples)


# --- frequency tables -------------------------------------------------------------------------


def _grouped_value_counts(values: np.ndarray, codes=None, n_groups: int = 1):
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


# --- bootstrap on a frequency table ------------------------------------------------------------


def _resample_counts(counts: np.ndarray, n_resamples: int, rng: np.random.Generator):
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


def _acceleration(jackknife: np.ndarray, counts: np.ndarray) -> float:
    """BCa acceleration from leave-one-out values, one per distinct value, weighted by counts."""
    weights = counts.astype(float)
    mean = np.sum(weights * jackknife) / weights.sum()
    spread = mean - jackknife
    denominator = 6.0 * np.sum(weights * spread**2) ** 1.5
    if not denominator > 0 or not np.isfinite(denominator):
        return 0.0
    return float(np.sum(weights * spread**3) / denominator)


def _bca_bounds(resampled, below: int, equal: int, acceleration: float, level: float):
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


def _bca_mean(values, counts, *, rng, n_resamples: int, level: float):
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
    draws = _resample_counts(counts, n_resamples, rng)
    sums = draws @ values
    below = int(np.count_nonzero(sums < total))
    equal = int(np.count_nonzero(sums == total))
    jackknife = (total - values) / (n - 1)
    low, high = _bca_bounds(sums / n, below, equal, _acceleration(jackknife, counts), level)
    return estimate, low, high, standard_error


def _bca_ratio(numerators, denominators, counts, *, rng, n_resamples: int, level: float):
    """(estimate, low, high, linearised standard error) of sum(num) / sum(den), pair table."""
    present = counts > 0
    numerators, denominators, counts = numerators[present], denominators[present], counts[present]
    n = int(counts.sum())
    num_total = float(counts @ numerators)
    den_total = float(counts @ denominators)
    if n == 0 or den_total == 0:
        return math.nan, math.nan, math.nan, math.nan
    estimate = num_total / den_total
    residuals = numerators - estimate * denominators
    standard_error = (
        math.sqrt(n / (n - 1) * float(counts @ residuals**2)) / den_total if n > 1 else math.nan
    )
    if np.count_nonzero(counts) < 2:
        return estimate, math.nan, math.nan, standard_error  # not estimable, as for the mean
    draws = _resample_counts(counts, n_resamples, rng)
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
    acceleration = _acceleration(jackknife, counts) if np.all(np.isfinite(jackknife)) else 0.0
    if ratios.size < 2:
        return estimate, math.nan, math.nan, standard_error
    low, high = _bca_bounds(ratios, below, equal, acceleration, level)
    return estimate, low, high, standard_error


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
    generator = _validate_rng(rng)
    level = _validate_confidence_level(confidence_level)
    resamples = _validate_resamples(n_resamples)
    if array.size == 0:
        warnings.warn("No values: the mean is undefined.", RuntimeWarning, stacklevel=2)
    elif np.ptp(array) == 0:
        warnings.warn(
            "All values are equal: the bootstrap interval is not estimable (NaN).",
            RuntimeWarning,
            stacklevel=2,
        )
    distinct, table = _grouped_value_counts(array)
    estimate, low, high, standard_error = _bca_mean(
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
    6.3), used by :func:`compare_ratios`.

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
    generator = _validate_rng(rng)
    level = _validate_confidence_level(confidence_level)
    resamples = _validate_resamples(n_resamples)
    if num.size == 0 or den.sum() == 0:
        warnings.warn(
            "The denominators sum to zero: the ratio is undefined.", RuntimeWarning, stacklevel=2
        )
    num_values, den_values, table = _pair_counts(num, den)
    estimate, low, high, standard_error = _bca_ratio(
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


def _midranks(total_counts: np.ndarray) -> np.ndarray:
    """Average rank of each distinct value, given the pooled frequency of each (sorted)."""
    cumulative = np.cumsum(total_counts, dtype=float)
    return cumulative - (total_counts - 1) / 2.0


def _tie_term(total_counts: np.ndarray) -> float:
    t = total_counts.astype(float)
    return float(np.sum(t**3 - t))


def _mann_whitney_from_counts(table: np.ndarray, *, continuity: bool = True):
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
    _, table = _grouped_value_counts(np.concatenate([first, second]), codes, 2)
    u, pvalue = _mann_whitney_from_counts(table, continuity=continuity)
    if np.isnan(pvalue):
        warnings.warn("All values are tied: no Mann-Whitney test.", RuntimeWarning, stacklevel=2)
    return TestResult(float(u), float(pvalue), math.nan, "Mann-Whitney U")


def _kruskal_from_counts(table: np.ndarray) -> tuple[float, float, float]:
    """H, degrees of freedom and p-value from a (k, m) frequency table (empty rows dropped)."""
    table = table[table.sum(axis=1) > 0]
    k = table.shape[0]
    if k < 2:
        return math.nan, math.nan, math.nan
    total = table.sum(axis=0)
    n = float(total.sum())
    ranks = _midranks(total)
    rank_sums = table @ ranks
    sizes = table.sum(axis=1).astype(float)
    correction = 1.0 - _tie_term(total) / (n**3 - n)
    if not correction > 0:
        return math.nan, float(k - 1), math.nan
    h = (12.0 / (n * (n + 1)) * np.sum(rank_sums**2 / sizes) - 3.0 * (n + 1)) / correction
    return float(h), float(k - 1), float(stats.chi2.sf(h, k - 1))


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
    _, table = _grouped_value_counts(np.concatenate(arrays), codes, len(arrays))
    h, dof, pvalue = _kruskal_from_counts(table)
    if math.isnan(pvalue):
        warnings.warn(
            "Fewer than two non-empty samples, or all values tied: no Kruskal-Wallis test.",
            RuntimeWarning,
            stacklevel=2,
        )
    return TestResult(h, pvalue, dof, "Kruskal-Wallis H")
