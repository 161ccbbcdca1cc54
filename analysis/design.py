"""The answer to "France or the sector?": effects estimated with companies as the units
(random-effects meta-regression on sector x origin, as R's ``metafor::rma``), direct
standardisation to a common problem mix, weighted and unweighted group figures, and a verdict
in words.

Every function here takes per-company (or per-company x problem type) aggregates; the
per-company estimates themselves come from the survival and proportion modules.

Why companies are the units
---------------------------
Origin (French or foreign) and sector (internet provider or retailer) are properties of
companies, not of responses. Ten thousand responses about Orange tell a great deal about Orange
and nothing more about "French internet providers" than one well-measured company does. Treating
responses as independent units therefore counts the same company many times and makes
differences between origins look far more certain than the number of companies allows. Here each
company contributes one estimate with its standard error; the random-effects model adds the
between-company variance ``tau2`` to each company's sampling variance, and the Knapp-Hartung
t distribution with ``k - p`` degrees of freedom (``k`` companies, ``p`` parameters) keeps the
intervals honest when the companies are few. A comparison resting on fewer than three companies
on one side is reported but marked *not identifiable*: it compares those few companies, it says
nothing about "foreign providers" in general.

Examples
--------
>>> import numpy as np
>>> from analysis.design import meta_regression
>>> fit = meta_regression([0.1, 0.3, 0.2, 0.6, 0.5], [0.1, 0.1, 0.2, 0.2, 0.1],
...                       [0.0, 1.0, 0.0, 1.0, 1.0])
>>> fit.names
('intrcpt', 'x1')
>>> round(float(fit.coefficients[1]), 4), fit.dof
(0.3032, 3.0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd
from scipy import stats

from analysis._kernels import validate_confidence_level
from analysis.proportions import ConfidenceInterval
from survey import i18n

__all__ = [
    "CELLS",
    "DesignAnswer",
    "EFFECTS",
    "METRIC_DESCRIPTIONS",
    "ContrastResult",
    "DesignEffects",
    "Effect",
    "MetaRegressionResult",
    "MetricDescription",
    "StandardisedResult",
    "analyse",
    "design_effects",
    "group_figures",
    "market_weights",
    "meta_regression",
    "standardise",
    "verdict",
]

SECTORS = ("isp", "retailer")
ORIGINS = ("fr", "foreign")
#: the four cells of the design, in the order of the model's treatment coding
CELLS = (("isp", "fr"), ("isp", "foreign"), ("retailer", "fr"), ("retailer", "foreign"))
#: smallest number of companies on each side for a comparison to speak of a group
MIN_COMPANIES = 3

# Each effect is "side a minus side b"; side b is always the story's own group (French
# companies, internet providers), so a negative difference in days means the others resolve
# faster. Weights are over CELLS (isp/fr, isp/foreign, retailer/fr, retailer/foreign).
_EFFECT_WEIGHTS = {
    "origin_within_isp": (-1.0, 1.0, 0.0, 0.0),
    "origin_within_retailer": (0.0, 0.0, -1.0, 1.0),
    "sector_within_fr": (-1.0, 0.0, 1.0, 0.0),
    "sector_within_foreign": (0.0, -1.0, 0.0, 1.0),
    "interaction": (1.0, -1.0, -1.0, 1.0),
}
#: the five effects, in the order of the table and of the verdict
EFFECTS = tuple(_EFFECT_WEIGHTS)
_SIDES = {  # (cells of side a, cells of side b)
    "origin_within_isp": ((1,), (0,)),
    "origin_within_retailer": ((3,), (2,)),
    "sector_within_fr": ((2,), (0,)),
    "sector_within_foreign": ((3,), (1,)),
    "interaction": ((2, 3), (0, 1)),
}
_ORIGIN_EFFECTS = ("origin_within_isp", "origin_within_retailer")
_SECTOR_EFFECTS = ("sector_within_fr", "sector_within_foreign")

TABLE_COLUMNS = (
    "metric", "effect", "estimate", "low", "high", "p_value", "companies_a", "companies_b",
    "identifiable", "tau2", "i2", "method",
)  # fmt: skip

_METHODS = ("REML", "DL")
_TESTS = ("knha", "z")
_THRESHOLD = 1e-5  # metafor's control$threshold: change in tau2 that stops Fisher scoring
_MAXITER = 100  # metafor's control$maxiter
_LL_TOLERANCE = np.finfo(float).eps ** 0.25  # metafor's control$tol for the ll0 check
_EVTOL = 1e-7  # metafor's control$evtol: eigenvalue below which X'X is rank deficient


def _freeze(array) -> np.ndarray:
    array = np.array(array, dtype=float, copy=True)
    array.setflags(write=False)
    return array


# --- meta-regression -----------------------------------------------------------------------


@dataclass(frozen=True)
class ContrastResult:
    """A linear combination ``c' beta`` of a meta-regression's coefficients.

    Attributes
    ----------
    estimate, standard_error, statistic, pvalue : float
        ``c' beta``, ``sqrt(c' V c)``, their ratio and its two-sided p-value (t with ``dof``
        degrees of freedom under Knapp-Hartung, standard normal under ``test="z"``).
    confidence_interval : ConfidenceInterval
        ``estimate -/+ crit * standard_error`` at ``confidence_level``.
    dof : float
        Degrees of freedom of the t distribution (``inf`` for the z test).
    confidence_level : float
    method : str
    """

    estimate: float
    standard_error: float
    statistic: float
    pvalue: float
    confidence_interval: ConfidenceInterval
    dof: float
    confidence_level: float
    method: str


@dataclass(frozen=True)
class MetaRegressionResult:
    """A random-effects meta-regression, as R's ``metafor::rma`` reports it.

    Attributes
    ----------
    names : tuple of str
        Coefficient names: ``"intrcpt"`` then the moderators' names.
    coefficients, standard_errors, statistics, pvalues : ndarray
        ``beta``, ``se``, ``zval`` (t values under Knapp-Hartung) and ``pval`` of ``rma``.
    confidence_interval : ConfidenceInterval
        ``ci.lb`` and ``ci.ub`` (arrays).
    covariance : ndarray
        ``vcov(fit)``: ``s2w (X' W X)^-1`` under Knapp-Hartung.
    tau2, tau2_standard_error : float
        Residual between-study variance and its standard error (``tau2``, ``se.tau2``).
    i2, h2 : float
        Residual heterogeneity: ``I2`` in percent (0-100, as metafor prints it) and ``H2``.
    qe, qe_pvalue, qe_dof : float
        Test of residual heterogeneity (``QE``, ``QEp``; ``k - p`` degrees of freedom).
    qm, qm_pvalue : float
        Omnibus test of the moderators (``QM``, ``QMp``): an F statistic on
        ``(p - 1, k - p)`` degrees of freedom under Knapp-Hartung, chi-square otherwise.
    s2w : float
        The Knapp-Hartung factor (1 under ``test="z"``), not truncated.
    dof : float
        ``k - p`` under Knapp-Hartung, ``inf`` under ``test="z"``.
    k, p : int
        Number of studies (companies) and of coefficients.
    method, test : str
    iterations : int
        Fisher scoring iterations (0 for DL).
    confidence_level : float
    """

    names: tuple[str, ...]
    coefficients: np.ndarray
    standard_errors: np.ndarray
    statistics: np.ndarray
    pvalues: np.ndarray
    confidence_interval: ConfidenceInterval
    covariance: np.ndarray
    tau2: float
    tau2_standard_error: float
    i2: float
    h2: float
    qe: float
    qe_pvalue: float
    qe_dof: float
    qm: float
    qm_pvalue: float
    s2w: float
    dof: float
    k: int
    p: int
    method: str
    test: str
    iterations: int
    confidence_level: float

    def __post_init__(self):
        for name in ("coefficients", "standard_errors", "statistics", "pvalues", "covariance"):
            object.__setattr__(self, name, _freeze(getattr(self, name)))
        low, high = self.confidence_interval
        object.__setattr__(
            self, "confidence_interval", ConfidenceInterval(_freeze(low), _freeze(high))
        )

    def contrast(self, vector, *, confidence_level: float | None = None) -> ContrastResult:
        """The linear combination ``vector' beta`` with its standard error, interval and test.

        Parameters
        ----------
        vector : array_like of length ``p``
            Weights of the coefficients, intercept first (R's ``anova(fit, X=vector)``).
        confidence_level : float, optional
            Defaults to the fit's level.

        Returns
        -------
        ContrastResult
            Same t distribution (``k - p`` degrees of freedom) as the coefficients under
            Knapp-Hartung, as ``predict(fit, newmods=..., intercept=FALSE)`` and
            ``anova(fit, X=...)`` use.

        Examples
        --------
        >>> fit = meta_regression([1.0, 1.2, 2.1, 2.4, 2.0], [0.2, 0.3, 0.2, 0.3, 0.25],
        ...                       [0, 0, 1, 1, 1])
        >>> res = fit.contrast([1, 1])  # the mean of the group with x1 = 1
        >>> round(res.estimate, 4), round(res.standard_error, 4)  # R: predict(fit, newmods=1)
        (2.1333, 0.095)
        """
        level = self.confidence_level if confidence_level is None else _level(confidence_level)
        weights = np.asarray(vector, dtype=float)
        if weights.shape != (self.p,) or not np.all(np.isfinite(weights)):
            raise ValueError(f"`vector` must hold {self.p} finite numbers, one per coefficient.")
        estimate = float(weights @ self.coefficients)
        standard_error = float(math.sqrt(max(weights @ self.covariance @ weights, 0.0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = estimate / standard_error if standard_error > 0 else math.nan
        pvalue, crit = _pvalue_and_crit(statistic, self.dof, level)
        return ContrastResult(
            estimate=estimate,
            standard_error=standard_error,
            statistic=statistic,
            pvalue=pvalue,
            confidence_interval=ConfidenceInterval(
                estimate - crit * standard_error, estimate + crit * standard_error
            ),
            dof=self.dof,
            confidence_level=level,
            method=self.test_description,
        )

    @property
    def test_description(self) -> str:
        """The estimator and the test, in words (``"REML, Knapp-Hartung t(12)"``)."""
        if self.test == "knha":
            return f"{self.method}, Knapp-Hartung t({self.dof:g})"
        return f"{self.method}, z"


def _level(confidence_level) -> float:
    return validate_confidence_level(confidence_level)


def _pvalue_and_crit(statistic, dof: float, level: float):
    statistic = np.asarray(statistic, dtype=float)
    if math.isinf(dof):
        return 2.0 * stats.norm.sf(np.abs(statistic)), float(stats.norm.isf((1 - level) / 2))
    return 2.0 * stats.t.sf(np.abs(statistic), dof), float(stats.t.isf((1 - level) / 2, dof))


def _projection(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``P = W - W X (X' W X)^-1 X' W``, the residual projection metafor iterates on."""
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


def _reml_loglik(y, vi, X, tau2: float) -> float:
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    XWX = X.T @ WX
    beta = np.linalg.solve(XWX, WX.T @ y)
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    k, p = X.shape
    return (
        -0.5 * (k - p) * math.log(2 * math.pi)
        - 0.5 * float(np.sum(np.log(vi + tau2)))
        - 0.5 * float(np.linalg.slogdet(XWX)[1])
        - 0.5 * rss
    )


def _tau2_reml(y, vi, X) -> tuple[float, int, bool]:
    """Fisher scoring for the REML tau2 exactly as ``rma.uni`` 3.8 runs it: Hedges' estimate
    (truncated at 0) as the start, step halving at the bound 0, stop when the change is at most
    1e-5, then metafor's check that tau2 = 0 is not more likely."""
    k, p = X.shape
    ols = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    tau2 = max(0.0, (float(y @ ols @ y) - float(np.sum(np.diag(ols) * vi))) / (k - p))
    change, iterations, converged = _THRESHOLD + 1.0, 0, True
    while change > _THRESHOLD:
        iterations += 1
        previous = tau2
        P = _projection(X, 1.0 / (vi + tau2))
        PP = P @ P
        step = (float(y @ PP @ y) - float(np.trace(P))) / float(np.trace(PP))
        if not math.isfinite(step):
            step = 0.0
        while tau2 + step < 0.0:
            step /= 2.0
        tau2 += step
        change = abs(previous - tau2)
        if iterations > _MAXITER:
            converged = False
            break
    if (
        converged
        and tau2 > _THRESHOLD
        and (_reml_loglik(y, vi, X, 0.0) - _reml_loglik(y, vi, X, tau2) > _LL_TOLERANCE)
    ):
        warnings.warn(
            "Fisher scoring may have stopped at a local maximum; tau2 set to 0 (as metafor).",
            RuntimeWarning,
            stacklevel=3,
        )
        tau2 = 0.0
    return max(0.0, tau2), iterations, converged


def _validate_meta(yi, sei, moderators, method, test, names):
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}.")
    if test not in _TESTS:
        raise ValueError(f"`test` must be one of {_TESTS}.")
    y = np.asarray(yi, dtype=float)
    se = np.asarray(sei, dtype=float)
    if y.ndim != 1 or y.size == 0:
        raise ValueError("`yi` must be a non-empty one-dimensional array.")
    if se.shape != y.shape:
        raise ValueError("`sei` must have the same length as `yi`.")
    if not np.all(np.isfinite(y)):
        raise ValueError("`yi` must be finite.")
    if not np.all(np.isfinite(se)) or np.any(se <= 0):
        raise ValueError("`sei` must be finite and positive.")
    if moderators is None:
        columns, default_names = np.empty((y.size, 0)), ()
    else:
        default_names = ()
        if isinstance(moderators, pd.DataFrame):
            default_names = tuple(str(c) for c in moderators.columns)
            moderators = moderators.to_numpy(dtype=float)
        columns = np.asarray(moderators, dtype=float)
        if columns.ndim == 1:
            columns = columns[:, None]
        if columns.ndim != 2 or columns.shape[0] != y.size:
            raise ValueError("`moderators` must have one row per value of `yi`.")
        if not np.all(np.isfinite(columns)):
            raise ValueError("`moderators` must be finite.")
        if not default_names:
            default_names = tuple(f"x{j + 1}" for j in range(columns.shape[1]))
    if names is not None:
        names = tuple(str(n) for n in names)
        if len(names) != columns.shape[1]:
            raise ValueError("`names` must name every column of `moderators`.")
        default_names = names
    X = np.column_stack([np.ones(y.size), columns])
    k, p = X.shape
    if k <= p:
        raise ValueError(
            f"`yi` holds {k} studies, fewer than the {p} coefficients plus tau2 to estimate."
        )
    if np.any(np.linalg.eigvalsh(X.T @ X) <= _EVTOL):
        raise ValueError("`moderators` are collinear: the model matrix is not of full rank.")
    return y, se, X, ("intrcpt", *default_names)


def meta_regression(
    yi,
    sei,
    moderators=None,
    *,
    method: str = "REML",
    test: str = "knha",
    confidence_level: float = 0.95,
    names: Sequence[str] | None = None,
) -> MetaRegressionResult:
    """Random-effects meta-regression (mixed-effects model) of ``yi`` on ``moderators``.

    Parameters
    ----------
    yi : array_like, shape (k,)
        The observed effects (here: one estimate per company).
    sei : array_like, shape (k,)
        Their standard errors, all positive.
    moderators : array_like, shape (k,) or (k, m), or DataFrame, optional
        The moderators; an intercept is always added (R's ``mods = ~ ...``). None fits the
        intercept-only random-effects model.
    method : {"REML", "DL"}, optional
        Estimator of the residual between-study variance tau2: restricted maximum likelihood by
        Fisher scoring (metafor's default) or DerSimonian-Laird. Both truncated at 0.
    test : {"knha", "z"}, optional
        Knapp-Hartung t tests on ``k - p`` degrees of freedom (default), or Wald z tests.
    confidence_level : float, optional
        Level of the intervals (0.95).
    names : sequence of str, optional
        Names of the moderators (default: the DataFrame's columns, or ``x1``, ``x2``, ...).

    Returns
    -------
    MetaRegressionResult
        Coefficients with standard errors, statistics, p-values and intervals, tau2 and its
        standard error, I2, H2, the QE and QM tests; ``.contrast(vector)`` for any linear
        combination.

    Raises
    ------
    ValueError
        Non-finite or non-positive ``sei``, fewer studies than ``p + 1``, collinear moderators.

    Notes
    -----
    Reproduces ``metafor::rma(yi, sei = sei, mods = ~ ..., method = "REML", test = "knha")``
    (metafor 3.8): with ``w_i = 1 / (se_i^2 + tau2)`` and
    ``P = W - W X (X'WX)^-1 X'W``, Fisher scoring updates
    ``tau2 += (y'PPy - tr P) / tr(PP)`` from Hedges' estimate, halving a step that would go
    below 0, until the change is at most 1e-5 (metafor's ``threshold``), so the estimates agree
    with R to far better than 1e-6. ``beta = (X'WX)^-1 X'W y``; under Knapp-Hartung its
    covariance is ``s2w (X'WX)^-1`` with ``s2w = sum w_i (y_i - x_i' beta)^2 / (k - p)``, not
    truncated at 1 (metafor's ``test = "knha"``; ``"adhoc"`` would truncate). The
    heterogeneity statistics use the fixed-effect weights ``1 / se_i^2``: ``QE = y' P_0 y`` on
    ``k - p`` degrees of freedom, ``I2 = 100 tau2 / (tau2 + s2)`` and ``H2 = 1 + tau2 / s2``
    with the typical variance ``s2 = (k - p) / tr P_0``. ``se(tau2) = sqrt(2 / sum(P * P))``
    for REML. Zero standard errors (which metafor accepts while tau2 > 0) are refused here: a
    company whose estimate has no sampling error is a degenerate aggregate, dealt with by
    :func:`design_effects`.

    References
    ----------
    Viechtbauer W. (2010). Conducting meta-analyses in R with the metafor package. *Journal of
    Statistical Software* 36(3). Knapp G., Hartung J. (2003). Improved tests for a random effects
    meta-regression with a single covariate. *Statistics in Medicine* 22, 2693-2710.

    Examples
    --------
    Colditz et al.'s BCG trials (``metafor::dat.bcg``), log risk ratios on absolute latitude:

    >>> yi = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120,
    ...       -0.4694, -1.3713, -0.3394, 0.4459, -0.0173]
    >>> vi = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564,
    ...       0.0730, 0.0124, 0.5325, 0.0714]
    >>> ablat = [44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33]
    >>> fit = meta_regression(yi, np.sqrt(vi), ablat, names=["ablat"])
    >>> print(np.round(fit.coefficients, 4), round(fit.tau2, 4))
    [ 0.2514 -0.0291] 0.0764
    """
    y, se, X, all_names = _validate_meta(yi, sei, moderators, method, test, names)
    level = _level(confidence_level)
    vi = se**2
    k, p = X.shape
    P0 = _projection(X, 1.0 / vi)
    qe = max(0.0, float(y @ P0 @ y))
    trace0 = float(np.trace(P0))
    if method == "REML":
        tau2, iterations, converged = _tau2_reml(y, vi, X)
        if not converged:
            warnings.warn(
                "Fisher scoring did not converge in 100 iterations; estimates are NaN.",
                RuntimeWarning,
                stacklevel=2,
            )
            tau2 = math.nan
        P = _projection(X, 1.0 / (vi + tau2)) if converged else np.full((k, k), np.nan)
        tau2_se = math.sqrt(2.0 / float(np.sum(P * P)))
    else:
        iterations = 0
        tau2 = max(0.0, (qe - (k - p)) / trace0)
        tau2_se = math.sqrt(
            (2 * (k - p) + 4 * tau2 * trace0 + 2 * tau2**2 * float(np.sum(P0 * P0))) / trace0**2
        )
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    unscaled = np.linalg.inv(X.T @ WX)
    beta = unscaled @ (WX.T @ y)
    if test == "knha":
        rss = float(np.sum(w * (y - X @ beta) ** 2))
        s2w = rss / (k - p) if rss > np.finfo(float).eps else 0.0
        dof = float(k - p)
    else:
        s2w, dof = 1.0, math.inf
    covariance = s2w * unscaled
    standard_errors = np.sqrt(np.diag(covariance))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistics = beta / standard_errors
    pvalues, crit = _pvalue_and_crit(statistics, dof, level)
    typical = (k - p) / trace0
    if p > 1:
        b, V = beta[1:], covariance[1:, 1:]
        try:
            qm = float(b @ np.linalg.solve(V, b))
        except np.linalg.LinAlgError:
            qm = math.nan
        if test == "knha":
            qm /= p - 1
            qm_pvalue = float(stats.f.sf(qm, p - 1, k - p))
        else:
            qm_pvalue = float(stats.chi2.sf(qm, p - 1))
    else:
        qm = qm_pvalue = math.nan
    return MetaRegressionResult(
        names=all_names,
        coefficients=beta,
        standard_errors=standard_errors,
        statistics=statistics,
        pvalues=pvalues,
        confidence_interval=ConfidenceInterval(
            beta - crit * standard_errors, beta + crit * standard_errors
        ),
        covariance=covariance,
        tau2=float(tau2),
        tau2_standard_error=float(tau2_se),
        i2=float(100.0 * tau2 / (typical + tau2)),
        h2=float(tau2 / typical + 1.0),
        qe=qe,
        qe_pvalue=float(stats.chi2.sf(qe, k - p)),
        qe_dof=float(k - p),
        qm=qm,
        qm_pvalue=qm_pvalue,
        s2w=float(s2w),
        dof=dof,
        k=k,
        p=p,
        method=method,
        test=test,
        iterations=iterations,
        confidence_level=level,
    )


# --- the 2x2 design ------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """One comparison of the design, "side a minus side b".

    Attributes
    ----------
    name : str
        One of :data:`EFFECTS`.
    estimate, low, high, standard_error, p_value : float
        The difference, its interval and its test; NaN when not estimable.
    companies_a, companies_b : int
        Companies on each side (for ``interaction``: retailers and internet providers).
    identifiable : bool
        Estimable and at least :data:`MIN_COMPANIES` companies on each side (for the interaction,
        in each of the four cells).
    estimable : bool
        The model could estimate it (every cell it involves holds a company, and the companies
        outnumber the parameters).
    reason : str
        Why it is not estimable or not identifiable, in words; empty otherwise.
    smallest_cell : tuple of str
        The (sector, origin) cell with the fewest companies among those the effect involves.
    """

    name: str
    estimate: float
    low: float
    high: float
    standard_error: float
    p_value: float
    companies_a: int
    companies_b: int
    identifiable: bool
    estimable: bool
    reason: str
    smallest_cell: tuple[str, str]

    @property
    def clear(self) -> bool:
        """Identifiable and its interval excludes 0."""
        return self.identifiable and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class DesignEffects:
    """The five effects of the sector x origin design for one metric.

    Attributes
    ----------
    metric : str
    effects : tuple of Effect
        In the order of :data:`EFFECTS`.
    tau2, i2 : float
        Between-company variance and I2 (percent) of the fitted model; NaN without a fit.
    method : str
        Estimator and test, e.g. ``"REML, Knapp-Hartung t(12)"``.
    cell_counts : dict
        Companies per ``(sector, origin)`` cell, after exclusions.
    excluded : tuple of (company, reason)
        Companies left out (missing estimate, missing or zero standard error).
    model : MetaRegressionResult or None
        The fit (cell-means treatment coding over the non-empty cells), None if not fitted.
    """

    metric: str
    effects: tuple[Effect, ...]
    tau2: float
    i2: float
    method: str
    cell_counts: Mapping[tuple[str, str], int]
    excluded: tuple[tuple[str, str], ...]
    model: MetaRegressionResult | None = field(repr=False)

    def __getitem__(self, name: str) -> Effect:
        for effect in self.effects:
            if effect.name == name:
                return effect
        raise KeyError(name)

    @property
    def table(self) -> pd.DataFrame:
        """The tidy table, one row per effect, columns exactly :data:`TABLE_COLUMNS`."""
        rows = [
            {
                "metric": self.metric,
                "effect": e.name,
                "estimate": e.estimate,
                "low": e.low,
                "high": e.high,
                "p_value": e.p_value,
                "companies_a": e.companies_a,
                "companies_b": e.companies_b,
                "identifiable": e.identifiable,
                "tau2": self.tau2,
                "i2": self.i2,
                "method": self.method,
            }
            for e in self.effects
        ]
        return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


_INPUT_COLUMNS = ("metric", "company", "sector", "origin", "estimate", "standard_error", "n")


def _validate_design_inputs(inputs, metric, method, test, min_companies):
    if not isinstance(inputs, pd.DataFrame):
        raise ValueError("`inputs` must be a DataFrame.")
    missing = [c for c in _INPUT_COLUMNS if c not in inputs.columns]
    if missing:
        raise ValueError(f"`inputs` lacks the columns {missing}.")
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}.")
    if test not in _TESTS:
        raise ValueError(f"`test` must be one of {_TESTS}.")
    if not isinstance(min_companies, int) or min_companies < 1:
        raise ValueError("`min_companies` must be a positive whole number.")
    rows = inputs.loc[inputs["metric"] == metric]
    if rows.empty:
        raise ValueError(f"`metric` {metric!r} has no row in `inputs`.")
    if rows["company"].duplicated().any():
        twice = sorted(rows.loc[rows["company"].duplicated(), "company"].astype(str).unique())
        raise ValueError(f"`inputs` has more than one row for the companies {twice}.")
    bad_sector = sorted(set(rows["sector"].astype(str)) - set(SECTORS))
    if bad_sector:
        raise ValueError(f"`inputs` has sectors {bad_sector}; expected {SECTORS}.")
    bad_origin = sorted(set(rows["origin"].astype(str)) - set(ORIGINS))
    if bad_origin:
        raise ValueError(f"`inputs` has origins {bad_origin}; expected {ORIGINS}.")
    return rows


def design_effects(
    inputs: pd.DataFrame,
    *,
    metric: str,
    method: str = "REML",
    test: str = "knha",
    confidence_level: float = 0.95,
    min_companies: int = MIN_COMPANIES,
) -> DesignEffects:
    """The five sector x origin effects of one metric, with companies as the units.

    Parameters
    ----------
    inputs : DataFrame
        One row per company and metric, columns ``metric, company, sector, origin, estimate,
        standard_error, n``; ``sector`` in ``isp, retailer``, ``origin`` in ``fr, foreign``.
        ``n`` (responses behind the estimate) is carried, not used by the model.
    metric : str
        The metric to analyse (rows of ``inputs`` with this ``metric``).
    method, test, confidence_level
        Passed to :func:`meta_regression` (REML, Knapp-Hartung, 0.95).
    min_companies : int, optional
        Companies needed on each side for an effect to be *identifiable* (3).

    Returns
    -------
    DesignEffects
        ``.effects`` (or ``result["origin_within_isp"]``), ``.table`` (the tidy DataFrame with
        columns ``metric, effect, estimate, low, high, p_value, companies_a, companies_b,
        identifiable, tau2, i2, method``), the fit, the companies left out and why.

    Notes
    -----
    The model is ``rma(estimate, sei = standard_error, mods = ~ sector * origin)`` with French
    internet providers as the reference cell. Every effect is "side a minus side b", side b being
    the story's own group:

    ====================== =================================== ==============================
    effect                 side a - side b                     ``companies_a``, ``_b``
    ====================== =================================== ==============================
    origin_within_isp      foreign ISPs - French ISPs          foreign ISPs, French ISPs
    origin_within_retailer foreign - French retailers          foreign, French retailers
    sector_within_fr       French retailers - French ISPs      French retailers, French ISPs
    sector_within_foreign  foreign retailers - foreign ISPs    foreign retailers, foreign ISPs
    interaction            origin_within_retailer -            retailers, ISPs
                           origin_within_isp
    ====================== =================================== ==============================

    For days without resolution (lower is better) a negative origin effect means the foreign
    companies do better than the French ones; :func:`verdict` puts the direction into words.

    A company with no estimate or with a missing or zero standard error is left out (listed in
    ``excluded``, with a ``RuntimeWarning``): a zero standard error comes from a degenerate
    aggregate (every response alike) and would get infinite weight. A cell with no company
    makes the effects involving it not estimable (NaN); the others are estimated from the model
    over the non-empty cells (the same fit restricted to them). With no more companies than
    cells the model is not fitted and every effect is NaN. The five p-values are not adjusted
    for multiplicity.

    Examples
    --------
    >>> import pandas as pd
    >>> inputs = pd.DataFrame({
    ...     "metric": "resolution_unresolved90_days",
    ...     "company": list("abcdefghijkl"),
    ...     "sector": ["isp"] * 6 + ["retailer"] * 6,
    ...     "origin": ["fr", "fr", "fr", "foreign", "foreign", "foreign"] * 2,
    ...     "estimate": [50., 47, 53, 44, 46, 49, 25, 28, 22, 20, 24, 27],
    ...     "standard_error": [2., 3, 2, 3, 2, 4, 2, 2, 3, 3, 2, 2],
    ...     "n": 100})
    >>> res = design_effects(inputs, metric="resolution_unresolved90_days")
    >>> effect = res["sector_within_fr"]
    >>> round(effect.estimate, 2), effect.companies_a, effect.companies_b, effect.identifiable
    (-25.0, 3, 3, True)
    >>> list(res.table.columns)[:4]
    ['metric', 'effect', 'estimate', 'low']
    """
    rows = _validate_design_inputs(inputs, metric, method, test, min_companies)
    level = _level(confidence_level)
    estimate = pd.to_numeric(rows["estimate"], errors="coerce").to_numpy(dtype=float)
    standard_error = pd.to_numeric(rows["standard_error"], errors="coerce").to_numpy(dtype=float)
    companies = rows["company"].astype(str).to_numpy()
    no_estimate = ~np.isfinite(estimate)
    no_se = ~no_estimate & ~(np.isfinite(standard_error) & (standard_error > 0))
    excluded = tuple(
        [(c, "no estimate") for c in companies[no_estimate]]
        + [(c, "missing or zero standard error") for c in companies[no_se]]
    )
    if excluded:
        warnings.warn(
            f"{len(excluded)} companies left out of the design: "
            + ", ".join(f"{c} ({why})" for c, why in excluded),
            RuntimeWarning,
            stacklevel=2,
        )
    keep = ~(no_estimate | no_se)
    y, se = estimate[keep], standard_error[keep]
    cell_codes = (
        pd.Series(list(zip(rows["sector"].astype(str), rows["origin"].astype(str), strict=True)))[
            keep
        ]
        .map({cell: i for i, cell in enumerate(CELLS)})
        .to_numpy()
    )
    counts = np.bincount(cell_codes, minlength=len(CELLS))
    present = np.flatnonzero(counts > 0)

    model, reason_all = None, ""
    if present.size == 0:
        reason_all = "no company has an estimate"
    elif y.size <= present.size:
        reason_all = (
            f"{y.size} companies for {present.size} cell means and tau2: "
            "fewer companies than parameters"
        )
    else:
        # treatment coding over the non-empty cells: the first present cell (French ISPs when
        # there are some) is the intercept; with all four cells this spans the same space as
        # R's ~ sector * origin, so tau2 and every contrast are the same.
        indicators = (cell_codes[:, None] == present[None, 1:]).astype(float)
        model = meta_regression(
            y, se, indicators, method=method, test=test, confidence_level=level,
            names=[f"{CELLS[c][0]}:{CELLS[c][1]}" for c in present[1:]],
        )  # fmt: skip
        # each cell mean as a combination of the coefficients (rows: CELLS)
        cell_rows = np.zeros((len(CELLS), present.size))
        cell_rows[present, 0] = 1.0
        cell_rows[present[1:], np.arange(1, present.size)] = 1.0

    effects = []
    for name in EFFECTS:
        weights = np.asarray(_EFFECT_WEIGHTS[name])
        cells_used = np.flatnonzero(weights)
        side_a, side_b = _SIDES[name]
        n_a, n_b = int(counts[list(side_a)].sum()), int(counts[list(side_b)].sum())
        smallest = int(cells_used[np.argmin(counts[cells_used])])
        empty = [CELLS[c] for c in cells_used if counts[c] == 0]
        reason = (
            ("no company in " + ", ".join(f"{s}/{o}" for s, o in empty)) if empty else reason_all
        )
        if reason:
            effects.append(
                Effect(name, *(math.nan,) * 5, n_a, n_b, False, False, reason, CELLS[smallest])
            )
            continue
        res = model.contrast(weights @ cell_rows)
        few = counts[smallest] < min_companies
        effects.append(
            Effect(
                name=name,
                estimate=res.estimate,
                low=float(res.confidence_interval.low),
                high=float(res.confidence_interval.high),
                standard_error=res.standard_error,
                p_value=float(res.pvalue),
                companies_a=n_a,
                companies_b=n_b,
                identifiable=not few,
                estimable=True,
                reason=(
                    f"{int(counts[smallest])} companies in {'/'.join(CELLS[smallest])}, "
                    f"fewer than {min_companies}"
                    if few
                    else ""
                ),
                smallest_cell=CELLS[smallest],
            )
        )
    return DesignEffects(
        metric=metric,
        effects=tuple(effects),
        tau2=model.tau2 if model else math.nan,
        i2=model.i2 if model else math.nan,
        method=model.test_description if model else f"{method}, not fitted",
        cell_counts={cell: int(counts[i]) for i, cell in enumerate(CELLS)},
        excluded=excluded,
        model=model,
    )


# --- standardisation to a common problem mix ------------------------------------------------

_CELL_COLUMNS = ("company", "sector", "problem", "estimate", "standard_error", "n")
_MISSING = ("drop", "renormalise")


@dataclass(frozen=True)
class StandardisedResult:
    """Per-company figures directly standardised to one mix of problem types.

    Attributes
    ----------
    shared_types : tuple of str
        The problem types used (met in both sectors, or as given).
    weights : dict
        The common mix: the pooled share of each shared type among all companies' responses
        in the shared types (sums to 1).
    dropped : tuple of (company, missing types)
        Companies left out because a shared type had no usable estimate (``missing="drop"``).
    missing : str
        How a company lacking a shared type was handled.
    """

    shared_types: tuple[str, ...]
    weights: Mapping[str, float]
    dropped: tuple[tuple[str, tuple[str, ...]], ...]
    missing: str
    frame: pd.DataFrame = field(repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """One row per company kept: its passed-through columns (``metric``, ``origin`` when
        given), ``company, sector, estimate, standard_error, n`` (responses in the shared
        types), ``coverage`` (their share of the company's responses), ``types_used``
        ("|"-joined) and ``complete`` (every shared type present). Ready for
        :func:`design_effects`. A fresh copy at each call."""
        return self.frame.copy()


def _validate_cells(cells, shared_types, missing):
    if not isinstance(cells, pd.DataFrame):
        raise ValueError("`cells` must be a DataFrame.")
    absent = [c for c in _CELL_COLUMNS if c not in cells.columns]
    if absent:
        raise ValueError(f"`cells` lacks the columns {absent}.")
    if missing not in _MISSING:
        raise ValueError(f"`missing` must be one of {_MISSING}.")
    if "metric" in cells.columns and cells["metric"].nunique() > 1:
        raise ValueError("`cells` holds several metrics; pass the rows of one metric.")
    if cells.duplicated(["company", "problem"]).any():
        raise ValueError("`cells` has more than one row for a company and problem type.")
    per_company = cells.groupby("company")["sector"].nunique()
    if (per_company > 1).any():
        raise ValueError("`cells` gives some companies more than one sector.")
    bad_sector = sorted(set(cells["sector"].astype(str)) - set(SECTORS))
    if bad_sector:
        raise ValueError(f"`cells` has sectors {bad_sector}; expected {SECTORS}.")
    n = pd.to_numeric(cells["n"], errors="coerce")
    if n.isna().any() or (n < 0).any():
        raise ValueError("`cells` column `n` must hold non-negative counts.")
    if shared_types is not None:
        if isinstance(shared_types, str):
            raise ValueError("`shared_types` must be a sequence of problem types, not a string.")
        shared_types = tuple(str(t) for t in shared_types)
        unknown = sorted(set(shared_types) - set(cells["problem"].astype(str)))
        if not shared_types or unknown:
            raise ValueError(
                f"`shared_types` must be problem types of `cells`; unknown: {unknown}."
            )
    return shared_types


def standardise(
    cells: pd.DataFrame, *, shared_types: Sequence[str] | None = None, missing: str = "drop"
) -> StandardisedResult:
    """Directly standardise each company's figure to the common mix of shared problem types.

    Parameters
    ----------
    cells : DataFrame
        One row per company x problem type, columns ``company, sector, problem, estimate,
        standard_error, n`` (``metric`` and ``origin`` are carried through when present).
    shared_types : sequence of str, optional
        The problem types to standardise over. Default: the types with a usable estimate in
        at least one internet provider and at least one retailer.
    missing : {"drop", "renormalise"}, optional
        A company with no usable estimate (``n == 0``, NaN estimate or standard error, or no
        row) for some shared type is dropped (default; listed in ``dropped``), or kept with the
        weights of the types it has, renormalised to 1 (``complete`` is then False and its
        figure no longer refers to the common mix).

    Returns
    -------
    StandardisedResult
        ``.table`` per company, ``.weights``, ``.shared_types``, ``.dropped``.

    Notes
    -----
    With ``w_t = sum_c n_ct / sum_c sum_s n_cs`` over the shared types ``s`` (all companies
    pooled), company ``c``'s standardised figure is ``sum_t w_t y_ct`` with standard error
    ``sqrt(sum_t w_t^2 se_ct^2)``: its strata rest on disjoint responses, hence independent.
    Standardisation removes the part of a sector gap due to a different mix of problem types,
    and only within the types both sectors meet; sector and problem type are nearly collinear
    (outages are an internet matter, lost parcels a retail one), so the shared types cover a
    minority of responses (``coverage``), and what standardisation cannot do is say how the
    sectors would compare on the types only one of them meets. Nor does it adjust for anything
    other than the problem type.

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({
    ...     "company": ["a", "a", "a", "b", "b", "b"],
    ...     "sector": ["isp"] * 3 + ["retailer"] * 3,
    ...     "problem": ["billing", "cancellation", "outage", "billing", "cancellation", "delivery"],
    ...     "estimate": [30.0, 40.0, 60.0, 20.0, 10.0, 15.0],
    ...     "standard_error": [3.0, 4.0, 2.0, 2.0, 1.0, 1.0],
    ...     "n": [10, 30, 60, 30, 30, 40]})
    >>> res = standardise(cells)
    >>> res.shared_types, {t: round(w, 3) for t, w in res.weights.items()}
    (('billing', 'cancellation'), {'billing': 0.4, 'cancellation': 0.6})
    >>> res.table[["company", "estimate", "coverage"]].round(2).to_numpy().tolist()
    [['a', 36.0, 0.4], ['b', 14.0, 0.6]]
    """
    shared_given = _validate_cells(cells, shared_types, missing)
    frame = cells.assign(
        company=cells["company"].astype(str),
        problem=cells["problem"].astype(str),
        estimate=pd.to_numeric(cells["estimate"], errors="coerce"),
        standard_error=pd.to_numeric(cells["standard_error"], errors="coerce"),
        n=pd.to_numeric(cells["n"]),
    )
    usable = (
        (frame["n"] > 0)
        & np.isfinite(frame["estimate"])
        & np.isfinite(frame["standard_error"])
        & (frame["standard_error"] >= 0)
    )
    if shared_given is None:
        met = frame.loc[usable, ["problem", "sector"]].drop_duplicates()["problem"].value_counts()
        shared = tuple(sorted(met.index[met == len(SECTORS)]))
        if not shared:
            raise ValueError("`cells` has no problem type met by both sectors: nothing to share.")
    else:
        shared = shared_given
    company_codes, company_names = pd.factorize(frame["company"])
    first_rows = np.unique(company_codes, return_index=True)[1]
    first = frame.iloc[first_rows]
    type_codes = frame["problem"].map({t: i for i, t in enumerate(shared)}).to_numpy(dtype=float)
    in_shared = usable.to_numpy() & np.isfinite(type_codes)
    rows_c, rows_t = company_codes[in_shared], type_codes[in_shared].astype(int)
    shape = (len(company_names), len(shared))
    n_ct, estimate, se = np.zeros(shape), np.full(shape, np.nan), np.full(shape, np.nan)
    present = np.zeros(shape, dtype=bool)
    n_ct[rows_c, rows_t] = frame["n"].to_numpy(dtype=float)[in_shared]
    estimate[rows_c, rows_t] = frame["estimate"].to_numpy(dtype=float)[in_shared]
    se[rows_c, rows_t] = frame["standard_error"].to_numpy(dtype=float)[in_shared]
    present[rows_c, rows_t] = True
    pooled = n_ct.sum(axis=0)
    if pooled.sum() <= 0:
        raise ValueError("`cells` has no response in the shared problem types.")
    weights = pooled / pooled.sum()
    complete = present.all(axis=1)
    w_ct = present * weights[None, :]
    if missing == "renormalise":
        with np.errstate(invalid="ignore", divide="ignore"):
            w_ct = w_ct / w_ct.sum(axis=1, keepdims=True)
        keep = present.any(axis=1)
    else:
        keep = complete
    standardised = np.nansum(w_ct * estimate, axis=1)
    standard_error = np.sqrt(np.nansum(w_ct**2 * se**2, axis=1))
    n_shared = n_ct.sum(axis=1)
    total_n = np.bincount(company_codes, weights=frame["n"].to_numpy(dtype=float))
    shared_arr = np.array(shared, dtype=object)
    types_used = ["|".join(shared_arr[row]) for row in present]  # one per company
    out = pd.DataFrame(
        {
            "company": np.asarray(company_names, dtype=object),
            "sector": first["sector"].astype(str).to_numpy(),
            "estimate": standardised,
            "standard_error": standard_error,
            "n": n_shared.astype(int),
            "coverage": n_shared / total_n,
            "types_used": types_used,
            "complete": complete,
        }
    )
    for carried in ("origin", "metric"):
        if carried in first.columns:
            out.insert(0 if carried == "metric" else 2, carried, first[carried].to_numpy())
    dropped = tuple(
        (str(company), tuple(shared_arr[~row]))
        for company, row, kept in zip(company_names, present, keep, strict=True)
        if not kept
    )
    return StandardisedResult(
        shared_types=shared,
        weights={t: float(w) for t, w in zip(shared, weights, strict=True)},
        dropped=dropped,
        missing=missing,
        frame=out.loc[keep].reset_index(drop=True),
    )


# --- market weights and group figures -------------------------------------------------------


def market_weights(*, metric: str = "fixed_broadband_subscribers") -> pd.DataFrame:
    """Each listed company's market figure as a weight, with its source and date.

    Parameters
    ----------
    metric : str, optional
        The figure of ``survey/reference/market_figures.csv`` to weight by (fixed broadband
        subscribers, in millions, by default).

    Returns
    -------
    DataFrame
        One row per company of ``companies.csv``: ``company, name, group, sector, origin,
        weight`` (NaN when the file has no figure), ``unit, as_of, source`` and ``note``
        (why a figure is missing).

    Notes
    -----
    The reference file holds Arcep's fixed broadband figures for Orange, Free, SFR and Bouygues
    Télécom at the end of 2021 (and a national total, which weights no company). Sub-brands
    (Sosh, RED by SFR, B&You) have no figure of their own; the operator figure may include
    them, so they are not given their group's figure (that would count those subscribers
    twice). Mobile-only providers and retailers have no figure: their groups have no weighted
    mean.

    Examples
    --------
    >>> weights = market_weights()
    >>> orange = weights.set_index("company").loc["orange"]
    >>> float(orange["weight"]), orange["unit"], orange["as_of"]
    (12.5, 'million', '2021-12-31')
    >>> int(weights["weight"].notna().sum())
    4
    """
    folder = resources.files("survey") / "reference"
    with (folder / "companies.csv").open(encoding="utf-8") as handle:
        companies = pd.read_csv(handle, dtype=str, keep_default_na=False)
    with (folder / "market_figures.csv").open(encoding="utf-8") as handle:
        figures = pd.read_csv(handle, dtype={"company": str, "as_of": str})
    if metric not in set(figures["metric"]):
        raise ValueError(f"`metric` {metric!r} is not in market_figures.csv.")
    figures = figures.loc[(figures["metric"] == metric) & figures["company"].notna()]
    out = companies[["id", "name", "group", "sector", "origin"]].rename(columns={"id": "company"})
    out = out.merge(
        figures[["company", "value", "unit", "as_of", "source"]], on="company", how="left"
    ).rename(columns={"value": "weight"})
    group_figure = out.loc[out["weight"].notna()].set_index("group")["name"].to_dict()
    has_group = out["group"].map(group_figure)
    out["note"] = np.where(
        out["weight"].notna(),
        "",
        np.where(
            has_group.notna() & out["weight"].isna(),
            "no figure of its own; the group's figure ("
            + has_group.fillna("")
            + ") may include it",
            f"no {metric} figure in market_figures.csv",
        ),
    )
    return out


def _weights_map(weights) -> pd.Series:
    if isinstance(weights, pd.DataFrame):
        if not {"company", "weight"} <= set(weights.columns):
            raise ValueError("`weights` as a DataFrame needs the columns `company` and `weight`.")
        series = weights.set_index(weights["company"].astype(str))["weight"]
    elif isinstance(weights, pd.Series):
        series = weights.copy()
        series.index = series.index.astype(str)
    elif isinstance(weights, Mapping):
        series = pd.Series(dict(weights), dtype=float)
        series.index = series.index.astype(str)
    else:
        raise ValueError("`weights` must be a mapping, a Series or a DataFrame of company weights.")
    series = pd.to_numeric(series, errors="coerce").astype(float)
    if series.index.duplicated().any():
        raise ValueError("`weights` gives some companies more than one weight.")
    if (series < 0).any() or np.isinf(series).any():
        raise ValueError("`weights` must be finite and non-negative (NaN for no weight).")
    return series


def group_figures(
    inputs: pd.DataFrame,
    weights,
    *,
    metric: str | None = None,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """For each sector x origin group, the unweighted and the market-weighted mean figure.

    Parameters
    ----------
    inputs : DataFrame
        One row per company, as for :func:`design_effects` (``company, sector, origin,
        estimate, standard_error``; ``metric`` selects the rows when given).
    weights : mapping, Series or DataFrame
        Company -> weight (e.g. subscribers), or :func:`market_weights`'s table. A company
        absent or with a NaN weight has no weight.
    metric : str, optional
        The metric to keep when ``inputs`` holds several.
    confidence_level : float, optional
        Level of the normal intervals (0.95).

    Returns
    -------
    DataFrame
        One row per non-empty group: ``sector, origin, companies``, ``unweighted_mean``,
        ``unweighted_se``, ``unweighted_low``, ``unweighted_high``, ``companies_weighted``,
        ``weighted_mean``, ``weighted_se``, ``weighted_low``, ``weighted_high``,
        ``weight_total`` and ``without_weight`` (the companies left out of the weighted mean,
        "|"-joined).

    Notes
    -----
    The unweighted mean gives each company the same say: it describes *companies*. The
    weighted mean ``sum w_i y_i / sum w_i`` describes *customers*: what a subscriber of the
    group meets on average. Both are figures about the listed companies themselves (a finite,
    named population), so their standard errors carry the sampling error of each company's
    estimate only: ``sqrt(sum se_i^2) / m`` and ``sqrt(sum w_i^2 se_i^2) / sum w_i``. A
    random-effects standard error (adding ``tau2``) would answer another question, about
    companies *like* these; that question is the meta-regression's (:func:`design_effects`), so
    it is not repeated here. A group whose companies have no weight has NaN weighted figures.

    Examples
    --------
    >>> import pandas as pd
    >>> inputs = pd.DataFrame({"company": ["orange", "free", "sosh"], "sector": "isp",
    ...                        "origin": "fr", "estimate": [40.0, 30.0, 50.0],
    ...                        "standard_error": [2.0, 3.0, 4.0]})
    >>> row = group_figures(inputs, {"orange": 3.0, "free": 1.0}).iloc[0]
    >>> float(row.unweighted_mean), float(row.weighted_mean), row.without_weight
    (40.0, 37.5, 'sosh')
    """
    if not isinstance(inputs, pd.DataFrame):
        raise ValueError("`inputs` must be a DataFrame.")
    needed = ("company", "sector", "origin", "estimate", "standard_error")
    absent = [c for c in needed if c not in inputs.columns]
    if absent:
        raise ValueError(f"`inputs` lacks the columns {absent}.")
    rows = inputs
    if metric is not None:
        if "metric" not in inputs.columns:
            raise ValueError("`metric` given but `inputs` has no `metric` column.")
        rows = inputs.loc[inputs["metric"] == metric]
        if rows.empty:
            raise ValueError(f"`metric` {metric!r} has no row in `inputs`.")
    elif "metric" in inputs.columns and inputs["metric"].nunique() > 1:
        raise ValueError("`inputs` holds several metrics: choose one with `metric`.")
    if rows["company"].duplicated().any():
        raise ValueError("`inputs` has more than one row for some companies.")
    level = _level(confidence_level)
    z = float(stats.norm.isf((1 - level) / 2))
    weight = _weights_map(weights)
    sector = rows["sector"].astype(str).to_numpy()
    origin = rows["origin"].astype(str).to_numpy()
    cell_index = {cell: i for i, cell in enumerate(CELLS)}
    codes = np.array([cell_index.get(cell, -1) for cell in zip(sector, origin, strict=True)])
    if np.any(codes < 0):
        raise ValueError(f"`inputs` must have sectors in {SECTORS} and origins in {ORIGINS}.")
    company = rows["company"].astype(str).to_numpy()
    y = pd.to_numeric(rows["estimate"], errors="coerce").to_numpy(dtype=float)
    se = pd.to_numeric(rows["standard_error"], errors="coerce").to_numpy(dtype=float)
    w = pd.Series(company).map(weight).to_numpy(dtype=float)
    weighted = np.isfinite(w) & (w > 0)
    w = np.where(weighted, w, 0.0)

    def per_cell(values):
        return np.bincount(codes, weights=values, minlength=len(CELLS))

    count = np.bincount(codes, minlength=len(CELLS))
    count_weighted = np.bincount(codes[weighted], minlength=len(CELLS))
    weight_total = per_cell(w)
    with np.errstate(invalid="ignore", divide="ignore"):
        unweighted_mean = per_cell(y) / count
        unweighted_se = np.sqrt(per_cell(se**2)) / count
        weighted_mean = per_cell(np.where(weighted, w * y, 0.0)) / weight_total
        weighted_se = np.sqrt(per_cell(np.where(weighted, (w * se) ** 2, 0.0))) / weight_total
    weighted_mean = np.where(count_weighted > 0, weighted_mean, np.nan)
    weighted_se = np.where(count_weighted > 0, weighted_se, np.nan)
    without = [
        "|".join(company[(codes == i) & ~weighted]) for i in range(len(CELLS))
    ]  # four cells, not a loop over responses
    out = pd.DataFrame(
        {
            "sector": [s for s, _ in CELLS],
            "origin": [o for _, o in CELLS],
            "companies": count,
            "unweighted_mean": unweighted_mean,
            "unweighted_se": unweighted_se,
            "unweighted_low": unweighted_mean - z * unweighted_se,
            "unweighted_high": unweighted_mean + z * unweighted_se,
            "companies_weighted": count_weighted,
            "weighted_mean": weighted_mean,
            "weighted_se": weighted_se,
            "weighted_low": weighted_mean - z * weighted_se,
            "weighted_high": weighted_mean + z * weighted_se,
            "weight_total": weight_total,
            "without_weight": without,
        }
    )
    return out.loc[count > 0].reset_index(drop=True)


# --- the verdict in words -------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDescription:
    """What :func:`verdict` needs to know of a metric.

    Attributes
    ----------
    lower_is_better : bool
        Direction of the metric (days without resolution: lower is better).
    unit : str
        ``"days"`` or ``"points"`` (percentage points): the message ``design.unit.<unit>``.
    scale : float
        Multiplies an estimate before it is written (100 turns a share into points).
    digits : int
        Decimals written.
    verbs : str
        The messages ``design.verb.<verbs>.better``, ``.worse`` and ``.same``.
    """

    lower_is_better: bool
    unit: str
    scale: float
    digits: int
    verbs: str


#: the metrics the verdict can describe; the metric catalogue may later provide this
METRIC_DESCRIPTIONS = {
    "resolution_unresolved90_days": MetricDescription(True, "days", 1.0, 1, "resolution"),
    "resolved_within_30d_share": MetricDescription(False, "points", 100.0, 1, "resolved_30d"),
    "refund_success_share": MetricDescription(False, "points", 100.0, 1, "refund"),
}


def _effects_from_table(table: pd.DataFrame) -> tuple[str, list[Effect], dict]:
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"`effects` lacks the columns {missing}.")
    if table["metric"].nunique() != 1:
        raise ValueError("`effects` must hold the effects of one metric.")
    if sorted(table["effect"]) != sorted(EFFECTS):
        raise ValueError(f"`effects` must hold exactly the effects {EFFECTS}.")
    by_name = table.set_index("effect")
    counts = {  # the four cells, read back from the origin effects' sides
        ("isp", "foreign"): int(by_name.at["origin_within_isp", "companies_a"]),
        ("isp", "fr"): int(by_name.at["origin_within_isp", "companies_b"]),
        ("retailer", "foreign"): int(by_name.at["origin_within_retailer", "companies_a"]),
        ("retailer", "fr"): int(by_name.at["origin_within_retailer", "companies_b"]),
    }
    effects = []
    for name in EFFECTS:
        row = by_name.loc[name]
        used = [CELLS[i] for i in np.flatnonzero(_EFFECT_WEIGHTS[name])]
        smallest = min(used, key=lambda cell: counts[cell])
        estimable = bool(np.isfinite(float(row["estimate"])))
        effects.append(
            Effect(
                name=name,
                estimate=float(row["estimate"]),
                low=float(row["low"]),
                high=float(row["high"]),
                standard_error=math.nan,
                p_value=float(row["p_value"]),
                companies_a=int(row["companies_a"]),
                companies_b=int(row["companies_b"]),
                identifiable=bool(row["identifiable"]) and estimable,
                estimable=estimable,
                reason="",
                smallest_cell=smallest,
            )
        )
    return str(table["metric"].iloc[0]), effects, counts


def _effect_sentence(effect: Effect, counts, description, locale) -> str:
    key = f"design.effect.{effect.name}"
    if not effect.estimable:
        empty = [
            cell
            for cell in CELLS
            if counts[cell] == 0 and _EFFECT_WEIGHTS[effect.name][CELLS.index(cell)]
        ]
        context = i18n.t(f"{key}.context", locale)
        if empty:
            group = i18n.t(f"design.group.{empty[0][0]}_{empty[0][1]}", locale)
            return i18n.t("design.sentence.empty_cell", locale, context=context, group=group)
        return i18n.t(
            "design.sentence.not_estimable", locale, context=context,
            companies=i18n.integer(sum(counts.values()), locale),
        )  # fmt: skip
    sign = 0 if effect.estimate == 0 else (1 if effect.estimate > 0 else -1)
    better = sign < 0 if description.lower_is_better else sign > 0
    direction = "same" if sign == 0 else ("better" if better else "worse")
    verb_key = (
        "design.interaction" if effect.name == "interaction" else f"design.verb.{description.verbs}"
    )
    compare = i18n.t(
        f"{key}.compare", locale, verb=i18n.t(f"{verb_key}.{direction}", locale),
        n_a=i18n.integer(effect.companies_a, locale), n_b=i18n.integer(effect.companies_b, locale),
    )  # fmt: skip

    def written(value):
        return i18n.number(value * description.scale, locale, digits=description.digits)

    figures = i18n.t(
        "design.figures", locale, estimate=written(effect.estimate), low=written(effect.low),
        high=written(effect.high), unit=i18n.t(f"design.unit.{description.unit}", locale),
    )  # fmt: skip
    if not effect.identifiable:
        few = i18n.plural(counts[effect.smallest_cell], "design.few", locale)
        group = i18n.t(f"design.group.{effect.smallest_cell[0]}_{effect.smallest_cell[1]}", locale)
        return i18n.t(
            "design.sentence.not_identifiable", locale, compare=compare, few=few, group=group,
            figures=figures,
        )  # fmt: skip
    if effect.clear:
        return i18n.t("design.sentence.clear", locale, compare=compare, figures=figures)
    return i18n.t("design.sentence.unclear", locale, compare=compare, figures=figures)


def _closing(effects: Mapping[str, Effect]) -> str:
    def status(names):
        chosen = [effects[n] for n in names]
        if any(e.clear for e in chosen):
            return "clear"
        return "unclear" if any(e.identifiable for e in chosen) else "not_identifiable"

    origin, sector = status(_ORIGIN_EFFECTS), status(_SECTOR_EFFECTS)
    if origin == "not_identifiable" and sector == "not_identifiable":
        return "not_identifiable"
    if origin == "clear" and sector == "clear":
        return "both"
    if sector == "clear":
        return "sector" if origin == "unclear" else "sector_only"
    if origin == "clear":
        return "country" if sector == "unclear" else "country_only"
    return "cannot_tell"


def verdict(
    effects,
    *,
    locale: str,
    metric_description: MetricDescription | None = None,
) -> list[str]:
    """The answer in words: one sentence per effect and a closing sentence.

    Parameters
    ----------
    effects : DesignEffects or DataFrame
        The result of :func:`design_effects`, or its ``.table`` (one metric).
    locale : {"fr", "en"}
        Language of the sentences (figures written by :func:`survey.i18n.number`).
    metric_description : MetricDescription, optional
        Direction, unit and words of the metric; default from :data:`METRIC_DESCRIPTIONS`.

    Returns
    -------
    list of str
        Five sentences (in the order of :data:`EFFECTS`), one naming the companies left out
        when there are some, and the closing sentence.

    Notes
    -----
    Each sentence names the comparison, the direction (from the metric's direction), the
    difference "side a minus side b" with its 95% interval, and the companies on each side. It
    says the survey cannot tell when the interval includes 0, and that the companies are too
    few when the smallest group involved holds fewer than three (not identifiable), whatever
    the interval. The closing sentence weighs the *clear* effects (identifiable, interval
    excluding 0): an origin effect clear in either sector points to the country, a sector effect
    clear among French or foreign companies to the sector; both, either, or neither ("cannot
    tell"); when no effect on one side is identifiable the sentence says the companies are too
    few to judge that side. The intervals are not adjusted for the four comparisons.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "metric": "resolution_unresolved90_days", "effect": list(EFFECTS),
    ...     "estimate": [2.4, -3.0, -20.0, -18.0, -5.4], "low": [-65.0, -9.0, -27.0, -30.0, -60.0],
    ...     "high": [60.0, 3.0, -13.0, -6.0, 50.0], "p_value": [0.9, 0.3, 0.001, 0.01, 0.8],
    ...     "companies_a": [2, 3, 3, 3, 6], "companies_b": [8, 3, 8, 2, 10],
    ...     "identifiable": [False, True, True, False, False], "tau2": 4.0, "i2": 50.0,
    ...     "method": "REML, Knapp-Hartung t(12)"})
    >>> sentences = verdict(table, locale="en")
    >>> print(sentences[0])
    Among internet providers, the foreign companies (2) resolve more slowly than the French ones (8), but 2 companies are too few to speak of foreign internet providers (difference 2.4 days, 95% interval −65.0 to 60.0).
    >>> print(sentences[-1])
    Taken together, the data point to the sector rather than the country.
    """
    if locale not in i18n.LOCALES:
        raise ValueError(f"`locale` must be one of {i18n.LOCALES}.")
    excluded: tuple = ()
    if isinstance(effects, DesignEffects):
        metric, listed, counts = effects.metric, list(effects.effects), dict(effects.cell_counts)
        excluded = effects.excluded
    elif isinstance(effects, pd.DataFrame):
        metric, listed, counts = _effects_from_table(effects)
    else:
        raise ValueError("`effects` must be a DesignEffects result or its table.")
    if metric_description is None:
        if metric not in METRIC_DESCRIPTIONS:
            raise ValueError(
                f"`metric_description` is needed: {metric!r} is not in METRIC_DESCRIPTIONS."
            )
        metric_description = METRIC_DESCRIPTIONS[metric]
    elif not isinstance(metric_description, MetricDescription):
        raise ValueError("`metric_description` must be a MetricDescription.")
    sentences = [_effect_sentence(effect, counts, metric_description, locale) for effect in listed]
    if excluded:
        sentences.append(
            i18n.t("design.sentence.excluded", locale, companies=", ".join(c for c, _ in excluded))
        )
    sentences.append(i18n.t(f"design.closing.{_closing({e.name: e for e in listed})}", locale))
    return sentences


# --- the whole answer, from per-company x problem-type cells -----------------------------------


@dataclass(frozen=True)
class DesignAnswer:
    """The answer to "France or the sector?" for every compared metric; see :func:`analyse`.

    Attributes
    ----------
    effects : DataFrame
        :data:`TABLE_COLUMNS` for every metric (five effects each).
    inputs : DataFrame
        The standardised company-level values that enter the model: ``metric, company,
        sector, origin, estimate, standard_error, n, coverage, types_used``.
    groups : DataFrame
        :func:`group_figures` for every metric (unweighted and market-weighted), with
        ``metric``.
    shared_types : dict
        Metric -> the problem types used for the standardisation.
    dropped : dict
        Metric -> companies left out (missing a shared type, or no usable standard error).
    weights : DataFrame
        :func:`market_weights`: each company's weight, with its source and date.
    """

    effects: pd.DataFrame = field(repr=False)
    inputs: pd.DataFrame = field(repr=False)
    groups: pd.DataFrame = field(repr=False)
    shared_types: Mapping[str, tuple[str, ...]]
    dropped: Mapping[str, tuple[str, ...]]
    weights: pd.DataFrame = field(repr=False)

    def verdict(self, metric: str, *, locale: str) -> list[str]:
        """The sentences of :func:`verdict` for ``metric`` (empty when it was not estimated)."""
        table = self.effects[self.effects["metric"] == metric]
        if table.empty:
            return []
        return verdict(table.reset_index(drop=True), locale=locale)


def analyse(
    cells: pd.DataFrame, *, metrics: Sequence[str] | None = None, min_n: int = 1
) -> DesignAnswer:
    """Standardise, fit the sector x origin model and weight, for every metric of ``cells``.

    Parameters
    ----------
    cells : DataFrame
        Per company x problem type: ``metric, company, sector, origin, problem, estimate,
        standard_error, n`` (``analysis.kpis.design_cells``).
    metrics : sequence of str, optional
        The metrics to analyse, in this order (default: those of ``cells``, in order).
    min_n : int, default 1
        A company whose standardised figure rests on fewer responses is left out (the public
        view and the snapshot use the disclosure control's minimum cell: a company whose
        input could not be published takes no part in the model).

    Returns
    -------
    DesignAnswer

    Notes
    -----
    Companies outside the sector x origin design (no sector or origin) are left out. A company
    whose standardised figure has no positive standard error is left out of the model with its
    name in ``dropped`` (a zero standard error would give it infinite weight).
    """
    frame = cells[cells["sector"].isin(SECTORS) & cells["origin"].isin(ORIGINS)]
    names = list(dict.fromkeys(frame["metric"])) if metrics is None else list(metrics)
    weights = market_weights()
    effects, inputs, groups, shared, dropped = [], [], [], {}, {}
    for metric in names:
        rows = frame[frame["metric"] == metric]
        if rows.empty:
            continue
        try:
            result = standardise(rows)
        except ValueError:  # no problem type met by both sectors: nothing to compare on
            shared[metric], dropped[metric] = (), tuple(dict.fromkeys(rows["company"]))
            continue
        table = result.table
        usable = (
            np.isfinite(table["estimate"]) & (table["standard_error"] > 0) & (table["n"] >= min_n)
        )
        shared[metric] = result.shared_types
        dropped[metric] = tuple(c for c, _ in result.dropped) + tuple(table.loc[~usable, "company"])
        table = table[usable].reset_index(drop=True)
        if table.empty:  # no company left to compare
            continue
        inputs.append(table)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # reported through `dropped`
            effects.append(design_effects(table, metric=metric).table)
        groups.append(group_figures(table, weights).assign(metric=metric))
    input_columns = [
        "metric",
        "company",
        "sector",
        "origin",
        "estimate",
        "standard_error",
        "n",
        "coverage",
        "types_used",
    ]
    return DesignAnswer(
        effects=pd.concat(effects, ignore_index=True)
        if effects
        else pd.DataFrame(columns=TABLE_COLUMNS),
        inputs=pd.concat(inputs, ignore_index=True)[input_columns]
        if inputs
        else pd.DataFrame(columns=input_columns),
        groups=pd.concat(groups, ignore_index=True) if groups else pd.DataFrame(),
        shared_types=shared,
        dropped=dropped,
        weights=weights,
    )
