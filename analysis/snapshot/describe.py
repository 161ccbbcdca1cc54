"""What describes a snapshot: ``manifest.json`` (how to reproduce every byte) and
``datapackage.json`` (a Frictionless Data package: the tables' schemas, column by column)."""

from __future__ import annotations

import importlib.metadata
import platform
import re

import pandas as pd
import pyarrow as pa

from analysis import kpis, metrics
from analysis.snapshot.build import INPUT_COLUMNS, SUPPRESSED, Snapshot
from analysis.snapshot.files import field_kind, sha256
from survey.questionnaire import QUESTIONNAIRE_VERSION, TOO_FAST_SECONDS

_FIXED_DESCRIPTIONS = {
    "level": "'company' (one company) or 'group' (companies of one sector and origin pooled)",
    "id": "company identifier (reference list), or group 'sector/origin'",
    "name": "company name, or group name in English",
    "sector": "isp (internet and telephone providers) or retailer; 'unlisted' for other companies",
    "origin": "fr (French company) or foreign; 'unlisted' for other companies",
    "companies": "for a group: its companies (identifiers, comma-separated)",
    "n": "responses used for this company or group (always published)",
    "metric": (
        "survival_curves: resolution or refund_time; design files: "
        "resolution_unresolved90_days, resolved_within_30d_share or refund_success_share"
    ),
    "effect": (
        "origin_within_isp, origin_within_retailer (foreign minus French), sector_within_fr, "
        "sector_within_foreign (retailers minus internet providers), interaction"
    ),
    "estimate": "the figure (days, or a share in [0, 1]; effects are differences a minus b)",
    "standard_error": "its standard error",
    "p_value": "two-sided p-value (Knapp-Hartung t test)",
    "companies_a": "companies on side a of the comparison",
    "companies_b": "companies on side b of the comparison",
    "identifiable": "false when a side holds fewer than 3 companies: a comparison of those few",
    "tau2": "between-company variance of the model (REML)",
    "i2": "share of the variation due to differences between companies, percent",
    "method": "model and test",
    "n_other": "competing outcomes on this day (gave up, or refund refused)",
    "other": "cumulative incidence of the competing outcome by this day",
    "companies_weighted": "companies of the cell with a market figure",
    "unweighted_mean": "mean of the companies' figures, each the same weight",
    "unweighted_se": "its standard error",
    "unweighted_low": "lower 95% bound (normal)",
    "unweighted_high": "upper 95% bound (normal)",
    "weighted_mean": "mean weighted by market size (subscribers)",
    "weighted_se": "its standard error",
    "weighted_low": "lower 95% bound (normal)",
    "weighted_high": "upper 95% bound (normal)",
    "without_weight": "companies without a market figure, '|'-separated",
    "after_launch_n": "incidents that began after the launch (empty when not publishable)",
    "refund_requests": "refund requests with a known outcome",
    "refund_complete": "of them, with the dates the time to refund needs",
    "refunded_within_30d_reweighted": (
        "refunded within 30 days, complete requests reweighted by outcome (missing dates)"
    ),
    "company": "company identifier (reference list)",
    "time": "days since the problem started (resolution) or since the refund request",
    "n_at_risk": "incidents still followed and not yet resolved (refunded) at this time",
    "n_events": "resolutions (refunds) on this day",
    "n_censored": "incidents leaving follow-up on this day without resolution (refund)",
    "survival": (
        "share not yet resolved (refunded) after this day: 1 minus the Aalen-Johansen "
        "cumulative incidence, giving up (refusal) being a competing outcome"
    ),
    "low": "lower bound of the pointwise 95% interval (log scale of the incidence)",
    "high": "upper bound of the pointwise 95% interval (log scale of the incidence)",
    "suppressed": "true when the whole curve is suppressed (fewer than min_cell responses)",
    "callbacks_kept_promised_total": "callbacks promised in all, over the responses of the base",
    "wasted_km_total": "kilometres driven for nothing in all, over the answers (wasted_km_n)",
}
_SUFFIX_DESCRIPTIONS = (
    (
        "_suppressed",
        "true when fewer than min_cell responses enter this metric: its other "
        "columns then hold 'suppressed' (CSV) or null (Parquet)",
    ),
    (
        "_vs_others_flag",
        "better / worse than all others pooled (Benjamini-Hochberg adjusted "
        "p < 0.05), none: no significant difference, empty: no test possible",
    ),
    (
        "_vs_others_p_adj",
        "p-value of the comparison with all others, Benjamini-Hochberg "
        "adjusted across every comparison of the level's table",
    ),
    ("_vs_others_p", "p-value of the comparison with all others pooled"),
    ("_small_base", "true when fewer than 30 responses enter the metric (wide interval)"),
    ("_n", "responses entering the metric (its base)"),
    ("_events", "responses whose event (resolution, refund) was observed"),
    ("_excluded", "responses left out of the metric: missing or negative duration"),
    ("_median_days", "Kaplan-Meier median in days; empty when not reached"),
    ("_median_low", "lower bound of the median's 95% interval (Brookmeyer-Crowley, log-log)"),
    ("_median_high", "upper bound of the median's 95% interval; empty when not reached"),
    ("_days", "restricted mean to 90 days (days)"),
    ("_share", "share, from 0 to 1"),
    ("_mean", "mean per response"),
    ("_score", "score from -100 to 100"),
    ("_ratio", "callbacks received / callbacks promised, from 0 to 1"),
    ("_total", "total over the responses"),
    ("_low", "lower bound of the 95% interval"),
    ("_high", "upper bound of the 95% interval"),
)


