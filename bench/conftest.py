"""Benchmark fixtures: DuckDB files of 100k and 1M synthetic responses, built once per session."""

from datetime import date

import pytest

from survey import store as storage
from survey.demo import iter_frames

TODAY = date(2026, 6, 15)


@pytest.fixture(scope="session", params=[100_000, 1_000_000], ids=["100k", "1M"])
def demo_database(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(f"rows{request.param}_") / "bench.duckdb"
    return build_database(path, request.param)


def build_database(path, rows: int, *, source: str = "synthetic"):
    """A DuckDB file of ``rows`` demo responses (``source`` "web" makes them publishable)."""
    store = storage.connect(path)
    for frame in iter_frames(rows, seed=42, today=TODAY):
        frame["source"] = source
        store.insert_frame(frame)
    return path


def is_million(path) -> bool:
    return f"rows{1_000_000}_" in str(path)
