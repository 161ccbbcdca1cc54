"""Benchmarks of the statistics engine against lifelines, on the demo data set.

Two ways to run it (the machine and the figures go to docs/benchmarks.md):

    .venv/bin/python -m pytest bench/bench_stats.py --benchmark-only
    .venv/bin/python bench/bench_stats.py            # a Markdown table on stdout

Both check, on the same data, that Kaplan-Meier and the log-rank test equal lifelines'
(relative difference below 1e-9) before timing anything. Timings are never asserted. The
Aalen-Johansen rows (resolved vs ended without resolution) are timed against Kaplan-Meier on
the same rows, with and without delayed entry, and the company-level kernel for all companies.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis._kernels import aj_from_patterns, aj_time_in_state, competing_patterns  # noqa: E402
from analysis.kpis import company_table, summary_tables  # noqa: E402
from analysis.survival import aalen_johansen, kaplan_meier, logrank  # noqa: E402
from survey.demo import generate_frame  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
TODAY = date(2026, 6, 15)
SEED = 42
TOLERANCE = 1e-9
# incidents begun before this day enter the survey late, on it (delayed entry)
LAUNCH = date(2025, 1, 1)


@cache
def demo(rows: int) -> pd.DataFrame:
    return generate_frame(rows, seed=SEED, today=TODAY)


@cache
def resolution(rows: int):
    """Durations in days, resolved flags and company codes, by PRODUCT.md section 4."""
    frame = demo(rows)

    def days(column):
        return frame[column].to_numpy().astype("datetime64[D]").astype(np.int64)

    status = frame["status"].to_numpy()
    stop = np.where(status == "ongoing", days("submitted_on"), days("ended_on"))
    durations = stop - days("started_on")  # whole days, int64, for both libraries
    codes, _ = pd.factorize(frame["company"], sort=True)
    return durations, status == "resolved", codes


@cache
def competing(rows: int):
    """Causes (1 resolved, 2 ended without resolution, 0 ongoing) and late entries, in days."""
    frame = demo(rows)
    durations, _, codes = resolution(rows)
    status = frame["status"].to_numpy()
    causes = np.where(status == "resolved", 1, np.where(status == "ongoing", 0, 2))
    started = frame["started_on"].to_numpy().astype("datetime64[D]").astype(np.int64)
    launch = np.datetime64(LAUNCH, "D").astype(np.int64)
    entry = np.clip(launch - started, 0, None)
    keep = entry < durations  # the others were over before the launch: never observed
    return durations, causes, codes, entry, keep


def company_incidence(rows: int):
    """The company-table kernel: every company's curves, errors and time lost to 90 days."""
    durations, causes, codes, entry, keep = competing(rows)
    n_groups = int(codes.max()) + 1
    patterns = competing_patterns(
        durations[keep], causes[keep], codes[keep], n_groups, entry=entry[keep], n_causes=2
    )
    return aj_from_patterns(patterns, n_groups, 2), aj_time_in_state(patterns, n_groups, 2, 90.0)


# --- equality with lifelines -----------------------------------------------------------------


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return np.inf
    scale = np.maximum(np.abs(b[both]), 1e-300)
    return float(np.max(np.abs(a[both] - b[both]) / scale, initial=0.0))


def check_kaplan_meier(rows: int) -> float:
    from lifelines import KaplanMeierFitter

    durations, resolved, _ = resolution(rows)
    ours = kaplan_meier(durations, resolved)
    theirs = KaplanMeierFitter().fit(durations, resolved)
    timeline = theirs.survival_function_.index.to_numpy()
    at = ours.survival_at(timeline, method="log-log")
    worst = _relative(at.estimate, theirs.survival_function_.iloc[:, 0].to_numpy())
    # lifelines' exponential Greenwood band is R's log-log band; both undefined where S = 1
    defined = (at.estimate < 1) & (at.estimate > 0)
    bounds = theirs.confidence_interval_survival_function_.to_numpy()
    worst = max(worst, _relative(at.confidence_interval.low[defined], bounds[defined, 0]))
    worst = max(worst, _relative(at.confidence_interval.high[defined], bounds[defined, 1]))
    table = theirs.event_table.loc[ours.time]
    worst = max(worst, _relative(ours.n_at_risk, table["at_risk"]))
    worst = max(worst, _relative(ours.n_events, table["observed"]))
    # lifelines' median is the first time with S <= 0.5 (no midpoint rule); equal unless the
    # curve sits exactly at 0.5
    median = ours.median().estimate
    if not np.any(np.abs(ours.survival - 0.5) < 1e-12):
        worst = max(worst, _relative(median, theirs.median_survival_time_))
    return worst


def check_logrank(rows: int) -> float:
    from lifelines.statistics import multivariate_logrank_test

    durations, resolved, codes = resolution(rows)
    ours = logrank(durations, resolved, codes)
    theirs = multivariate_logrank_test(durations, codes, resolved)
    worst = _relative(ours.statistic, theirs.test_statistic)
    worst = max(worst, _relative(ours.pvalue, theirs.p_value) if theirs.p_value > 0 else 0.0)
    if ours.dof != theirs.degrees_of_freedom:
        return np.inf
    return worst


# --- pytest-benchmark ------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - script mode without pytest
    pytest = None

