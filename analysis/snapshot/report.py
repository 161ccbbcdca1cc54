"""The self-contained report of a snapshot (``index.html``, ``index.en.html``), rendered from the
Jinja2 templates of ``analysis/snapshot/templates/`` with autoescape on.

Python prepares what the page says (rows, cells, captions, numbers as text in the locale's
way); the templates hold the markup, one per page part: ``report.html.j2`` (the page),
``header.html.j2``, ``table.html.j2`` (headline tables), ``figure.html.j2``,
``at_risk.html.j2``, ``annex.<locale>.html.j2`` (the methodology annex, one file per language)
and ``files.html.j2`` (files, facts, citation). Report chrome strings come from
``survey/messages/report.toml`` through :func:`survey.i18n.t`. Every value reaches the page
through autoescape; the one markup trusted as it is, the SVG drawn by vl-convert, is checked
and marked safe in :func:`trusted_svg` only.
"""

from __future__ import annotations

import math
import re
import threading
from datetime import date
from functools import cache

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from analysis import charts, dashboard, design, drawing, kpis, metrics
from analysis.snapshot.build import Snapshot, display_name, display_names, group_name
from survey import i18n
from survey.questionnaire import QUESTIONNAIRE_VERSION, TOO_FAST_SECONDS

CHART_WIDTH = 760
AT_RISK_DAYS = dashboard.AT_RISK_DAYS
SECTIONS = (
    "reponse",
    "synthese",
    "groupes",
    "resolution",
    "remboursements",
    "deplacements",
    "secteur-origine",
    "methodologie",
    "donnees",
)
"""The report's sections, in order: their ids are the page anchors."""
DATA_FILES = (
    "kpis.csv",
    "kpis.parquet",
    "survival_curves.csv",
    "design_effects.csv",
    "design_inputs.csv",
    "design_groups.csv",
    "sensitivity.csv",
    "manifest.json",
    "datapackage.json",
)
_SECTORS = metrics.SECTOR_LABELS  # (fr, en), the catalogue's, as the dashboard
_ORIGINS = metrics.ORIGIN_LABELS
# What SVG from vl-convert may not hold to be put in the page as it is.
_UNSAFE_SVG = re.compile(r"<\s*(script|foreignObject|iframe)\b|\son\w+\s*=|javascript:", re.I)


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: autoescape on for every template, undefined names fail."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("analysis.snapshot", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# --- numbers and words ------------------------------------------------------------------------


def _rounded(value: float, digits: int) -> float:
    # Round half-even on the exact binary value, as Python's format (and the report before the
    # templates) does; i18n.number rounds the shortest decimal text (2.675 gives 2.68 there,
    # 2.67 here). Once rounded, the value has no tie left for i18n.number to round differently.
    return float(f"{value:.{digits}f}")


def decimal(value: float, digits: int, locale: str) -> str:
    """``value`` with ``digits`` decimals, the locale's separators and minus sign; NA if NaN."""
    value = float(value)
    if math.isnan(value):
        return "NA"
    return i18n.number(_rounded(value, digits), locale, digits=digits)


def percent(share: float, digits: int, locale: str) -> str:
    """A share as a percent: ``91 %`` (narrow no-break space) in French, ``91%`` in English."""
    share = float(share)
    if math.isnan(share):
        return "NA"
    return i18n.percent(_rounded(100.0 * share, digits) / 100.0, locale, digits=digits)


def french_spaces(text: str) -> str:
    """No line break inside « » or before : ; ? ! (French typography), in headings only."""
    text = text.replace("« ", "«\u00a0").replace(" »", "\u00a0»")
    return re.sub(r" ([:;?!])", "\u00a0\\1", text)


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _long(day: date, locale: str) -> str:
    return i18n.date(day, locale, style="long")


# --- the SVG figures --------------------------------------------------------------------------


