"""The metric catalogue: every column of the kpis tables belongs to exactly one metric, every
metric speaks both languages, and the dashboard and the charts take their words from it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analysis import charts, dashboard, kpis, metrics
from survey import i18n

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_kpis import make_responses  # noqa: E402

PARTS = ("short", "title", "axis", "description")


@pytest.fixture(scope="module")
def tables():
    return kpis.summary_tables(make_responses(600), as_of="2025-06-30", rng=1, n_resamples=200)


def test_every_kpis_column_belongs_to_exactly_one_metric(tables):
    for table in (tables.companies, tables.groups):
        measured = [c for c in table.columns if c not in metrics.IDENTITY_COLUMNS]
        owners = {c: [m.name for m in metrics.METRICS if c in m.columns] for c in measured}
        assert {c: o for c, o in owners.items() if len(o) != 1} == {}
        assert [metrics.family_of(c) for c in measured] == [owners[c][0] for c in measured]


def test_every_catalogued_column_is_computed_and_in_catalogue_order(tables):
    measured = [c for c in tables.companies.columns if c not in metrics.IDENTITY_COLUMNS]
    catalogued = [c for m in metrics.METRICS for c in m.columns]
    assert measured == catalogued


def test_kpis_families_are_the_compared_metrics_of_the_catalogue():
    compared = [m for m in metrics.METRICS if m.compared]
    assert [f.name for f in kpis.FAMILIES] == [m.name for m in compared]
    assert [f.kind for f in kpis.FAMILIES] == [m.kind for m in compared]
    assert [f.higher_is_better for f in kpis.FAMILIES] == [m.higher_is_better for m in compared]


def test_every_metric_and_shared_label_has_both_languages():
    assert i18n.catalogue_problems() == []
    for metric in metrics.METRICS:
        assert metric.label("fr") and metric.label("en")
        for figure in metric.estimates:
            for part in PARTS:
                fr, en = figure.pair(part)
                assert fr.strip() and en.strip(), (figure.key, part)
                assert "{" not in fr + en, (figure.key, part)  # every placeholder filled
    for pairs in (metrics.SECTOR_LABELS, metrics.ORIGIN_LABELS, metrics.GROUP_LABELS):
        assert all(fr and en for fr, en in pairs.values())


def test_one_wording_for_the_companies_outside_the_list():
    assert metrics.group_label(metrics.UNLISTED_GROUP, "en") == "Companies outside the list"
    assert metrics.group_label(metrics.UNLISTED_GROUP, "fr") == "Entreprises hors liste"
    assert metrics.company_label("other", None, "fr") == "Autres entreprises (hors liste)"
    assert metrics.company_label("orange", None, "fr") == "orange"  # no name: its id, not None
    assert dashboard.group_label is metrics.group_label


def test_the_dashboard_and_the_charts_take_their_words_from_the_catalogue(tables):
    table = dashboard.headline_table(tables.companies, "en")
    for figure in metrics.HEADLINE:
        assert figure.text("short", "en") in table.columns
    french = dashboard.headline_table(tables.groups, "fr", label_column="group")
    assert {metrics.HEADLINE[0].short[0], "NPS · signe"} <= set(french.columns)
    for name, figure in charts.METRICS.items():
        assert figure is metrics.METRIC[name].main
    assert charts.SECTOR_LABELS is metrics.SECTOR_LABELS
    assert charts.ORIGIN_LABELS is metrics.ORIGIN_LABELS
    # the names the snapshot imports today describe the same catalogue
    assert dashboard.FAMILY_LABELS["resolution"] == "time to resolution (days)"
    assert [spec[1] for spec in dashboard.HEADLINE] == [f.estimate for f in metrics.HEADLINE]


def test_directions_say_what_better_means():
    assert metrics.estimate("resolution_median_days").direction == "lower"
    assert metrics.estimate("resolved_within_30d").direction == "higher"
    assert metrics.METRIC["false_resolved"].direction == "lower"
    assert metrics.METRIC["refund_success"].direction == "higher"


def test_catalogue_checks_its_entries():
    with pytest.raises(ValueError, match="`kind`"):
        metrics.Metric("x", "median", "higher", ())
    with pytest.raises(ValueError, match="`direction`"):
        metrics.Estimate("x", "x", "x_mean", "x_low", "x_high", "up")
    with pytest.raises(ValueError, match="`name`"):
        metrics.estimate("no_such_metric")
    with pytest.raises(ValueError, match="`columns`"):
        metrics.ordered(["resolution_n", "made_up_column"])
