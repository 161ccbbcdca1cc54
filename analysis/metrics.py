"""The one catalogue of the barometer's metrics: for each, its family, kind, direction, columns,
digits and words in French and English, read by the tables (``kpis``), the dashboard, the charts
and the published snapshot alike.

A *metric* is what is compared across companies: one base (``<name>_n``), one "vs all others"
test, one suppression decision. It holds one or more *estimates* (the time-to-resolution metric
holds the median, the shares resolved within 2, 7, 30 and 90 days and the restricted mean),
each a column with its interval. Every column of the kpis tables belongs to exactly one metric,
so no code parses column names to find where a column belongs (:func:`family_of` is a lookup).

The words live in ``survey/messages/dashboard.toml`` under ``metric.<key>.short``, ``title``,
``axis`` and ``description``, read through :mod:`survey.i18n`: one lookup for every string of
the interface, and the one-language check (``survey.i18n.catalogue_problems``) covers them.

Adding a metric is one :class:`Metric` entry in :data:`METRICS`, its messages in
``dashboard.toml``, and its computation in ``analysis/kpis.py`` (a kind that kpis already
computes needs no new code there beyond reading its columns).

Examples
--------
>>> from analysis import metrics
>>> metric = metrics.METRIC["refund_success"]
>>> metric.kind, metric.direction, metric.n
('share', 'higher', 'refund_success_n')
>>> metrics.family_of("resolved_within_30d_low")
'resolution'
>>> metrics.estimate("resolved_within_30d").title[1]
'Resolved within 30 days'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from survey import i18n

__all__ = [
    "COMPARISON_SUFFIXES",
    "DIRECTIONS",
    "GROUP_LABELS",
    "HEADLINE",
    "IDENTITY_COLUMNS",
    "KINDS",
    "METRIC",
    "METRICS",
    "ORIGIN_LABELS",
    "OTHER_COMPANY",
    "OTHER_LABELS",
    "RESOLVED_WITHIN_DAYS",
    "REFUNDED_WITHIN_DAYS",
    "RMST_HORIZON_DAYS",
    "SECTOR_LABELS",
    "UNLISTED",
    "UNLISTED_GROUP",
    "Estimate",
    "Metric",
    "company_label",
    "estimate",
    "family_of",
    "group_label",
    "label",
    "metric_of",
]

RESOLVED_WITHIN_DAYS = (2, 7, 30, 90)
REFUNDED_WITHIN_DAYS = 30
RMST_HORIZON_DAYS = 90

KINDS = ("survival", "share", "mean", "ratio", "total")
"""How a metric is estimated: Kaplan-Meier, a share (Wilson), a mean (BCa bootstrap), a pooled
ratio (bootstrap), or a plain total (no interval, no test)."""
DIRECTIONS = ("higher", "lower")
"""What "better" means: a higher or a lower value."""
COMPARISON_SUFFIXES = (
    "vs_others_p",
    "vs_others_p_adj",
    "vs_others_flag",
    "vs_others_diff",
    "vs_others_diff_low",
    "vs_others_diff_high",
)
"""The "vs all others" columns of every compared metric, in table order: the test, its
Benjamini-Hochberg adjustment, the flag, and the effect size with its 95% interval (unit minus
all the others: restricted mean days without resolution for resolution, cumulative incidence at
30 days for refunds, Newcombe difference for shares, difference of means or ratios)."""
IDENTITY_COLUMNS = ("company", "company_name", "sector", "origin", "n", "group", "companies")
"""Columns of the kpis tables that name the unit rather than measure it."""

UNLISTED = "unlisted"
"""Sector and origin given to companies outside the reference list, a group of their own."""
UNLISTED_GROUP = f"{UNLISTED}/{UNLISTED}"
OTHER_COMPANY = "other"
"""The id of the companies outside the reference list, pooled."""


@dataclass(frozen=True)
class Estimate:
    """One figure of a metric: its column, its interval, how it prints and what it is called.

    Attributes
    ----------
    key : str
        Its messages are ``metric.<key>.short``, ``.title``, ``.axis`` and ``.description``
        in ``survey/messages/dashboard.toml``, formatted with ``params``.
    family : str
        The metric it belongs to: its base is ``<family>_n``.
    estimate, low, high : str
        Columns of the estimate and of its 95% bounds (``low`` and ``high`` empty for a total).
    direction : {"higher", "lower"}
        Which values are better.
    percent : bool
        A share in [0, 1], printed as a percent.
    digits : int
        Decimals when printed (after scaling to percent).
    unit : str
        Unit of the estimate: "days", "share", "per incident", "score", "km".
    params : tuple of (str, int) pairs
        Values of the placeholders of the messages, e.g. ``(("days", 30),)``.
    """

    key: str
    family: str
    estimate: str
    low: str
    high: str
    direction: str
    percent: bool = False
    digits: int = 0
    unit: str = ""
    params: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"`direction` must be one of {DIRECTIONS}.")

    @property
    def n(self) -> str:
        return f"{self.family}_n"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.estimate, self.low, self.high) if c)

    def text(self, part: str, locale: str) -> str:
        """``part`` ("short", "title", "axis" or "description") in ``locale``."""
        return i18n.t(f"metric.{self.key}.{part}", locale, **dict(self.params))

    def pair(self, part: str) -> tuple[str, str]:
        return self.text(part, "fr"), self.text(part, "en")

    @property
    def short(self) -> tuple[str, str]:
        """(fr, en) column heading."""
        return self.pair("short")

    @property
    def title(self) -> tuple[str, str]:
        """(fr, en) chart title."""
        return self.pair("title")

    @property
    def axis(self) -> tuple[str, str]:
        """(fr, en) axis title, naming the interval's method."""
        return self.pair("axis")

    @property
    def description(self) -> tuple[str, str]:
        """(fr, en) one sentence for a data dictionary."""
        return self.pair("description")


