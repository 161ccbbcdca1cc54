"""The dashboard in headless Chromium: a shared link, a filter change, charts drawn, text safe."""

import re

import pytest
from playwright.sync_api import expect

from survey import store as storage
from survey.demo import generate_frame
from tests.browser import ARTIFACTS, browser_page, serve_app
from tests.conftest import TODAY, story_answers, submit

pytestmark = pytest.mark.browser
HOSTILE = "<img src=x onerror=alert(1)>"


def grid_text(page):
    cells = page.locator("[data-testid='stDataFrame']").first.locator("[role='gridcell']")
    expect(cells.first).to_be_attached()
    return cells.all_inner_texts()


def sign_in(page, token):
    page.get_by_test_id("stExpander").get_by_text("Espace chercheurs").click()
    page.locator(".st-key-researcher_token input").fill(token)
    page.locator(".st-key-researcher_token input").press("Enter")
    page.locator(".st-key-sign_in button").click()
    expect(page.get_by_text("Vue publique")).to_have_count(0)  # signed in: full view


def test_dashboard_link_filter_and_charts(tmp_path):
    db_path = tmp_path / "dashboard.duckdb"
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(4_000, seed=42, today=TODAY))
    token = storage.ensure_researcher_token(db_path)
    with serve_app(db_path) as url, browser_page(width=1400, height=1000) as page:
        # A shared link: for the public its filters do nothing (one fixed view, issue 12) ...
        page.goto(f"{url}/tableau?company=Amazon&company=Free&synthetic=true")
        expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
        expect(page.locator("[data-testid='stDataFrame']").first).to_contain_text("Orange")
        # ... and for a signed-in researcher, companies come from the query string.
        sign_in(page, token)
        expect(page.locator("[data-testid='stDataFrame']").first).not_to_contain_text("Orange")
        cells = grid_text(page)
        assert "Amazon" in cells and "Free" in cells
        assert "Orange" not in cells

        # Change a filter: add Orange.
        page.locator(".st-key-company input[role='combobox']").click()
        page.keyboard.type("Orange")
        page.get_by_role("option", name="Orange", exact=True).click()
        page.keyboard.press("Escape")
        expect(page.locator("[data-testid='stDataFrame']").first).to_contain_text("Orange")
        assert "company=Orange" in page.url or "Orange" in page.url

        # The resolution curves are drawn by Vega.
        page.get_by_role("tab", name="Délais de résolution").click()
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        expect(chart.locator("svg, canvas").first).to_be_attached()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard_resolution.png"))


def test_france_or_the_sector_shows_the_verdict_then_the_five_effects(tmp_path):
    """Issue 11: the tab leads with the verdict in words, then the forest of the five effects
    drawn by Vega, with the companies on each side."""
    db_path = tmp_path / "design.duckdb"
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(20_000, seed=42, today=TODAY))
    with serve_app(db_path) as url, browser_page(width=1400, height=1000) as page:
        page.goto(f"{url}/tableau?synthetic=true")
        expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
        page.get_by_role("tab", name="France ou secteur ?").click()
        panel = page.get_by_role("tabpanel", name="France ou secteur ?")
        expect(panel.get_by_text("Ce que disent les données")).to_be_visible()
        expect(panel.get_by_text("Au total,")).to_be_visible()
        expect(panel.get_by_text("Parmi les fournisseurs d'accès à internet").first).to_be_visible()
        chart = panel.locator("[data-testid='stVegaLiteChart']").first
        expect(chart.locator("svg, canvas").first).to_be_attached()
        page.screenshot(path=str(ARTIFACTS / "dashboard_design.png"), full_page=True)