if pytest is not None:
    sizes = pytest.mark.parametrize("rows", SIZES, ids=lambda n: f"{n:_}")

    @sizes
    def test_kaplan_meier_engine(benchmark, rows):
        assert check_kaplan_meier(rows) < TOLERANCE
        durations, resolved, _ = resolution(rows)
        benchmark(kaplan_meier, durations, resolved)

    @sizes
    def test_kaplan_meier_lifelines(benchmark, rows):
        from lifelines import KaplanMeierFitter

        durations, resolved, _ = resolution(rows)
        benchmark.pedantic(
            lambda: KaplanMeierFitter().fit(durations, resolved), rounds=3, warmup_rounds=1
        )

    @sizes
    def test_logrank_engine(benchmark, rows):
        assert check_logrank(rows) < TOLERANCE
        durations, resolved, codes = resolution(rows)
        benchmark(logrank, durations, resolved, codes)

    @sizes
    def test_logrank_lifelines(benchmark, rows):
        from lifelines.statistics import multivariate_logrank_test

        durations, resolved, codes = resolution(rows)
        benchmark.pedantic(
            lambda: multivariate_logrank_test(durations, codes, resolved),
            rounds=3,
            warmup_rounds=1,
        )

    @sizes
    def test_aalen_johansen_engine(benchmark, rows):
        durations, causes, *_ = competing(rows)
        benchmark(aalen_johansen, durations, causes)

    @sizes
    def test_aalen_johansen_delayed_entry(benchmark, rows):
        durations, causes, _, entry, keep = competing(rows)
        benchmark(aalen_johansen, durations[keep], causes[keep], entry=entry[keep])

    @sizes
    def test_aalen_johansen_companies(benchmark, rows):
        benchmark(company_incidence, rows)

    @sizes
    def test_company_table(benchmark, rows):
        frame = demo(rows)
        benchmark.pedantic(
            lambda: company_table(frame, as_of=TODAY, rng=1), rounds=5, warmup_rounds=1
        )

    @sizes
    def test_company_and_group_tables(benchmark, rows):
        frame = demo(rows)
        benchmark.pedantic(
            lambda: summary_tables(frame, as_of=TODAY, rng=1), rounds=5, warmup_rounds=1
        )


# --- script ----------------------------------------------------------------------------------


def _timed(function, repeat: int) -> float:
    """Median wall time of ``repeat`` warm runs (one warm-up run first)."""
    function()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from lifelines import KaplanMeierFitter
    from lifelines import __version__ as lifelines_version
    from lifelines.statistics import multivariate_logrank_test

    warnings.simplefilter("ignore")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"lifelines {lifelines_version}. Median of {args.repeat} warm runs (lifelines: 3).\n"
    )
    print("| rows | step | engine | lifelines | speed-up | max relative difference |")
    print("|---:|---|---:|---:|---:|---:|")
    for rows in args.rows:
        durations, resolved, codes = resolution(rows)
        frame = demo(rows)
        km = _timed(lambda: kaplan_meier(durations, resolved), args.repeat)  # noqa: B023
        km_ll = _timed(lambda: KaplanMeierFitter().fit(durations, resolved), 3)  # noqa: B023
        print(
            f"| {rows:,} | Kaplan-Meier | {km * 1e3:.1f} ms | {km_ll * 1e3:.0f} ms | "
            f"{km_ll / km:.0f}x | {check_kaplan_meier(rows):.1e} |"
        )
        lr = _timed(lambda: logrank(durations, resolved, codes), args.repeat)  # noqa: B023
        lr_ll = _timed(
            lambda: multivariate_logrank_test(durations, codes, resolved),  # noqa: B023
            3,
        )
        print(
            f"| {rows:,} | log-rank, {codes.max() + 1} companies | {lr * 1e3:.1f} ms | "
            f"{lr_ll * 1e3:.0f} ms | {lr_ll / lr:.0f}x | {check_logrank(rows):.1e} |"
        )
        durations_c, causes, _, entry, keep = competing(rows)
        aj = _timed(lambda: aalen_johansen(durations_c, causes), args.repeat)  # noqa: B023
        print(
            f"| {rows:,} | Aalen-Johansen, 2 outcomes | {aj * 1e3:.1f} ms | | time {aj / km:.2f}x KM | |"
        )
        d, c, e = durations_c[keep], causes[keep], entry[keep]
        km_e = _timed(lambda: kaplan_meier(d, c == 1, entry=e), args.repeat)  # noqa: B023
        aj_e = _timed(lambda: aalen_johansen(d, c, entry=e), args.repeat)  # noqa: B023
        print(f"| {rows:,} | Kaplan-Meier, delayed entry | {km_e * 1e3:.1f} ms | | | |")
        print(
            f"| {rows:,} | Aalen-Johansen, delayed entry | {aj_e * 1e3:.1f} ms | | "
            f"time {aj_e / km_e:.2f}x KM | |"
        )
        groups = _timed(lambda: company_incidence(rows), args.repeat)  # noqa: B023
        print(
            f"| {rows:,} | Aalen-Johansen kernel, {codes.max() + 1} companies, entry, RMTL 90 | "
            f"{groups * 1e3:.1f} ms | | | |"
        )
        table = _timed(lambda: company_table(frame, as_of=TODAY, rng=1), args.repeat)  # noqa: B023
        both = _timed(lambda: summary_tables(frame, as_of=TODAY, rng=1), args.repeat)  # noqa: B023
        print(f"| {rows:,} | company table (every metric) | {table * 1e3:.0f} ms | | | |")
        print(f"| {rows:,} | company + group tables | {both * 1e3:.0f} ms | | | |")


if __name__ == "__main__":
    main()