@dataclass(frozen=True)
class Metric:
    """A metric compared across companies: one base, one test, one suppression decision.

    Attributes
    ----------
    name : str
        Prefix of its base ``<name>_n`` and of its other count and comparison columns.
    kind : {"survival", "share", "mean", "ratio", "total"}
        How kpis estimates and tests it.
    direction : {"higher", "lower"}
        What "better" means for the comparison's effect (for a survival metric, the effect is
        observed minus expected events: more events, sooner, is ``"higher"``).
    estimates : tuple of Estimate
        Its figures; the first is the one headline tables and forest plots show.
    counts : tuple of str
        Count columns besides the base, as suffixes (``"events"`` gives ``<name>_events``).
    compared : bool
        Whether it has a small-base mark and "vs all others" columns.
    """

    name: str
    kind: str
    direction: str
    estimates: tuple[Estimate, ...]
    counts: tuple[str, ...] = ()
    compared: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}.")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"`direction` must be one of {DIRECTIONS}.")
        if any(e.family != self.name for e in self.estimates):
            raise ValueError("`estimates` must belong to the metric (`family` equal to `name`).")

    @property
    def n(self) -> str:
        return f"{self.name}_n"

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def main(self) -> Estimate:
        return self.estimates[0]

    @property
    def small_base(self) -> str:
        return f"{self.name}_small_base"

    @property
    def suppressed(self) -> str:
        """Column added by the disclosure control (True where the metric is masked)."""
        return f"{self.name}_suppressed"

    @property
    def flag(self) -> str:
        return f"{self.name}_vs_others_flag"

    @property
    def count_columns(self) -> tuple[str, ...]:
        return (self.n, *(f"{self.name}_{suffix}" for suffix in self.counts))

    @property
    def comparison_columns(self) -> tuple[str, ...]:
        if not self.compared:
            return ()
        return tuple(f"{self.name}_{suffix}" for suffix in COMPARISON_SUFFIXES)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of the kpis tables that belongs to it, in table order (survival counts
        lead their estimates; other kinds give their estimates first)."""
        figures = tuple(c for e in self.estimates for c in e.columns)
        body = (
            self.count_columns + figures
            if self.kind == "survival"
            else figures + self.count_columns
        )
        marks = (self.small_base,) if self.compared else ()
        return body + marks + self.comparison_columns

    def label(self, locale: str) -> str:
        """The metric's name in a phrase ("time to resolution (days)")."""
        return i18n.t(f"metric.{self.name}.label", locale)


def _share(key, family, direction, *, low=None, high=None, estimate=None, **extra) -> Estimate:
    return Estimate(
        key,
        family,
        estimate or f"{family}_share",
        low or f"{family}_low",
        high or f"{family}_high",
        direction,
        percent=True,
        digits=0,
        unit="share",
        **extra,
    )