def trusted_svg(svg: str, prefix: str, label: str) -> Markup:
    """vl-convert's SVG as markup the templates put in the page as it is; the one place where
    markup is trusted without escaping.

    vl-convert writes well-formed SVG with every data text escaped; it is checked here to hold
    no script, event handler or embedded document (``ValueError`` otherwise). Made fit to sit
    inline in HTML: ids renamed ``<prefix>-<k>`` in order of appearance (unique in the page,
    and independent of the renderer's process-wide counter, which numbers gradients
    differently on every call), the XML namespaces (URLs that load nothing, but need not be
    there) dropped, and ``label`` added as the text alternative (escaped as an attribute).
    """
    if not re.match(r"\s*<svg[\s>]", svg) or _UNSAFE_SVG.search(svg):
        raise ValueError("`svg` must be an SVG drawing without scripts or event handlers.")
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    renamed: dict[str, str] = {}
    for found in re.findall(r'\bid="([^"]+)"', svg):
        renamed.setdefault(found, f"{prefix}-{len(renamed)}")

    def rename(match: re.Match) -> str:
        old = match.group(2)
        return f"{match.group(1)}{renamed.get(old, old)}{match.group(3)}"

    svg = re.sub(r'(\bid=")([^"]+)(")', rename, svg)
    svg = re.sub(r"(url\(#)([^)]+)(\))", rename, svg)
    svg = re.sub(r'(href="#)([^"]+)(")', rename, svg)
    before, after = svg.split("<svg", 1)
    opening = Markup('<svg role="img" aria-label="{}"').format(label)
    return Markup(before) + opening + Markup(after)


_ENGINE: list[threading.Thread] = []


def start_chart_engine(*, helper: bool = False) -> None:
    """Start vl-convert's engine here in a thread (about 0.9 s, spent without the GIL) while
    the snapshot is built, instead of before the report's first chart; with ``helper``, start
    the drawing helper instead (:mod:`analysis.drawing`: a process that imports vl-convert
    alone and starts its engine at once), so that the charts are drawn beside the rest of
    the publication instead of holding this process's GIL (the thread if it cannot start).
    :func:`analysis.snapshot.publish` uses the helper and ends it; a preview (the app's
    publish page) keeps to the thread, so that no idle process outlives it."""
    if helper and drawing.start() is not None:
        return
    import vl_convert

    if not _ENGINE:
        empty = {"mark": "point", "data": {"values": []}}
        engine = threading.Thread(
            target=vl_convert.vegalite_to_svg, args=(empty,), name="chart-engine", daemon=True
        )
        engine.start()
        _ENGINE.append(engine)


class _PendingSvg:
    """A chart being drawn (by the helper when it runs): :meth:`markup` waits for it."""

    def __init__(self, chart, prefix: str, label: str, locale: str) -> None:
        # Not validated against the Vega-Lite schema again here (most of a tenth of a second
        # a chart at 1M responses): tests/test_charts.py validates every chart function.
        spec = chart.properties(width=CHART_WIDTH).to_dict(validate=False)
        self.prefix, self.label = prefix, label
        format_locale = "fr-FR" if locale != "en" else "en-US"
        self.drawing = drawing.Drawing(spec, format_locale, drawing.running())

    def markup(self) -> Markup:
        if self.drawing.future is None and _ENGINE:
            _ENGINE[0].join()  # (the first chart waits for the engine, not starting another)
        return trusted_svg(self.drawing.result(), self.prefix, self.label)


def _svg(chart, prefix: str, label: str, locale: str) -> Markup:
    return _PendingSvg(chart, prefix, label, locale).markup()


def _figure(
    fid: str, caption: str, chart=None, *, title: str = "", locale: str = "fr", later=False
) -> dict:
    """A figure for ``figure.html.j2``: its SVG, or only its caption when nothing is shown.
    ``later``: the SVG is left being drawn (a ``_PendingSvg``, see :func:`_drawn`)."""
    svg = None
    if chart is not None:
        svg = _PendingSvg(chart, fid, title, locale)
        if not later:
            svg = svg.markup()
    return {"id": fid, "svg": svg, "caption": caption}


def _drawn(figure: dict | None) -> dict | None:
    """``figure`` with its SVG drawn (waited for, when it was left being drawn)."""
    if figure is None or not isinstance(figure["svg"], _PendingSvg):
        return figure
    return {**figure, "svg": figure["svg"].markup()}


def _not_shown(rows: pd.DataFrame, family: str, locale: str, min_cell: int) -> str:
    hidden = rows[rows[f"{family}_suppressed"]]
    if hidden.empty:
        return ""
    names = ", ".join(
        i18n.t("report.not_shown_item", locale, name=name, count=i18n.integer(n, locale))
        for name, n in zip(display_names(hidden, locale), hidden["n"], strict=True)
    )
    return i18n.t("report.not_shown", locale, min_cell=min_cell, names=names)


