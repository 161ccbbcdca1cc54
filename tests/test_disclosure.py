"""Disclosure control, tested directly: one minimum cell, company cells under it hidden, group
cells hidden when they would give a hidden company away by subtraction, curves cut where fewer
than MIN_CELL incidents remain at risk (primary suppression, then secondary suppression
against differencing)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import dashboard, disclosure, kpis, metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_kpis import make_responses  # noqa: E402

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def responses():
    frame = make_responses(1500)  # "zeta" (retailer/fr, with "epsilon") has 8 responses
    assert (frame["company"] == "zeta").sum() < disclosure.MIN_CELL
    return frame


@pytest.fixture(scope="module")
def view(responses):
    return dashboard.compute(responses, as_of=AS_OF, public=True)


def test_one_minimum_cell_for_the_dashboard_and_the_snapshot():
    assert disclosure.MIN_CELL == 10
    assert dashboard.PUBLIC_MIN_CELL == disclosure.MIN_CELL  # kept for the snapshot


def test_a_small_company_keeps_only_its_n(view):
    public = disclosure.protect(view)
    zeta = public.companies.set_index("company").loc["zeta"]
    for metric in metrics.METRICS:
        assert bool(zeta[metric.suppressed]), metric.name
        for figure in metric.estimates:
            assert all(pd.isna(zeta[c]) for c in figure.columns), figure.key
        if metric.compared:
            assert zeta[metric.flag] == ""
    assert zeta["n"] == 8
    big = public.companies.set_index("company").loc["alpha"]
    assert not big["resolution_suppressed"]
    assert (
        big["resolution_median_days"]
        == view.companies.set_index("company").loc["alpha", "resolution_median_days"]
    )


def test_a_metric_with_a_small_base_is_hidden_alone():
    companies = pd.DataFrame(
        {"company": ["a"], "sector": "isp", "origin": "fr", "n": [50], "nps_n": [50]}
    ).assign(loaner_cut_n=[3])
    layout = disclosure.metric_layout(companies)
    hidden = disclosure.company_suppression(companies, layout)
    assert hidden["nps"].tolist() == [False]
    assert hidden["loaner_cut"].tolist() == [True]


def test_the_subtraction_attack_on_a_group_recovers_nothing(view):
    """Publish retailer/fr and its visible company (epsilon): zeta's figures would follow by
    difference. Its group cell must be hidden wherever zeta is hidden."""
    public = disclosure.protect(view)
    group = public.groups.set_index("group").loc["retailer/fr"]
    epsilon = public.companies.set_index("company").loc["epsilon"]
    for metric in metrics.METRICS:
        zeta_base = view.companies.set_index("company").loc["zeta", metric.n]
        if zeta_base == 0:
            continue
        assert bool(group[metric.suppressed]), metric.name
        if metric.kind in ("mean", "total"):
            # the attack: group total minus the published companies' totals
            figure = metric.main.estimate
            recovered = group[figure] * group[metric.n] - epsilon[figure] * epsilon[metric.n]
            assert np.isnan(recovered), metric.name
    # the group's own count stays; the base of a hidden figure does not
    assert group["n"] == view.groups.set_index("group").loc["retailer/fr", "n"]
    assert all(pd.isna(group[m.n]) for m in metrics.METRICS if group[m.suppressed])


def test_hidden_companies_that_together_reach_min_cell_do_not_hide_their_group():
    companies = pd.DataFrame(
        {
            "company": ["a", "b", "c", "d"],
            "sector": "isp",
            "origin": "fr",
            "n": [40, 6, 6, 30],
            "csat_n": [40, 6, 6, 30],
        }
    )
    groups = pd.DataFrame(
        {"group": ["isp/fr"], "sector": "isp", "origin": "fr", "n": [82], "csat_n": [82]}
    )
    layout = disclosure.metric_layout(companies)
    hidden = disclosure.company_suppression(companies, layout)
    assert hidden["csat"].tolist() == [False, True, True, False]
    # 12 hidden responses: the difference gives the pool of b and c, not one company
    assert disclosure.group_suppression(groups, companies, hidden, layout)["csat"].tolist() == [
        False
    ]
    groups["csat_n"] = [79]  # only 9 hidden responses left in the difference
    companies["csat_n"] = [40, 6, 3, 30]
    hidden = disclosure.company_suppression(companies, layout)
    assert disclosure.group_suppression(groups, companies, hidden, layout)["csat"].tolist() == [
        True
    ]


def test_curves_stop_before_fewer_than_min_cell_are_at_risk(view):
    public = disclosure.protect(view)
    assert "zeta" not in set(public.resolution_curves["company"])
    for _, curve in public.resolution_curves.groupby("company"):
        assert curve["n_at_risk"].min() >= disclosure.MIN_CELL
    curves = pd.DataFrame({"company": "a", "time": [0, 1, 2, 3], "n_at_risk": [12, 10, 9, 11]})
    assert disclosure.cut_curves(curves, {"a"})["time"].tolist() == [0, 1]


def test_the_layout_ties_every_column_to_a_base(view):
    layout = disclosure.metric_layout(view.companies)
    assert [name for name, _ in layout] == [m.name for m in metrics.METRICS]
    for name, columns in layout:
        assert f"{name}_n" in columns
        assert {metrics.family_of(c) for c in columns} == {name}
    no_base = view.companies.drop(columns=["nps_n"])
    assert "nps" not in dict(disclosure.metric_layout(no_base))


def test_min_cell_is_checked():
    with pytest.raises(ValueError, match="`min_cell`"):
        disclosure.cut_curves(pd.DataFrame(), set(), min_cell=0)


def test_the_empty_view_is_returned_as_is():
    empty = dashboard.compute(make_responses(10).head(0), as_of=AS_OF)
    assert disclosure.protect(empty) is empty


def test_a_view_computed_for_researchers_is_refused(responses):
    with pytest.raises(ValueError, match="`view`"):
        disclosure.protect(dashboard.compute(responses, as_of=AS_OF))


def test_the_same_rules_as_the_kpis_table_they_read(responses):
    tables = kpis.summary_tables(responses, as_of=AS_OF, rng=1, n_resamples=200)
    layout = disclosure.metric_layout(tables.companies)
    hidden = disclosure.company_suppression(tables.companies, layout, 10)
    masked = disclosure.masked(tables.companies, layout, hidden)
    assert masked["nps_suppressed"].tolist() == (tables.companies["n"] < 10).tolist()
    # no base shown for a masked figure (it said "n=2" for a company of two respondents)
    assert masked["nps_n"].isna().tolist() == hidden["nps"].tolist()
    kept = disclosure.masked(tables.companies, layout, hidden, keep_bases=True)
    assert kept["nps_n"].tolist() == tables.companies["nps_n"].tolist()


def test_bases_are_the_tables_bases(responses):
    """kpis.bases gives the n columns of summary_tables, without computing any estimate."""
    tables = kpis.summary_tables(responses, as_of=AS_OF, rng=1, n_resamples=200)
    bases = kpis.bases(responses, as_of=AS_OF)
    for full, base in ((tables.companies, bases.companies), (tables.groups, bases.groups)):
        columns = [c for c in base.columns if c in full.columns]
        assert len(columns) == len(base.columns)
        pd.testing.assert_frame_equal(
            base[columns], full[columns], check_dtype=False, check_index_type=False
        )


def test_pooled_comparisons_equal_the_tables_of_the_published_companies_alone(responses):
    """The "all others" of a published company are the other published companies: its
    p-value and effect size equal those of a table computed on their rows only (the naive
    reference), and a hidden company has none."""
    published = disclosure.published_tables(responses, as_of=AS_OF, rng=1, n_resamples=200)
    table = published.companies.set_index("company")
    for family in kpis.FAMILIES:
        name = family.name
        shown = table.index[~published.company_hidden[name]]
        alone = kpis.company_table(
            responses[responses["company"].isin(shown)], as_of=AS_OF, rng=1, n_resamples=200
        ).set_index("company")
        for column in ("vs_others_p", "vs_others_diff", "vs_others_diff_low"):
            np.testing.assert_allclose(
                table.loc[shown, f"{name}_{column}"].to_numpy(dtype=float),
                alone.loc[shown, f"{name}_{column}"].to_numpy(dtype=float),
                rtol=1e-9,
                err_msg=f"{name}_{column}",
            )
        hidden = table.index[published.company_hidden[name]]
        assert table.loc[hidden, f"{name}_vs_others_p"].isna().all(), name
        assert table.loc[hidden, f"{name}_vs_others_p_adj"].isna().all(), name