def _within(prefix: str, family: str, days: int, key: str, direction="higher") -> Estimate:
    stem = f"{prefix}_{days}d"
    return _share(
        key,
        family,
        direction,
        estimate=f"{stem}_share",
        low=f"{stem}_low",
        high=f"{stem}_high",
        params=(("days", days),),
    )


def _mean(name: str, direction: str, *, digits: int = 2, unit: str = "per incident") -> Estimate:
    return Estimate(
        name,
        name,
        f"{name}_mean",
        f"{name}_low",
        f"{name}_high",
        direction,
        digits=digits,
        unit=unit,
    )


def _simple_share(name: str, direction: str, **kwargs) -> Metric:
    return Metric(name, "share", direction, (_share(name, name, direction),), **kwargs)


METRICS: tuple[Metric, ...] = (
    Metric(
        "resolution",
        "survival",
        "lower",
        (
            Estimate(
                "resolution_median",
                "resolution",
                "resolution_median_days",
                "resolution_median_low",
                "resolution_median_high",
                "lower",
                unit="days",
            ),
            *(
                _within("resolved_within", "resolution", days, "resolved_within")
                for days in RESOLVED_WITHIN_DAYS
            ),
            *(
                _within("gave_up_within", "resolution", days, "gave_up_within", "lower")
                for days in RESOLVED_WITHIN_DAYS
            ),
            Estimate(
                "resolution_unresolved",
                "resolution",
                f"resolution_unresolved{RMST_HORIZON_DAYS}_days",
                f"resolution_unresolved{RMST_HORIZON_DAYS}_low",
                f"resolution_unresolved{RMST_HORIZON_DAYS}_high",
                "lower",
                digits=1,
                unit="days",
                params=(("days", RMST_HORIZON_DAYS),),
            ),
        ),
        counts=(
            "events",
            "gave_up",
            "excluded",
            "late_entry",
            *(f"within_{days}d_extended" for days in RESOLVED_WITHIN_DAYS),
            f"unresolved{RMST_HORIZON_DAYS}_se",
        ),
    ),
    _simple_share("refund_success", "higher"),
    _simple_share("refund_full", "higher"),
    # A partial refund is a request granted in part rather than refused: compared as a grant,
    # read beside the full-refund share (a company refunding in full has fewer partial ones).
    _simple_share("refund_partial", "higher"),
    Metric(
        "refund_amount_share",
        "mean",
        "higher",
        (
            Estimate(
                "refund_amount_share",
                "refund_amount_share",
                "refund_amount_share_mean",
                "refund_amount_share_low",
                "refund_amount_share_high",
                "higher",
                percent=True,
                unit="share",
            ),
        ),
    ),
    Metric(
        "refund_time",
        "survival",
        "higher",
        (
            Estimate(
                "refund_time_median",
                "refund_time",
                "refund_time_median_days",
                "refund_time_median_low",
                "refund_time_median_high",
                "lower",
                unit="days",
            ),
            _within("refunded_within", "refund_time", REFUNDED_WITHIN_DAYS, "refunded_within"),
        ),
        counts=("events", "refused", "excluded", f"within_{REFUNDED_WITHIN_DAYS}d_extended"),
    ),
    Metric("wasted_trips", "mean", "lower", (_mean("wasted_trips", "lower"),)),
    Metric(
        "wasted_km",
        "total",
        "lower",
        (Estimate("wasted_km", "wasted_km", "wasted_km_total", "", "", "lower", unit="km"),),
        compared=False,
    ),
    _simple_share("wasted_trips_any", "lower"),
    Metric("useless_visits", "mean", "lower", (_mean("useless_visits", "lower"),)),
    _simple_share("useless_visits_any", "lower"),
    Metric(
        "callbacks_kept",
        "ratio",
        "higher",
        (
            Estimate(
                "callbacks_kept",
                "callbacks_kept",
                "callbacks_kept_ratio",
                "callbacks_kept_low",
                "callbacks_kept_high",
                "higher",
                percent=True,
                unit="share",
            ),
        ),
        counts=("promised_total",),
    ),
    _simple_share("false_resolved", "lower"),
    _simple_share("loaner_offered", "higher"),
    _simple_share("loaner_obtained", "higher"),
    _simple_share("loaner_cut", "lower"),
    Metric("csat", "mean", "higher", (_mean("csat", "higher", unit="score"),)),
    _simple_share("csat_satisfied", "higher"),
    Metric("effort", "mean", "lower", (_mean("effort", "lower", unit="score"),)),
    Metric(
        "nps",
        "mean",
        "higher",
        (Estimate("nps", "nps", "nps_score", "nps_low", "nps_high", "higher", unit="score"),),
    ),
)
"""Every metric, in the order of the kpis tables."""