def _curve_frame(snapshot: Snapshot, metric: str) -> pd.DataFrame:
    curves = snapshot.curves
    shown = curves[(curves["metric"] == metric) & ~curves["suppressed"]]
    return pd.DataFrame(
        {
            "company": shown["company"].astype(str).to_numpy(),
            "time": shown["time"].astype(float).to_numpy(),
            "n_at_risk": shown["n_at_risk"].astype(float).to_numpy(),
            "survival": shown["survival"].to_numpy(dtype=float),
            "low": shown["low"].to_numpy(dtype=float),
            "high": shown["high"].to_numpy(dtype=float),
        }
    )


def survival_figure(
    snapshot: Snapshot, metric: str, locale: str, *, fid: str, later: bool = False
) -> dict:
    """The Kaplan-Meier curves of ``metric`` (resolution, refund_time) per published company."""
    curve = charts.CURVES[metric]
    title = charts.pick(curve.title, locale)
    companies = snapshot.companies
    data = _curve_frame(snapshot, metric)
    shown = companies[~companies[f"{metric}_suppressed"]]
    names = {
        unit: f"{name} (n = {i18n.integer(n, locale)})"
        for unit, name, n in zip(
            shown["id"], display_names(shown, locale), shown[f"{metric}_n"], strict=True
        )
    }
    caption = i18n.t(
        "report.survival_caption",
        locale,
        title=title,
        base=i18n.t(f"report.curve_base.{metric}", locale),
        min_cell=snapshot.min_cell,
    ) + _not_shown(companies, metric, locale, snapshot.min_cell)
    if data.empty:
        return _figure(fid, caption)
    # the axis ends where the published curves do (they stop where few remain at risk)
    horizon = int(min(curve.horizon, max(30, math.ceil(data["time"].max() / 30) * 30)))
    chart = charts.survival_chart(
        data,
        names,
        title=title,
        x_title=charts.pick(curve.x_title, locale),
        y_title=charts.pick(curve.y_title, locale),
        horizon=horizon,
    )
    return _figure(fid, caption, chart, title=title, locale=locale, later=later)


def forest_figure(
    snapshot: Snapshot, metric, locale: str, *, fid: str, later: bool = False
) -> dict:
    """One dot and interval per published company for one metric of the charts' catalogue."""
    family, estimate = metric.family, metric.estimate
    title, x_title = charts.pick(metric.title, locale), charts.pick(metric.axis, locale)
    companies = snapshot.companies
    shown = companies[~companies[f"{family}_suppressed"] & companies[estimate].notna()]
    caption = i18n.t("report.forest_caption", locale, title=title) + _not_shown(
        companies, family, locale, snapshot.min_cell
    )
    if shown.empty:
        return _figure(fid, caption)
    data = pd.DataFrame(
        {
            "label": display_names(shown, locale),
            "estimate": shown[estimate].to_numpy(dtype=float),
            "low": shown[metric.low].to_numpy(dtype=float),
            "high": shown[metric.high].to_numpy(dtype=float),
            "n": shown[f"{family}_n"].to_numpy(dtype=int),
        }
    )
    chart = charts.forest_chart(
        data,
        estimate="estimate",
        low="low",
        high="high",
        n="n",
        title=title,
        x_title=x_title,
        percent=metric.percent,
        label="label",
    )
    return _figure(fid, caption, chart, title=title, locale=locale, later=later)


def sector_origin_figure(
    snapshot: Snapshot, metric, locale: str, *, fid: str, later: bool = False
) -> dict:
    """One metric in the 2 x 2 design, sector (rows) by origin (columns), from the groups."""
    family, estimate = metric.family, metric.estimate
    title = charts.pick(metric.title, locale)
    groups = snapshot.groups
    design = groups[groups["sector"].isin(_SECTORS) & groups["origin"].isin(_ORIGINS)]
    shown = design[~design[f"{family}_suppressed"]]
    hidden = design[design[f"{family}_suppressed"]]
    caption = i18n.t("report.sector_origin_caption", locale, title=title)
    if not hidden.empty:
        names = ", ".join(group_name(g, locale) for g in hidden["id"])
        caption += i18n.t(
            "report.sector_origin_hidden", locale, min_cell=snapshot.min_cell, names=names
        )
    if shown.empty:
        return _figure(fid, caption)
    data = pd.DataFrame(
        {
            "sector": shown["sector"].to_numpy(dtype=object),
            "origin": shown["origin"].to_numpy(dtype=object),
            "estimate": shown[estimate].to_numpy(dtype=float),
            "low": shown[metric.low].to_numpy(dtype=float),
            "high": shown[metric.high].to_numpy(dtype=float),
            "n": shown[f"{family}_n"].to_numpy(dtype=int),
        }
    )
    english = locale == "en"
    chart = charts.sector_origin_chart(
        data,
        estimate="estimate",
        low="low",
        high="high",
        n="n",
        title=title,
        sector_labels={k: v[english] for k, v in _SECTORS.items()},
        origin_labels={k: v[english] for k, v in _ORIGINS.items()},
        percent=metric.percent,
        legend="%" if metric.percent else i18n.t("report.days", locale),
    )
    return _figure(fid, caption, chart, title=title, locale=locale, later=later)


