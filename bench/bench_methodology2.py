"""Methodology 2 at 1M responses: the company and group tables with every metric (competing
outcomes, delayed entry, effect sizes), the "France or the sector?" analysis, and
Aalen-Johansen against Kaplan-Meier.

    .venv/bin/python bench/bench_methodology2.py [--rows 1000000] [--repeat 5]

Prints the median and the range of the warm runs; figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import numpy as np
import pandas as pd

from analysis import design, kpis, survival
from survey import demo

AS_OF = date(2026, 11, 1)
LAUNCH = date(2023, 1, 1)
CATEGORIES = ("company", "sector", "origin", "status", "problem", "refund_outcome", "company_name")


def timed(step, repeat: int) -> str:
    step()  # warm
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        runs.append(time.perf_counter() - start)
    return f"{statistics.median(runs):.3f} s (min {min(runs):.3f}, max {max(runs):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    frame = pd.concat(list(demo.iter_frames(args.rows, seed=3, today=AS_OF)), ignore_index=True)
    frame = frame[[*kpis.REQUIRED_COLUMNS, "problem", "company_name"]].copy()
    for column in CATEGORIES:  # as the dashboard reads them
        frame[column] = frame[column].astype("category")

    print(f"{args.rows:,} responses, {args.repeat} warm runs")
    print(
        "company + group tables, every metric, delayed entry:",
        timed(lambda: kpis.summary_tables(frame, as_of=AS_OF, rng=1, launch=LAUNCH), args.repeat),
    )
    cells = kpis.design_cells(frame, as_of=AS_OF, launch=LAUNCH)
    print(
        "design cells (company x problem type) from the responses:",
        timed(lambda: kpis.design_cells(frame, as_of=AS_OF, launch=LAUNCH), args.repeat),
    )
    print(
        "design analysis (standardise, model, weights) on the cells:",
        timed(lambda: design.analyse(cells, metrics=kpis.DESIGN_METRICS), args.repeat),
    )
    rng = np.random.default_rng(1)
    durations = rng.integers(0, 400, args.rows).astype(float)
    causes = rng.integers(0, 3, args.rows)
    print(
        "Kaplan-Meier:",
        timed(lambda: survival.kaplan_meier(durations, causes == 1), args.repeat),
    )
    print(
        "Aalen-Johansen, two outcomes:",
        timed(lambda: survival.aalen_johansen(durations, causes), args.repeat),
    )


if __name__ == "__main__":
    main()
