"""The company and group tables: each cell equals the public statistics functions applied to
that company's rows under the censoring rules of PRODUCT.md section 4, whatever the storage
types; comparisons and flags follow Benjamini-Hochberg; results are reproducible."""

from __future__ import annotations

import math
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analysis._kernels import (
    bca_mean,
    bca_mean_expansion,
    bca_ratio,
    bca_ratio_expansion,
    grouped_value_counts,
)
from analysis.counts import compare_ratios, mann_whitney, mean_with_ci
from analysis.kpis import (
    BOOTSTRAP_EXPANSION_N,
    FAMILIES,
    SMALL_BASE,
    _prepare,
    _stream,
    _validate_as_of,
    bases,
    company_table,
    cut_table,
    group_table,
    resolution_curves,
    shared_reading,
    summary_tables,
    survival_curves,
)
from analysis.proportions import adjust_pvalues, compare_proportions, proportion
from analysis.survival import aalen_johansen
from survey.demo import generate_frame

AS_OF = pd.Timestamp("2025-06-30")
COMPANIES = {
    "alpha": ("isp", "fr", 0.30),
    "beta": ("isp", "fr", 0.25),
    "gamma": ("isp", "foreign", 0.20),
    "delta": ("retailer", "foreign", 0.17),
    "epsilon": ("retailer", "fr", 0.06),
    "zeta": ("retailer", "fr", 0.006),  # a small base
}


def make_responses(rows: int = 3000, seed: int = 7) -> pd.DataFrame:
    """A seeded frame shaped like the storage layer's, with missing answers everywhere."""
    rng = np.random.default_rng(seed)
    ids = list(COMPANIES)
    weights = np.array([COMPANIES[c][2] for c in ids])
    index = rng.choice(len(ids), rows, p=weights / weights.sum())
    day = np.datetime64("2024-01-01", "D")
    started = day + rng.integers(0, 380, rows)  # every submission before AS_OF
    true_days = np.floor(rng.lognormal(np.log(4 + 4 * index), 1.0)).astype(int)
    submitted = started + rng.integers(0, 150, rows)
    resolved = started + true_days <= submitted
    unresolved = ~resolved & (rng.random(rows) < 0.3)
    status = np.where(resolved, "resolved", np.where(unresolved, "unresolved", "ongoing"))
    ended = np.where(
        resolved,
        started + true_days,
        np.where(unresolved, started + (rng.random(rows) * (submitted - started)).astype(int), day),
    ).astype("datetime64[D]")
    ended[status == "ongoing"] = np.datetime64("NaT")

    def maybe(values, p=0.1):
        values = np.asarray(values, dtype=float)
        return np.where(rng.random(rows) < p, np.nan, values)

    requested = rng.random(rows) < 0.5
    outcome = rng.choice(["full", "partial", "refused", "pending"], rows, p=[0.4, 0.2, 0.25, 0.15])
    outcome = np.where(requested, outcome, None).astype(object)
    asked_on = (started + rng.integers(0, 10, rows)).astype("datetime64[D]")
    received_on = (asked_on + rng.integers(0, 60, rows)).astype("datetime64[D]")
    received_on[~np.isin(outcome, ["full", "partial"])] = np.datetime64("NaT")
    asked_on[~requested | (rng.random(rows) < 0.1)] = np.datetime64("NaT")
    promised = rng.poisson(1.5, rows)
    offered = rng.random(rows) < 0.4
    obtained = offered & (rng.random(rows) < 0.6)

    def flags(values, known):
        return pd.array(np.where(known, values, None), dtype="boolean")

    frame = pd.DataFrame(
        {
            "response_id": np.arange(rows),
            "company": np.array(ids, dtype=object)[index],
            "company_name": np.array([c.title() for c in ids], dtype=object)[index],
            "sector": np.array([COMPANIES[c][0] for c in ids], dtype=object)[index],
            "origin": np.array([COMPANIES[c][1] for c in ids], dtype=object)[index],
            "status": status.astype(object),
            "started_on": started.astype("datetime64[us]"),
            "ended_on": ended.astype("datetime64[us]"),
            "submitted_on": submitted.astype("datetime64[ns]"),
            "refund_requested": flags(requested, rng.random(rows) > 0.05),
            "refund_outcome": outcome,
            "refund_requested_on": asked_on.astype("datetime64[us]"),
            "refund_received_on": received_on.astype("datetime64[us]"),
            "wasted_trips": maybe(rng.poisson(0.3 + 0.25 * index)),
            "wasted_km": maybe(rng.poisson(10, rows)),
            "technician_visits_useless": maybe(rng.poisson(0.2 + 0.1 * index)),
            "callbacks_promised": maybe(promised),
            "callbacks_received": maybe(rng.binomial(promised, 0.3 + 0.1 * (index % 3))),
            "false_resolved_count": maybe(rng.poisson(0.3, rows)),
            "loaner_offered": flags(offered, rng.random(rows) > 0.3),
            "loaner_obtained": flags(obtained, offered),
            "loaner_cut_before_resolution": flags(obtained & (rng.random(rows) < 0.3), obtained),
            "csat": maybe(rng.integers(1, 6, rows)),
            "effort": maybe(rng.integers(1, 8, rows)),
            "nps": maybe(np.clip(rng.integers(0, 11, rows) - index, 0, 10)),
        }
    )
    return frame


