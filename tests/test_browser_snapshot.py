"""The published report in headless Chromium, opened from disk with the network cut off."""

import pytest
from playwright.sync_api import expect

from analysis import snapshot
from survey import store as storage
from survey.demo import generate_frame
from tests.browser import ARTIFACTS, browser_page
from tests.conftest import TODAY

pytestmark = pytest.mark.browser
FIGURES = 8  # the five effects, resolution, refunds (2), wasted trips, sector x origin (3)


def test_the_report_opens_offline_from_disk_with_its_charts_drawn(tmp_path):
    store = storage.connect(tmp_path / "clientroi.duckdb")
    frame = generate_frame(3_000, seed=42, today=TODAY)
    frame["source"] = "web"
    store.insert_frame(frame)
    folder = snapshot.publish(store, out=tmp_path / "snapshots", as_of=TODAY).folder
    remote, errors = [], []
    with browser_page(width=1280, height=900) as page:
        context = page.context
        context.set_offline(True)

        def only_files(route):
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                remote.append(route.request.url)
                route.abort()

        context.route("**/*", only_files)
        page.on("request", lambda r: None if r.url.startswith("file:") else remote.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name, title in (
            ("index.en.html", "Client Roi: customer service barometer"),
            ("index.html", "Client Roi : baromètre du service client"),
        ):
            page.goto((folder / name).as_uri())
            expect(page.get_by_role("heading", level=1)).to_have_text(title)
            figures = page.locator("figure.chart")
            expect(figures).to_have_count(FIGURES)
            for index in range(FIGURES):
                figure = figures.nth(index)
                svg = figure.locator("svg")
                expect(svg).to_be_visible()
                box = svg.bounding_box()
                assert box["width"] > 400 and box["height"] > 150, box
                # marks drawn by Vega (lines, dots, cells), not just axes
                assert figure.locator("[class*='role-mark'] path").count() > 0
            # the answer leads: sentences from the estimates, then the forest of the five effects
            verdicts = page.locator("#reponse p.verdict")
            assert verdicts.count() >= 6
            assert page.locator("#reponse p.verdict", has_text="95").count() >= 1  # intervals
            assert page.locator("#reponse figure.chart").get_attribute("id") == "fig-design"
            assert page.locator("#fig-design [class*='role-mark'] path").count() >= 2  # rules, dots
            curves = page.locator("#fig-resolution .mark-line path")
            assert curves.count() >= 10  # one step line per published company
            expect(page.locator("#synthese table tbody tr")).to_have_count(16)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "snapshot_index.png"), full_page=True)
    assert remote == []
    assert errors == []
