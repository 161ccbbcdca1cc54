"""Altair charts drawn from the result tables (company table, curves); no data access here.

Every chart shows its uncertainty (bands or interval rules) and carries n in its tooltip (the
curves: in their figures and the numbers at risk beside them, see :func:`survival_chart`); the
same functions serve the dashboard and the published snapshot.

Text alternatives (WCAG 1.1.1): a chart is an image named by its title (``description``); its
marks are hidden from screen readers (``aria=False``: Vega's unnamed mark groups fail axe's
``svg-img-alt``), and each chart has a ``*_figures`` function giving the same figures as a table
in the reader's language, shown beside the chart.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from analysis import metrics
from survey import i18n

HORIZON_DAYS = 365
WIDTH = "container"


# --- kept until the snapshot imports metrics/disclosure -------------------------------------
# A chart's metric is an estimate of the catalogue (analysis/metrics.py): family, estimate,
# low, high, n, percent, title and axis as (fr, en) pairs.
Metric = metrics.Estimate
SECTOR_LABELS = metrics.SECTOR_LABELS
ORIGIN_LABELS = metrics.ORIGIN_LABELS
# --- end of the names kept for the snapshot --------------------------------------------------

# The metrics drawn one dot and interval per company (forest plots) and in the 2 x 2 design:
# the headline estimate of each catalogue metric, by metric name.
FOREST_METRICS = (
    "resolution",
    "refund_success",
    "wasted_trips",
    "useless_visits",
    "effort",
    "false_resolved",
    "callbacks_kept",
    "csat_satisfied",
)
METRICS: dict[str, metrics.Estimate] = {name: metrics.METRIC[name].main for name in FOREST_METRICS}
SECTOR_ORIGIN_METRICS = ("resolution", "refund_success", "csat_satisfied")
SECTOR_ORIGIN_INTRO = i18n.pair("dashboard.design.intro")


@dataclass(frozen=True)
class Curve:
    """A Kaplan-Meier figure: what the curve is and how far it is drawn."""

    metric: str  # "resolution" or "refund_time"
    horizon: int
    title: tuple[str, str]
    x_title: tuple[str, str]
    y_title: tuple[str, str]


def _curve(metric: str, horizon: int) -> Curve:
    return Curve(
        metric,
        horizon,
        i18n.pair(f"dashboard.curve.{metric}.title"),
        i18n.pair(f"dashboard.curve.{metric}.x_title"),
        i18n.pair(f"dashboard.curve.{metric}.y_title"),
    )


CURVES: dict[str, Curve] = {
    "resolution": _curve("resolution", 365),
    "refund_time": _curve("refund_time", 180),
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


def _layered(data: pd.DataFrame, *layers: alt.Chart) -> alt.LayerChart:
    """Layers drawing the same ``data``, given once to the layer chart: the spec Altair makes
    of layers that each hold it (it moves their shared data up), without the hash of every
    layer's spec and data that it computes first to do so (most of the time a chart took)."""
    return alt.layer(*layers, data=data)


def _axis_percent(title: str) -> alt.Axis:
    return alt.Axis(title=title, format="%")


