"""Every chart builds a Vega-Lite spec that renders offline, including when nothing is estimable."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from analysis import charts, dashboard
from survey.demo import generate_frame

TODAY = date(2026, 6, 15)


@pytest.fixture(scope="module")
def view():
    return dashboard.compute(generate_frame(3_000, seed=3, today=TODAY), as_of=TODAY)


def svg(chart) -> str:
    return vlc.vegalite_to_svg(chart.to_dict())


def all_charts(view):
    table, groups = view.companies, view.groups
    names = dict(zip(table["company"], table["company_name"], strict=True))
    yield charts.survival_chart(view.resolution_curves, names, title="t", x_title="x", y_title="y")
    yield charts.forest_chart(
        table,
        estimate="refund_success_share",
        low="refund_success_low",
        high="refund_success_high",
        n="refund_success_n",
        title="t",
        x_title="x",
        percent=True,
    )
    yield charts.distribution_chart(view.trips, names, title="t", x_title="x", legend="l")
    yield charts.stages_chart(
        table,
        [("loaner_offered", "a"), ("loaner_obtained", "b"), ("loaner_cut", "c")],
        title="t",
        x_title="x",
    )
    yield charts.sector_origin_chart(
        groups,
        estimate="resolution_median_days",
        low="resolution_median_low",
        high="resolution_median_high",
        n="resolution_n",
        title="t",
        sector_labels={},
        origin_labels={},
        legend="l",
    )


def test_every_chart_renders_to_svg_with_its_marks(view):
    for chart in all_charts(view):
        image = svg(chart)
        assert image.startswith("<svg")
        assert "<path" in image or "<rect" in image


def test_charts_render_when_every_estimate_is_missing(view):
    """A selection where nothing can be estimated (all NaN) must still draw, not crash."""
    table = view.companies.copy()
    groups = view.groups.copy()
    for frame in (table, groups):
        counts = ("n", "_n", "_events", "_excluded", "_total")
        estimates = [c for c in frame.select_dtypes("number").columns if not c.endswith(counts)]
        frame[estimates] = np.nan
    empty = dashboard.Dashboard(
        view.as_of,
        view.n,
        table,
        groups,
        view.resolution_curves,
        view.refund_curves,
        view.naive,
        view.trips,
    )
    for chart in all_charts(empty):
        assert svg(chart).startswith("<svg")


# --- the curves: drawn through their steps only (issue 14) -----------------------------------


def _png(spec: dict) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(vlc.vegalite_to_png(spec, scale=2))))


def _curve_spec(view, curves, horizon: int) -> tuple[dict, dict]:
    """The spec survival_chart makes, and the spec as it was before issue 14: every row of
    the curves (a dataset of the same columns, nothing left out) and Vega's default handling
    of invalid values (no ``invalid`` on the marks)."""
    names = dict(zip(view.companies["company"], view.companies["company_name"], strict=True))
    chart = charts.survival_chart(
        curves, names, title="t", x_title="x", y_title="y", horizon=horizon
    ).properties(width=640)
    spec = chart.to_dict()
    (key,) = spec["datasets"]
    every = curves[curves["time"] <= horizon].assign(
        name=lambda f: f["company"].map(names).astype(str)
    )[["name", "time", "survival", "low", "high"]]
    records = every.astype(object).where(every.notna(), None).to_dict(orient="records")
    layers = [{**layer, "mark": dict(layer["mark"])} for layer in spec["layer"]]
    for layer in layers:
        layer["mark"].pop("invalid", None)
    full = {**spec, "datasets": {key: records}, "layer": layers}
    return spec, full


def _band_moves_alone(curves):
    """The refund curves with their lower bound lowered on some of the days where the curve
    stays level (an interval that moves with the numbers at risk, not with the events)."""
    moved = curves.copy()
    level = moved.groupby("company")["survival"].diff().eq(0).to_numpy().nonzero()[0][::3]
    moved.iloc[level, moved.columns.get_loc("low")] -= 0.05
    return moved


def _bounds_not_reached(curves):
    """The resolution curves with the upper bound of each curve's last tenth missing (NaN,
    "NA" as R prints a bound that is not reached)."""
    missing = curves.copy()
    order = missing.groupby("company").cumcount()
    size = missing.groupby("company")["time"].transform("size")
    missing.loc[order >= 0.9 * size, "high"] = np.nan
    return missing


@pytest.mark.parametrize(
    "kind", ["resolution", "refund_time", "band_moves_alone", "bounds_not_reached"]
)
def test_the_curves_drawn_through_their_steps_are_the_same_picture(view, kind):
    """The rows where nothing drawn changes are left out of the curves' spec: the image is the
    same, pixel for pixel (vl-convert, as the published snapshot draws it), with fewer rows."""
    curves = {
        "resolution": view.resolution_curves,
        "refund_time": view.refund_curves,
        "band_moves_alone": _band_moves_alone(view.refund_curves),
        "bounds_not_reached": _bounds_not_reached(view.resolution_curves),
    }[kind]
    kind = "resolution" if kind in ("resolution", "bounds_not_reached") else "refund_time"
    horizon = charts.CURVES[kind].horizon
    spec, full = _curve_spec(view, curves, horizon)
    (kept,) = spec["datasets"].values()
    (every,) = full["datasets"].values()
    assert len(kept) < len(every)  # 3,000 demo responses: some plateaus to leave out
    # Vega tests each point only where a value is missing (NaN bounds are left out of the band)
    marks = [layer["mark"] for layer in spec["layer"]]
    missing = curves[curves["time"] <= horizon][["low", "high"]].isna().to_numpy().any()
    assert all(("invalid" in mark) is not missing for mark in marks)
    assert np.array_equal(_png(spec), _png(full))


def test_the_kept_steps_give_every_time_its_drawn_value():
    """At every time of the original curves, the last kept row at or before it carries the
    same survival and band (what a step-after line and area draw there), NaN bounds included;
    each curve keeps its first and last time."""
    curves = pd.DataFrame(
        {
            "company": ["a"] * 6 + ["b"] * 4,
            "time": [0, 1, 2, 3, 4, 5, 0, 2, 3, 9],
            "survival": [1.0, 0.8, 0.8, 0.8, 0.5, 0.5, 0.9, 0.9, 0.9, 0.9],
            "low": [0.9, 0.7, 0.7, 0.6, 0.4, 0.4, 0.8, 0.8, 0.8, 0.8],
            "high": [1.0, 0.9, 0.9, 0.9, np.nan, np.nan, 1.0, 1.0, 1.0, 1.0],
        }
    )
    kept = charts.steps(curves, "company", ("survival", "low", "high"))
    assert kept["time"].tolist() == [0, 1, 3, 4, 5, 0, 9]
    for _, row in curves.iterrows():
        same = kept[(kept["company"] == row["company"]) & (kept["time"] <= row["time"])].iloc[-1]
        for column in ("survival", "low", "high"):
            assert same[column] == row[column] or (pd.isna(same[column]) and pd.isna(row[column]))


def test_a_curve_names_its_company_on_hover_and_keeps_its_text_alternative(view):
    """A line is one path to Vega: its tooltip names the company (a per-day figure there would
    be day 0's wherever the pointer is); the chart keeps its description, and its figures
    (each day's value and interval) stay in survival_figures."""
    spec, _ = _curve_spec(view, view.resolution_curves, 365)
    band, line = spec["layer"]
    assert line["encoding"]["tooltip"] == {"field": "name", "type": "nominal"}  # the name alone
    assert "tooltip" not in band["encoding"]
    assert spec["description"] == "t"
    names = dict(zip(view.companies["company"], view.companies["company_name"], strict=True))
    figures = charts.survival_figures(view.resolution_curves, names, locale="fr")
    assert len(figures) == view.resolution_curves["company"].nunique()
