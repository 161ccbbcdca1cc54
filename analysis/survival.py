"""Time-to-event statistics for right-censored durations: Kaplan-Meier curves with Greenwood
standard errors, the median and restricted mean with their intervals, and the log-rank test.

Every function counts events and removals per distinct time in one vectorised pass (a
``numpy.bincount`` when durations are whole numbers, such as days), so the cost is linear in the
number of responses. Conventions follow R's ``survival`` package; each docstring says where.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.proportions import (
    ConfidenceInterval,
    IntervalEstimate,
    _validate_confidence_level,
    _z_value,
)

__all__ = ["LogrankResult", "SurvivalResult", "kaplan_meier", "logrank"]

_BAND_METHODS = ("log", "log-log", "plain")
# R's all.equal() tolerance, used by print.survfit to decide that a curve sits exactly at 0.5
_HALF_TOLERANCE = math.sqrt(np.finfo(float).eps)
# A bincount over whole-number durations is used while its table stays this small
_MAX_BINCOUNT_CELLS = 1 << 24


def _read_only(array) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def _validate_band_method(method: str) -> None:
    if method not in _BAND_METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, _BAND_METHODS))}.")


def _confidence_band(survival, standard_error_log, z: float, method: str):
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


def _first_below_half(curve, time) -> float:
    """R's ``minmin`` from ``print.survfit``: first time the curve is <= 0.5.

    When the curve sits at 0.5 (within sqrt(machine epsilon)) over a flat stretch, the result is
    the midpoint between the start of the stretch and the next time the curve drops. NaN when
    the curve never reaches 0.5 (R prints NA).
    """
    y = np.asarray(curve, dtype=float)
    keep = ~np.isnan(y) & (y < 0.5 + _HALF_TOLERANCE)
    if not keep.any():
        return math.nan
    times = np.asarray(time, dtype=float)[keep]
    values = y[keep]
    if abs(values[0] - 0.5) < _HALF_TOLERANCE:
        lower = np.flatnonzero(values < values[0])
        if lower.size:
            return float((times[0] + times[lower[0]]) / 2.0)
    return float(times[0])


@dataclass(frozen=True)
class SurvivalResult:
    """A Kaplan-Meier curve; see :func:`kaplan_meier`.

    One entry per distinct observed time (event or censoring), as R's ``survfit`` object.

    Attributes
    ----------
    time : numpy.ndarray
        Distinct observed times, increasing.
    n_at_risk : numpy.ndarray
        Number still at risk just before each time.
    n_events : numpy.ndarray
        Number of events (resolutions) at each time.
    n_censored : numpy.ndarray
        Number censored at each time.
    survival : numpy.ndarray
        Kaplan-Meier estimate of S(t), the share not yet resolved after time t.
    standard_error : numpy.ndarray
        Greenwood standard error of S(t) (R's ``summary(fit)$std.err``); NaN where S(t) = 0.
    standard_error_log : numpy.ndarray
        Greenwood standard error of log S(t) (R's ``fit$std.err``); infinite where S(t) = 0.
    """

    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    survival: np.ndarray
    standard_error: np.ndarray
    standard_error_log: np.ndarray

    def __post_init__(self):
        for name in (
            "time",
            "n_at_risk",
            "n_events",
            "n_censored",
            "survival",
            "standard_error",
            "standard_error_log",
        ):
            object.__setattr__(self, name, _read_only(getattr(self, name)))

    @property
    def n(self) -> int:
        """Number of observations."""
        return int(self.n_at_risk[0]) if self.n_at_risk.size else 0

    def confidence_band(
        self, *, confidence_level: float = 0.95, method: str = "log-log"
    ) -> ConfidenceInterval:
        """Pointwise confidence interval of S(t) at every time of the curve.

        Parameters
        ----------
        confidence_level : float, default 0.95
        method : {"log-log", "log", "plain"}
            Scale of the normal approximation, as R's ``survfit(conf.type=...)``:
            ``"log-log"`` :math:`\\exp(-\\exp(\\log(-\\log S) \\mp z\\,\\sigma / \\log S))`,
            ``"log"`` :math:`S\\exp(\\pm z\\sigma)` capped at 1 (R's default), ``"plain"``
            :math:`S \\pm z\\,\\sigma S` clipped to [0, 1], with :math:`\\sigma` the Greenwood
            standard error of log S.

        Returns
        -------
        ConfidenceInterval
            Arrays aligned with ``time``. As in R, bounds are NaN where S(t) = 0 and, for
            ``"log-log"``, where S(t) = 1.
        """
        level = _validate_confidence_level(confidence_level)
        _validate_band_method(method)
        low, high = _confidence_band(
            self.survival, self.standard_error_log, _z_value(level), method
        )
        return ConfidenceInterval(_read_only(low), _read_only(high))

    def survival_at(
        self, t, *, confidence_level: float = 0.95, method: str = "log-log"
    ) -> IntervalEstimate:
        """S(t), the share not yet resolved after ``t``, with its pointwise interval.

        Parameters
        ----------
        t : float or array_like
            Time(s) at which to read the curve (right-continuous step function).
        confidence_level : float, default 0.95
        method : {"log-log", "log", "plain"}
            See :meth:`confidence_band`.

        Returns
        -------
        IntervalEstimate
            Floats for a scalar ``t``, arrays otherwise; ``standard_error`` is Greenwood's.

        Notes
        -----
        Equals R's ``summary(survfit(..., conf.type=method), times=t)``. Before the first
        time, S = 1. After the last observed time the curve is unknown unless it has reached 0:
        R drops such times (``extend=FALSE``); here they give NaN with a ``RuntimeWarning``.
        """
        level = _validate_confidence_level(confidence_level)
        _validate_band_method(method)
        times = np.asarray(t, dtype=float)
        if np.any(np.isnan(times)):
            raise ValueError("`t` must not be NaN.")
        index = np.searchsorted(self.time, times, side="right") - 1
        started = index >= 0
        safe = np.clip(index, 0, None)
        survival = np.where(started, self.survival[safe], 1.0)
        se_log = np.where(started, self.standard_error_log[safe], 0.0)
        low, high = _confidence_band(survival, se_log, _z_value(level), method)
        with np.errstate(invalid="ignore"):
            standard_error = survival * se_log
        beyond = (times > self.time[-1]) & (self.survival[-1] > 0)
        if np.any(beyond):
            warnings.warn(
                "`t` is beyond the last follow-up time: S(t) is unknown there (NaN).",
                RuntimeWarning,
                stacklevel=2,
            )
            survival = np.where(beyond, np.nan, survival)
            standard_error = np.where(beyond, np.nan, standard_error)
            low = np.where(beyond, np.nan, low)
            high = np.where(beyond, np.nan, high)
        if times.ndim == 0:
            survival, standard_error, low, high = (
                float(survival),
                float(standard_error),
                float(low),
                float(high),
            )
        return IntervalEstimate(
            survival,
            ConfidenceInterval(low, high),
            standard_error,
            level,
            f"Kaplan-Meier with Greenwood variance, {method} interval",
        )

    def median(self, *, confidence_level: float = 0.95, method: str = "log") -> IntervalEstimate:
        """Median time with its confidence interval.

        Parameters
        ----------
        confidence_level : float, default 0.95
        method : {"log", "log-log", "plain"}
            Scale of the pointwise band that is inverted (R's ``conf.type``; R's default is
            ``"log"``).

        Returns
        -------
        IntervalEstimate
            ``estimate`` is NaN when S(t) never falls to 0.5 (median not reached), and a bound
            is NaN when its band never falls to 0.5 (R prints NA). ``standard_error`` is NaN.

        Notes
        -----
        As R's ``print(survfit(..., conf.type=method))``: the median is the first time with
        S(t) <= 0.5; the lower (upper) limit is the first time the lower (upper) pointwise bound
        is <= 0.5, i.e. the set of times whose band contains 0.5 (Brookmeyer and Crowley 1982,
        on the transformed scale). If a curve equals 0.5 exactly over a flat stretch, the value
        is the midpoint of the stretch's start and the next drop (R's rule; equality within
        sqrt(machine epsilon)). If the stretch lasts to the end of follow-up, R's
        ``print.survfit`` (followed here) returns the start of the stretch, whereas
        ``quantile.survfit`` returns the midpoint with the last time.

        References
        ----------
        R. Brookmeyer and J. Crowley (1982), A confidence interval for the median survival time,
        Biometrics 38:29-41. J. P. Klein and M. L. Moeschberger (2003), Survival Analysis, 2nd
        ed., Springer, section 4.5.
        """
        level = _validate_confidence_level(confidence_level)
        _validate_band_method(method)
        low_band, high_band = _confidence_band(
            self.survival, self.standard_error_log, _z_value(level), method
        )
        return IntervalEstimate(
            _first_below_half(self.survival, self.time),
            ConfidenceInterval(
                _first_below_half(low_band, self.time), _first_below_half(high_band, self.time)
            ),
            math.nan,
            level,
            f"Kaplan-Meier median, {method} pointwise band inverted",
        )

    def rmst(self, tau, *, confidence_level: float = 0.95) -> IntervalEstimate:
        """Restricted mean time to ``tau``: the area under S(t) from 0 to ``tau``.

        Parameters
        ----------
        tau : float
            Horizon, e.g. 90 days: the mean of min(T, tau).
        confidence_level : float, default 0.95

        Returns
        -------
        IntervalEstimate
            ``standard_error`` is the standard error of the estimator; the interval is
            ``estimate +- z * standard_error`` (survRM2's ``rmst2``).

        Notes
        -----
        With :math:`A_j = \\int_{t_j}^{\\tau} \\hat S(u)\\,du` for the event times
        :math:`t_j \\le \\tau`,

        .. math:: \\widehat{\\mathrm{Var}} = \\sum_{t_j \\le \\tau}
                  A_j^2 \\frac{d_j}{n_j (n_j - d_j)},

        terms with :math:`n_j = d_j` being zero. This is R's ``print(fit, rmean=tau)``
        (``survmean``) and survRM2's ``rmst2``: the uncertainty of the estimate, not the spread
        of min(T, tau) among responses. Beyond the last observed time the curve is held flat,
        as R does; a ``RuntimeWarning`` says so. (R refuses a ``tau`` before the first time;
        here the result is then simply ``tau``.)

        References
        ----------
        P. Royston and M. K. B. Parmar (2013), Restricted mean survival time: an alternative to
        the hazard ratio, BMC Medical Research Methodology 13:152. H. Uno et al. (2014), Moving
        beyond the hazard ratio in quantifying the between-group difference in survival
        analysis, Journal of Clinical Oncology 32:2380-2385 (survRM2).
        """
        level = _validate_confidence_level(confidence_level)
        try:
            horizon = float(tau)
        except (TypeError, ValueError):
            raise ValueError("`tau` must be a non-negative number.") from None
        if not math.isfinite(horizon) or horizon < 0:
            raise ValueError("`tau` must be a non-negative number.")
        if horizon > self.time[-1] and self.survival[-1] > 0:
            warnings.warn(
                "`tau` is beyond the last follow-up time: the curve is held flat after it.",
                RuntimeWarning,
                stacklevel=2,
            )
        estimate, standard_error = _restricted_mean(
            self.time, self.survival, self.n_at_risk, self.n_events, horizon
        )
        z = _z_value(level)
        return IntervalEstimate(
            estimate,
            ConfidenceInterval(estimate - z * standard_error, estimate + z * standard_error),
            standard_error,
            level,
            "restricted mean (area under Kaplan-Meier), Greenwood-type variance",
        )


def _restricted_mean(time, survival, n_at_risk, n_events, tau: float) -> tuple[float, float]:
    keep = time <= tau
    grid = np.concatenate(([0.0], time[keep], [tau]))
    heights = np.concatenate(([1.0], survival[keep]))
    areas = np.diff(grid) * heights
    estimate = float(areas.sum())
    # area under the curve from each time t_j to tau
    after = np.cumsum(areas[::-1])[::-1][1:]
    n = n_at_risk[keep].astype(float)
    d = n_events[keep].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_term = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    return estimate, float(math.sqrt(np.sum(after**2 * hazard_term)))


def _validate_durations(durations, resolved) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(durations)
    if times.dtype.kind not in "iu":  # whole numbers stay integers: no conversion, no check
        try:
            times = np.asarray(times, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("`durations` must be numbers.") from None
    if times.ndim != 1:
        raise ValueError("`durations` must be one-dimensional.")
    if times.size == 0:
        raise ValueError("`durations` must not be empty.")
    low, high = times.min(), times.max()  # NaN and infinities show in one of the two
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("`durations` must be finite: drop missing durations first.")
    if low < 0:
        raise ValueError("`durations` must be non-negative.")
    events = np.asarray(resolved)
    if events.shape != times.shape:
        raise ValueError("`resolved` must have the same length as `durations`.")
    if events.dtype != bool:
        try:
            numeric = events.astype(float)
        except (TypeError, ValueError):
            raise ValueError("`resolved` must be booleans (True = resolved).") from None
        if not np.isin(numeric, (0.0, 1.0)).all():
            raise ValueError("`resolved` must be booleans (True = resolved).")
        events = numeric == 1.0
    return times, events


def _validate_groups(groups, size: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.size != size:
        raise ValueError("`groups` must have the same length as `durations`.")
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise ValueError("`groups` must not contain missing values.")
    if labels.dtype.kind == "O" and any(v is None for v in set(labels.tolist())):
        raise ValueError("`groups` must not contain missing values.")
    if labels.dtype.kind in "iub" and labels.size:
        low = labels.min()
        if labels.dtype.kind != "b" and low >= 0 and labels.max() < 4 * size + 1024:
            # small non-negative integer codes: a bincount finds the levels without sorting
            present = np.flatnonzero(np.bincount(labels.astype(np.int64)))
            lookup = np.zeros(int(labels.max()) + 1, dtype=np.int64)
            lookup[present] = np.arange(present.size)
            return present.astype(labels.dtype), lookup[labels]
    levels, codes = np.unique(labels, return_inverse=True)
    return levels, codes.reshape(-1)


def _event_table(durations, events, codes=None, n_groups: int = 1):
    """Events and removals per (group, distinct time) in one counting pass.

    Returns ``times`` (m,), ``n_events`` (k, m) and ``n_removed`` (k, m), keeping only the
    times at which at least one observation is removed.
    """
    top = float(durations.max())
    small = (top + 1) * n_groups <= max(_MAX_BINCOUNT_CELLS, 4 * durations.size)
    base = None
    if small and durations.dtype.kind in "iu":
        base = durations
    elif small:
        base = durations.astype(np.int64)
        if not np.array_equal(base, durations):
            base = None  # not whole numbers
    if base is not None:
        width = int(top) + 1
        times = np.arange(width, dtype=float)
    else:
        times, base = np.unique(durations, return_inverse=True)
        base = base.reshape(-1)
        width = times.size
    # cell = (group, time, event flag): the flag is the lowest bit, so one bincount counts all
    if codes is not None:
        index = codes * width
        index += base
        index *= 2
    else:
        index = np.multiply(base, 2, dtype=np.int64)
    index += events
    cells = np.bincount(index, minlength=2 * n_groups * width)
    cells = cells.reshape(n_groups, width, 2)
    n_events = cells[:, :, 1]
    n_removed = cells[:, :, 0] + n_events
    used = n_removed.sum(axis=0) > 0
    return times[used], n_events[:, used], n_removed[:, used]


def _at_risk(n_removed) -> np.ndarray:
    """Number at risk just before each time: removals at this time or later."""
    return np.cumsum(n_removed[..., ::-1], axis=-1)[..., ::-1]


def _kaplan_meier_from_counts(times, n_events, n_removed) -> SurvivalResult:
    """Kaplan-Meier curve of one group from its per-time counts (zero-removal times dropped)."""
    used = n_removed > 0
    times, n_events, n_removed = times[used], n_events[used], n_removed[used]
    n_at_risk = _at_risk(n_removed)
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_events / n_at_risk)
        greenwood = np.where(
            n_events == 0, 0.0, n_events / (n_at_risk * (n_at_risk - n_events).astype(float))
        )
        variance_log = np.cumsum(greenwood)
        standard_error_log = np.sqrt(variance_log)
        standard_error = survival * standard_error_log
    return SurvivalResult(
        time=times,
        n_at_risk=n_at_risk,
        n_events=n_events,
        n_censored=n_removed - n_events,
        survival=survival,
        standard_error=standard_error,
        standard_error_log=standard_error_log,
    )


def kaplan_meier(durations, resolved) -> SurvivalResult:
    """Kaplan-Meier estimate of the share of incidents not yet resolved after t.

    Parameters
    ----------
    durations : array_like of float
        Time from start to resolution (event) or to the end of follow-up (censoring), e.g. in
        days; finite and non-negative.
    resolved : array_like of bool
        True where the duration ends with the event (resolution), False where it is censored.

    Returns
    -------
    SurvivalResult
        The step curve with Greenwood standard errors; its methods ``survival_at``,
        ``median``, ``rmst`` and ``confidence_band`` give estimates with intervals.

    Notes
    -----
    With :math:`d_j` events among :math:`n_j` at risk at the distinct times :math:`t_j`,

    .. math:: \\hat S(t) = \\prod_{t_j \\le t} \\Big(1 - \\frac{d_j}{n_j}\\Big), \\qquad
              \\widehat{\\mathrm{Var}}[\\log \\hat S(t)] = \\sum_{t_j \\le t}
              \\frac{d_j}{n_j (n_j - d_j)} \\quad \\text{(Greenwood)}.

    Censored observations count as at risk at their own time (events first, as in R). The
    curve equals R's ``survfit(Surv(durations, resolved) ~ 1)``: same times (events and
    censorings), numbers at risk, estimate and ``std.err``. Whole-number durations are counted
    with one ``bincount``; other durations with one ``numpy.unique``.

    References
    ----------
    E. L. Kaplan and P. Meier (1958), Nonparametric estimation from incomplete observations,
    JASA 53:457-481. M. Greenwood (1926), The natural duration of cancer, Reports on Public
    Health and Medical Subjects 33, HMSO.

    Examples
    --------
    The maintained arm of R's ``aml`` data (``+`` marks censoring: 13+, 28+, 45+, 161+):

    >>> from analysis.survival import kaplan_meier
    >>> weeks = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
    >>> resolved = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    >>> curve = kaplan_meier(weeks, resolved)
    >>> curve.survival.round(3).tolist()[:5]
    [0.909, 0.818, 0.716, 0.614, 0.614]
    >>> median = curve.median()
    >>> median.estimate, median.confidence_interval.low, median.confidence_interval.high
    (31.0, 18.0, nan)
    >>> round(curve.survival_at(30).estimate, 4)
    0.6136
    """
    times, events = _validate_durations(durations, resolved)
    table_times, n_events, n_removed = _event_table(times, events)
    return _kaplan_meier_from_counts(table_times, n_events[0], n_removed[0])


@dataclass(frozen=True)
class LogrankResult:
    """The log-rank test; see :func:`logrank`.

    Attributes
    ----------
    groups : numpy.ndarray
        Group labels, sorted (R's factor order).
    n : numpy.ndarray
        Observations per group.
    observed, expected : numpy.ndarray
        Observed and expected events per group under the hypothesis of equal curves.
    variance : numpy.ndarray
        Variance-covariance matrix of ``observed - expected`` (R's ``survdiff(...)$var``).
    statistic : float
        Chi-square statistic.
    dof : int
        Degrees of freedom: number of groups with ``expected > 0``, minus one.
    pvalue : float
        Upper tail of the chi-square distribution.
    """

    groups: np.ndarray
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    statistic: float
    dof: int
    pvalue: float

    def __post_init__(self):
        for name in ("groups", "n", "observed", "expected", "variance"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))


def _logrank_components(n_events, n_removed):
    """Observed, expected and variance matrix of the k-group log-rank test, in floating point.

    ``n_events`` and ``n_removed`` are (k, m) count tables over the same distinct times.
    """
    at_risk = _at_risk(n_removed).astype(float)
    total_at_risk = at_risk.sum(axis=0)
    total_events = n_events.sum(axis=0).astype(float)
    event_times = total_events > 0
    at_risk = at_risk[:, event_times]
    n = total_at_risk[event_times]
    d = total_events[event_times]
    share = at_risk / n
    observed = n_events.sum(axis=1).astype(float)
    expected = share @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    weighted = share * weight
    variance = np.diag(weighted.sum(axis=1)) - weighted @ share.T
    return observed, expected, variance


def _chi_square_from_components(observed, expected, variance) -> tuple[float, int, float]:
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


def logrank(durations, resolved, groups) -> LogrankResult:
    """Log-rank test that k >= 2 groups share the same time-to-resolution curve.

    Parameters
    ----------
    durations : array_like of float
        Follow-up times, finite and non-negative.
    resolved : array_like of bool
        True where the duration ends with the event.
    groups : array_like
        Group label of each observation (integers, strings...), at least two distinct values.

    Returns
    -------
    LogrankResult

    Notes
    -----
    At each distinct event time :math:`t` with :math:`d_t` events among :math:`n_t` at risk,
    group :math:`g` expects :math:`n_{gt} d_t / n_t` events. With
    :math:`U = O - E` and

    .. math:: V_{gh} = \\sum_t \\frac{d_t (n_t - d_t)}{n_t - 1}
              \\frac{n_{gt}}{n_t}\\Big(\\delta_{gh} - \\frac{n_{ht}}{n_t}\\Big),

    the statistic is :math:`U^\\top V^{-} U` computed on all groups but one, with k - 1 degrees
    of freedom. This is R's ``survdiff(Surv(durations, resolved) ~ groups)`` (``rho = 0``),
    including its rule of leaving out groups with no expected event. Everything is computed in
    floating point from one count table, so large samples with many tied days cannot overflow
    (``scipy.stats.logrank`` 1.17 can overflow its integer variance there).

    References
    ----------
    N. Mantel (1966), Evaluation of survival data and two new rank order statistics arising in
    its consideration, Cancer Chemotherapy Reports 50:163-170. R. Peto and J. Peto (1972),
    Asymptotically efficient rank invariant test procedures, JRSS A 135:185-207.

    Examples
    --------
    R's ``aml`` data, maintained (1) against non-maintained (0) chemotherapy:

    >>> from analysis.survival import logrank
    >>> weeks = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161,
    ...          5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
    >>> resolved = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0,
    ...             1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    >>> arm = [1] * 11 + [0] * 12
    >>> result = logrank(weeks, resolved, arm)
    >>> round(result.statistic, 4), result.dof, round(result.pvalue, 4)
    (3.3964, 1, 0.0653)
    >>> result.expected.round(2).tolist()
    [7.31, 10.69]
    """
    times, events = _validate_durations(durations, resolved)
    levels, codes = _validate_groups(groups, times.size)
    if levels.size < 2:
        raise ValueError("`groups` must contain at least two groups.")
    _, n_events, n_removed = _event_table(times, events, codes, levels.size)
    observed, expected, variance = _logrank_components(n_events, n_removed)
    statistic, dof, pvalue = _chi_square_from_components(observed, expected, variance)
    return LogrankResult(
        groups=levels,
        n=n_removed.sum(axis=1),
        observed=observed,
        expected=expected,
        variance=variance,
        statistic=statistic,
        dof=dof,
        pvalue=pvalue,
    )