def steps(curves: pd.DataFrame, by: str, values: tuple[str, ...]) -> pd.DataFrame:
    """The rows of step curves (one per ``by``, in time order) where something drawn changes:
    a row whose ``values`` all equal the previous row's of the same curve only prolongs a
    step, and is left out; each curve's first and last rows are kept (where it starts and how
    far it is drawn). A step-after line or band through the kept rows is the same drawing.

    >>> frame = pd.DataFrame({"c": ["a"] * 4, "time": [0, 1, 2, 3], "s": [1.0, 0.5, 0.5, 0.5]})
    >>> steps(frame, "c", ("s",))["time"].tolist()
    [0, 1, 3]
    """
    group = curves.groupby(by, sort=False, observed=True)
    same = pd.Series(True, index=curves.index)
    for column in values:
        value = curves[column]
        before = group[column].shift()
        same &= (value == before) | (value.isna() & before.isna() & group.cumcount().gt(0))
    last = ~curves[by].duplicated(keep="last")
    return curves[~same | last]


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
    """Kaplan-Meier step curves with their pointwise 95% bands, one colour per company.

    Drawn through the rows where a curve or its band changes (:func:`steps`): the same
    picture, and at a million responses a third fewer rows for the refunds' curves. A line's
    tooltip names its company: Vega draws each line and band as one path, which a pointer
    reports as its first point (day 0) wherever it is; the values and n at given days are in
    the chart's figures (:func:`survival_figures`) and the numbers at risk beside it. Every
    row's six-field tooltip cost about a third of the browser's work on the chart (issue 14)."""
    data = curves[curves["time"] <= horizon]
    if (data.groupby(by, sort=False, observed=True)["time"].diff() < 0).any():
        data = data.sort_values([by, "time"], kind="stable")
    data = steps(data, by, ("survival", "low", "high"))
    data = data.assign(name=_labelled(data[by], names))[["name", "time", "survival", "low", "high"]]
    # Where every drawn value is a number, Vega has no point to leave out of a line or band.
    # Either way the browser interprets a test per point: without ``invalid`` a ``defined``
    # per mark, with ``invalid=None`` one per position channel instead; the time is the same
    # (stop 23, docs/benchmarks.md). A missing bound must stay out of the band: ``Undefined``.
    drawn = data[["time", "survival", "low", "high"]].to_numpy(dtype=float)
    invalid = None if np.isfinite(drawn).all() else alt.Undefined
    base = alt.Chart().encode(
        x=alt.X("time:Q", title=x_title, scale=alt.Scale(domain=[0, horizon])),
        color=alt.Color(
            "name:N",
            title=None,
            scale=alt.Scale(scheme="tableau10"),
            legend=alt.Legend(orient="bottom", columns=4, symbolOpacity=1, symbolType="stroke"),
        ),
    )
    band = base.mark_area(
        aria=False, opacity=0.12, interpolate="step-after", invalid=invalid
    ).encode(
        y=alt.Y("low:Q", axis=_axis_percent(y_title), scale=alt.Scale(domain=[0, 1])),
        y2=alt.Y2("high:Q"),
    )
    line = base.mark_line(
        aria=False, interpolate="step-after", strokeWidth=2, invalid=invalid
    ).encode(y=alt.Y("survival:Q"), tooltip=alt.Tooltip("name:N"))
    return _layered(data, band, line).properties(
        title=title, description=title, width=WIDTH, height=360
    )


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
        alt.Chart()
        .mark_rule(aria=False, strokeWidth=2)
        .encode(y=y, x=alt.X("low:Q", axis=x_axis), x2=alt.X2("high:Q"), tooltip=tooltip)
    )
    dots = (
        alt.Chart()
        .mark_circle(aria=False, size=70, opacity=1)
        .encode(y=y, x=alt.X("estimate:Q"), tooltip=tooltip)
    )
    counts = (
        alt.Chart()
        .mark_text(aria=False, align="left", dx=6, fontSize=10, color="gray")
        .encode(y=y, x=alt.X("high:Q"), text=alt.Text("n:Q", format="d"))
    )
    layers = [rules, dots, counts]
    if reference is not None:
        layers.insert(
            0,
            alt.Chart(pd.DataFrame({"x": [reference]}))
            .mark_rule(aria=False, strokeDash=[4, 4], color="gray")
            .encode(x=alt.X("x:Q")),
        )
    return _layered(data, *layers).properties(
        title=title, description=title, width=WIDTH, height=max(160, 24 * len(data))
    )