METRIC: dict[str, Metric] = {metric.name: metric for metric in METRICS}
_ESTIMATES: dict[str, Estimate] = {
    e.estimate.removesuffix("_share")
    .removesuffix("_mean")
    .removesuffix("_ratio")
    .removesuffix("_score")
    .removesuffix("_total"): e
    for metric in METRICS
    for e in metric.estimates
}
_COLUMN_METRIC: dict[str, Metric] = {
    column: metric for metric in METRICS for column in (*metric.columns, metric.suppressed)
}

HEADLINE: tuple[Estimate, ...] = tuple(
    _ESTIMATES[name]
    for name in (
        "resolution_median_days",
        "resolved_within_30d",
        "refund_success",
        "refund_amount_share",
        "wasted_trips",
        "false_resolved",
        "csat",
        "nps",
    )
)
"""The figures of the headline table (dashboard and report), in column order."""


def estimate(name: str) -> Estimate:
    """An estimate by its column without the statistic's suffix: ``"refund_success"``,
    ``"resolved_within_30d"``, ``"resolution_median_days"``, ``"nps"``."""
    try:
        return _ESTIMATES[name]
    except KeyError:
        raise ValueError(f"`name` {name!r} is not an estimate of the catalogue.") from None


def metric_of(column: str) -> Metric | None:
    """The metric a kpis column belongs to; None for identity and unknown columns."""
    return _COLUMN_METRIC.get(column)


def family_of(column: str) -> str | None:
    """The name of the metric a kpis column belongs to (None for identity columns).

    >>> family_of("wasted_km_n"), family_of("company"), family_of("nps_suppressed")
    ('wasted_km', None, 'nps')
    """
    metric = _COLUMN_METRIC.get(column)
    return metric.name if metric is not None else None


def ordered(columns: Iterable[str]) -> list[str]:
    """``columns`` in catalogue order; a column the catalogue does not know raises ValueError
    (every published column must be tied to a base)."""
    present = set(columns)
    unknown = sorted(present - set(_COLUMN_METRIC))
    if unknown:
        raise ValueError(f"`columns` holds columns of no metric: {', '.join(unknown)}.")
    return [c for metric in METRICS for c in metric.columns if c in present]


# --- shared labels ------------------------------------------------------------------------------


def label(key: str, locale: str) -> str:
    """A shared label (``sector.isp``, ``origin.fr``, ``group.isp_fr``, ``company.other``)."""
    return i18n.t(key, locale)


SECTORS = ("isp", "retailer")
ORIGINS = ("fr", "foreign")


# message keys: a table named "fr" or "en" would read as a text, so the origin "fr" is "french"
_ORIGIN_KEYS = {"fr": "french", "foreign": "foreign"}

SECTOR_LABELS: dict[str, tuple[str, str]] = {s: i18n.pair(f"sector.{s}") for s in SECTORS}
ORIGIN_LABELS: dict[str, tuple[str, str]] = {
    o: i18n.pair(f"origin.{_ORIGIN_KEYS[o]}") for o in ORIGINS
}
GROUP_LABELS: dict[str, tuple[str, str]] = {
    **{
        f"{sector}/{origin}": i18n.pair(f"group.{sector}_{origin}")
        for sector in SECTORS
        for origin in ORIGINS
    },
    UNLISTED_GROUP: i18n.pair("group.unlisted"),
}
OTHER_LABELS: tuple[str, str] = i18n.pair("company.other")


def group_label(group: str, locale: str) -> str:
    """The display name of a sector x origin group ("isp/fr": "French internet providers")."""
    fr, en = GROUP_LABELS.get(group, (group, group))
    return en if locale == "en" else fr


def company_label(company: str, name, locale: str) -> str:
    """The display name of a company; companies outside the list are pooled as "other"."""
    if company == OTHER_COMPANY:
        return OTHER_LABELS[1] if locale == "en" else OTHER_LABELS[0]
    if name is None or name != name:  # None or NaN: no display name known, show the id
        return str(company)
    return str(name)
