"""Helpers for tests that drive the real app in Debian's headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# Playwright's 5-second default for expect() is shorter than one rerun of a page on a busy
# 2-core machine (make test runs two workers): wait up to 30 s before calling a check failed.
try:
    from playwright.sync_api import expect as _expect
except ImportError:  # pragma: no cover  (the dev extras are not installed)
    pass
else:
    _expect.set_options(timeout=30_000)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed (make test installs it as root)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_app(db_path: Path, port: int | None = None):
    """Run `streamlit run app.py` on ``port`` (default: a free localhost port) against
    ``db_path``."""
    port = port or free_port()
    env = dict(os.environ, CLIENTROI_DB=str(db_path))
    log = open(db_path.parent / "streamlit.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError((db_path.parent / "streamlit.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextlib.contextmanager
def browser_page(*, width: int = 390, height: int = 844):
    """A headless Chromium page (phone-sized by default)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def click_settled(page, selector: str, *, attempts: int = 50) -> None:
    """Click the one element ``selector`` names once Streamlit's rerun has settled. While a
    rerun redraws the page, the previous run's element and the new one can both be there for
    a moment (Playwright's strict mode then refuses to choose): wait and try again."""
    from playwright.sync_api import Error, expect

    locator = page.locator(selector)
    for attempt in range(attempts):
        expect(locator).to_have_count(1)
        try:
            locator.click()
            return
        except Error as exc:
            if "strict mode violation" not in str(exc) or attempt == attempts - 1:
                raise
            page.wait_for_timeout(100)


def settle(page, *, quiet_ms: int = 400, timeout_ms: int = 30_000) -> None:
    """Wait until Streamlit's rerun has finished drawing: no element is marked stale (a rerun
    dims the previous run's elements, which axe then reads as low-contrast text) and none has
    been for ``quiet_ms``."""
    page.wait_for_function(
        """(quiet) => {
            const now = performance.now();
            if (document.querySelector('[data-stale="true"]')) { window.__crSettled = null; return false; }
            if (window.__crSettled == null) { window.__crSettled = now; }
            return now - window.__crSettled >= quiet;
        }""",
        arg=quiet_ms,
        polling=50,
        timeout=timeout_ms,
    )
    page.evaluate("window.__crSettled = null")


_DESCRIBE_FOCUS = """(element) => {
    if (!element) return "nothing";
    if (element === document.body) return "the page's start (body)";
    const keyed = element.closest("[class*='st-key-']");
    const key = keyed ? (keyed.className.match(/st-key-[\\w-]+/) || [""])[0] : "no key";
    return `${element.tagName.toLowerCase()} in .${key}`;
}"""


def remember_focus(page) -> str:
    """Mark the element that has the keyboard focus now (before a rerun it causes is drawn),
    for :func:`expect_focus_kept`; returns what it is, in words."""
    described = page.evaluate(
        f"""() => {{ window.__crFocused = document.activeElement;
            return ({_DESCRIBE_FOCUS})(document.activeElement); }}"""
    )
    assert page.evaluate("() => window.__crFocused !== document.body"), (
        f"nothing had the focus before the rerun: {described}"
    )
    return described


def expect_focus_kept(page, where: str) -> None:
    """The element :func:`remember_focus` marked still has the focus, the same element (not
    drawn anew, nor the focus dropped to the page's start: WCAG 2.4.3). Call it once the
    rerun is drawn (:func:`settle`)."""
    kept, was, now = page.evaluate(
        f"""() => {{ const describe = {_DESCRIBE_FOCUS};
            const element = window.__crFocused;
            return [element.isConnected && document.activeElement === element,
                    describe(element), describe(document.activeElement)]; }}"""
    )
    assert kept, f"{where}: the focus was on {was} before the rerun, then on {now}"