def distribution_chart(
    trips: pd.DataFrame, names: dict[str, str], *, title: str, x_title: str, legend: str
) -> alt.Chart:
    """Share of incidents by number of wasted trips (0, 1, ..., 5+), one bar per company."""
    data = trips.assign(name=_labelled(trips["company"], names))
    return (
        alt.Chart(data)
        .mark_bar(aria=False)
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
                alt.Tooltip("name:N"),
                alt.Tooltip("trips_label:O"),
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("responses:Q"),
            ],
        )
        .properties(
            title=title,
            description=title,
            width=WIDTH,
            height=max(160, 24 * data["name"].nunique()),
        )
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
        alt.Tooltip("name:N"),
        alt.Tooltip("stage:N"),
        alt.Tooltip("estimate:Q", format=".0%"),
        alt.Tooltip("low:Q", format=".0%"),
        alt.Tooltip("high:Q", format=".0%"),
        alt.Tooltip("n:Q"),
    ]
    rules = (
        alt.Chart()
        .mark_rule(aria=False)
        .encode(
            y=y,
            yOffset=y_offset,
            x=alt.X("low:Q", axis=_axis_percent(x_title), scale=alt.Scale(domain=[0, 1])),
            x2=alt.X2("high:Q"),
            color=color,
            tooltip=tooltip,
        )
    )
    dots = (
        alt.Chart()
        .mark_circle(aria=False, size=50, opacity=1)
        .encode(y=y, yOffset=y_offset, x=alt.X("estimate:Q"), color=color, tooltip=tooltip)
    )
    height = max(200, 16 * len(data))
    return _layered(data, rules, dots).properties(
        title=title, description=title, width=WIDTH, height=height
    )


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
            else (f"n={int(k)}" if pd.notna(k) else "—")  # a masked figure shows no base
        )
        for e, lo, hi, k in zip(data["estimate"], data["low"], data["high"], data["n"], strict=True)
    ]
    data["sector"] = _labelled(data["sector"], sector_labels)
    data["origin"] = _labelled(data["origin"], origin_labels)
    base = alt.Chart().encode(
        x=alt.X("origin:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("sector:N", title=None, axis=alt.Axis(labelLimit=240)),
    )
    cells = base.mark_rect(aria=False, stroke="white", strokeWidth=2).encode(
        color=alt.Color("estimate:Q", title=legend, scale=alt.Scale(scheme="blues"))
    )
    middle = float(data["estimate"].min() + data["estimate"].max()) / 2
    # White text on the darker half of the scale; black everywhere when nothing is estimated
    # (a NaN would end up in the Vega spec, which cannot parse it).
    text_colour = (
        alt.ColorValue(
            **alt.condition(alt.datum.estimate > middle, alt.value("white"), alt.value("black"))
        )
        if np.isfinite(middle)
        else alt.ColorValue("black")
    )
    text = base.mark_text(aria=False, fontSize=13, fontWeight="bold").encode(
        text=alt.Text("text:N"), color=text_colour
    )
    return _layered(data, cells, text).properties(
        title=title, description=title, width=WIDTH, height=220
    )


def design_effects_chart(effects: pd.DataFrame, t, *, percent: bool) -> alt.LayerChart:
    """:func:`effects_chart` with the design's labels and titles in the language of ``t``
    (``t(key, **values)``: the catalogue's text), as the dashboard and the reports draw it."""
    unit = t("dashboard.design.points") if percent else t("dashboard.design.days")
    return effects_chart(
        effects,
        labels={e: t(f"dashboard.design.effect.{e}") for e in effects["effect"]},
        title=t("dashboard.design.effects_title"),
        x_title=t("dashboard.design.effects_axis", unit=unit),
        not_identifiable=t("dashboard.design.not_identifiable"),
        percent=percent,
    )


def effects_chart(
    effects: pd.DataFrame,
    *,
    labels: dict[str, str],
    title: str,
    x_title: str,
    not_identifiable: str,
    percent: bool = False,
) -> alt.LayerChart:
    """The five sector x origin effects: estimate, 95% interval, companies on each side, and
    a hollow dot with a note where a side has too few companies to speak of a group."""
    scale = 100.0 if percent else 1.0
    data = pd.DataFrame(
        {
            "effect": [labels.get(e, e) for e in effects["effect"]],
            "estimate": effects["estimate"].astype(float) * scale,
            "low": effects["low"].astype(float) * scale,
            "high": effects["high"].astype(float) * scale,
            "sides": [
                f"{int(a)} / {int(b)}"
                for a, b in zip(effects["companies_a"], effects["companies_b"], strict=True)
            ],
            "mark": np.where(effects["identifiable"].astype(bool), "", not_identifiable),
            "filled": effects["identifiable"].astype(bool),
        }
    )
    data = data[data["estimate"].notna()]
    order = [labels.get(e, e) for e in effects["effect"]]
    y = alt.Y("effect:N", title=None, sort=order)
    tooltip = [
        alt.Tooltip("effect:N"),
        alt.Tooltip("estimate:Q", format=".1f"),
        alt.Tooltip("low:Q", format=".1f"),
        alt.Tooltip("high:Q", format=".1f"),
        alt.Tooltip("sides:N"),
        alt.Tooltip("mark:N"),
    ]
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(
        aria=False, strokeDash=[4, 4], color="gray"
    )
    rules = (
        alt.Chart(data)
        .mark_rule(aria=False, strokeWidth=2)
        .encode(y=y, x=alt.X("low:Q", title=x_title), x2=alt.X2("high:Q"), tooltip=tooltip)
    )
    dots = (
        alt.Chart(data)
        .mark_point(aria=False, size=80, opacity=1, strokeWidth=2)
        .encode(
            y=y,
            x=alt.X("estimate:Q"),
            fill=alt.FillValue(
                **alt.condition("datum.filled", alt.value("#1f4e79"), alt.value("white"))
            ),
            color=alt.ColorValue("#1f4e79"),
            tooltip=tooltip,
        )
    )
    notes = (
        alt.Chart(data)
        .mark_text(aria=False, align="left", dx=6, fontSize=10, color="#444")
        .encode(y=y, x=alt.X("high:Q"), text=alt.Text("label:N"))
        .transform_calculate(label="datum.sides + (datum.mark ? ' · ' + datum.mark : '')")
    )
    return alt.layer(zero.encode(x=alt.X("x:Q")), rules, dots, notes).properties(
        title=title, description=title, width=WIDTH, height=max(160, 36 * len(data))
    )


def inputs_chart(
    inputs: pd.DataFrame,
    *,
    names: dict[str, str],
    group_labels: dict[str, str],
    title: str,
    x_title: str,
    percent: bool = False,
) -> alt.LayerChart:
    """The standardised company-level values that enter the model, one dot per company with
    its 95% interval, grouped by sector x origin: "foreign ISPs" shows as the dots it is."""
    scale = 100.0 if percent else 1.0
    half = 1.959963984540054 * inputs["standard_error"].astype(float)
    data = pd.DataFrame(
        {
            "name": [names.get(c, c) for c in inputs["company"]],
            "group": [
                group_labels.get(f"{s}/{o}", f"{s}/{o}")
                for s, o in zip(inputs["sector"], inputs["origin"], strict=True)
            ],
            "estimate": inputs["estimate"].astype(float) * scale,
            "low": (inputs["estimate"].astype(float) - half) * scale,
            "high": (inputs["estimate"].astype(float) + half) * scale,
            "n": inputs["n"].astype(int),
        }
    )
    y = alt.Y("name:N", title=None, sort=alt.EncodingSortField("group"))
    color = alt.Color("group:N", title=None, legend=alt.Legend(orient="bottom"))
    tooltip = [
        alt.Tooltip("name:N"),
        alt.Tooltip("group:N"),
        alt.Tooltip("estimate:Q", format=".1f"),
        alt.Tooltip("n:Q"),
    ]
    rules = (
        alt.Chart()
        .mark_rule(aria=False, strokeWidth=2)
        .encode(
            y=y, x=alt.X("low:Q", title=x_title), x2=alt.X2("high:Q"), color=color, tooltip=tooltip
        )
    )
    dots = (
        alt.Chart()
        .mark_circle(aria=False, size=70, opacity=1)
        .encode(y=y, x=alt.X("estimate:Q"), color=color, tooltip=tooltip)
    )
    return _layered(data, rules, dots).properties(
        title=title, description=title, width=WIDTH, height=max(160, 22 * len(data))
    )


# --- text alternatives: each chart's figures as a table -------------------------------------


def _estimate_text(value, locale: str, *, percent: bool, digits: int = 1) -> str:
    if pd.isna(value):
        return i18n.t("chart.alt.masked", locale)
    if percent:
        return i18n.percent(float(value), locale)
    return i18n.number(float(value), locale, digits=digits)


def _interval_text(low, high, locale: str, *, percent: bool, digits: int = 1) -> str:
    if pd.isna(low) and pd.isna(high):
        return "—"
    ends = [
        "NA" if pd.isna(bound) else _estimate_text(bound, locale, percent=percent, digits=digits)
        for bound in (low, high)
    ]
    return f"[{ends[0]} ; {ends[1]}]" if locale == "fr" else f"[{ends[0]}, {ends[1]}]"


def _count_text(value, locale: str) -> str:
    return "—" if pd.isna(value) else i18n.integer(int(value), locale)


def _columns(locale: str, *names: str) -> list[str]:
    return [name if name == "n" else i18n.t(f"chart.alt.{name}", locale) for name in names]


def forest_figures(
    table: pd.DataFrame,
    *,
    estimate: str,
    low: str,
    high: str,
    n: str,
    locale: str,
    percent: bool = False,
    label: str = "company_name",
) -> pd.DataFrame:
    """The figures of :func:`forest_chart`: one row per name, estimate, 95% interval and n.

    >>> table = pd.DataFrame({"company_name": ["Free"], "e": [0.5], "l": [0.4], "h": [0.6],
    ...                       "k": [120]})
    >>> forest_figures(table, estimate="e", low="l", high="h", n="k", locale="fr",
    ...                percent=True).iloc[0].tolist()
    ['Free', '50\u202f%', '[40\u202f% ; 60\u202f%]', '120']
    """
    rows = [
        (
            str(name),
            _estimate_text(e, locale, percent=percent),
            _interval_text(lo, hi, locale, percent=percent),
            _count_text(k, locale),
        )
        for name, e, lo, hi, k in zip(
            table[label], table[estimate], table[low], table[high], table[n], strict=True
        )
    ]
    return pd.DataFrame(rows, columns=_columns(locale, "name", "estimate", "interval", "n"))


SURVIVAL_DAYS = (7, 30, 90, 180, 365)


def survival_figures(
    curves: pd.DataFrame,
    names: dict[str, str],
    *,
    locale: str,
    by: str = "company",
    horizon: int = HORIZON_DAYS,
) -> pd.DataFrame:
    """The figures of :func:`survival_chart`: per name, the curve's value and 95% interval at
    7, 30, 90, 180 and 365 days (within ``horizon``), read as the step curve is drawn."""
    days = [d for d in SURVIVAL_DAYS if d <= horizon]
    rows = []
    for key, curve in curves.groupby(by, sort=False, observed=True):
        curve = curve.sort_values("time")
        cells = [labels_name(key, names)]
        for day in days:
            before = curve[curve["time"] <= day]
            if before.empty:
                cells.append("—")
                continue
            last = before.iloc[-1]
            cells.append(
                f"{_estimate_text(last['survival'], locale, percent=True)} "
                f"{_interval_text(last['low'], last['high'], locale, percent=True)}"
            )
        rows.append(cells)
    columns = [i18n.t("chart.alt.name", locale)] + [
        i18n.t("chart.alt.day", locale, days=i18n.integer(d, locale)) for d in days
    ]
    return pd.DataFrame(rows, columns=columns)


def labels_name(value, names: dict[str, str]) -> str:
    return str(names.get(value, value))


def distribution_figures(
    trips: pd.DataFrame, names: dict[str, str], *, locale: str
) -> pd.DataFrame:
    """The figures of :func:`distribution_chart`: per name, the share of incidents with 0, 1,
    ..., 5+ wasted trips, and the responses it rests on."""
    shares = trips.assign(name=_labelled(trips["company"], names))
    order = [
        label for label in ["0", "1", "2", "3", "4", "5+"] if label in set(shares["trips_label"])
    ]
    # A masked cell (NaN share) reads "masqué"; a number of trips nobody reported reads 0 %.
    cells = shares.set_index(["name", "trips_label"])
    table = cells["share"].unstack().reindex(columns=order)
    listed = pd.Series(True, index=cells.index).unstack(fill_value=False)
    absent = ~listed.reindex(columns=order, fill_value=False).astype(bool)
    table = table.mask(absent, 0.0)
    responses = shares.groupby("name", observed=True)["responses"].sum()
    frame = pd.DataFrame({i18n.t("chart.alt.name", locale): table.index.astype(str)})
    trips_title = i18n.t("chart.alt.trips", locale)
    for label in order:
        frame[f"{trips_title} : {label}" if locale == "fr" else f"{trips_title}: {label}"] = [
            _estimate_text(v, locale, percent=True) for v in table[label]
        ]
    frame["n"] = [_count_text(responses.get(name), locale) for name in table.index]
    return frame


def stages_figures(
    table: pd.DataFrame, stages: list[tuple[str, str]], *, locale: str
) -> pd.DataFrame:
    """The figures of :func:`stages_chart`: one row per name and stage."""
    rows = [
        (
            str(name),
            stage_label,
            _estimate_text(e, locale, percent=True),
            _interval_text(lo, hi, locale, percent=True),
            _count_text(k, locale),
        )
        for family, stage_label in stages
        for name, e, lo, hi, k in zip(
            table["company_name"],
            table[f"{family}_share"],
            table[f"{family}_low"],
            table[f"{family}_high"],
            table[f"{family}_n"],
            strict=True,
        )
    ]
    return pd.DataFrame(
        rows, columns=_columns(locale, "name", "stage", "estimate", "interval", "n")
    )


def sector_origin_figures(
    groups: pd.DataFrame,
    *,
    estimate: str,
    low: str,
    high: str,
    n: str,
    locale: str,
    sector_labels: dict[str, str],
    origin_labels: dict[str, str],
    percent: bool = False,
) -> pd.DataFrame:
    """The figures of :func:`sector_origin_chart`: one row per sector x origin cell."""
    rows = [
        (
            labels_name(sector, sector_labels),
            labels_name(origin, origin_labels),
            _estimate_text(e, locale, percent=percent),
            _interval_text(lo, hi, locale, percent=percent),
            _count_text(k, locale),
        )
        for sector, origin, e, lo, hi, k in zip(
            groups["sector"],
            groups["origin"],
            groups[estimate],
            groups[low],
            groups[high],
            groups[n],
            strict=True,
        )
    ]
    return pd.DataFrame(
        rows, columns=_columns(locale, "sector", "origin", "estimate", "interval", "n")
    )


def inputs_figures(
    inputs: pd.DataFrame,
    *,
    names: dict[str, str],
    group_labels: dict[str, str],
    locale: str,
    percent: bool = False,
) -> pd.DataFrame:
    """The figures of :func:`inputs_chart`: per company, its group, standardised value, 95%
    interval and n (in points of percentage where ``percent``, as the chart draws them)."""
    scale = 100.0 if percent else 1.0
    half = 1.959963984540054 * inputs["standard_error"].astype(float)
    value = inputs["estimate"].astype(float)
    rows = [
        (
            labels_name(company, names),
            labels_name(f"{sector}/{origin}", group_labels),
            _estimate_text(e * scale, locale, percent=False),
            _interval_text(lo * scale, hi * scale, locale, percent=False),
            _count_text(k, locale),
        )
        for company, sector, origin, e, lo, hi, k in zip(
            inputs["company"],
            inputs["sector"],
            inputs["origin"],
            value,
            value - half,
            value + half,
            inputs["n"],
            strict=True,
        )
    ]
    return pd.DataFrame(
        rows, columns=_columns(locale, "name", "group", "estimate", "interval", "n")
    )