# --- the tables -------------------------------------------------------------------------------


def _cell(row, spec: metrics.Estimate, locale: str, small_base: int) -> dict:
    """One figure of one row for ``table.html.j2``: suppressed, missing, or value with its
    interval, mark and base."""
    family, estimate, low, high = spec.family, spec.estimate, spec.low, spec.high
    is_percent, digits = spec.percent, spec.digits
    if row[f"{family}_suppressed"]:
        return {"suppressed": True}

    scale = 100.0 if is_percent else 1.0

    def bound(value) -> str:  # interval bounds carry no unit
        return "NA" if _is_missing(value) else decimal(value * scale, digits, locale)

    value = row[estimate]
    n = int(row[f"{family}_n"])
    cell = {
        "suppressed": False,
        "n": i18n.integer(n, locale),
        "small": n < small_base,
        "value": None,
        "missing": None,
        "mark": None,
        "interval": None,
    }
    if _is_missing(value):
        key = "report.not_reached" if estimate.endswith("_median_days") else "report.no_value"
        cell["missing"] = i18n.t(key, locale)
        return cell
    cell["value"] = percent(value, digits, locale) if is_percent else decimal(value, digits, locale)
    flag = row.get(f"{family}_vs_others_flag")
    cell["mark"] = flag if flag in ("better", "worse") else None
    if not (_is_missing(row[low]) and _is_missing(row[high])):
        cell["interval"] = (bound(row[low]), bound(row[high]))
    return cell


def headline_table(rows: pd.DataFrame, snapshot: Snapshot, locale: str, caption: str) -> dict:
    """A headline table (companies or groups) for ``table.html.j2``, rows in name order."""
    is_group = len(rows) > 0 and rows["level"].iloc[0] == "group"
    small_base = snapshot.settings["small_base"]
    labels = display_names(rows, locale)
    order = sorted(range(len(rows)), key=lambda i: labels[i].casefold())
    records = rows.to_dict("records")
    body = []
    for i in order:
        row = records[i]
        shown = row["n"] >= snapshot.min_cell
        body.append(
            {
                "label": labels[i],
                "n": i18n.integer(row["n"], locale),
                "cells": (
                    [_cell(row, spec, locale, small_base) for spec in metrics.HEADLINE]
                    if shown
                    else None
                ),
            }
        )
    return {
        "caption": caption,
        "heading": i18n.t("report.column_group" if is_group else "report.column_company", locale),
        "columns": [
            spec.short[1] if locale == "en" else french_spaces(spec.short[0])
            for spec in metrics.HEADLINE
        ],
        "rows": body,
    }


def at_risk_table(snapshot: Snapshot, locale: str) -> dict | None:
    """Incidents still at risk on :data:`AT_RISK_DAYS`, per published resolution curve; a day
    past the published curve shows ``< min_cell``."""
    curves = snapshot.curves
    shown = curves[(curves["metric"] == "resolution") & ~curves["suppressed"]]
    if shown.empty:
        return None
    companies = snapshot.companies.set_index("id")
    days = np.asarray(AT_RISK_DAYS, dtype=float)
    rows = []
    for company, curve in shown.groupby("company", sort=False):
        times = curve["time"].to_numpy(dtype=float)
        at_risk = curve["n_at_risk"].to_numpy(dtype=float)
        index = np.searchsorted(times, days, side="left")
        cells = [i18n.integer(at_risk[i], locale) if i < len(times) else None for i in index]
        label = display_name("company", company, companies.loc[company, "name"], locale)
        rows.append({"label": label, "cells": cells})
    rows.sort(key=lambda r: r["label"].casefold())
    return {"days": AT_RISK_DAYS, "rows": rows}


