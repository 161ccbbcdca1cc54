"""Altair charts drawn from the result tables (company table, curves); no data access here.

Every chart shows its uncertainty (bands or interval rules) and carries n in its tooltip; the
same functions serve the dashboard and the published snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

HORIZON_DAYS = 365
WIDTH = "container"


@dataclass(frozen=True)
class Metric:
    """One metric as the dashboard and the published report draw it, in French and English."""

    family: str  # kpis family: its n is ``<family>_n``
    estimate: str  # column of the estimate
    percent: bool
    title: tuple[str, str]  # (fr, en)
    axis: tuple[str, str]
    low: str = ""
    high: str = ""

    def __post_init__(self):
        stem = (
            self.estimate.removesuffix("_days")
            if self.estimate.endswith("median_days")
            else self.family
        )
        object.__setattr__(self, "low", self.low or f"{stem}_low")
        object.__setattr__(self, "high", self.high or f"{stem}_high")

    @property
    def n(self) -> str:
        return f"{self.family}_n"


_WILSON = ("part (IC de Wilson 95 %)", "share (95% Wilson CI)")
_BCA = ("moyenne (IC bootstrap BCa 95 %)", "mean (95% BCa bootstrap CI)")

# The metrics drawn one dot and interval per company (forest plots) and in the 2 x 2 design.
METRICS: dict[str, Metric] = {
    m.family: m
    for m in (
        Metric(
            "resolution",
            "resolution_median_days",
            False,
            ("Médiane de résolution (jours)", "Median days to resolution"),
            (
                "jours (IC 95 %, Brookmeyer-Crowley log-log)",
                "days (95% CI, Brookmeyer-Crowley log-log)",
            ),
        ),
        Metric(
            "refund_success",
            "refund_success_share",
            True,
            (
                "Remboursement obtenu (total ou partiel), demandes tranchées",
                "Refund obtained (full or partial), decided requests",
            ),
            ("part des demandes (IC de Wilson 95 %)", "share of requests (95% Wilson CI)"),
        ),
        Metric(
            "wasted_trips",
            "wasted_trips_mean",
            False,
            (
                "Déplacements pour rien par incident (boutique, point relais)",
                "Wasted trips per incident (shop, relay point)",
            ),
            _BCA,
        ),
        Metric(
            "useless_visits",
            "useless_visits_mean",
            False,
            (
                "Visites de technicien pour rien par incident",
                "Useless technician visits per incident",
            ),
            _BCA,
        ),
        Metric(
            "effort",
            "effort_mean",
            False,
            (
                "Effort du client (1 très facile – 7 très difficile)",
                "Customer effort (1 very easy – 7 very hard)",
            ),
            _BCA,
        ),
        Metric(
            "false_resolved",
            "false_resolved_share",
            True,
            (
                "Incidents déclarés « résolus » à tort au moins une fois",
                "Incidents falsely declared “resolved” at least once",
            ),
            ("part des incidents (IC de Wilson 95 %)", "share of incidents (95% Wilson CI)"),
        ),
        Metric(
            "callbacks_kept",
            "callbacks_kept_ratio",
            True,
            ("Rappels promis effectivement reçus", "Promised callbacks actually received"),
            (
                "part des rappels promis (IC bootstrap 95 %)",
                "share of promised callbacks (95% bootstrap CI)",
            ),
        ),
        Metric(
            "csat_satisfied",
            "csat_satisfied_share",
            True,
            ("Satisfaits (4 ou 5 sur 5)", "Satisfied (4 or 5 of 5)"),
            _WILSON,
        ),
    )
}
SECTOR_ORIGIN_METRICS = ("resolution", "refund_success", "csat_satisfied")
SECTOR_LABELS = {
    "isp": ("Fournisseurs d'accès", "Internet providers"),
    "retailer": ("Commerce", "Retail"),
}
ORIGIN_LABELS = {"fr": ("Françaises", "French"), "foreign": ("Étrangères", "Foreign")}
SECTOR_ORIGIN_INTRO = (
    "Le témoignage d'origine demandait : le service client est-il mauvais en France, ou est-ce "
    "le secteur ? Chaque case réunit les entreprises d'un secteur et d'une origine ; comparer "
    "les lignes isole le secteur, comparer les colonnes isole l'origine.",
    "The founding story asked: is customer service bad in France, or is it the sector? Each "
    "cell pools the companies of one sector and one origin; comparing rows isolates the sector, "
    "comparing columns isolates the origin.",
)


@dataclass(frozen=True)
class Curve:
    """A Kaplan-Meier figure: what the curve is and how far it is drawn."""

    metric: str  # "resolution" or "refund_time"
    horizon: int
    title: tuple[str, str]
    x_title: tuple[str, str]
    y_title: tuple[str, str]


CURVES: dict[str, Curve] = {
    "resolution": Curve(
        "resolution",
        365,
        (
            "Part des incidents non résolus au fil des jours (Kaplan-Meier)",
            "Share of incidents not yet resolved, by day (Kaplan-Meier)",
        ),
        ("jours depuis le début du problème", "days since the problem started"),
        ("non résolus", "not resolved"),
    ),
    "refund_time": Curve(
        "refund_time",
        180,
        (
            "Demandes pas encore remboursées au fil des jours (refus : jamais remboursées)",
            "Requests not yet refunded, by day (refusals: never refunded)",
        ),
        ("jours depuis la demande", "days since the request"),
        ("pas encore remboursées", "not yet refunded"),
    ),
}


def pick(pair: tuple[str, str], locale: str) -> str:
    """The French or English member of a (fr, en) pair."""
    return pair[1] if locale == "en" else pair[0]


def _labelled(values: pd.Series, labels: dict[str, str]) -> pd.Series:
    """Display labels for ids, the id itself where no label is known."""
    return values.map(lambda value: labels.get(value, value)).astype(str)


def _bound(value: float, scale: float) -> str:
    """An interval bound as text; "NA" where it is not reached (as R prints it)."""
    return "NA" if pd.isna(value) else f"{value * scale:.0f}"


def _axis_percent(title: str) -> alt.Axis:
    return alt.Axis(title=title, format="%")


def survival_chart(
    curves: pd.DataFrame,
    names: dict[str, str],
    *,
    by: str = "company",
    title: str,
    x_title: str,
    y_title: str,
    horizon: int = HORIZON_DAYS,
) -> alt.LayerChart:
    """Kaplan-Meier step curves with their pointwise 95% bands, one colour per company."""
    data = curves[curves["time"] <= horizon].copy()
    data["name"] = _labelled(data[by], names)
    data = data[["name", "time", "survival", "low", "high", "n_at_risk"]]
    base = alt.Chart(data).encode(
        x=alt.X("time:Q", title=x_title, scale=alt.Scale(domain=[0, horizon])),
        color=alt.Color(
            "name:N",
            title=None,
            scale=alt.Scale(scheme="tableau10"),
            legend=alt.Legend(orient="bottom", columns=4, symbolOpacity=1, symbolType="stroke"),
        ),
    )
    band = base.mark_area(opacity=0.12, interpolate="step-after").encode(
        y=alt.Y("low:Q", axis=_axis_percent(y_title), scale=alt.Scale(domain=[0, 1])),
        y2="high:Q",
    )
    line = base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        y="survival:Q",
        tooltip=[
            alt.Tooltip("name:N"),
            alt.Tooltip("time:Q", title="days / jours"),
            alt.Tooltip("survival:Q", format=".1%"),
            alt.Tooltip("low:Q", format=".1%"),
            alt.Tooltip("high:Q", format=".1%"),
            alt.Tooltip("n_at_risk:Q", title="n at risk / à risque"),
        ],
    )
    return (band + line).properties(title=title, width=WIDTH, height=360)


def forest_chart(
    table: pd.DataFrame,
    *,
    estimate: str,
    low: str,
    high: str,
    n: str,
    title: str,
    x_title: str,
    percent: bool = False,
    label: str = "company_name",
    reference: float | None = None,
) -> alt.LayerChart:
    """One row per company: the estimate as a dot, its 95% interval as a rule, n as text."""
    data = table[[label, estimate, low, high, n]].rename(
        columns={label: "name", estimate: "estimate", low: "low", high: "high", n: "n"}
    )
    data = data[data["estimate"].notna()]
    fmt = ".0%" if percent else ".2f"
    y = alt.Y("name:N", title=None, sort=alt.EncodingSortField("estimate", order="descending"))
    x_axis = alt.Axis(title=x_title, format="%") if percent else alt.Axis(title=x_title)
    tooltip = [
        alt.Tooltip("name:N"),
        alt.Tooltip("estimate:Q", format=fmt),
        alt.Tooltip("low:Q", format=fmt),
        alt.Tooltip("high:Q", format=fmt),
        alt.Tooltip("n:Q"),
    ]
    rules = (
        alt.Chart(data)
        .mark_rule(strokeWidth=2)
        .encode(y=y, x=alt.X("low:Q", axis=x_axis), x2="high:Q", tooltip=tooltip)
    )
    dots = (
        alt.Chart(data).mark_circle(size=70, opacity=1).encode(y=y, x="estimate:Q", tooltip=tooltip)
    )
    counts = (
        alt.Chart(data)
        .mark_text(align="left", dx=6, fontSize=10, color="gray")
        .encode(y=y, x="high:Q", text=alt.Text("n:Q", format="d"))
    )
    layers = [rules, dots, counts]
    if reference is not None:
        layers.insert(
            0,
            alt.Chart(pd.DataFrame({"x": [reference]}))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(x="x:Q"),
        )
    return alt.layer(*layers).properties(title=title, width=WIDTH, height=max(160, 24 * len(data)))


def distribution_chart(
    trips: pd.DataFrame, names: dict[str, str], *, title: str, x_title: str, legend: str
) -> alt.Chart:
    """Share of incidents by number of wasted trips (0, 1, ..., 5+), one bar per company."""
    data = trips.assign(name=_labelled(trips["company"], names))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("name:N", title=None),
            x=alt.X("share:Q", stack="normalize", axis=_axis_percent(x_title)),
            color=alt.Color(
                "trips_label:O",
                title=legend,
                scale=alt.Scale(scheme="orangered"),
                sort=["0", "1", "2", "3", "4", "5+"],
            ),
            order=alt.Order("trips:Q"),
            tooltip=[
                "name:N",
                "trips_label:O",
                alt.Tooltip("share:Q", format=".1%"),
                "responses:Q",
            ],
        )
        .properties(title=title, width=WIDTH, height=max(160, 24 * data["name"].nunique()))
    )


def stages_chart(
    table: pd.DataFrame, stages: list[tuple[str, str]], *, title: str, x_title: str
) -> alt.LayerChart:
    """Several shares per company (a funnel's stages), each a dot with its Wilson interval."""
    pieces = []
    for family, stage_label in stages:
        piece = table[
            ["company_name", f"{family}_share", f"{family}_low", f"{family}_high", f"{family}_n"]
        ].copy()
        piece.columns = ["name", "estimate", "low", "high", "n"]
        piece["stage"] = stage_label
        pieces.append(piece)
    data = pd.concat(pieces, ignore_index=True)
    data = data[data["estimate"].notna()]
    order = [label for _, label in stages]
    y = alt.Y("name:N", title=None)
    y_offset = alt.YOffset("stage:N", sort=order)
    color = alt.Color(
        "stage:N",
        title=None,
        sort=order,
        scale=alt.Scale(scheme="tableau10"),
        legend=alt.Legend(orient="bottom"),
    )
    tooltip = [
        "name:N",
        "stage:N",
        alt.Tooltip("estimate:Q", format=".0%"),
        alt.Tooltip("low:Q", format=".0%"),
        alt.Tooltip("high:Q", format=".0%"),
        "n:Q",
    ]
    rules = (
        alt.Chart(data)
        .mark_rule()
        .encode(
            y=y,
            yOffset=y_offset,
            x=alt.X("low:Q", axis=_axis_percent(x_title), scale=alt.Scale(domain=[0, 1])),
            x2="high:Q",
            color=color,
            tooltip=tooltip,
        )
    )
    dots = (
        alt.Chart(data)
        .mark_circle(size=50, opacity=1)
        .encode(y=y, yOffset=y_offset, x="estimate:Q", color=color, tooltip=tooltip)
    )
    height = max(200, 16 * len(data))
    return (rules + dots).properties(title=title, width=WIDTH, height=height)


def sector_origin_chart(
    groups: pd.DataFrame,
    *,
    estimate: str,
    low: str,
    high: str,
    n: str,
    title: str,
    sector_labels: dict[str, str],
    origin_labels: dict[str, str],
    percent: bool = False,
    legend: str,
) -> alt.LayerChart:
    """The 2 x 2 design: sector (rows) by origin (columns), each cell its estimate, CI and n."""
    data = groups[["sector", "origin", estimate, low, high, n]].copy()
    data.columns = ["sector", "origin", "estimate", "low", "high", "n"]
    scale = 100 if percent else 1
    unit = " %" if percent else ""
    data["text"] = [
        (
            f"{e * scale:.0f}{unit} [{_bound(lo, scale)}–{_bound(hi, scale)}]  n={int(k)}"
            if pd.notna(e)
            else f"n={int(k)}"
        )
        for e, lo, hi, k in zip(data["estimate"], data["low"], data["high"], data["n"], strict=True)
    ]
    data["sector"] = _labelled(data["sector"], sector_labels)
    data["origin"] = _labelled(data["origin"], origin_labels)
    base = alt.Chart(data).encode(
        x=alt.X("origin:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("sector:N", title=None, axis=alt.Axis(labelLimit=240)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("estimate:Q", title=legend, scale=alt.Scale(scheme="blues"))
    )
    middle = float(data["estimate"].min() + data["estimate"].max()) / 2
    # White text on the darker half of the scale; black everywhere when nothing is estimated
    # (a NaN would end up in the Vega spec, which cannot parse it).
    text_colour = (
        alt.condition(alt.datum.estimate > middle, alt.value("white"), alt.value("black"))
        if np.isfinite(middle)
        else alt.value("black")
    )
    text = base.mark_text(fontSize=13, fontWeight="bold").encode(text="text:N", color=text_colour)
    return (cells + text).properties(title=title, width=WIDTH, height=220)