def test_a_click_on_a_tab_redraws_that_tab_only(tmp_path):
    """Issue 14: the tabs are a fragment. A click on the curves tab reruns the tabs, not the
    whole app: the server sends the curves, not the page's title, banner and sidebar again
    (which the browser would redraw before the chart)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    db_path = tmp_path / "fragment.duckdb"
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(2_000, seed=42, today=TODAY))
    received = []
    with serve_app(db_path) as url, browser_page(width=1400, height=1000) as page:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: received.append(f)))
        page.goto(f"{url}/tableau?synthetic=true")
        expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
        page.wait_for_timeout(500)  # the first run's last messages
        before = len(received)
        page.get_by_role("tab", name="Délais de résolution").click()
        chart = page.get_by_role("tabpanel", name="Délais de résolution")
        expect(chart.locator("[data-testid='stVegaLiteChart'] svg").first).to_be_attached()
        page.wait_for_timeout(500)
    elements = []
    for payload in received[before:]:
        message = ForwardMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "delta":
            element = message.delta.new_element
            elements.append((element.WhichOneof("type"), element.heading.body))
    kinds = [kind for kind, _ in elements]
    assert "vega_lite_chart" in kinds
    assert ("heading", "Tableau de bord") not in elements
    assert "alert" in kinds and "checkbox" not in kinds  # the tab's note, not the sidebar's toggle


def test_a_new_submission_shows_at_the_next_click_on_a_tab(tmp_path):
    """Issue 14: a click on a tab (a fragment's run) notices new data since the page was drawn
    and draws the page again from the new view, its head included: the count of responses
    in the summary goes from 2,000 to 2,001 on the click, with no reload."""
    db_path = tmp_path / "fresh.duckdb"
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(2_000, seed=42, today=TODAY))
    token = storage.ensure_researcher_token(db_path)
    with serve_app(db_path) as url, browser_page(width=1400, height=1000) as page:
        page.goto(f"{url}/tableau?synthetic=true")
        sign_in(page, token)  # the researchers' view: as of today, so the new response counts
        before, after = (
            page.get_by_text(re.compile(rf"^2\s?00{i}\sréponses · au")) for i in (0, 1)
        )
        expect(before).to_be_visible()
        page.get_by_role("tab", name="Délais de résolution").click()
        expect(page.locator("[data-testid='stVegaLiteChart'] svg").first).to_be_attached()
        submit(store, story_answers(), fill_seconds=300)  # another process writes the file
        page.wait_for_timeout(500)
        expect(before).to_be_visible()  # nothing by itself
        page.get_by_role("tab", name="Synthèse").click()
        expect(after).to_be_visible()
        expect(page.get_by_role("tab", name="Synthèse")).to_have_attribute("aria-selected", "true")
        # the tables drawn again: their toolbars' Streamlit names in French (app.py's renamer)
        toolbar = page.locator("[data-testid='stDataFrame']").first
        toolbar.hover()
        expect(toolbar.get_by_role("button", name="Plein écran")).to_have_count(1)
        expect(page.get_by_role("button", name="Fullscreen")).to_have_count(0)
        expect(page.get_by_role("button", name="Download as CSV")).to_have_count(0)


def test_narratives_never_execute_and_rows_need_sign_in(tmp_path):
    db_path = tmp_path / "hostile.duckdb"
    store = storage.connect(db_path)
    frame = generate_frame(300, seed=1, today=TODAY)
    frame["source"] = "web"  # published before this month: the public view has something to show
    store.insert_frame(frame)
    submit(store, {**story_answers(), "narrative": HOSTILE}, fill_seconds=300)
    token = storage.ensure_researcher_token(db_path)
    dialogs = []
    with serve_app(db_path) as url, browser_page(width=1400, height=1000) as page:
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{url}/tableau")
        page.get_by_role("tab", name="Données").click()
        expect(
            page.get_by_text("Les données ligne à ligne et les récits sont réservés")
        ).to_be_visible()
        expect(page.get_by_text(HOSTILE)).to_have_count(0)

        # The publish page is closed too, even reached by its address.
        page.goto(f"{url}/publier")
        expect(page.get_by_text("réservée aux chercheurs connectés")).to_be_visible()
        expect(page.locator(".st-key-publish_button")).to_have_count(0)
        page.goto(f"{url}/tableau")

        sign_in(page, token)
        expect(page.get_by_role("tab", name="Données")).to_have_count(1)  # rerun finished
        page.get_by_role("tab", name="Données").click()
        expect(page.get_by_test_id("stText").filter(has_text=HOSTILE)).to_be_visible()
        page.wait_for_timeout(500)
    assert dialogs == []
