"""Time for the dashboard page to render (AppTest), cold and warm cache, at 100k and 1M rows.

Run: make bench (or .venv/bin/python -m pytest bench/bench_dashboard.py --benchmark-only).
"""

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis import dashboard, dashboard_parts

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DASHBOARD = "analysis/dashboard_page.py"


def _prepared_app(db_path, monkeypatch, *, clear: bool):
    monkeypatch.setenv("CLIENTROI_DB", str(db_path))
    if clear:
        st.cache_data.clear()
        dashboard.VIEWS.clear()
        dashboard_parts.clear()  # the charts and tables drawn from the views go with them
    at = AppTest.from_file(APP, default_timeout=300).run()  # the form page, then navigate
    return (at,), {}


def _render_dashboard(at):
    at.switch_page(DASHBOARD).run()
    assert not at.exception, at.exception
    assert at.dataframe, "no headline table"


def test_dashboard_cold(benchmark, demo_database, monkeypatch):
    benchmark.pedantic(
        _render_dashboard,
        setup=lambda: _prepared_app(demo_database, monkeypatch, clear=True),
        rounds=3,
    )


def test_dashboard_warm(benchmark, demo_database, monkeypatch):
    (at,), _ = _prepared_app(demo_database, monkeypatch, clear=False)
    _render_dashboard(at)  # fills the cache
    benchmark.pedantic(
        _render_dashboard,
        setup=lambda: _prepared_app(demo_database, monkeypatch, clear=False),
        rounds=5,
    )
