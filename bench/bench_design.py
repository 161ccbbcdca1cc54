"""Benchmark of the whole design analysis ("France or the sector?") from per-company aggregates:
standardisation of 16 companies x 8 problem types, the sector x origin meta-regression and its
five effects, the weighted and unweighted group figures, and the verdict in French and English,
for the three metrics the verdict describes. The target is under 0.5 s; timings are not asserted.

    .venv/bin/python -m pytest bench/bench_design.py --benchmark-only -o python_files="bench_*.py"
    .venv/bin/python bench/bench_design.py            # median of 20 runs on stdout
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.design import (  # noqa: E402
    METRIC_DESCRIPTIONS,
    design_effects,
    group_figures,
    market_weights,
    standardise,
    verdict,
)
from survey.questionnaire import companies  # noqa: E402

SEED = 42
PROBLEMS = {
    "isp": ("outage", "degraded", "installation", "billing", "cancellation", "other"),
    "retailer": ("delivery", "defective", "billing", "cancellation", "other"),
}


def company_problem_cells(seed: int = SEED) -> pd.DataFrame:
    """Per company x problem type x metric: estimate, standard error and n, seeded."""
    rng = np.random.default_rng(seed)
    listed = pd.DataFrame(companies())[["id", "sector", "origin"]]
    frames = []
    for metric in METRIC_DESCRIPTIONS:
        share = metric.endswith("_share")
        for sector, problems in PROBLEMS.items():
            block = listed.loc[listed["sector"] == sector]
            grid = block.merge(pd.DataFrame({"problem": problems}), how="cross")
            n = rng.integers(5, 400, size=len(grid))
            centre = 0.6 if share else (45.0 if sector == "isp" else 25.0)
            spread = 0.1 if share else 8.0
            estimate = centre + spread * rng.standard_normal(len(grid))
            estimate = np.clip(estimate, 0.01, 0.99) if share else estimate
            se = (0.5 if share else 40.0) / np.sqrt(n)
            frames.append(
                grid.rename(columns={"id": "company"}).assign(
                    metric=metric, n=n, estimate=estimate, standard_error=se
                )
            )
    return pd.concat(frames, ignore_index=True)


def whole_analysis(cells: pd.DataFrame, weights: pd.DataFrame) -> dict:
    """Everything the methodology page and the snapshot show, for every metric."""
    out = {}
    for metric, rows in cells.groupby("metric", sort=False):
        per_company = standardise(rows).table
        effects = design_effects(per_company, metric=metric)
        out[metric] = (
            effects.table,
            group_figures(per_company, weights),
            verdict(effects, locale="fr"),
            verdict(effects, locale="en"),
        )
    return out


def test_design_whole_analysis(benchmark):
    cells, weights = company_problem_cells(), market_weights()
    result = benchmark(whole_analysis, cells, weights)
    assert set(result) == set(METRIC_DESCRIPTIONS)
    assert all(len(table) == 5 for table, *_ in result.values())


def test_design_effects_only(benchmark):
    cells = company_problem_cells()
    per_company = standardise(cells.loc[cells["metric"] == "resolution_unresolved90_days"]).table
    result = benchmark(design_effects, per_company, metric="resolution_unresolved90_days")
    assert len(result.table) == 5


if __name__ == "__main__":
    cells, weights = company_problem_cells(), market_weights()
    whole_analysis(cells, weights)  # warm (message catalogue, imports)
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        whole_analysis(cells, weights)
        timings.append(time.perf_counter() - start)
    print(
        f"whole design analysis, 3 metrics, 16 companies: median {statistics.median(timings) * 1e3:.1f} ms,"
        f" max {max(timings) * 1e3:.1f} ms over 20 runs"
    )