def describe_column(column: str, min_cell: int) -> str:
    """The description of a published column in ``datapackage.json``: the metric's label from
    the catalogue (:mod:`analysis.metrics`) and what the column's suffix means."""
    if column in _FIXED_DESCRIPTIONS:
        text = _FIXED_DESCRIPTIONS[column]
    else:
        metric = metrics.metric_of(column)
        # the catalogue's English label of the metric (the data dictionary is in English)
        label = metric.label("en") if metric is not None else column
        within = re.match(r"(resolved|refunded)_within_(\d+)d_", column)
        if within:
            label = f"{label}, share {within.group(1)} within {within.group(2)} days"
        text = label
        for suffix, meaning in _SUFFIX_DESCRIPTIONS:
            if column.endswith(suffix):
                text = f"{label}: {meaning}"
                break
    text = text.replace("fewer than 30 ", f"fewer than {kpis.SMALL_BASE} ")
    return text.replace("min_cell", str(min_cell))


def table_schema(frame: pd.DataFrame, *, min_cell: int, primary_key=None) -> dict:
    fields = []
    for column in frame.columns:
        field = {"name": column, "type": field_kind(frame[column])}
        field["description"] = describe_column(column, min_cell)
        if column == "level":
            field["constraints"] = {"required": True, "enum": ["company", "group"]}
        elif column.endswith("_vs_others_flag"):
            field["constraints"] = {"enum": ["better", "worse", "none"]}
        elif column in ("n", "id", "metric", "company"):
            field["constraints"] = {"required": True}
        fields.append(field)
    schema = {"fields": fields, "missingValues": ["", SUPPRESSED]}
    if primary_key:
        schema["primaryKey"] = primary_key
    return schema


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def software_versions() -> dict[str, str]:
    """Versions of everything that shapes the published bytes."""
    versions = {"clientroi": _version("clientroi"), "python": platform.python_version()}
    for package in (
        "numpy",
        "pandas",
        "scipy",
        "pyarrow",
        "altair",
        "vl-convert-python",
        "duckdb",
    ):
        versions[package] = _version(package)
    return versions


METHODS = (
    "Kaplan-Meier estimator of time to resolution and time to refund, ongoing incidents censored "
    "at their report day, refusals censored at as_of (never refunded)",
    "Median with the Brookmeyer-Crowley 95% interval on the log-log scale; shares resolved "
    "within 2, 7, 30 and 90 days with log-log pointwise intervals; restricted mean to 90 days",
    "Log-rank test of each company against all others pooled",
    "Wilson score 95% interval for shares; Fisher's exact test against all others pooled",
    "BCa bootstrap 95% interval for means, the NPS and the callbacks ratio (seeded)",
    "Mann-Whitney U test for means and the NPS; linearised (delta-method) z-test for the "
    "callbacks ratio",
    "Benjamini-Hochberg adjustment across every comparison of a table (companies; groups), "
    "false discovery rate 0.05",
    "Small base mark under 30 responses; suppression under min_cell responses, with secondary "
    "suppression of group cells that would reveal suppressed company cells by difference",
)