@pytest.fixture(scope="module")
def responses() -> pd.DataFrame:
    return make_responses()


@pytest.fixture(scope="module")
def tables(responses):
    return summary_tables(responses, as_of=AS_OF, rng=20250630)


@pytest.fixture(scope="module")
def companies(tables):
    return tables.companies.set_index("company")


def _day_numbers(series):
    values = series.to_numpy().astype("datetime64[D]")
    days = values.astype(np.int64).astype(float)
    days[np.isnat(values)] = np.nan
    return days


def resolution_data(frame):
    """The censoring rules of PRODUCT.md section 4, written out plainly."""
    started = _day_numbers(frame["started_on"])
    ended = _day_numbers(frame["ended_on"])
    submitted = _day_numbers(frame["submitted_on"])
    status = frame["status"].to_numpy()
    stop = np.where(status == "ongoing", submitted, ended)
    return stop - started, status == "resolved"


def refund_data(frame):
    """Received and refused compete; a refusal is placed at the report, pending is censored
    there (methodology version 2): nothing depends on the date of the computation."""
    outcome = frame["refund_outcome"].to_numpy()
    asked = _day_numbers(frame["refund_requested_on"])
    paid = np.isin(outcome, ["full", "partial"])
    stop = np.select(
        [paid, outcome == "pending", outcome == "refused"],
        [
            _day_numbers(frame["refund_received_on"]),
            _day_numbers(frame["submitted_on"]),
            _day_numbers(frame["submitted_on"]),
        ],
        default=np.nan,
    )
    return stop - asked, np.select([paid, outcome == "refused"], [1, 2], default=0)


def resolution_causes(frame):
    status = frame["status"].to_numpy()
    return np.select([status == "resolved", status == "unresolved"], [1, 2], default=0)


# --- every cell equals the public functions on that company's rows -----------------------------


@pytest.mark.filterwarnings("ignore:`tau` is beyond:RuntimeWarning")
def test_resolution_cells_equal_aalen_johansen_per_company(responses, companies):
    """Every resolution cell equals the public ``aalen_johansen`` (checked against R's
    multi-state ``survfit`` in tests/test_competing.py) on that company's rows: gave up is a
    competing outcome; the durations enter shifted by one day so that a same-day outcome is at
    risk on day 0, as R's ``Surv(time + 1, factor(state))``."""
    durations, _ = resolution_data(responses)
    causes = resolution_causes(responses)
    for company in COMPANIES:
        row = companies.loc[company]
        mask = responses["company"].to_numpy() == company
        fit = aalen_johansen(durations[mask] + 1.0, causes[mask])
        assert row["resolution_n"] == mask.sum()
        assert row["resolution_events"] == (causes[mask] == 1).sum()
        assert row["resolution_gave_up"] == (causes[mask] == 2).sum()
        for days in (2, 7, 30, 90):
            at = fit.cumulative_incidence_at(days + 1.0, 1, extend=True)
            assert_allclose(row[f"resolved_within_{days}d_share"], at.estimate)
            assert_allclose(row[f"resolved_within_{days}d_low"], at.confidence_interval.low)
            assert_allclose(row[f"resolved_within_{days}d_high"], at.confidence_interval.high)
            assert row[f"resolution_within_{days}d_extended"] == bool(at.extended)
            gave_up = fit.cumulative_incidence_at(days + 1.0, 2, extend=True)
            assert_allclose(row[f"gave_up_within_{days}d_share"], gave_up.estimate)
        lost = fit.restricted_mean_time_lost(91.0, 1)
        assert_allclose(row["resolution_unresolved90_days"], 90.0 - lost.estimate)
        assert_allclose(row["resolution_unresolved90_se"], lost.standard_error)
        # the median: first day the incidence reaches one half
        incidence = fit.cumulative_incidence[0]
        reached = np.flatnonzero(incidence >= 0.5)
        expected = fit.time[reached[0]] - 1.0 if reached.size else math.nan
        assert_allclose(row["resolution_median_days"], expected, equal_nan=True)


