"""Every chart builds a Vega-Lite spec that renders offline, including when nothing is estimable."""

from datetime import date

import numpy as np
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