def manifest(snapshot: Snapshot, data_files: dict[str, bytes]) -> dict:
    groups = snapshot.groups
    return {
        "snapshot": snapshot.name,
        "title": "Client Roi: comparison snapshot of customer service",
        "as_of": snapshot.as_of.isoformat(),
        "period": {
            "submitted_from": snapshot.submitted_from.isoformat(),
            "submitted_to": snapshot.submitted_to.isoformat(),
        },
        "software": software_versions(),
        "questionnaire_version": QUESTIONNAIRE_VERSION,
        "input": {
            "rows": snapshot.rows,
            "sha256": snapshot.input_sha256,
            "selection": (
                "responses with consent_research true, no quality flag (honeypot, filled in "
                f"under {TOO_FAST_SECONDS:g} s, likely duplicate), source other than "
                "'synthetic', submitted_on on or before as_of (Europe/Paris); responses deleted "
                "by their authors are erased from the database and cannot enter; each read as "
                "known on as_of: the updates its author recorded on or before as_of "
                "(Europe/Paris) folded in (survey.updates.fold_events; store.fetch_responses "
                "with known_on=as_of), later ones left out"
            ),
            "canonical_form": {
                "columns": [
                    {"name": name, "type": _arrow_kind(kind)} for name, kind in INPUT_COLUMNS
                ],
                "row_order": "response_id ascending",
                "format": (
                    "CSV as written by pyarrow.csv.write_csv with include_header=True, "
                    "delimiter ',', eol '\\n', null_string '', quoting_style 'needed' and "
                    "quoting_header 'needed': header and strings in double quotes, missing "
                    "values empty, dates YYYY-MM-DD, booleans true/false, UTF-8"
                ),
                "digest": "SHA-256 of those bytes, hexadecimal",
                "function": "analysis.snapshot.input_sha256",
            },
        },
        "n_per_company": snapshot.n_per_company(),
        "n_per_group": {str(g): int(n) for g, n in zip(groups["id"], groups["n"], strict=True)},
        "thresholds": {"min_cell": snapshot.min_cell, **snapshot.settings},
        "release_control": snapshot.release_control,
        "random_seed": snapshot.seed,
        "methodology_version": snapshot.settings.get("methodology_version"),
        "launch": None if snapshot.launch is None else snapshot.launch.isoformat(),
        "launch_rule": (
            "incidents that began before the launch enter observation late (delayed entry, "
            "at launch - started_on days); one that ended before it is excluded"
        ),
        "design": snapshot.design_notes,
        "methods": list(METHODS),
        "suppression": {
            "marker": SUPPRESSED,
            "rule": (
                "a value whose base (<family>_n) is under min_cell is suppressed with its "
                "interval, tests and base; a company or group under min_cell responses shows "
                "its n only; a group cell is also suppressed when the suppressed company cells "
                "of its group hold 1 to min_cell - 1 responses; curves are per company and stop "
                "before the first day with fewer than min_cell incidents at risk"
            ),
            "csv": "the cell holds 'suppressed'",
            "parquet": "the cell is null and <family>_suppressed is true",
            "suppressed_cells": snapshot.suppressed_cells(),
            "pools": (
                "responses of suppressed companies still count among 'all others' in the "
                "comparisons and in their sector x origin group"
            ),
            "design": (
                "a company whose standardised input rests on fewer than min_cell responses "
                "takes no part in the sector x origin model"
            ),
        },
        "files": {
            name: {"bytes": len(data), "sha256": sha256(data)}
            for name, data in sorted(data_files.items())
        },
    }


def _arrow_kind(kind: pa.DataType) -> str:
    if pa.types.is_date32(kind):
        return "date"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind):
        return "number"
    return "string"


_CSV_DIALECT = {
    "delimiter": ",",
    "lineTerminator": "\n",
    "quoteChar": '"',
    "doubleQuote": True,
    "skipInitialSpace": False,
    "header": True,
}


_DESIGN_TEXT = {
    "design_effects": (
        "France or the sector?",
        "The five sector x origin effects per compared metric, from a random-effects "
        "meta-regression across companies (REML, Knapp-Hartung), with 95% intervals, p-values, "
        "the number of companies on each side, whether a side holds at least 3 companies "
        "(identifiable), tau2 and I2. Reproduce with metafor::rma on design_inputs.csv.",
    ),
    "design_inputs": (
        "Company-level inputs of the sector x origin model",
        "Per metric and company, the figure directly standardised to the problem types both "
        "sectors share, its standard error and the responses it rests on. A company whose "
        "input rests on fewer than min_cell responses is not in the file nor in the model.",
    ),
}