@pytest.mark.filterwarnings("ignore:`tau` is beyond:RuntimeWarning")
def test_resolution_compares_each_company_with_the_others_pooled_in_days(responses, companies):
    """The effect beside the flag: restricted mean days without resolution, company minus the
    other companies pooled, with a normal interval and a two-sided Wald p-value."""
    durations, _ = resolution_data(responses)
    causes = resolution_causes(responses)
    for company in COMPANIES:
        row = companies.loc[company]
        mask = responses["company"].to_numpy() == company
        own = aalen_johansen(durations[mask] + 1.0, causes[mask]).restricted_mean_time_lost(91, 1)
        rest = aalen_johansen(durations[~mask] + 1.0, causes[~mask]).restricted_mean_time_lost(
            91, 1
        )
        difference = rest.estimate - own.estimate  # days without resolution: 90 - lost
        se = math.hypot(own.standard_error, rest.standard_error)
        assert_allclose(row["resolution_vs_others_diff"], difference)
        assert_allclose(row["resolution_vs_others_diff_low"], difference - 1.959963984540054 * se)
        assert_allclose(
            row["resolution_vs_others_p"], 2 * stats.norm.sf(abs(difference) / se), rtol=1e-9
        )
        if row["resolution_vs_others_flag"]:
            assert (row["resolution_vs_others_flag"] == "better") == (difference < 0)


@pytest.mark.filterwarnings("ignore:`tau` is beyond:RuntimeWarning")
def test_incidents_that_began_before_the_launch_enter_late(responses):
    """Delayed entry (R's ``Surv(entry, exit, state)``): an incident that began before the
    launch is counted only from the launch on; one that ended before it is excluded."""
    launch = pd.Timestamp("2023-09-01")
    table = company_table(responses, as_of=AS_OF, rng=1, launch=launch.date()).set_index("company")
    assert table.attrs["launch"] == "2023-09-01"
    durations, _ = resolution_data(responses)
    causes = resolution_causes(responses)
    started = _day_numbers(responses["started_on"])
    launch_day = float(launch.to_datetime64().astype("datetime64[D]").astype(int))
    entry = np.maximum(launch_day - started, 0.0)
    for company in COMPANIES:
        mask = responses["company"].to_numpy() == company
        kept = mask & ((entry == 0) | (durations > entry))
        late = kept & (entry > 0)
        row = table.loc[company]
        assert row["resolution_late_entry"] == late.sum()
        assert row["resolution_n"] == kept.sum()
        fit = aalen_johansen(
            durations[kept] + 1.0, causes[kept], entry=np.where(late, entry + 1.0, 0.0)[kept]
        )
        at = fit.cumulative_incidence_at(31.0, 1, extend=True)
        assert_allclose(row["resolved_within_30d_share"], at.estimate)
        assert_allclose(
            row["resolution_unresolved90_days"], 90 - fit.restricted_mean_time_lost(91, 1).estimate
        )


def test_refund_time_follows_the_competing_rules(responses, companies):
    """Received: outcome at receipt; refused: the competing outcome, known by the report;
    pending: censored at the report; unknown dates: excluded and counted."""
    durations, causes = refund_data(responses)
    requested = responses["refund_requested"].to_numpy(dtype=float, na_value=np.nan) == 1
    in_scope = responses["refund_outcome"].notna().to_numpy() | requested
    usable = in_scope & np.isfinite(durations) & (durations >= 0)
    for company in COMPANIES:
        mask = responses["company"].to_numpy() == company
        row = companies.loc[company]
        assert row["refund_time_n"] == (mask & usable).sum()
        assert row["refund_time_excluded"] == (mask & in_scope & ~usable).sum()
        assert row["refund_time_refused"] == (mask & usable & (causes == 2)).sum()
        fit = aalen_johansen(durations[mask & usable] + 1.0, causes[mask & usable])
        at = fit.cumulative_incidence_at(31.0, 1, extend=True)
        assert_allclose(row["refunded_within_30d_share"], at.estimate)


def test_refund_figures_do_not_depend_on_the_date_of_computation(responses):
    """The same responses computed as of two later dates give the same refund figures."""
    early = company_table(responses, as_of=AS_OF, rng=1)
    late = company_table(responses, as_of=AS_OF + pd.Timedelta(days=400), rng=1)
    columns = [c for c in early.columns if c.startswith(("refund_time", "refunded_within"))]
    pd.testing.assert_frame_equal(early[columns], late[columns])


