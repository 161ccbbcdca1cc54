"""The dashboard as a visitor waits for it: real Chromium, the first chart after opening
``/tableau``, for the first visitor after a restart (cold) and the next one (warm), and what
the websocket carried; then each tab.

Run: make bench, or for one database
    .venv/bin/python bench/bench_browser.py DB.duckdb [--visits 3] [--warm-only]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from tests.browser import CHROMIUM_ARGS, chromium_path, free_port  # noqa: E402

CHART = "[data-testid='stVegaLiteChart'] svg, [data-testid='stVegaLiteChart'] canvas"
# The last two tabs (methodology, data) hold text, not charts: their time is to their first text.
TEXT = "[data-testid='stMarkdown'], [data-testid='stAlert']"
TEXT_TABS = 2
# The headline table: a data grid (st.dataframe) or a plain HTML table (st.table).
TABLE = "[data-testid='stDataFrame'], [data-testid='stTable']"


class Timeline:
    """What one visitor's browser did, in seconds since it asked for the page: the Streamlit
    messages on the websocket (each script run from the browser's request to the server's
    ``script_finished``, the arrival of the first chart, with Chromium's own timestamps), and
    the CPU seconds spent by the browser's page (Chromium's ``ProcessTime``) and by the app
    process (``/proc``), which a loaded machine inflates far less than the wall-clock figures."""

    def __init__(self, page, server_pid: int | None):
        self.page = page
        self.server_pid = server_pid
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        self.cdp.send("Network.enable")
        self.started = time.perf_counter()
        self.zero: float | None = None  # Chromium's clock when the page was asked for
        self.events: dict[str, float] = {}
        self.runs: list[list[float | None]] = []  # [requested, finished] per script run
        self.bytes = 0
        self._cpu = self.cpu()
        self.cdp.on("Network.requestWillBeSent", self._request)
        self.cdp.on("Network.webSocketWillSendHandshakeRequest", self._socket)
        self.cdp.on("Network.webSocketFrameSent", self._sent)
        self.cdp.on("Network.webSocketFrameReceived", self._received)

    def cpu(self) -> dict[str, float]:
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        page = next((m["value"] for m in metrics if m["name"] == "ProcessTime"), 0.0)
        return {"page": page, "server": _tree_cpu(self.server_pid)}

    def mark(self, name: str) -> None:
        self.events[name] = round(time.perf_counter() - self.started, 3)
        spent = self.cpu()
        for side, seconds in spent.items():
            self.events[f"{name}_cpu_{side}"] = round(seconds - self._cpu[side], 3)

    def _at(self, params: dict) -> float:
        return round(params["timestamp"] - (self.zero or params["timestamp"]), 3)

    def _request(self, params: dict) -> None:
        if self.zero is None:
            self.zero = params["timestamp"]

    def _socket(self, params: dict) -> None:
        self.events.setdefault("websocket_opened", self._at(params))

    @staticmethod
    def _payload(params: dict) -> bytes | None:
        frame = params["response"]
        return base64.b64decode(frame["payloadData"]) if frame["opcode"] == 2 else None

    def _sent(self, params: dict) -> None:
        payload = self._payload(params)
        if payload is None:
            return
        message = BackMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "rerun_script":
            self.runs.append([self._at(params), None])

    def _received(self, params: dict) -> None:
        payload = self._payload(params)
        if payload is None:
            return
        self.bytes += len(payload)
        message = ForwardMsg()
        message.ParseFromString(payload)
        kind = message.WhichOneof("type")
        if kind == "script_finished" and self.runs and self.runs[-1][1] is None:
            self.runs[-1][1] = self._at(params)
        elif kind == "delta" and message.delta.new_element.WhichOneof("type") == "vega_lite_chart":
            self.events.setdefault("first_chart_received", self._at(params))

    def breakdown(self) -> dict:
        navigation = self.page.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " const r = performance.getEntriesByType('resource');"
            " return {html: n.responseEnd, loaded: n.loadEventEnd, resources: r.length,"
            " script_bytes: r.filter(e => e.name.endsWith('.js'))"
            ".reduce((a, e) => a + e.decodedBodySize, 0)}; })()"
        )
        runs = [
            {"requested": a, "finished": b, "seconds": round(b - a, 3) if b else None}
            for a, b in self.runs
        ]
        return {
            "page_loaded": round(navigation["loaded"] / 1000, 3),
            "resources": navigation["resources"],
            "script_bytes": navigation["script_bytes"],
            **self.events,
            "script_runs": runs,
        }


def _tree_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of process ``pid`` and its descendants, from /proc."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def table_then_first_chart(page, url: str, timeline: Timeline | None = None) -> tuple[float, float]:
    """Seconds from opening ``/tableau`` to its headline table, and to its first chart (the
    resolution curves, in the second tab: the first holds tables)."""
    started = time.perf_counter()
    page.goto(f"{url}/tableau?synthetic=true")
    page.locator(TABLE).first.wait_for(state="visible")
    table = time.perf_counter() - started
    if timeline:
        timeline.mark("table_shown")
    page.get_by_role("tab").nth(1).click()
    if timeline:
        timeline.mark("curves_clicked")
    page.locator(CHART).filter(visible=True).first.wait_for(state="visible")
    chart = time.perf_counter() - started
    if timeline:
        timeline.mark("chart_shown")
    return table, chart


def visit(browser, url: str, server_pid: int | None = None) -> dict:
    """One new visitor (a fresh browser context): seconds to the headline table, to the first
    chart (the curves tab, clicked as soon as the tabs show), to every other tab's first
    chart (or first text, for the last two), the bytes the server sent on the websocket, and
    where the time to the first chart went (:class:`Timeline`)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(180_000)
    timeline = Timeline(page, server_pid)
    table, first = table_then_first_chart(page, url, timeline)
    first_bytes = timeline.bytes
    breakdown = timeline.breakdown()
    tabs = {}
    names = page.get_by_role("tab").all_inner_texts()
    for index, name in enumerate(names[2:], start=2):
        clicked = time.perf_counter()
        page.get_by_role("tab").nth(index).click()
        shown = CHART if index < len(names) - TEXT_TABS else TEXT
        page.get_by_role("tabpanel").filter(visible=True).locator(shown).filter(
            visible=True
        ).first.wait_for(state="visible")
        tabs[name] = round(time.perf_counter() - clicked, 3)
    context.close()
    return {
        "headline_table_s": round(table, 3),
        "first_chart_s": round(first, 3),
        "websocket_bytes_to_first_chart": first_bytes,
        "websocket_bytes_all_tabs": timeline.bytes,
        "tabs_s": tabs,
        "breakdown": breakdown,
    }


