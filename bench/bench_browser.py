"""The dashboard as a visitor waits for it: real Chromium, the first chart after opening
``/tableau``, for the first visitor after a restart (cold) and the next one (warm), and what
the websocket carried; then each tab.

Run: make bench, or for one database
    .venv/bin/python bench/bench_browser.py DB.duckdb [--visits 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM_ARGS, chromium_path, free_port  # noqa: E402

CHART = "[data-testid='stVegaLiteChart'] svg, [data-testid='stVegaLiteChart'] canvas"


def table_then_first_chart(page, url: str) -> tuple[float, float]:
    """Seconds from opening ``/tableau`` to its headline table, and to its first chart (the
    resolution curves, in the second tab: the first holds tables)."""
    started = time.perf_counter()
    page.goto(f"{url}/tableau?synthetic=true")
    page.locator("[data-testid='stDataFrame']").first.wait_for(state="visible")
    table = time.perf_counter() - started
    page.get_by_role("tab").nth(1).click()
    page.locator(CHART).filter(visible=True).first.wait_for(state="visible")
    return table, time.perf_counter() - started


def visit(browser, url: str) -> dict:
    """One new visitor (a fresh browser context): seconds to the headline table, to the first
    chart (the curves tab, clicked as soon as the tabs show), to every other tab's first
    chart, and the bytes the server sent on the websocket."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(180_000)
    received = {"bytes": 0, "frames": 0}

    def on_socket(ws):
        def on_frame(payload):
            received["bytes"] += len(payload)
            received["frames"] += 1

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    table, first = table_then_first_chart(page, url)
    first_bytes = received["bytes"]
    tabs = {}
    names = page.get_by_role("tab").all_inner_texts()
    for index, name in enumerate(names[2:], start=2):
        clicked = time.perf_counter()
        page.get_by_role("tab").nth(index).click()
        try:
            page.locator(CHART).filter(visible=True).first.wait_for(timeout=15_000)
            tabs[name] = round(time.perf_counter() - clicked, 3)
        except Exception:  # a tab without a chart (methodology, data): waited 15 s for nothing
            tabs[name] = None
    context.close()
    return {
        "headline_table_s": round(table, 3),
        "first_chart_s": round(first, 3),
        "websocket_bytes_to_first_chart": first_bytes,
        "websocket_bytes_all_tabs": received["bytes"],
        "tabs_s": tabs,
    }


WARMED = "public dashboard computed"


@contextlib.contextmanager
def served(db_path: Path):
    """``clientroi serve`` on a free port (the app process with its background warming);
    yields the URL once the server answers, and the path of its log."""
    port = free_port()
    log_path = Path(db_path).with_suffix(".serve.log")
    env = dict(os.environ, CLIENTROI_LOG_LEVEL="INFO")
    command = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main())", "serve"]
    command += ["--db", str(db_path), "--port", str(port), "--demo", "no"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log_path.read_text()) from None
                    time.sleep(0.2)
            yield url, log_path
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def floor(browser, url: str) -> float:
    """Seconds for a new visitor (fresh browser context) to see the heading of the smallest
    page (the accessibility statement): Streamlit's own start in the browser, the floor under
    any dashboard figure."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(f"{url}/accessibilite")
    page.get_by_role("heading").first.wait_for(state="visible")
    elapsed = time.perf_counter() - started
    context.close()
    return round(elapsed, 3)


def returning(browser, url: str) -> dict:
    """The same visitor opening the dashboard a second time (the browser's cache warm)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/tableau?synthetic=true")
    page.locator("[data-testid='stDataFrame']").first.wait_for(state="visible")
    table, chart = table_then_first_chart(page, url)
    context.close()
    return {"headline_table_s": round(table, 3), "first_chart_s": round(chart, 3)}


def measure(db_path: Path, *, visits: int = 3) -> dict:
    """The first visitor of a first start (no view kept on disk: it waits for the
    computation), the first visitor right after a restart on the same data (the view read
    back from disk), one after the warming ended, then ``visits`` more (warm)."""
    from playwright.sync_api import sync_playwright

    result = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            # No view on disk (the first start, or new data since the last one): the first
            # visitor waits for the computation that the warming started.
            shutil.rmtree(f"{db_path}.views", ignore_errors=True)
            with served(db_path) as (url, log_path):
                result["first_visitor_first_start"] = visit(browser, url)
            # A restart on the same data: the public view is read back from disk.
            with served(db_path) as (url, log_path):
                result["first_visitor_right_after_restart"] = visit(browser, url)
            with served(db_path) as (url, log_path):
                started = time.perf_counter()
                while WARMED not in log_path.read_text():
                    time.sleep(0.2)
                result["warming_s"] = round(time.perf_counter() - started, 1)
                result["first_visitor_after_warming"] = visit(browser, url)
                warm = [visit(browser, url) for _ in range(visits)]
                result["streamlit_floor_new_visitor_s"] = [floor(browser, url) for _ in range(3)]
                result["returning_visitor"] = returning(browser, url)
        finally:
            browser.close()
    result["warm"] = warm
    result["warm_first_chart_median_s"] = statistics.median(v["first_chart_s"] for v in warm)
    return result


@pytest.mark.parametrize("visits", [3])
def test_dashboard_in_chromium(benchmark, demo_database, visits):
    result = benchmark.pedantic(lambda: measure(demo_database, visits=visits), rounds=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--visits", type=int, default=3)
    options = parser.parse_args()
    print(json.dumps(measure(options.db, visits=options.visits), indent=2))