def test_share_cells_equal_wilson_and_fisher(responses, companies):
    outcome = responses["refund_outcome"].to_numpy()
    decided = np.isin(outcome, ["full", "partial", "refused"])
    paid = np.isin(outcome, ["full", "partial"])
    trips = responses["wasted_trips"].to_numpy()
    cases = {
        "refund_success": (decided, paid),
        "refund_full": (decided, outcome == "full"),
        "wasted_trips_any": (~np.isnan(trips), trips >= 1),
        "csat_satisfied": (responses["csat"].notna().to_numpy(), responses["csat"].to_numpy() >= 4),
    }
    names = responses["company"].to_numpy()
    for family, (valid, success) in cases.items():
        for company in COMPANIES:
            mine = (names == company) & valid
            rest = (names != company) & valid
            k, n = int(success[mine].sum()), int(mine.sum())
            row = companies.loc[company]
            assert row[f"{family}_n"] == n
            assert_allclose(row[f"{family}_share"], k / n)
            assert_allclose(
                [row[f"{family}_low"], row[f"{family}_high"]],
                proportion(k, n).confidence_interval(method="wilson"),
            )
            rest_k, rest_n = int(success[rest].sum()), int(rest.sum())
            fisher = compare_proportions([[k, n - k], [rest_k, rest_n - rest_k]])
            assert_allclose(row[f"{family}_vs_others_p"], fisher.pvalue, rtol=1e-9)


def test_loaner_funnel_is_conditional(responses, companies):
    offered = responses["loaner_offered"].to_numpy(dtype=float, na_value=np.nan)
    obtained = responses["loaner_obtained"].to_numpy(dtype=float, na_value=np.nan)
    cut = responses["loaner_cut_before_resolution"].to_numpy(dtype=float, na_value=np.nan)
    names = responses["company"].to_numpy()
    for company in COMPANIES:
        mine = names == company
        row = companies.loc[company]
        assert row["loaner_offered_n"] == (mine & ~np.isnan(offered)).sum()
        assert row["loaner_obtained_n"] == (mine & (offered == 1) & ~np.isnan(obtained)).sum()
        assert row["loaner_cut_n"] == (mine & (obtained == 1) & ~np.isnan(cut)).sum()
        assert_allclose(row["loaner_cut_share"], np.nanmean(cut[mine & (obtained == 1)]))


def test_mean_cells_equal_public_functions(responses, companies, tables):
    names = responses["company"].to_numpy()
    entropy = tables.companies.attrs["entropy"]
    for family, column in [
        ("wasted_trips", "wasted_trips"),
        ("effort", "effort"),
        ("csat", "csat"),
    ]:
        values = responses[column].to_numpy()
        for company in COMPANIES:
            mine = values[(names == company) & ~np.isnan(values)]
            rest = values[(names != company) & ~np.isnan(values)]
            row = companies.loc[company]
            assert_allclose(row[f"{family}_mean"], mine.mean())
            same_stream = mean_with_ci(mine, rng=_stream(entropy, family, company))
            assert_allclose(
                [row[f"{family}_low"], row[f"{family}_high"]], same_stream.confidence_interval
            )
            assert_allclose(
                row[f"{family}_vs_others_p"], mann_whitney(mine, rest).pvalue, rtol=1e-10
            )
    km = responses["wasted_km"].to_numpy()
    assert_allclose(companies.loc["alpha", "wasted_km_total"], np.nansum(km[names == "alpha"]))


def test_nps_is_promoters_minus_detractors(responses, companies):
    nps = responses["nps"].to_numpy()
    for company in COMPANIES:
        scores = nps[(responses["company"].to_numpy() == company) & ~np.isnan(nps)]
        expected = 100 * (np.mean(scores >= 9) - np.mean(scores <= 6))
        assert_allclose(companies.loc[company, "nps_score"], expected)
        categories = np.unique(np.select([scores >= 9, scores <= 6], [1, -1], 0))
        if categories.size < 2:  # every answer in one category: no interval (as R's boot.ci)
            assert np.isnan(companies.loc[company, "nps_low"])
            assert np.isnan(companies.loc[company, "nps_high"])
        else:
            low, high = companies.loc[company, "nps_low"], companies.loc[company, "nps_high"]
            assert low <= expected <= high


def test_callbacks_kept_is_a_pooled_ratio_with_a_wald_comparison(responses, companies):
    promised = responses["callbacks_promised"].to_numpy()
    received = responses["callbacks_received"].to_numpy()
    valid = (promised > 0) & ~np.isnan(received)
    names = responses["company"].to_numpy()
    for company in COMPANIES:
        mine, rest = valid & (names == company), valid & (names != company)
        row = companies.loc[company]
        assert row["callbacks_kept_n"] == mine.sum()
        assert_allclose(row["callbacks_kept_ratio"], received[mine].sum() / promised[mine].sum())
        expected = compare_ratios(received[mine], promised[mine], received[rest], promised[rest])
        assert_allclose(row["callbacks_kept_vs_others_p"], expected.pvalue, rtol=1e-9)


# --- comparisons, flags, shape ---------------------------------------------------------------


