"""Time-to-event statistics for censored durations, with delayed entry: Kaplan-Meier curves with
Greenwood standard errors, the median and restricted mean with their intervals, the log-rank
test, and Aalen-Johansen cumulative incidences of competing outcomes.

Every function counts events, removals and entries per distinct time in one vectorised pass (a
``numpy.bincount`` when durations are whole numbers, such as days), so the cost is linear in the
number of responses. Conventions follow R's ``survival`` package; each docstring says where.
The count kernels live in ``analysis._kernels``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from analysis._kernels import (
    CompetingPatterns,
    aj_from_patterns,
    aj_time_in_state,
    boundary_wilson,
    chi_square_from_components,
    competing_patterns,
    confidence_band,
    event_table,
    km_from_counts,
    logrank_components,
    validate_band_method,
    validate_confidence_level,
    z_value,
)
from analysis.proportions import ConfidenceInterval, IntervalEstimate

__all__ = [
    "CompetingRisksResult",
    "CurveEstimate",
    "LogrankResult",
    "SurvivalResult",
    "TimeInState",
    "aalen_johansen",
    "kaplan_meier",
    "logrank",
]

# R's all.equal() tolerance, used by print.survfit to decide that a curve sits exactly at 0.5
_HALF_TOLERANCE = math.sqrt(np.finfo(float).eps)


def _read_only(array) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


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
class CurveEstimate(IntervalEstimate):
    """A curve read at given times: an :class:`IntervalEstimate` with two flags per time.

    Attributes
    ----------
    extended : bool or numpy.ndarray
        True where the time is after the last observed one (the last estimate carried on, R's
        ``extend=TRUE``; NaN there without ``extend`` unless the curve has reached its limit).
    boundary : bool or numpy.ndarray
        True where the estimate is exactly 0 or 1 and the interval is Wilson's on the risk set
        instead of the (degenerate) transformed band.
    """

    extended: np.ndarray
    boundary: np.ndarray

    def __post_init__(self):
        super().__post_init__()
        for name in ("extended", "boundary"):
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                object.__setattr__(self, name, _read_only(value))


def _curve_estimate(times, estimate, standard_error, low, high, level, note, extended, boundary):
    if np.ndim(times) == 0:
        return CurveEstimate(
            float(estimate),
            ConfidenceInterval(float(low), float(high)),
            float(standard_error),
            level,
            note,
            bool(extended),
            bool(boundary),
        )
    return CurveEstimate(
        np.asarray(estimate, dtype=float),
        ConfidenceInterval(np.asarray(low, dtype=float), np.asarray(high, dtype=float)),
        np.asarray(standard_error, dtype=float),
        level,
        note,
        np.asarray(extended, dtype=bool),
        np.asarray(boundary, dtype=bool),
    )


def _validate_times(t) -> np.ndarray:
    try:
        times = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("`t` must be numbers.") from None
    if np.any(np.isnan(times)):
        raise ValueError("`t` must not be NaN.")
    return times


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
    n_entered : numpy.ndarray
        Units joining the risk set in time for each time (entry in [previous time, this
        time)); without delayed entry every unit is counted at the first time.
    """

    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    survival: np.ndarray
    standard_error: np.ndarray
    standard_error_log: np.ndarray
    n_entered: np.ndarray | None = None

    def __post_init__(self):
        if self.n_entered is None:
            entered = np.zeros_like(np.asarray(self.n_at_risk))
            entered[:1] = np.asarray(self.n_at_risk)[:1]
            object.__setattr__(self, "n_entered", entered)
        for name in (
            "time",
            "n_at_risk",
            "n_events",
            "n_censored",
            "survival",
            "standard_error",
            "standard_error_log",
            "n_entered",
        ):
            object.__setattr__(self, name, _read_only(getattr(self, name)))

    @classmethod
    def from_counts(cls, times, n_events, n_removed, n_entered=None) -> SurvivalResult:
        """The curve of one group from its per-time counts (times without removal dropped).

        Parameters
        ----------
        times, n_events, n_removed : numpy.ndarray
            Aligned 1-D count arrays, as a row of ``analysis._kernels.event_table``.
        n_entered : numpy.ndarray, optional
            Units joining the risk set in time for each time (delayed entry).
        """
        return cls(*km_from_counts(times, n_events, n_removed, n_entered))

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
        level = validate_confidence_level(confidence_level)
        validate_band_method(method)
        low, high = confidence_band(self.survival, self.standard_error_log, z_value(level), method)
        return ConfidenceInterval(_read_only(low), _read_only(high))

    def survival_at(
        self,
        t,
        *,
        confidence_level: float = 0.95,
        method: str = "log-log",
        extend: bool = False,
    ) -> CurveEstimate:
        """S(t), the share not yet resolved after ``t``, with its pointwise interval.

        Parameters
        ----------
        t : float or array_like
            Time(s) at which to read the curve (right-continuous step function).
        confidence_level : float, default 0.95
        method : {"log-log", "log", "plain"}
            See :meth:`confidence_band`.
        extend : bool, default False
            After the last observed time, return the last estimate (marked in ``extended``)
            instead of NaN, as R's ``summary(fit, times=t, extend=TRUE)``.

        Returns
        -------
        CurveEstimate
            Floats for a scalar ``t``, arrays otherwise; ``standard_error`` is Greenwood's;
            ``boundary`` marks the intervals given by the Wilson rule below, ``extended`` the
            times after the last observed one.

        Notes
        -----
        Equals R's ``summary(survfit(..., conf.type=method), times=t)`` wherever S(t) is
        strictly between 0 and 1. Before the first time, S = 1.

        Where S(t) is exactly 1 (no event yet) or 0 (the last risk set all resolved), every
        band of R is degenerate: R prints [1, 1] at S = 1 (log-log included: ``summary``
        fills the undefined bound with 1), and NA at S = 0 under "log" and "log-log". A
        zero-width or missing interval is not an honest answer to "0 of 10 resolved within 2
        days", so there the interval is Wilson's for "0 of n" on the risk set: at S = 1,
        :math:`[1 - u, 1]` with :math:`u` the upper Wilson bound of 0/n and n the number at
        risk at the next observed time (the units still followed after ``t``; the last risk
        set beyond the end); at S = 0, :math:`[0, u]` with n the risk set that the last
        events emptied. For 0 of 10, u = 27.8% at 95%.

        After the last observed time the curve is unknown unless it has reached 0: R drops
        such times (``extend=FALSE``); here they give NaN with a ``RuntimeWarning``, or with
        ``extend=True`` the last estimate, flagged in ``extended``.
        """
        level = validate_confidence_level(confidence_level)
        validate_band_method(method)
        times = _validate_times(t)
        last = self.time.size - 1
        index = np.searchsorted(self.time, times, side="right") - 1
        started = index >= 0
        safe = np.clip(index, 0, None)
        survival = np.where(started, self.survival[safe], 1.0)
        se_log = np.where(started, self.standard_error_log[safe], 0.0)
        z = z_value(level)
        low, high = confidence_band(survival, se_log, z, method)
        with np.errstate(invalid="ignore"):
            standard_error = survival * se_log
        boundary = (survival == 0) | (survival == 1)
        if np.any(boundary):
            emptied = np.flatnonzero(self.survival == 0)
            n_end = self.n_at_risk[emptied[0]] if emptied.size else 0
            n_next = self.n_at_risk[np.minimum(index + 1, last)]
            w_low, w_high = boundary_wilson(survival, np.where(survival == 0, n_end, n_next), z)
            low, high = np.where(boundary, w_low, low), np.where(boundary, w_high, high)
        extended = times > self.time[-1]
        beyond = extended & (self.survival[-1] > 0)
        if np.any(beyond) and not extend:
            warnings.warn(
                "`t` is beyond the last follow-up time: S(t) is unknown there (NaN).",
                RuntimeWarning,
                stacklevel=2,
            )
            survival = np.where(beyond, np.nan, survival)
            standard_error = np.where(beyond, np.nan, standard_error)
            low = np.where(beyond, np.nan, low)
            high = np.where(beyond, np.nan, high)
        note = f"Kaplan-Meier with Greenwood variance, {method} interval"
        if np.any(boundary):
            note += "; Wilson interval on the risk set where S(t) is 0 or 1"
        return _curve_estimate(
            times, survival, standard_error, low, high, level, note, extended, boundary
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
        level = validate_confidence_level(confidence_level)
        validate_band_method(method)
        low_band, high_band = confidence_band(
            self.survival, self.standard_error_log, z_value(level), method
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
        level = validate_confidence_level(confidence_level)
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
        z = z_value(level)
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
    times = _validate_exit_times(durations)
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


def _validate_exit_times(durations) -> np.ndarray:
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
    return times


def _validate_entry(entry, times: np.ndarray):
    """Entry times as an array, and the mask of units kept (entry before exit).

    R's ``Surv(entry, exit, event)`` makes a unit with ``entry >= exit`` NA ("Stop time must be
    > start time, NA created") and ``survfit`` then leaves it out: the same is done here, with a
    ``RuntimeWarning`` giving the number of units dropped.
    """
    if entry is None:
        return None, None
    starts = np.asarray(entry)
    if starts.dtype.kind not in "iu":
        try:
            starts = np.asarray(starts, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("`entry` must be numbers.") from None
    if starts.shape != times.shape:
        raise ValueError("`entry` must have the same length as `durations`.")
    if not np.all(np.isfinite(starts)):
        raise ValueError("`entry` must be finite: use 0 for units followed from the start.")
    if np.any(starts < 0):
        raise ValueError("`entry` must be non-negative.")
    keep = starts < times
    dropped = int(keep.size - np.count_nonzero(keep))
    if dropped == keep.size:
        raise ValueError("`entry` must be before the exit time for at least one unit.")
    if dropped:
        warnings.warn(
            f"{dropped} unit(s) with `entry` >= exit time left out (R's Surv makes them NA).",
            RuntimeWarning,
            stacklevel=3,
        )
    return starts, keep


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


def kaplan_meier(durations, resolved, *, entry=None) -> SurvivalResult:
    """Kaplan-Meier estimate of the share of incidents not yet resolved after t.

    Parameters
    ----------
    durations : array_like of float
        Time from start to resolution (event) or to the end of follow-up (censoring), e.g. in
        days; finite and non-negative.
    resolved : array_like of bool
        True where the duration ends with the event (resolution), False where it is censored.
    entry : array_like of float, optional
        Delayed entry (left truncation): the time, on the same clock, from which each unit is
        observed (e.g. an incident that began before the survey's launch enters at the launch).
        A unit is at risk over (entry, duration]. Units with ``entry >= duration`` are left out
        with a ``RuntimeWarning``, as R's ``Surv(entry, exit, event)`` makes them NA.

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
    censorings), numbers at risk, estimate and ``std.err``. With ``entry`` it is R's
    ``survfit(Surv(entry, durations, resolved) ~ 1)``: :math:`n_j` counts the units with
    entry < :math:`t_j` <= exit, the same Greenwood formula applies, and the times listed are
    the exit times. Whole-number durations are counted with one ``bincount``; other durations
    with one ``numpy.unique``.

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
    starts, keep = _validate_entry(entry, times)
    if keep is not None:
        times, events, starts = times[keep], events[keep], starts[keep]
    table = event_table(times, events, entry=starts)
    return SurvivalResult.from_counts(
        table.times, table.n_events[0], table.n_removed[0], table.n_entered[0]
    )


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


def logrank(durations, resolved, groups, *, entry=None) -> LogrankResult:
    """Log-rank test that k >= 2 groups share the same time-to-resolution curve.

    Parameters
    ----------
    durations : array_like of float
        Follow-up times, finite and non-negative.
    resolved : array_like of bool
        True where the duration ends with the event.
    groups : array_like
        Group label of each observation (integers, strings...), at least two distinct values.
    entry : array_like of float, optional
        Delayed entry, as in :func:`kaplan_meier`: each unit counts in the risk sets after its
        entry time only.

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

    With ``entry`` the risk sets :math:`n_{gt}` count only units already entered. R's
    ``survdiff`` refuses such data; the statistic then equals the score test of the Cox model
    with exact discrete ties, ``coxph(Surv(entry, durations, resolved) ~ groups,
    ties = "exact")$score``, which is the same test (it equals ``survdiff`` without entry).

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
    starts, keep = _validate_entry(entry, times)
    if keep is not None:
        times, events, starts = times[keep], events[keep], starts[keep]
        levels, codes = _validate_groups(np.asarray(groups)[keep], times.size)
    if levels.size < 2:
        raise ValueError("`groups` must contain at least two groups.")
    table = event_table(times, events, codes, levels.size, entry=starts)
    n_events, n_removed = table.n_events, table.n_removed
    observed, expected, variance = logrank_components(n_events, n_removed, table.n_entered)
    statistic, dof, pvalue = chi_square_from_components(observed, expected, variance)
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


# --- competing outcomes ------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeInState:
    """Restricted mean time spent in each state up to ``tau`` (R's ``rmean`` per state).

    Attributes
    ----------
    states : tuple of str
        ``"(s0)"`` (no outcome yet, R's name) then the causes ``"1"``, ``"2"``...
    tau : float
    estimate, standard_error : numpy.ndarray
        One per state. For state 0 it is the restricted mean time without any outcome; for a
        cause, the restricted mean time lost to it. They sum to ``tau``.
    """

    states: tuple
    tau: float
    estimate: np.ndarray
    standard_error: np.ndarray

    def __post_init__(self):
        for name in ("estimate", "standard_error"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))


@dataclass(frozen=True)
class CompetingRisksResult:
    """Aalen-Johansen cumulative incidences of competing outcomes; see :func:`aalen_johansen`.

    One column per distinct exit time (event or censoring), as R's multi-state ``survfit``.

    Attributes
    ----------
    causes : numpy.ndarray
        The outcome codes 1, 2, ... (index ``c - 1`` of the per-cause arrays).
    time : numpy.ndarray
        Distinct exit times, increasing (m,).
    n_at_risk : numpy.ndarray
        Units at risk at each time (entered before it, not yet out) (m,).
    n_events : numpy.ndarray
        Outcomes of each cause at each time (n_causes, m).
    n_censored, n_entered : numpy.ndarray
        Censored at each time; joining the risk set in time for each time (m,).
    cumulative_incidence : numpy.ndarray
        :math:`F_c(t)`, the share with outcome c by t (n_causes, m); R's ``pstate[, c + 1]``.
    standard_error : numpy.ndarray
        Infinitesimal-jackknife standard error of :math:`F_c(t)` (R's ``std.err``).
    survival, survival_standard_error : numpy.ndarray
        Probability of no outcome yet, :math:`1 - \\sum_c F_c(t)`, and its standard error.
    patterns : analysis._kernels.CompetingPatterns
        The (entry, exit, cause) count table the standard errors are computed from.
    """

    causes: np.ndarray
    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    n_entered: np.ndarray
    cumulative_incidence: np.ndarray
    standard_error: np.ndarray
    survival: np.ndarray
    survival_standard_error: np.ndarray
    patterns: CompetingPatterns = field(repr=False)

    def __post_init__(self):
        for name in (
            "causes",
            "time",
            "n_at_risk",
            "n_events",
            "n_censored",
            "n_entered",
            "cumulative_incidence",
            "standard_error",
            "survival",
            "survival_standard_error",
        ):
            object.__setattr__(self, name, _read_only(getattr(self, name)))
        object.__setattr__(
            self, "patterns", CompetingPatterns(*(_read_only(a) for a in self.patterns))
        )

    @property
    def n(self) -> int:
        """Number of units."""
        return int(self.n_censored.sum() + self.n_events.sum())

    def _cause_index(self, cause) -> int:
        matches = np.flatnonzero(self.causes == cause) if np.ndim(cause) == 0 else []
        if isinstance(cause, bool) or len(matches) != 1:
            raise ValueError(f"`cause` must be one of {self.causes.tolist()}.")
        return int(matches[0])

    def cumulative_incidence_at(
        self,
        t,
        cause,
        *,
        confidence_level: float = 0.95,
        method: str = "log",
        extend: bool = False,
    ) -> CurveEstimate:
        """:math:`F_c(t)`, the share with outcome ``cause`` by ``t``, with its interval.

        Parameters
        ----------
        t : float or array_like
            Time(s) at which to read the curve (right-continuous step function).
        cause : int
            One of ``causes``.
        confidence_level : float, default 0.95
        method : {"log", "log-log", "plain"}
            Scale of the normal approximation; R's default for multi-state curves is "log":
            :math:`F \\exp(\\pm z\\,\\sigma / F)` capped at 1, with :math:`\\sigma` the
            standard error.
        extend : bool, default False
            After the last observed time, return the last estimate (marked in ``extended``)
            instead of NaN, as R's ``summary(fit, times=t, extend=TRUE)``.

        Returns
        -------
        CurveEstimate
            Floats for a scalar ``t``, arrays otherwise.

        Notes
        -----
        Equals R's ``summary(survfit(Surv(time, factor(state)) ~ 1), times=t)``:
        ``pstate``, ``std.err``, ``lower`` and ``upper`` wherever :math:`0 < F_c(t) < 1`.
        Where :math:`F_c(t) = 0` (no such outcome yet) R prints a zero-width [0, 0] or NA;
        here the interval is Wilson's for "0 of n" with n the number at risk at the next
        observed time (``boundary`` marks it), as :meth:`SurvivalResult.survival_at` does.
        After the last time the curve is unknown unless no one is left without an outcome:
        NaN with a ``RuntimeWarning``, or the last estimate with ``extend=True``.
        """
        level = validate_confidence_level(confidence_level)
        validate_band_method(method)
        column = self._cause_index(cause)
        times = _validate_times(t)
        last = self.time.size - 1
        index = np.searchsorted(self.time, times, side="right") - 1
        started = index >= 0
        safe = np.clip(index, 0, None)
        incidence = np.where(started, self.cumulative_incidence[column, safe], 0.0)
        standard_error = np.where(started, self.standard_error[column, safe], 0.0)
        z = z_value(level)
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = np.where(standard_error == 0, 0.0, standard_error / incidence)
        low, high = confidence_band(incidence, se_log, z, method)
        boundary = (incidence == 0) | (incidence == 1)
        if np.any(boundary):
            full = np.flatnonzero(self.cumulative_incidence[column] == 1)
            n_end = self.n_at_risk[full[0]] if full.size else 0
            n_next = self.n_at_risk[np.minimum(index + 1, last)]
            w_low, w_high = boundary_wilson(incidence, np.where(incidence == 1, n_end, n_next), z)
            low, high = np.where(boundary, w_low, low), np.where(boundary, w_high, high)
        extended = times > self.time[-1]
        beyond = extended & (self.survival[-1] > 0)
        if np.any(beyond) and not extend:
            warnings.warn(
                "`t` is beyond the last follow-up time: the incidence is unknown there (NaN).",
                RuntimeWarning,
                stacklevel=2,
            )
            incidence, standard_error, low, high = (
                np.where(beyond, np.nan, a) for a in (incidence, standard_error, low, high)
            )
        note = f"Aalen-Johansen with infinitesimal-jackknife variance, {method} interval"
        if np.any(boundary):
            note += "; Wilson interval on the risk set where the incidence is 0 or 1"
        return _curve_estimate(
            times, incidence, standard_error, low, high, level, note, extended, boundary
        )

    def time_in_state(self, tau) -> TimeInState:
        """Restricted mean time in each state from 0 to ``tau``, R's ``print(fit, rmean=tau)``.

        Parameters
        ----------
        tau : float
            Horizon, e.g. 90 days.

        Returns
        -------
        TimeInState
            Estimates equal R's ``summary(fit, rmean=tau)$table[, "rmean"]`` and standard
            errors its ``"se(rmean)"`` (printed when the fit has ``influence=TRUE``): the
            infinitesimal jackknife of the area under each state's curve.

        Notes
        -----
        The area is taken from time 0, where every unit is in state 0; after the last time the
        curves are held flat (with a ``RuntimeWarning`` while some units have no outcome).
        """
        horizon = _validate_tau(tau)
        if horizon > self.time[-1] and self.survival[-1] > 0:
            warnings.warn(
                "`tau` is beyond the last follow-up time: the curves are held flat after it.",
                RuntimeWarning,
                stacklevel=2,
            )
        estimate, standard_error = aj_time_in_state(self.patterns, 1, self.causes.size, horizon)
        states = ("(s0)", *(str(c) for c in self.causes.tolist()))
        return TimeInState(states, horizon, estimate[0], standard_error[0])

    def restricted_mean_time_lost(
        self, tau, cause, *, confidence_level: float = 0.95
    ) -> IntervalEstimate:
        """Restricted mean time lost to ``cause`` by ``tau``: the area under :math:`F_c` to tau.

        Parameters
        ----------
        tau : float
            Horizon, e.g. 90 days.
        cause : int
            One of ``causes``.
        confidence_level : float, default 0.95

        Returns
        -------
        IntervalEstimate
            ``estimate +- z * standard_error``; R's ``rmean`` and ``se(rmean)`` of the state.

        Notes
        -----
        :math:`\\int_0^\\tau F_c(u)\\,du = E[\\tau - \\min(T_c^*, \\tau)]`, the mean time within
        ``tau`` spent after outcome c (Andersen 2013). With "resolved" as cause 1,
        ``tau`` minus it is the restricted mean days without resolution.

        References
        ----------
        P. K. Andersen (2013), Decomposition of number of life years lost according to causes
        of death, Statistics in Medicine 32:5278-5285.
        """
        level = validate_confidence_level(confidence_level)
        column = self._cause_index(cause)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = self.time_in_state(tau)
        if result.tau > self.time[-1] and self.survival[-1] > 0:
            warnings.warn(
                "`tau` is beyond the last follow-up time: the curves are held flat after it.",
                RuntimeWarning,
                stacklevel=2,
            )
        estimate = float(result.estimate[column + 1])
        standard_error = float(result.standard_error[column + 1])
        z = z_value(level)
        return IntervalEstimate(
            estimate,
            ConfidenceInterval(estimate - z * standard_error, estimate + z * standard_error),
            standard_error,
            level,
            "restricted mean time lost (area under Aalen-Johansen), infinitesimal jackknife",
        )


def _validate_tau(tau) -> float:
    try:
        horizon = float(tau)
    except (TypeError, ValueError):
        raise ValueError("`tau` must be a non-negative number.") from None
    if not math.isfinite(horizon) or horizon < 0:
        raise ValueError("`tau` must be a non-negative number.")
    return horizon


def _validate_causes(causes, size: int) -> tuple[np.ndarray, int]:
    codes = np.asarray(causes)
    if codes.shape != (size,):
        raise ValueError("`causes` must have the same length as `durations`.")
    if codes.dtype.kind == "b":
        raise ValueError("`causes` must be integers: 0 censored, 1, 2, ... the outcomes.")
    if codes.dtype.kind not in "iu":
        try:
            numeric = codes.astype(float)
        except (TypeError, ValueError):
            raise ValueError(
                "`causes` must be integers: 0 censored, 1, 2, ... the outcomes."
            ) from None
        if not np.all(np.isfinite(numeric)) or np.any(numeric != np.floor(numeric)):
            raise ValueError("`causes` must be integers: 0 censored, 1, 2, ... the outcomes.")
        codes = numeric.astype(np.int64)
    if codes.min() < 0:
        raise ValueError("`causes` must be non-negative: 0 censored, 1, 2, ... the outcomes.")
    n_causes = int(codes.max())
    if n_causes < 1:
        raise ValueError("`causes` must contain at least one outcome (a code of 1 or more).")
    return codes.astype(np.int64, copy=False), n_causes


def aalen_johansen(durations, causes, *, entry=None) -> CompetingRisksResult:
    """Aalen-Johansen cumulative incidence of competing outcomes (e.g. resolved vs gave up).

    Parameters
    ----------
    durations : array_like of float
        Time from start to the outcome or to the end of follow-up, finite and non-negative.
    causes : array_like of int
        0 where the duration is censored, 1, 2, ... the outcome that ended it.
    entry : array_like of float, optional
        Delayed entry, as in :func:`kaplan_meier`: a unit is at risk over (entry, duration];
        units with ``entry >= duration`` are left out with a ``RuntimeWarning`` (R's ``Surv``
        makes them NA).

    Returns
    -------
    CompetingRisksResult
        Its methods ``cumulative_incidence_at``, ``restricted_mean_time_lost`` and
        ``time_in_state`` give estimates with standard errors and intervals.

    Notes
    -----
    With :math:`d_{cj}` outcomes of cause c among :math:`n_j` at risk at time :math:`t_j`,
    :math:`\\hat S(t) = \\prod_{t_j \\le t}(1 - d_j/n_j)` and

    .. math:: \\hat F_c(t) = \\sum_{t_j \\le t} \\hat S(t_{j-1}) \\frac{d_{cj}}{n_j}.

    A Kaplan-Meier "1 - S" that treats the other outcomes as censoring would overstate
    :math:`F_c`: who gave up can no longer be resolved. The standard errors are R's default
    for multi-state curves, the infinitesimal jackknife
    :math:`\\widehat{\\mathrm{Var}}\\,\\hat F_c(t) = \\sum_i U_i(t)^2` with :math:`U_i` the
    derivative of :math:`\\hat F_c(t)` with respect to the weight of unit i (survival 3.x,
    ``survfitCI``, "the variance is computed using the infinitesimal jackknife"); it is computed
    in closed form from a few cumulative sums (``analysis._kernels.aj_from_patterns``). Without
    delayed entry it equals Greenwood's formula for state 0.

    The result equals R's ``survfit(Surv(durations, factor(causes)) ~ 1)`` and, with entry,
    ``survfit(Surv(entry, durations, factor(causes)) ~ 1, id = seq_along(durations))``:
    ``pstate``, ``std.err`` and, for the intervals, ``lower`` / ``upper`` with its default
    ``conf.type = "log"``; ``time_in_state`` is its ``rmean`` and ``se(rmean)``.

    References
    ----------
    O. O. Aalen and S. Johansen (1978), An empirical transition matrix for non-homogeneous
    Markov chains based on censored observations, Scandinavian Journal of Statistics
    5:141-150. T. M. Therneau, Multi-state models and competing risks, vignette of R's
    survival package ("compete").

    Examples
    --------
    Ten incidents: 1 resolved, 2 gave up, 0 still open.

    >>> from analysis.survival import aalen_johansen
    >>> days = [2, 3, 3, 5, 8, 8, 9, 12, 15, 20]
    >>> outcome = [1, 1, 2, 0, 1, 2, 1, 0, 1, 0]
    >>> fit = aalen_johansen(days, outcome)
    >>> fit.cumulative_incidence[0].round(3).tolist()
    [0.1, 0.2, 0.2, 0.317, 0.433, 0.433, 0.608, 0.608]
    >>> at = fit.cumulative_incidence_at(10, cause=1)
    >>> round(at.estimate, 4), round(at.standard_error, 4)
    (0.4333, 0.1648)
    >>> lost = fit.restricted_mean_time_lost(10, cause=1)
    >>> round(lost.estimate, 4), round(lost.standard_error, 4)
    (1.85, 0.9235)

    These are R's ``pstate``, ``std.err`` and ``rmean`` / ``se(rmean)`` from
    ``survfit(Surv(days, factor(outcome)) ~ 1, influence = TRUE)``.
    """
    times = _validate_exit_times(durations)
    codes, n_causes = _validate_causes(causes, times.size)
    starts, keep = _validate_entry(entry, times)
    if keep is not None:
        times, codes, starts = times[keep], codes[keep], starts[keep]
        if codes.max() < 1:
            raise ValueError("`causes` must contain at least one outcome among the units kept.")
    patterns = competing_patterns(times, codes, entry=starts, n_causes=n_causes)
    curves = aj_from_patterns(patterns, 1, n_causes)
    return CompetingRisksResult(
        causes=np.arange(1, n_causes + 1),
        time=curves.time,
        n_at_risk=curves.n_at_risk[0].astype(np.int64),
        n_events=curves.n_events[0].astype(np.int64),
        n_censored=curves.n_censored[0].astype(np.int64),
        n_entered=curves.n_entered[0].astype(np.int64),
        cumulative_incidence=curves.probability[0, 1:],
        standard_error=curves.standard_error[0, 1:],
        survival=curves.probability[0, 0],
        survival_standard_error=curves.standard_error[0, 0],
        patterns=patterns,
    )