def _design_resources(snapshot: Snapshot, stamp) -> list[dict]:
    resources = []
    for name, frame in (
        ("design_effects", snapshot.design_effects),
        ("design_inputs", snapshot.design_inputs),
    ):
        title, text = _DESIGN_TEXT[name]
        schema = table_schema(frame, min_cell=snapshot.min_cell)
        resources += [
            {
                "name": name.replace("_", "-"),
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "title": title,
                "description": text,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **stamp(f"{name}.csv"),
                "dialect": _CSV_DIALECT,
                "schema": schema,
            },
            {
                "name": f"{name.replace('_', '-')}-parquet",
                "path": f"{name}.parquet",
                "profile": "tabular-data-resource",
                "title": f"{title} (Parquet)",
                "description": text,
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                **stamp(f"{name}.parquet"),
                "schema": schema,
            },
        ]
    resources.append(
        {
            "name": "design-groups",
            "path": "design_groups.csv",
            "profile": "tabular-data-resource",
            "title": "Sector x origin cells, unweighted and weighted by market size",
            "description": (
                "Per metric and sector x origin cell: the mean of its companies' standardised "
                "figures (each company the same say) and the mean weighted by market size "
                "(fixed broadband subscribers, where a sourced figure exists; the companies "
                "without one are listed in without_weight), with standard errors and 95% "
                "intervals."
            ),
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            **stamp("design_groups.csv"),
            "dialect": _CSV_DIALECT,
            "schema": table_schema(snapshot.design_groups, min_cell=snapshot.min_cell),
        }
    )
    resources.append(
        {
            "name": "sensitivity",
            "path": "sensitivity.csv",
            "profile": "tabular-data-resource",
            "title": "Sensitivity analyses per company",
            "description": (
                "Headline resolution figures on the incidents that began after the launch "
                "(after_launch_*), and refunds within 30 days reweighted by outcome for missing "
                "dates, beside the published figures. Empty where a subset or what it leaves "
                f"out holds 1 to {snapshot.min_cell - 1} responses."
            ),
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            **stamp("sensitivity.csv"),
            "dialect": _CSV_DIALECT,
            "schema": table_schema(snapshot.sensitivity, min_cell=snapshot.min_cell),
        }
    )
    return resources


def datapackage(snapshot: Snapshot, files: dict[str, bytes]) -> dict:
    def stamp(name):
        return {"bytes": len(files[name]), "hash": f"sha256:{sha256(files[name])}"}

    kpis_schema = table_schema(
        snapshot.kpis, min_cell=snapshot.min_cell, primary_key=["level", "id"]
    )
    kpis_text = (
        "One row per company then per sector x origin group: every metric with its 95% interval, "
        f"base, small-base mark and comparison with all others. Values resting on fewer than "
        f"{snapshot.min_cell} responses are suppressed."
    )
    return {
        "profile": "data-package",
        "name": f"clientroi-snapshot-{snapshot.name}",
        "title": f"Client Roi: comparison snapshot as of {snapshot.as_of.isoformat()}",
        "description": (
            "Aggregates of volunteer reports of customer-service failures (not a representative "
            "sample). Input rows: SHA-256 " + snapshot.input_sha256 + " (see manifest.json)."
        ),
        "keywords": ["customer service", "barometer", "survival analysis", "France"],
        "resources": [
            {
                "name": "kpis",
                "path": "kpis.csv",
                "profile": "tabular-data-resource",
                "title": "Company and group table",
                "description": kpis_text,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **stamp("kpis.csv"),
                "dialect": _CSV_DIALECT,
                "schema": kpis_schema,
            },
            {
                "name": "kpis-parquet",
                "path": "kpis.parquet",
                "profile": "tabular-data-resource",
                "title": "Company and group table (Parquet)",
                "description": kpis_text + " Suppressed values are null here.",
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                **stamp("kpis.parquet"),
                "schema": kpis_schema,
            },
            {
                "name": "survival-curves",
                "path": "survival_curves.csv",
                "profile": "tabular-data-resource",
                "title": "Kaplan-Meier curves per company",
                "description": (
                    "Time to resolution and time to refund per company, one row per day with "
                    "an event or a censoring, cut before the first day with fewer than "
                    f"{snapshot.min_cell} incidents at risk; a suppressed curve is one row."
                ),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **stamp("survival_curves.csv"),
                "dialect": _CSV_DIALECT,
                "schema": table_schema(snapshot.curves, min_cell=snapshot.min_cell),
            },
            *_design_resources(snapshot, stamp),
            {
                "name": "manifest",
                "path": "manifest.json",
                "title": "Provenance: versions, input hash and recipe, thresholds, seed, methods",
                "format": "json",
                "mediatype": "application/json",
                "encoding": "utf-8",
                **stamp("manifest.json"),
            },
            {
                "name": "report-fr",
                "path": "index.html",
                "title": "Rapport (français)",
                "format": "html",
                "mediatype": "text/html",
                "encoding": "utf-8",
                **stamp("index.html"),
            },
            {
                "name": "report-en",
                "path": "index.en.html",
                "title": "Report (English)",
                "format": "html",
                "mediatype": "text/html",
                "encoding": "utf-8",
                **stamp("index.en.html"),
            },
        ],
    }