def test_flags_follow_benjamini_hochberg_across_the_whole_table(companies):
    p = companies[[f"{f.name}_vs_others_p" for f in FAMILIES]].to_numpy(dtype=float)
    adjusted = adjust_pvalues(p.T.ravel()).reshape(p.T.shape).T
    assert_allclose(
        companies[[f"{f.name}_vs_others_p_adj" for f in FAMILIES]].to_numpy(dtype=float),
        adjusted,
        equal_nan=True,
    )
    flags = companies[[f"{f.name}_vs_others_flag" for f in FAMILIES]].to_numpy()
    assert set(np.unique(flags)) <= {"", "better", "worse"}
    assert np.all((flags != "") == (np.nan_to_num(adjusted, nan=1) < 0.05))
    # wasted trips grow with the company index in the builder: alpha best, zeta worst
    if companies.loc["alpha", "wasted_trips_vs_others_flag"]:
        assert companies.loc["alpha", "wasted_trips_vs_others_flag"] == "better"


def test_small_base_marks_every_family(companies):
    for family in FAMILIES:
        n = companies[f"{family.name}_n"].to_numpy()
        assert companies[f"{family.name}_small_base"].tolist() == (n < SMALL_BASE).tolist()
    assert bool(companies.loc["zeta", "resolution_small_base"])


def test_columns_are_unique_and_complete(tables):
    columns = list(tables.companies.columns)
    assert len(columns) == len(set(columns))
    assert columns[:5] == ["company", "company_name", "sector", "origin", "n"]
    for family in FAMILIES:
        for suffix in ("_n", "_small_base", "_vs_others_p", "_vs_others_p_adj", "_vs_others_flag"):
            assert f"{family.name}{suffix}" in columns
    assert list(tables.groups.columns[5:]) == columns[5:]
    assert tables.companies.attrs["as_of"] == "2025-06-30"


def test_group_table_pools_the_companies_of_each_sector_and_origin(responses, tables):
    groups = tables.groups.set_index("group")
    assert groups.index.tolist() == ["isp/foreign", "isp/fr", "retailer/foreign", "retailer/fr"]
    assert groups.loc["isp/fr", "companies"] == "alpha, beta"
    assert groups["n"].sum() == len(responses)
    durations, _ = resolution_data(responses)
    causes = resolution_causes(responses)
    pooled = ((responses["sector"] == "retailer") & (responses["origin"] == "fr")).to_numpy()
    fit = aalen_johansen(durations[pooled] + 1.0, causes[pooled])
    assert_allclose(
        groups.loc["retailer/fr", "resolved_within_30d_share"],
        fit.cumulative_incidence_at(31.0, 1, extend=True).estimate,
    )
    alone = group_table(responses, as_of=AS_OF, rng=20250630)
    pd.testing.assert_frame_equal(alone, tables.groups)


# --- reproducibility and robustness to storage types -------------------------------------------


def test_tables_are_reproducible_and_independent_of_row_order(responses, tables):
    again = company_table(responses, as_of=AS_OF, rng=20250630)
    pd.testing.assert_frame_equal(again, tables.companies)
    shuffled = responses.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(company_table(shuffled, as_of=AS_OF, rng=20250630), again)


def test_a_company_interval_does_not_depend_on_the_other_companies(responses, companies):
    without = responses[responses["company"] != "beta"]
    table = company_table(without, as_of=AS_OF, rng=20250630).set_index("company")
    for column in ("wasted_trips_low", "wasted_trips_high", "callbacks_kept_low", "nps_high"):
        assert table.loc["alpha", column] == companies.loc["alpha", column]


def test_storage_types_do_not_change_the_table(responses, tables):
    other = responses.copy()
    for column in ("loaner_offered", "loaner_obtained", "refund_requested"):
        other[column] = other[column].astype(object).where(other[column].notna(), None)
    other["loaner_cut_before_resolution"] = (
        other["loaner_cut_before_resolution"].astype("Float64").astype(float)
    )
    for column in ("wasted_trips", "csat", "nps", "callbacks_promised"):
        other[column] = other[column].astype("Int32")
    other["company"] = other["company"].astype("category")
    other["status"] = other["status"].astype("category")
    other["submitted_on"] = other["submitted_on"].dt.tz_localize("Europe/Paris")
    pd.testing.assert_frame_equal(company_table(other, as_of=AS_OF, rng=20250630), tables.companies)


def test_as_of_excludes_later_submissions_and_censors_refusals(responses):
    as_of = pd.Timestamp("2024-09-30")
    table = company_table(responses, as_of=as_of.date(), rng=1)
    kept = responses["submitted_on"] <= as_of
    assert table["n"].sum() == kept.sum()
    assert table.attrs["excluded"]["submitted_after_as_of"] == (~kept).sum()
    assert table.attrs["as_of"] == "2024-09-30"