# --- the page ---------------------------------------------------------------------------------


def _annex_values(snapshot: Snapshot, locale: str) -> dict:
    settings = snapshot.settings
    return {
        "as_of": _long(snapshot.as_of, locale),
        "first": _long(snapshot.submitted_from, locale),
        "last": _long(snapshot.submitted_to, locale),
        "rows": i18n.integer(snapshot.rows, locale),
        "min_cell": snapshot.min_cell,
        "min_cell_1": snapshot.min_cell - 1,
        "small_base": settings["small_base"],
        "level": round(settings["confidence_level"] * 100),
        "alpha": decimal(settings["false_discovery_rate"], 2, locale),
        "resamples": i18n.integer(settings["bootstrap_resamples"] or 0, locale),
        "seed": snapshot.seed,
        "too_fast": f"{TOO_FAST_SECONDS:g}",
        "hash": snapshot.input_sha256,
    }


def design_figure(snapshot: Snapshot, locale: str, *, later: bool = False) -> dict | None:
    """The forest plot of the five effects of the main measure: the first compared metric
    with effects (None when none has)."""
    effects = snapshot.design_effects
    t = lambda key, **kw: i18n.t(key, locale, **kw)  # noqa: E731
    for metric in kpis.DESIGN_METRICS:
        rows = effects[effects["metric"] == metric].reset_index(drop=True)
        if rows.empty:
            continue
        table = rows.astype({"companies_a": int, "companies_b": int, "identifiable": bool})
        percent = metric != "resolution_unresolved90_days"
        chart = charts.design_effects_chart(table, t, percent=percent)
        return _figure(
            "fig-design",
            t("report.design.caption", metric=t(f"dashboard.design.metric.{metric}")),
            chart,
            title=t("dashboard.design.effects_title"),
            locale=locale,
            later=later,
        )
    return None


_DRAW = object()


def answer_section(snapshot: Snapshot, locale: str, figure=_DRAW) -> dict:
    """The answer to "France or the sector?": the verdict per compared metric, in words from
    the estimates, and the forest plot of the five effects of the main measure
    (:func:`design_figure`, drawn here unless given)."""
    effects = snapshot.design_effects
    t = lambda key, **kw: i18n.t(key, locale, **kw)  # noqa: E731
    verdicts = []
    for metric in kpis.DESIGN_METRICS:
        rows = effects[effects["metric"] == metric].reset_index(drop=True)
        if rows.empty:
            continue
        table = rows.astype({"companies_a": int, "companies_b": int, "identifiable": bool})
        verdicts.append(
            {
                "title": t(f"dashboard.design.metric.{metric}"),
                "sentences": design.verdict(table, locale=locale),
            }
        )
    figure = design_figure(snapshot, locale) if figure is _DRAW else _drawn(figure)
    groups = snapshot.design_groups
    main = groups[groups["metric"] == kpis.DESIGN_METRICS[0]] if len(groups) else groups

    def fmt(value):
        return "—" if _is_missing(value) else decimal(float(value), 1, locale)

    cells = [
        {
            "name": group_name(f"{row['sector']}/{row['origin']}", locale),
            "companies": int(row["companies"]),
            "unweighted": f"{fmt(row['unweighted_mean'])} [{fmt(row['unweighted_low'])} ; "
            f"{fmt(row['unweighted_high'])}]",
            "weighted": f"{fmt(row['weighted_mean'])} [{fmt(row['weighted_low'])} ; "
            f"{fmt(row['weighted_high'])}]",
        }
        for _, row in main.iterrows()
    ]
    return {"verdicts": verdicts, "figure": figure, "groups": cells}