WARMED = "public dashboard drawn"  # the view, then its charts and tables (keep_warm)


def _wait_for_health(url: str, process, seconds: float, why) -> None:
    """Wait until the Streamlit server at ``url`` answers its health check; RuntimeError
    (``why()``) if its process ends first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(why()) from None
            time.sleep(0.2)


@contextlib.contextmanager
def served(db_path: Path):
    """``clientroi serve`` on a free port (the app process with its background warming);
    yields the URL once the server answers, the path of its log and its process id."""
    port = free_port()
    log_path = Path(db_path).with_suffix(".serve.log")
    env = dict(os.environ, CLIENTROI_LOG_LEVEL="INFO")
    command = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main())", "serve"]
    command += ["--db", str(db_path), "--port", str(port), "--demo", "no"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_health(url, process, 120, log_path.read_text)
            yield url, log_path, process.pid
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


BARE_APP = """import streamlit as st
st.title("Client Roi")
if st.query_params.get("chart"):
    st.vega_lite_chart({"mark": "point", "data": {"values": [{"a": 1, "b": 2}]},
                        "encoding": {"x": {"field": "a", "type": "quantitative"},
                                     "y": {"field": "b", "type": "quantitative"}}})
"""


@contextlib.contextmanager
def bare_served(folder: Path):
    """The smallest Streamlit app (a heading, and with ``?chart=1`` a one-point Vega-Lite
    chart), served as ``clientroi serve`` serves ours (headless, no file watcher): what any
    Streamlit page costs before its own content."""
    script = Path(folder) / "bare_app.py"
    script.write_text(BARE_APP)
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless=true"]
    command += [f"--server.port={port}", "--server.address=127.0.0.1"]
    command += ["--server.fileWatcherType=none", "--browser.gatherUsageStats=false"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, 60, lambda: "the bare Streamlit app did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _with_medians(seconds: dict[str, list[float]]) -> dict:
    """Each ``..._s`` list of seconds, and beside it its ``..._median_s``."""
    medians = {name.replace("_s", "_median_s"): statistics.median(v) for name, v in seconds.items()}
    return {**seconds, **medians}


def bare_floor(browser, folder: Path, rounds: int = 5) -> dict:
    """Streamlit's own floor, measured on :data:`BARE_APP`: seconds to its heading and to its
    one-point chart, for a new visitor (a fresh browser context: nothing cached) and for the
    same visitor opening the page again (scripts and Vega from the browser's cache). No page
    of ours can show a chart sooner; the dashboard's targets are read against these."""
    seconds: dict[str, list[float]] = {}

    def timed(page, address: str, selector: str) -> float:
        started = time.perf_counter()
        page.goto(address)
        page.locator(selector).first.wait_for(state="visible")
        return round(time.perf_counter() - started, 3)

    with bare_served(folder) as url:
        warm = browser.new_context()  # the server's first session (its imports) not counted
        warm.new_page().goto(f"{url}/?chart=1")
        warm.close()
        for _ in range(rounds):
            for kind, address, selector in (
                ("heading", url, "h1"),
                ("chart", f"{url}/?chart=1", CHART),
            ):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(60_000)
                seconds.setdefault(f"new_visitor_{kind}_s", []).append(
                    timed(page, address, selector)
                )
                seconds.setdefault(f"returning_visitor_{kind}_s", []).append(
                    timed(page, address, selector)
                )
                context.close()
    return _with_medians(seconds)


def static_report(browser, folder: Path, rounds: int = 5) -> dict:
    """A page outside Streamlit, for comparison: the report ``clientroi publish`` wrote in
    ``folder`` (``index.html``: the public view's tables and charts as inline SVG), served by a
    plain HTTP server; seconds to its first chart and its first table, new and returning."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    seconds: dict[str, list[float]] = {}
    try:
        for _ in range(rounds):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            for who in ("new_visitor", "returning_visitor"):
                started = time.perf_counter()
                page.goto(url)
                page.locator("svg").first.wait_for(state="visible")
                chart = time.perf_counter() - started
                page.locator("table").first.wait_for(state="visible")
                table = time.perf_counter() - started
                seconds.setdefault(f"{who}_first_chart_s", []).append(round(chart, 3))
                seconds.setdefault(f"{who}_first_table_s", []).append(round(table, 3))
            context.close()
    finally:
        server.shutdown()
    return _with_medians(seconds)


def returning(browser, url: str) -> dict:
    """The same visitor opening the dashboard a second time (the browser's cache warm: its
    first visit saw the table and the curves, so Vega's scripts are cached too)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    table_then_first_chart(page, url)
    table, chart = table_then_first_chart(page, url)
    context.close()
    return {"headline_table_s": round(table, 3), "first_chart_s": round(chart, 3)}


def measure(db_path: Path, *, visits: int = 3, warm_only: bool = False) -> dict:
    """The first visitor of a first start (no view kept on disk: it waits for the
    computation), the first visitor right after a restart on the same data (the view read
    back from disk), one after the warming ended, then ``visits`` more (warm). ``warm_only``
    keeps the view on disk and measures only the warm visitors (and the floor)."""
    from playwright.sync_api import sync_playwright

    result = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            if not warm_only:
                # No view on disk (the first start, or new data since the last one): the
                # first visitor waits for the computation that the warming started.
                shutil.rmtree(f"{db_path}.views", ignore_errors=True)
                with served(db_path) as (url, log_path, pid):
                    result["first_visitor_first_start"] = visit(browser, url, pid)
                # A restart on the same data: the public view is read back from disk.
                with served(db_path) as (url, log_path, pid):
                    result["first_visitor_right_after_restart"] = visit(browser, url, pid)
            with served(db_path) as (url, log_path, pid):
                started = time.perf_counter()
                while WARMED not in log_path.read_text():
                    time.sleep(0.2)
                result["warming_s"] = round(time.perf_counter() - started, 1)
                result["first_visitor_after_warming"] = visit(browser, url, pid)
                warm = [visit(browser, url, pid) for _ in range(visits)]
                result["streamlit_floor_new_visitor_s"] = [floor(browser, url) for _ in range(3)]
                result["returning_visitor"] = returning(browser, url)
            with tempfile.TemporaryDirectory() as folder:
                result["streamlit_bare_floor"] = bare_floor(browser, Path(folder))
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
    parser.add_argument(
        "db", type=Path, nargs="?", help="the database (not for --floor-only, --report)"
    )
    parser.add_argument("--visits", type=int, default=3)
    parser.add_argument(
        "--warm-only", action="store_true", help="only the visitors once the view is warm"
    )
    parser.add_argument(
        "--floor-only",
        action="store_true",
        help="only Streamlit's own floor, on the smallest app (no database read)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help="Streamlit's floor, then the report `clientroi publish` wrote in this folder, "
        "served as a static page (no dashboard)",
    )
    options = parser.parse_args()
    if options.floor_only or options.report:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
            result = {"streamlit_bare_floor": bare_floor(browser, Path(folder))}
            if options.report:
                result["static_report"] = static_report(browser, options.report)
            print(json.dumps(result, indent=2))
            browser.close()
        sys.exit(0)
    if options.db is None:
        parser.error("a database is needed, unless --floor-only or --report")
    result = measure(options.db, visits=options.visits, warm_only=options.warm_only)
    print(json.dumps(result, indent=2))