def test_missing_and_negative_durations_are_excluded_and_counted(responses):
    broken = responses.copy()
    alpha = broken.index[broken["company"] == "alpha"]
    broken.loc[alpha[:3], "started_on"] = pd.NaT
    broken.loc[alpha[3:5], "started_on"] = broken.loc[alpha[3:5], "submitted_on"] + pd.Timedelta(
        days=400
    )
    broken.loc[alpha[5], "status"] = None
    table = company_table(broken, as_of=AS_OF, rng=1).set_index("company")
    assert table.loc["alpha", "resolution_excluded"] == 6
    assert table.loc["alpha", "resolution_n"] == table.loc["alpha", "n"] - 6
    assert table.attrs["excluded"]["missing_status"] == 1


def test_demo_frame_runs_end_to_end():
    from survey.demo import generate_frame

    frame = generate_frame(3000, seed=5, today=AS_OF.date())
    result = summary_tables(frame, as_of=AS_OF.date(), rng=1)
    big = result.companies[result.companies["n"] >= 200]
    assert big["resolution_median_days"].notna().all()
    assert big["refund_success_low"].notna().all()
    assert (result.groups["n"].sum()) == result.companies["n"].sum()


def test_an_empty_selection_gives_an_empty_table(responses):
    table = company_table(responses, as_of="2000-01-01", rng=1)
    assert len(table) == 0
    assert "resolution_median_days" in table.columns
    assert table.attrs["empty_reason"] == "no response submitted on or before `as_of`"


def test_no_rows_at_all_give_an_empty_table_with_its_reason(responses):
    """The audit's case: zero rows used to raise numpy's "zero-size array" error."""
    tables = summary_tables(responses.head(0), as_of=AS_OF, rng=1)
    for table in (tables.companies, tables.groups):
        assert len(table) == 0
        assert "nps_vs_others_flag" in table.columns
        assert table.attrs["empty_reason"] == "no responses"
    assert (
        company_table(responses, as_of=AS_OF, rng=1, n_resamples=200).attrs["empty_reason"] is None
    )


def test_yes_no_objects_holding_pandas_na_are_read_as_missing(responses, tables):
    objects = responses.copy()
    for column in ("refund_requested", "loaner_offered", "loaner_obtained"):
        objects[column] = objects[column].astype(object).where(objects[column].notna(), pd.NA)
        assert objects[column].map(lambda v: v is pd.NA).any()
    again = company_table(objects, as_of=AS_OF, rng=20250630)
    pd.testing.assert_frame_equal(again, tables.companies.reset_index(drop=True))


def test_a_table_build_raises_no_warning_and_silences_none_globally(responses):
    """Streamlit runs sessions in threads: the build must not touch the warning filters
    (``warnings.catch_warnings`` is process-wide), and it must raise no warning either."""
    before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary_tables(responses, as_of=AS_OF, rng=1, n_resamples=200)
        summary_tables(responses[responses["company"] == "zeta"], as_of=AS_OF, rng=1)
    assert list(warnings.filters) == before


# --- curves ----------------------------------------------------------------------------------


def test_resolution_curves_are_one_minus_the_cumulative_incidence(responses):
    curves = resolution_curves(responses, as_of=AS_OF)
    durations, _ = resolution_data(responses)
    causes = resolution_causes(responses)
    mask = responses["company"].to_numpy() == "gamma"
    fit = aalen_johansen(durations[mask] + 1.0, causes[mask])
    gamma = curves[curves["company"] == "gamma"]
    if fit.time[0] > 1:
        assert gamma.iloc[0][["time", "survival", "low", "high"]].tolist() == [0.0, 1.0, 1.0, 1.0]
        gamma = gamma.iloc[1:]
    assert_allclose(gamma["time"], fit.time - 1.0)
    assert_allclose(gamma["survival"], 1.0 - fit.cumulative_incidence[0])
    assert_allclose(gamma["other"], fit.cumulative_incidence[1])
    assert gamma["n_at_risk"].tolist() == fit.n_at_risk.tolist()
    groups = survival_curves(responses, as_of=AS_OF, metric="refund_time", by="group")
    assert set(groups["group"]) == {"isp/foreign", "isp/fr", "retailer/foreign", "retailer/fr"}


# --- input checks ----------------------------------------------------------------------------


def test_input_checks(responses):
    with pytest.raises(ValueError, match="`responses` lacks the columns: csat"):
        company_table(responses.drop(columns="csat"), as_of=AS_OF, rng=1)
    with pytest.raises(ValueError, match="`as_of` must be a date"):
        company_table(responses, as_of=20250630, rng=1)
    with pytest.raises(ValueError, match="`rng` must be"):
        company_table(responses, as_of=AS_OF, rng=None)
    bad = responses.copy()
    bad["loaner_offered"] = (
        bad["loaner_offered"].astype(object).where(bad["loaner_offered"].notna(), "maybe")
    )
    with pytest.raises(ValueError, match=r"`responses\['loaner_offered'\]` must hold True, False"):
        company_table(bad, as_of=AS_OF, rng=1)
    with pytest.raises(ValueError, match="`metric` must be"):
        survival_curves(responses, as_of=AS_OF, metric="median")
    assert math.isfinite(SMALL_BASE)


