"""The design analysis ("France or the sector?"): the meta-regression against R's metafor, the
five effects on company-level data shaped like ours, the standardisation and the group figures
against hand computations, the verdict on constructed data sets, and the input checks.

The R numbers are in tests/reference/design_metafor.json, with the R calls beside them and the
whole R script (``r_script``) that wrote them (R 4, metafor 3.8-1)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.design import (
    EFFECTS,
    TABLE_COLUMNS,
    MetricDescription,
    design_effects,
    group_figures,
    market_weights,
    meta_regression,
    standardise,
    verdict,
)
from survey import i18n

REFERENCE = json.loads((Path(__file__).parent / "reference" / "design_metafor.json").read_text())
BCG = REFERENCE["bcg"]
TOL = dict(rtol=1e-6, atol=1e-9)
DAYS = "resolution_unresolved90_days"


def _check_fit(fit, expected):
    assert_allclose(fit.coefficients, expected["beta"], **TOL)
    assert_allclose(fit.standard_errors, expected["se"], **TOL)
    assert_allclose(fit.statistics, expected["tval"], **TOL)
    assert_allclose(fit.pvalues, expected["pval"], **TOL)
    assert_allclose(fit.confidence_interval.low, expected["ci_lb"], **TOL)
    assert_allclose(fit.confidence_interval.high, expected["ci_ub"], **TOL)
    assert_allclose(fit.tau2, expected["tau2"], **TOL)
    assert_allclose(fit.tau2_standard_error, expected["se_tau2"], **TOL)
    assert_allclose(fit.i2, expected["I2"], **TOL)
    assert_allclose(fit.h2, expected["H2"], **TOL)
    assert_allclose(fit.qe, expected["QE"], **TOL)
    assert_allclose(fit.qe_pvalue, expected["QEp"], **TOL)
    assert_allclose(fit.qm, expected["QM"], **TOL)
    assert_allclose(fit.qm_pvalue, expected["QMp"], **TOL)
    assert_allclose(fit.s2w, expected["s2w"], **TOL)


# --- meta-regression against metafor -----------------------------------------------------------


def test_meta_regression_ablat_against_R_metafor_bcg():
    """R: dat <- escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg);
    rma(yi, sei=sqrt(vi), mods=~ablat, data=dat, method="REML", test="knha")."""
    expected = BCG["ablat_reml_knha"]
    fit = meta_regression(BCG["yi"], BCG["sei"], BCG["ablat"], names=["ablat"])
    _check_fit(fit, expected)
    assert fit.dof == expected["dfs"]
    assert fit.names == ("intrcpt", "ablat")


def test_meta_regression_two_moderators_against_R_metafor_bcg():
    """R: rma(yi, sei=sqrt(vi), mods=~ablat + year, data=dat, method="REML", test="knha")."""
    moderators = pd.DataFrame({"ablat": BCG["ablat"], "year": BCG["year"]})
    fit = meta_regression(BCG["yi"], BCG["sei"], moderators)
    _check_fit(fit, BCG["ablat_year_reml_knha"])
    assert fit.names == ("intrcpt", "ablat", "year")
    assert fit.dof == 10.0


def test_meta_regression_dl_against_R_metafor_bcg():
    """R: rma(yi, sei=sqrt(vi), mods=~ablat, data=dat, method="DL", test="knha")."""
    fit = meta_regression(BCG["yi"], BCG["sei"], BCG["ablat"], method="DL")
    _check_fit(fit, BCG["ablat_dl_knha"])


def test_meta_regression_z_test_against_R_metafor_bcg():
    """R: rma(yi, sei=sqrt(vi), mods=~ablat, data=dat, method="REML", test="z")."""
    fit = meta_regression(BCG["yi"], BCG["sei"], BCG["ablat"], test="z")
    _check_fit(fit, BCG["ablat_reml_z"])
    assert math.isinf(fit.dof)


def _interaction_matrix(expected):
    retailer = np.array([s == "retailer" for s in expected["sector"]], dtype=float)
    foreign = np.array([o == "foreign" for o in expected["origin"]], dtype=float)
    return np.column_stack([retailer, foreign, retailer * foreign])


@pytest.mark.parametrize(
    "case", ["companies_spread_reml", "companies_close_reml", "companies_spread_dl"]
)
def test_meta_regression_sector_by_origin_against_R_metafor_companies(case):
    """R (see r_call in the reference): rma(yi, sei=sei, mods=~sector*origin, data=d,
    method="REML" or "DL", test="knha") on 16 invented companies shaped like ours (8 French and
    2 foreign internet providers, 3 and 3 retailers). ``companies_close`` has tau2 truncated at
    0. Contrasts: anova(fit, X=L) and predict(fit, newmods=L[, -1], intercept=FALSE)."""
    expected = REFERENCE[case]
    method = "DL" if case.endswith("_dl") else "REML"
    fit = meta_regression(
        expected["yi"], expected["sei"], _interaction_matrix(expected), method=method
    )
    _check_fit(fit, expected)
    L = np.array([[0, 0, 1, 0], [0, 0, 1, 1], [0, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 1]])
    results = [fit.contrast(row) for row in L]
    assert_allclose([r.estimate for r in results], expected["contrast_estimate"], **TOL)
    assert_allclose([r.standard_error for r in results], expected["contrast_se"], **TOL)
    assert_allclose([r.statistic for r in results], expected["contrast_tval"], **TOL)
    assert_allclose([r.pvalue for r in results], expected["contrast_pval"], **TOL)
    assert_allclose([r.confidence_interval.low for r in results], expected["contrast_ci_lb"], **TOL)
    assert_allclose(
        [r.confidence_interval.high for r in results], expected["contrast_ci_ub"], **TOL
    )


def test_meta_regression_close_companies_tau2_truncated_at_zero():
    """R gives tau2 = 0 and I2 = 0 for ``companies_close`` (the REML optimum is at the bound)."""
    expected = REFERENCE["companies_close_reml"]
    fit = meta_regression(expected["yi"], expected["sei"], _interaction_matrix(expected))
    assert expected["tau2"] == 0
    assert fit.tau2 == 0.0
    assert fit.i2 == 0.0


def test_meta_regression_result_is_frozen():
    fit = meta_regression(BCG["yi"], BCG["sei"], BCG["ablat"])
    with pytest.raises(ValueError):
        fit.coefficients[0] = 1.0
    with pytest.raises(AttributeError):
        fit.tau2 = 1.0


# --- the five effects --------------------------------------------------------------------------


def _inputs(case, metric=DAYS):
    expected = REFERENCE[case]
    return pd.DataFrame(
        {
            "metric": metric,
            "company": expected["company"],
            "sector": expected["sector"],
            "origin": expected["origin"],
            "estimate": expected["yi"],
            "standard_error": expected["sei"],
            "n": 200,
        }
    )


@pytest.mark.parametrize(
    "case", ["companies_spread_reml", "companies_close_reml", "companies_spread_dl"]
)
def test_design_effects_against_R_metafor_contrasts(case):
    """The five effects equal R's anova(fit, X=L) / predict(fit, newmods=L[, -1],
    intercept=FALSE) on rma(yi, sei=sei, mods=~sector*origin, test="knha")."""
    expected = REFERENCE[case]
    method = "DL" if case.endswith("_dl") else "REML"
    result = design_effects(_inputs(case), metric=DAYS, method=method)
    table = result.table
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table["effect"].tolist() == list(EFFECTS) == expected["contrast_names"]
    assert_allclose(table["estimate"], expected["contrast_estimate"], **TOL)
    assert_allclose(table["low"], expected["contrast_ci_lb"], **TOL)
    assert_allclose(table["high"], expected["contrast_ci_ub"], **TOL)
    assert_allclose(table["p_value"], expected["contrast_pval"], **TOL)
    assert_allclose(table["tau2"], expected["tau2"], **TOL)
    assert_allclose(table["i2"], expected["I2"], **TOL)
    assert table["companies_a"].tolist() == [2, 3, 3, 3, 6]
    assert table["companies_b"].tolist() == [8, 3, 8, 2, 10]
    # two foreign internet providers: every effect resting on them is not identifiable
    assert table["identifiable"].tolist() == [False, True, True, False, False]
    assert table["method"].iloc[0] == f"{method}, Knapp-Hartung t(12)"


def test_design_effects_empty_cell_against_R_metafor_three_cells():
    """Without the foreign internet providers: R's rma(yi, sei=sei, mods=~cell, test="knha") on
    the three non-empty cells (r_call in the reference) gives the two effects that remain; the
    three involving foreign internet providers are NaN and say why."""
    expected = REFERENCE["companies_no_foreign_isp_reml"]
    inputs = _inputs("companies_no_foreign_isp_reml")
    result = design_effects(inputs, metric=DAYS)
    assert_allclose(result.tau2, expected["tau2"], **TOL)
    for position, name in enumerate(expected["contrast_names"]):
        effect = result[name]
        assert_allclose(effect.estimate, expected["contrast_estimate"][position], **TOL)
        assert_allclose(effect.standard_error, expected["contrast_se"][position], **TOL)
        assert_allclose(effect.p_value, expected["contrast_pval"][position], **TOL)
        assert_allclose(effect.low, expected["contrast_ci_lb"][position], **TOL)
        assert_allclose(effect.high, expected["contrast_ci_ub"][position], **TOL)
    for name in ("origin_within_isp", "sector_within_foreign", "interaction"):
        effect = result[name]
        assert math.isnan(effect.estimate) and math.isnan(effect.low)
        assert effect.identifiable is False and effect.estimable is False
        assert effect.reason == "no company in isp/foreign"
    assert result.cell_counts[("isp", "foreign")] == 0


def test_design_effects_fewer_companies_than_parameters():
    inputs = _inputs("companies_spread_reml").groupby(["sector", "origin"]).head(1)
    result = design_effects(inputs, metric=DAYS)
    assert result.model is None
    assert result.table["estimate"].isna().all()
    assert not result.table["identifiable"].any()
    assert "fewer companies than parameters" in result["sector_within_fr"].reason
    assert math.isnan(result.tau2)


def test_design_effects_zero_standard_error_left_out_with_warning():
    inputs = _inputs("companies_spread_reml")
    inputs.loc[inputs["company"] == "orange", "standard_error"] = 0.0
    inputs.loc[inputs["company"] == "free", "estimate"] = np.nan
    with pytest.warns(RuntimeWarning, match="left out"):
        result = design_effects(inputs, metric=DAYS)
    assert result.excluded == (
        ("free", "no estimate"),
        ("orange", "missing or zero standard error"),
    )
    assert result["sector_within_fr"].companies_b == 6
    kept = inputs.loc[~inputs["company"].isin(["orange", "free"])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        direct = design_effects(kept, metric=DAYS)
    assert_allclose(result.table["estimate"], direct.table["estimate"], rtol=1e-12)


def test_design_effects_selects_the_metric():
    both = pd.concat([_inputs("companies_spread_reml"), _inputs("companies_close_reml", "other")])
    result = design_effects(both, metric="other")
    expected = REFERENCE["companies_close_reml"]
    assert_allclose(result.table["estimate"], expected["contrast_estimate"], **TOL)
    assert (result.table["metric"] == "other").all()


# --- standardisation ---------------------------------------------------------------------------


def _cells():
    rows = [  # company, sector, origin, problem, estimate, standard_error, n
        ("orange", "isp", "fr", "outage", 60.0, 2.0, 70),
        ("orange", "isp", "fr", "billing", 30.0, 3.0, 20),
        ("orange", "isp", "fr", "cancellation", 40.0, 4.0, 10),
        ("free", "isp", "fr", "outage", 50.0, 2.5, 50),
        ("free", "isp", "fr", "billing", 20.0, 2.0, 30),
        ("free", "isp", "fr", "cancellation", 36.0, 3.0, 20),
        ("amazon", "retailer", "foreign", "delivery", 10.0, 1.0, 80),
        ("amazon", "retailer", "foreign", "billing", 12.0, 2.0, 10),
        ("amazon", "retailer", "foreign", "cancellation", 16.0, 2.5, 10),
        ("temu", "retailer", "foreign", "delivery", 25.0, 2.0, 40),
        ("temu", "retailer", "foreign", "billing", 18.0, 3.0, 10),
        ("temu", "retailer", "foreign", "cancellation", np.nan, np.nan, 0),
    ]
    columns = ["company", "sector", "origin", "problem", "estimate", "standard_error", "n"]
    return pd.DataFrame(rows, columns=columns).assign(metric=DAYS)


def test_standardise_against_hand_computation():
    """Shared types: billing (met by every company) and cancellation (temu has none).
    Pooled counts: billing 20 + 30 + 10 + 10 = 70, cancellation 10 + 20 + 10 = 40 (temu's 0
    responses count nothing), so w = 70/110 and 40/110. Orange: 70/110 * 30 + 40/110 * 40 =
    3700/110 = (2100 + 1600)/110; se^2 = (70/110)^2 * 9 + (40/110)^2 * 16; coverage (20 + 10) / 100."""
    result = standardise(_cells())
    assert result.shared_types == ("billing", "cancellation")
    assert_allclose(list(result.weights.values()), [70 / 110, 40 / 110], rtol=1e-12)
    assert result.dropped == (("temu", ("cancellation",)),)
    table = result.table.set_index("company")
    assert table.index.tolist() == ["orange", "free", "amazon"]
    assert_allclose(table.loc["orange", "estimate"], 3700 / 110, rtol=1e-12)
    assert_allclose(
        table.loc["orange", "standard_error"],
        math.sqrt((70 / 110) ** 2 * 9 + (40 / 110) ** 2 * 16),
        rtol=1e-12,
    )
    assert_allclose(table.loc["free", "estimate"], (70 * 20 + 40 * 36) / 110, rtol=1e-12)
    assert_allclose(table.loc["amazon", "estimate"], (70 * 12 + 40 * 16) / 110, rtol=1e-12)
    assert_allclose(table["coverage"], [30 / 100, 50 / 100, 20 / 100], rtol=1e-12)
    assert table["n"].tolist() == [30, 50, 20]
    assert table["types_used"].tolist() == ["billing|cancellation"] * 3
    assert table["complete"].all()
    assert (table["metric"] == DAYS).all() and table.loc["amazon", "origin"] == "foreign"


def test_standardise_renormalise_keeps_a_company_lacking_a_type():
    """Temu has billing only: renormalised weight 1 on billing, so its figure is its billing
    figure (18, se 3), flagged incomplete."""
    table = standardise(_cells(), missing="renormalise").table.set_index("company")
    assert_allclose(table.loc["temu", ["estimate", "standard_error"]].astype(float), [18.0, 3.0])
    assert table.loc["temu", "types_used"] == "billing"
    assert not table.loc["temu", "complete"]
    assert_allclose(table.loc["temu", "coverage"], 10 / 50)
    assert_allclose(table.loc["orange", "estimate"], 3700 / 110, rtol=1e-12)


def test_standardise_given_shared_types():
    result = standardise(_cells(), shared_types=["billing"])
    assert result.weights == {"billing": 1.0}
    table = result.table.set_index("company")
    assert table["estimate"].tolist() == [30.0, 20.0, 12.0, 18.0]
    assert table["standard_error"].tolist() == [3.0, 2.0, 2.0, 3.0]


def test_standardised_figures_feed_design_effects():
    cells = _cells()
    more = cells.assign(company=cells["company"] + "_2", estimate=cells["estimate"] + 1.5)
    fr_retail = cells.loc[cells["company"].isin(["amazon"])].assign(origin="fr")
    frames = [cells, more, fr_retail.assign(company="fnac"), fr_retail.assign(company="darty")]
    table = standardise(pd.concat(frames, ignore_index=True)).table
    result = design_effects(table, metric=DAYS)
    assert result["sector_within_fr"].companies_a == 2
    assert np.isfinite(result["sector_within_fr"].estimate)


# --- weighting ---------------------------------------------------------------------------------


def test_group_figures_against_hand_computation():
    """French ISPs: orange 40 (se 2, weight 12.5), free 30 (se 3, weight 6.9), sosh 50 (se 4,
    no weight). Weighted mean (12.5*40 + 6.9*30) / 19.4, se sqrt(12.5^2*4 + 6.9^2*9) / 19.4;
    unweighted mean 40, se sqrt(4 + 9 + 16) / 3."""
    inputs = pd.DataFrame(
        {
            "metric": DAYS,
            "company": ["orange", "free", "sosh", "amazon", "temu"],
            "sector": ["isp", "isp", "isp", "retailer", "retailer"],
            "origin": ["fr", "fr", "fr", "foreign", "foreign"],
            "estimate": [40.0, 30.0, 50.0, 10.0, 20.0],
            "standard_error": [2.0, 3.0, 4.0, 1.0, 2.0],
            "n": 100,
        }
    )
    out = group_figures(inputs, market_weights())
    assert out[["sector", "origin"]].values.tolist() == [["isp", "fr"], ["retailer", "foreign"]]
    isp = out.iloc[0]
    assert isp["companies"] == 3 and isp["companies_weighted"] == 2
    assert_allclose(isp["weighted_mean"], (12.5 * 40 + 6.9 * 30) / 19.4, rtol=1e-12)
    se = math.sqrt(12.5**2 * 4 + 6.9**2 * 9) / 19.4
    assert_allclose(isp["weighted_se"], se, rtol=1e-12)
    assert_allclose(isp["weighted_low"], isp["weighted_mean"] - 1.959963984540054 * se)
    assert_allclose(isp["unweighted_mean"], 40.0)
    assert_allclose(isp["unweighted_se"], math.sqrt(29) / 3, rtol=1e-12)
    assert isp["without_weight"] == "sosh"
    retail = out.iloc[1]
    assert math.isnan(retail["weighted_mean"]) and retail["without_weight"] == "amazon|temu"
    assert_allclose(retail["unweighted_mean"], 15.0)


def test_market_weights_names_source_date_and_missing_figures():
    weights = market_weights().set_index("company")
    assert weights.loc[["orange", "free", "sfr", "bouygues"], "weight"].tolist() == [
        12.5, 6.9, 6.7, 4.4,
    ]  # fmt: skip
    assert (weights.loc["orange", "as_of"], weights.loc["orange", "unit"]) == (
        "2021-12-31",
        "million",
    )
    assert weights.loc["orange", "source"].startswith("Arcep")
    assert weights["weight"].isna().sum() == 12
    assert "Orange" in weights.loc["sosh", "note"]
    assert weights.loc["amazon", "note"] == (
        "no fixed_broadband_subscribers figure in market_figures.csv"
    )
    assert len(weights) == 16


# --- the verdict -------------------------------------------------------------------------------

COMPANIES = pd.read_csv(Path(__file__).parent.parent / "survey" / "reference" / "companies.csv")
# small fixed deviations, so that tau2 is estimated and nothing is exactly equal
NOISE = np.array(
    [0.6, -0.4, 0.3, -0.7, 0.2, -0.1, 0.5, -0.3, 0.4, -0.5, 0.3, -0.2, 0.1, -0.6, 0.4, 0.2]
)


def _constructed(origin_gap: float, sector_gap: float, *, noise=1.0) -> pd.DataFrame:
    """Days without resolution: 30 + sector_gap for ISPs + origin_gap for French companies."""
    isp = (COMPANIES["sector"] == "isp").to_numpy()
    french = (COMPANIES["origin"] == "fr").to_numpy()
    return pd.DataFrame(
        {
            "metric": DAYS,
            "company": COMPANIES["id"],
            "sector": COMPANIES["sector"],
            "origin": COMPANIES["origin"],
            "estimate": 30.0 + sector_gap * isp + origin_gap * french + noise * NOISE,
            "standard_error": 1.0,
            "n": 300,
        }
    )


def _not_identifiable() -> pd.DataFrame:
    frame = _constructed(15.0, 15.0).groupby(["sector", "origin"]).head(2)
    return frame.reset_index(drop=True)


VERDICT_CASES = {
    "country": _constructed(15.0, 0.0),
    "sector": _constructed(0.0, 15.0),
    "both": _constructed(10.0, 15.0),
    "cannot_tell": _constructed(0.0, 0.0, noise=2.0),
    "not_identifiable": _not_identifiable(),
}


@pytest.mark.parametrize("answer", list(VERDICT_CASES))
@pytest.mark.parametrize("locale", ["fr", "en"])
def test_verdict_closing_sentence_on_constructed_data(answer, locale):
    result = design_effects(VERDICT_CASES[answer], metric=DAYS)
    sentences = verdict(result, locale=locale)
    assert len(sentences) == 6
    assert sentences[-1] == i18n.t(f"design.closing.{answer}", locale)
    # the same verdict from the tidy table alone
    assert verdict(result.table, locale=locale) == sentences


def test_verdict_sentences_say_cannot_tell_and_too_few():
    result = design_effects(VERDICT_CASES["sector"], metric=DAYS)
    en = verdict(result, locale="en")
    # ISPs are 15 days worse: French retailers resolve faster than French ISPs, clearly
    assert en[2].startswith(
        "Among French companies, the retailers (3) resolve faster than the internet providers (8) (difference −"
    )
    assert "cannot tell" not in en[2] and "too few" not in en[2]
    assert "but the survey cannot tell" in en[1]
    assert "but 2 companies are too few to speak of foreign internet providers" in en[0]
    assert "95% interval" in en[0]
    fr = verdict(result, locale="fr")
    assert "mais l'enquête ne permet pas de le dire" in fr[1]
    assert (
        "mais 2 entreprises ne suffisent pas pour parler des fournisseurs d'accès étrangers"
        in fr[0]
    )
    assert "intervalle à 95 %" in fr[2] and "jours" in fr[2]


def test_verdict_example_sentence_exactly():
    """The tone the task asks for, built from fixed figures."""
    table = design_effects(VERDICT_CASES["sector"], metric=DAYS).table
    table.loc[0, ["estimate", "low", "high"]] = [-2.4, -65.0, 60.0]
    sentence = verdict(table, locale="en")[0]
    assert sentence == (
        "Among internet providers, the foreign companies (2) resolve faster than the French ones"
        " (8), but 2 companies are too few to speak of foreign internet providers (difference"
        " −2.4 days, 95% interval −65.0 to 60.0)."
    )
    assert verdict(table, locale="fr")[0] == (
        "Parmi les fournisseurs d'accès à internet, les entreprises étrangères (2) résolvent plus"
        " vite que les françaises (8), mais 2 entreprises ne suffisent pas pour parler des"
        " fournisseurs d'accès étrangers (écart −2,4 jours, intervalle à 95 % de −65,0 à 60,0)."
    )


def test_verdict_share_metric_in_points_higher_is_better():
    inputs = VERDICT_CASES["sector"].assign(
        metric="refund_success_share",
        estimate=lambda f: 0.9 - f["estimate"] / 100,
        standard_error=0.01,
    )
    sentence = verdict(design_effects(inputs, metric="refund_success_share"), locale="en")[2]
    assert sentence.startswith(
        "Among French companies, the retailers (3) grant refunds more often than"
    )
    assert "percentage points" in sentence and "difference 15." in sentence


def test_verdict_empty_cell_and_left_out_companies():
    inputs = _inputs("companies_no_foreign_isp_reml")
    inputs.loc[inputs["company"] == "orange", "standard_error"] = 0.0
    with pytest.warns(RuntimeWarning):
        result = design_effects(inputs, metric=DAYS)
    en = verdict(result, locale="en")
    assert en[0] == (
        "Among internet providers, foreign against French companies: no comparison is possible,"
        " the survey holds none of the foreign internet providers."
    )
    assert en[-2].endswith(": orange.")
    assert len(en) == 7
    assert verdict(result, locale="fr")[0].startswith(
        "Parmi les fournisseurs d'accès à internet, entreprises étrangères contre françaises :"
    )


def test_verdict_custom_metric_description():
    inputs = VERDICT_CASES["sector"].assign(metric="wasted_trips")
    result = design_effects(inputs, metric="wasted_trips")
    with pytest.raises(ValueError, match="`metric_description`"):
        verdict(result, locale="en")
    description = MetricDescription(True, "days", 1.0, 0, "resolution")
    assert "difference −15 days" in verdict(result, locale="en", metric_description=description)[2]


def test_design_messages_complete_in_both_languages():
    assert [p for p in i18n.catalogue_problems() if p.startswith("design.")] == []


# --- input checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sei": [0.1, 0.0, 0.2, 0.3, 0.1]}, "`sei`"),
        ({"sei": [0.1, 0.2]}, "`sei`"),
        ({"yi": [0.1, np.nan, 0.2, 0.3, 0.1]}, "`yi`"),
        ({"method": "ML"}, "`method`"),
        ({"test": "adhoc"}, "`test`"),
        ({"confidence_level": 1.5}, "`confidence_level`"),
        ({"moderators": [[1, 2], [2, 4], [3, 6], [4, 8], [5, 10]]}, "collinear"),
        ({"moderators": np.arange(20.0).reshape(5, 4)}, "fewer than"),
        ({"moderators": [1, 2, 3]}, "`moderators`"),
        ({"names": ["a", "b"]}, "`names`"),
    ],
)
def test_meta_regression_input_checks(kwargs, match):
    arguments = {"yi": [0.1, 0.3, 0.2, 0.6, 0.5], "sei": [0.1, 0.1, 0.2, 0.2, 0.1]}
    arguments["moderators"] = [0, 1, 0, 1, 1]
    arguments.update(kwargs)
    yi, sei, moderators = arguments.pop("yi"), arguments.pop("sei"), arguments.pop("moderators")
    with pytest.raises(ValueError, match=match):
        meta_regression(yi, sei, moderators, **arguments)


def test_contrast_input_check():
    fit = meta_regression(BCG["yi"], BCG["sei"], BCG["ablat"])
    with pytest.raises(ValueError, match="`vector`"):
        fit.contrast([1, 0, 0])


def test_design_effects_input_checks():
    inputs = _inputs("companies_spread_reml")
    with pytest.raises(ValueError, match="lacks the columns"):
        design_effects(inputs.drop(columns="n"), metric=DAYS)
    with pytest.raises(ValueError, match="`metric`"):
        design_effects(inputs, metric="nothing")
    with pytest.raises(ValueError, match="more than one row"):
        design_effects(pd.concat([inputs, inputs.head(1)]), metric=DAYS)
    with pytest.raises(ValueError, match="sectors"):
        design_effects(inputs.assign(sector="bank"), metric=DAYS)
    with pytest.raises(ValueError, match="origins"):
        design_effects(inputs.assign(origin="eu"), metric=DAYS)
    with pytest.raises(ValueError, match="`method`"):
        design_effects(inputs, metric=DAYS, method="PM")
    with pytest.raises(ValueError, match="`min_companies`"):
        design_effects(inputs, metric=DAYS, min_companies=0)
    with pytest.raises(ValueError, match="`inputs`"):
        design_effects(inputs.to_dict(), metric=DAYS)


def test_standardise_and_group_figures_input_checks():
    cells = _cells()
    with pytest.raises(ValueError, match="`missing`"):
        standardise(cells, missing="impute")
    with pytest.raises(ValueError, match="`shared_types`"):
        standardise(cells, shared_types=["teleportation"])
    with pytest.raises(ValueError, match="`shared_types`"):
        standardise(cells, shared_types="billing")
    with pytest.raises(ValueError, match="lacks the columns"):
        standardise(cells.drop(columns="problem"))
    with pytest.raises(ValueError, match="more than one row"):
        standardise(pd.concat([cells, cells.head(1)]))
    with pytest.raises(ValueError, match="met by both sectors"):
        standardise(cells.loc[cells["sector"] == "isp"])
    with pytest.raises(ValueError, match="`n`"):
        standardise(cells.assign(n=-1))
    inputs = _inputs("companies_spread_reml")
    with pytest.raises(ValueError, match="`weights`"):
        group_figures(inputs, [1, 2, 3])
    with pytest.raises(ValueError, match="`weights`"):
        group_figures(inputs, {"orange": -1.0})
    with pytest.raises(ValueError, match="`metric`"):
        group_figures(inputs, {}, metric="nothing")
    with pytest.raises(ValueError, match="`metric`"):
        market_weights(metric="mobile_subscribers")


def test_verdict_input_checks():
    result = design_effects(VERDICT_CASES["sector"], metric=DAYS)
    with pytest.raises(ValueError, match="`locale`"):
        verdict(result, locale="de")
    with pytest.raises(ValueError, match="`effects`"):
        verdict(result.table.head(3), locale="en")
    with pytest.raises(ValueError, match="`effects`"):
        verdict([1, 2], locale="en")