def sensitivity_table(snapshot: Snapshot, locale: str) -> dict | None:
    """The annex's sensitivity table: published figures beside those of the sensitivity
    analyses (after the launch; refunds reweighted by outcome)."""
    frame = snapshot.sensitivity
    if frame is None or frame.empty:
        return None
    names = dict(
        zip(snapshot.companies["id"], display_names(snapshot.companies, locale), strict=True)
    )
    columns = [
        ("resolved_within_30d_share", True, 0),
        ("after_launch_resolved_within_30d_share", True, 0),
        ("resolution_unresolved90_days", False, 1),
        ("after_launch_resolution_unresolved90_days", False, 1),
        ("refunded_within_30d_share", True, 0),
        ("refunded_within_30d_reweighted", True, 0),
    ]
    columns = [c for c in columns if c[0] in frame.columns]
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, share, digits in columns:
            value = row[column]
            if _is_missing(value):
                cells.append("—")
            elif share:
                cells.append(percent(float(value), digits, locale))
            else:
                cells.append(decimal(float(value), digits, locale))
        rows.append({"name": names.get(row["company"], row["company"]), "cells": cells})
    return {
        "headings": [i18n.t(f"report.sensitivity.{c}", locale) for c, _, _ in columns],
        "rows": rows,
    }


def figures(snapshot: Snapshot, locale: str) -> dict:
    """Every chart of the report in ``locale``, left being drawn (by the drawing helper when
    it runs: :func:`start_chart_engine`), for :func:`render_report`: they need neither the
    manifest nor the input hash, so a publication sends them before it waits for the hash."""
    if locale not in i18n.LOCALES:
        raise ValueError(f"`locale` must be one of {', '.join(i18n.LOCALES)}.")
    return {
        "resolution": survival_figure(
            snapshot, "resolution", locale, fid="fig-resolution", later=True
        ),
        "refund_success": forest_figure(
            snapshot,
            metrics.METRIC["refund_success"].main,
            locale,
            fid="fig-refund-success",
            later=True,
        ),
        "refund_time": survival_figure(
            snapshot, "refund_time", locale, fid="fig-refund-time", later=True
        ),
        "wasted_trips": forest_figure(
            snapshot,
            metrics.METRIC["wasted_trips"].main,
            locale,
            fid="fig-wasted-trips",
            later=True,
        ),
        "sector_origin": [
            sector_origin_figure(snapshot, metrics.METRIC[family].main, locale, fid=fid, later=True)
            for family, fid in zip(
                charts.SECTOR_ORIGIN_METRICS,
                ("fig-so-resolution", "fig-so-refund", "fig-so-satisfied"),
                strict=True,
            )
        ],
        "design": design_figure(snapshot, locale, later=True),
    }


def render_report(snapshot: Snapshot, manifest: dict, locale: str, drawn=None) -> str:
    """The report in ``locale`` ("fr" or "en") as HTML text; ``drawn``: its :func:`figures`,
    sent to be drawn earlier (built from this snapshot's tables), else made here."""
    if locale not in i18n.LOCALES:
        raise ValueError(f"`locale` must be one of {', '.join(i18n.LOCALES)}.")
    companies, groups = snapshot.companies, snapshot.groups
    as_of = _long(snapshot.as_of, locale)
    annex = _annex_values(snapshot, locale)
    drawn = figures(snapshot, locale) if drawn is None else drawn
    figure_of = {
        name: [_drawn(f) for f in figure] if isinstance(figure, list) else _drawn(figure)
        for name, figure in drawn.items()
    }
    design_drawn = figure_of.pop("design")
    context = {
        "answer": answer_section(snapshot, locale, design_drawn),
        "sensitivity": sensitivity_table(snapshot, locale),
        "launch": None if snapshot.launch is None else _long(snapshot.launch, locale),
        "locale": locale,
        "t": lambda key, **params: i18n.t(key, locale, **params),
        "sections": SECTIONS,
        "as_of": as_of,
        "snapshot": snapshot,
        "rows": annex["rows"],
        "first": annex["first"],
        "last": annex["last"],
        "companies": len(companies),
        "published": int((companies["n"] >= snapshot.min_cell).sum()),
        "legend": {
            "level": annex["level"],
            "alpha": annex["alpha"],
            "small_base": annex["small_base"],
        },
        "company_table": headline_table(
            companies, snapshot, locale, i18n.t("report.caption_companies", locale, as_of=as_of)
        ),
        "group_table": headline_table(
            groups, snapshot, locale, i18n.t("report.caption_groups", locale)
        ),
        "figures": figure_of,
        "at_risk": at_risk_table(snapshot, locale),
        "sector_origin_intro": charts.pick(charts.SECTOR_ORIGIN_INTRO, locale),
        "annex": annex,
        "data_files": DATA_FILES,
        "software": manifest["software"],
        "questionnaire_version": QUESTIONNAIRE_VERSION,
    }
    return environment().get_template("report.html.j2").render(context)