@pytest.mark.filterwarnings("ignore:`tau` is beyond:RuntimeWarning")
def test_imported_rows_enter_at_their_own_collection_start(responses):
    """An imported file carries the day its own survey opened (``collected_from``): its
    incidents that began before it enter late from that day, whatever Client Roi's launch."""
    imported = responses.assign(collected_from=pd.NaT)
    gamma = imported["company"] == "gamma"
    opening = imported.loc[gamma, "started_on"].quantile(0.3).normalize()
    imported.loc[gamma, "collected_from"] = opening
    table = company_table(imported, as_of=AS_OF, rng=1).set_index("company")
    durations, _ = resolution_data(responses)
    causes = resolution_causes(responses)
    started = _day_numbers(responses["started_on"])
    entry = np.maximum(
        float(opening.to_datetime64().astype("datetime64[D]").astype(int)) - started, 0
    )
    mask = gamma.to_numpy()
    kept = mask & ((entry == 0) | (durations > entry))
    late = kept & (entry > 0)
    assert table.loc["gamma", "resolution_late_entry"] == late.sum() > 0
    fit = aalen_johansen(
        durations[kept] + 1.0, causes[kept], entry=np.where(late, entry + 1.0, 0.0)[kept]
    )
    assert_allclose(
        table.loc["gamma", "resolved_within_30d_share"],
        fit.cumulative_incidence_at(31.0, 1, extend=True).estimate,
    )
    # the other companies, without a collection start and without a launch: nobody enters late
    assert (table.drop(index="gamma")["resolution_late_entry"] == 0).all()


# --- speed without changing the figures (issue #14) ---------------------------------------------


def test_yes_no_objects_are_read_per_distinct_value_as_before(responses):
    """An object column of yes/no answers in every spelling gives the table of its boolean
    twin; a value that is not yes/no still raises."""
    spelled = responses.copy()
    offered = responses["loaner_offered"]
    spellings = np.array([True, np.True_, 1, 1.0], dtype=object)
    noes = np.array([False, np.False_, 0, 0.0], dtype=object)
    missing = np.array([None, np.nan, pd.NA], dtype=object)
    rows = np.arange(len(offered))
    spelled["loaner_offered"] = np.where(
        offered.isna(),
        missing[rows % 3],
        np.where(offered.fillna(False).astype(bool), spellings[rows % 4], noes[rows % 4]),
    )
    assert spelled["loaner_offered"].dtype == object
    as_bool = company_table(responses, as_of=AS_OF, rng=1, n_resamples=200)
    as_objects = company_table(spelled, as_of=AS_OF, rng=1, n_resamples=200)
    pd.testing.assert_frame_equal(as_objects, as_bool)
    spelled.loc[spelled.index[0], "loaner_offered"] = 2
    with pytest.raises(ValueError, match=r"`responses\['loaner_offered'\]` must hold True, False"):
        company_table(spelled, as_of=AS_OF, rng=1, n_resamples=200)


def test_cut_by_year_counts_each_year_of_the_start_of_the_problem(responses):
    table = cut_table(responses, by="year", as_of=AS_OF).set_index("cut")
    kept = responses[responses["submitted_on"] <= AS_OF]
    expected = kept["started_on"].dt.year.value_counts()
    assert table["n"].to_dict() == {str(year): n for year, n in expected.sort_index().items()}


def test_bca_mean_expansion_follows_the_skew_of_a_long_bootstrap():
    """The closed-form BCa interval of a mean against 40,000 resamples of a skewed sample
    (1,500 values): within 5% of a standard error, and as lopsided (a longer upper side)."""
    sample = np.round(np.random.default_rng(3).exponential(size=1500) ** 1.5, 1)
    values, table = grouped_value_counts(sample)
    estimate, low, high, se = bca_mean_expansion(values, table[0], level=0.95)
    boot = bca_mean(values, table[0], rng=np.random.default_rng(4), n_resamples=40_000, level=0.95)
    assert estimate == boot[0]
    assert_allclose([low, high], boot[1:3], atol=0.05 * se)
    assert (high - estimate) / (estimate - low) > 1.08  # the skew is there, on the right side
    assert_allclose(
        (high - estimate) / (estimate - low), (boot[2] - boot[0]) / (boot[0] - boot[1]), rtol=0.05
    )
    assert bca_mean_expansion(np.array([0.5]), np.array([40]), level=0.95)[1:3] != (0.5, 0.5)


def test_bootstrap_intervals_in_closed_form_on_the_demo_data():
    """Methodology (issue #14): from BOOTSTRAP_EXPANSION_N shares on, the published interval
    of refund_amount_share is the bootstrap's limit in closed form. On the demo data, at the
    smallest company base above the threshold (where the expansion is least accurate), it lies
    within 1e-3 of a 20,000-resample bootstrap; the point estimate is the exact mean."""
    frame = generate_frame(120_000, seed=42, today=date(2026, 6, 15))
    table = company_table(frame, as_of="2026-06-15", rng=1).set_index("company")
    prepared = _prepare(frame, _validate_as_of("2026-06-15"))
    counts = prepared.stats["refund_amount_share"]
    n = counts.table.sum(axis=1)
    large = n >= BOOTSTRAP_EXPANSION_N
    assert large.any() and (~large & (n > 0)).any()  # both paths are exercised
    unit = int(np.flatnonzero(large)[np.argmin(n[large])])
    label = prepared.units.labels[unit]
    row = table.loc[label]
    boot = bca_mean(
        counts.values,
        counts.table[unit],
        rng=np.random.default_rng(5),
        n_resamples=20_000,
        level=0.95,
    )
    assert row["refund_amount_share_n"] == n[unit]
    assert_allclose(row["refund_amount_share_mean"], boot[0], rtol=1e-12)
    assert_allclose(
        [row["refund_amount_share_low"], row["refund_amount_share_high"]], boot[1:3], atol=1e-3
    )
    # below the threshold, the seeded bootstrap as before
    small = int(np.flatnonzero(~large & (n > 0))[0])
    again = bca_mean(
        counts.values,
        counts.table[small],
        rng=_stream(table.attrs["entropy"], "refund_amount_share", prepared.units.labels[small]),
        n_resamples=2000,
        level=0.95,
    )
    assert_allclose(
        table.loc[
            prepared.units.labels[small], ["refund_amount_share_low", "refund_amount_share_high"]
        ].to_numpy(dtype=float),
        again[1:3],
        rtol=1e-12,
    )
    # the callbacks ratio likewise (a pair table), within 0.1 standard error of the long run
    pairs = prepared.stats["callbacks_kept"]
    sizes = pairs.table.sum(axis=1)
    unit = int(
        np.flatnonzero(sizes >= BOOTSTRAP_EXPANSION_N)[
            np.argmin(sizes[sizes >= BOOTSTRAP_EXPANSION_N])
        ]
    )
    args = (pairs.numerators, pairs.denominators, pairs.table[unit])
    boot = bca_ratio(*args, rng=np.random.default_rng(6), n_resamples=20_000, level=0.95)
    closed = bca_ratio_expansion(*args, level=0.95)
    assert_allclose(closed[1:3], boot[1:3], atol=0.1 * closed[3])
    row = table.loc[prepared.units.labels[unit]]
    assert_allclose(
        [row["callbacks_kept_ratio"], row["callbacks_kept_low"], row["callbacks_kept_high"]],
        closed[:3],
        rtol=1e-12,
    )


def test_one_reading_shared_by_every_table_gives_what_each_gives_alone(responses):
    """Inside shared_reading the count tables are built once per (frame, date, families,
    launch, units) and reused, bases alone or served from the full tables: every result equals
    the one computed on its own, whatever the order of the requests."""
    earlier = AS_OF - pd.Timedelta(days=60)
    launch = AS_OF - pd.Timedelta(days=120)  # some incidents began before it: they enter late

    def everything():
        return [
            bases(responses, as_of=earlier, launch=launch).companies,
            bases(responses, as_of=AS_OF, launch=launch).groups,
            summary_tables(responses, as_of=AS_OF, rng=1, n_resamples=200, launch=launch).companies,
            summary_tables(responses, as_of=AS_OF, rng=2, n_resamples=200, launch=launch).groups,
            bases(responses, as_of=AS_OF, launch=launch).companies,
            survival_curves(responses, as_of=AS_OF, metric="resolution", launch=launch),
            survival_curves(responses, as_of=earlier, metric="refund_time"),
            cut_table(responses, by="year", as_of=AS_OF, launch=launch),
            cut_table(responses, by="year", as_of=earlier, launch=launch),
            summary_tables(responses, as_of=earlier, rng=1, n_resamples=200).companies,
            summary_tables(responses, as_of=AS_OF, rng=1, n_resamples=200).companies,
        ]

    alone = everything()
    with shared_reading():
        shared = everything()
    for one, other in zip(alone, shared, strict=True):
        pd.testing.assert_frame_equal(other, one)
        assert other.attrs == one.attrs
