"""Coming back to finish the story, in headless Chromium on a phone (390x844, French): a reload
in the middle of the form resumes with the answers as typed; after sending, the triage links;
then "Compléter mon témoignage" turns the ongoing case into a resolved one and the signed-in
dashboard's numbers move. One browser session."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from survey import store as storage
from survey.demo import generate_frame
from survey.validation import paris_today
from tests.browser import ARTIFACTS, browser_page, serve_app
from tests.conftest import TODAY
from tests.test_browser_dashboard import grid_text, sign_in
from tests.test_browser_form import choose, next_step, type_number

pytestmark = pytest.mark.browser


def french(day) -> str:
    return f"{day.day}/{day.month}/{day.year}"  # without leading zeros, as often typed


def forward(page, title: str) -> None:
    """ "Suivant", once the previous rerun has settled (one button, not a stale copy too)."""
    expect(page.locator(".st-key-form_next button")).to_have_count(1)
    page.locator(".st-key-form_next button").click()
    expect(page.get_by_text(title).first).to_be_visible()
    page.wait_for_timeout(300)


def headline(phone, url, token) -> list[str]:
    """The signed-in researcher's headline table (as of today), cell by cell, read on a
    desktop-sized page of the same browser (the researchers' sign-in sits in the sidebar)."""
    page = phone.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    # The story was typed in seconds, so it is flagged "too fast": researchers include them.
    page.goto(f"{url}/tableau?flagged=true")
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    sign_in(page, token)
    expect(page.get_by_text("Vue publique")).to_have_count(0)
    cell = page.locator("[data-testid='stDataFrame']").first.locator("[role='gridcell']")
    expect(cell.first).to_be_attached(timeout=30_000)
    cells = grid_text(page)
    assert "Free" in cells
    page.context.close()
    return cells


def test_reload_resumes_and_an_update_moves_the_dashboard(tmp_path):
    db_path = tmp_path / "comeback.duckdb"
    store = storage.connect(db_path)
    frame = generate_frame(300, seed=7, today=TODAY)
    frame["source"] = "web"
    store.insert_frame(frame)
    token = storage.ensure_researcher_token(db_path)
    today = paris_today()
    started = today - timedelta(days=20)
    with serve_app(db_path) as url, browser_page() as page:
        page.goto(url)
        expect(page.get_by_text("Ce que nous gardons")).to_be_visible()
        page.locator(".st-key-q_company input[role='combobox']").click()
        page.keyboard.type("Free")
        page.get_by_role("option", name="Free", exact=True).click()
        choose(page, "q_service", "Box internet")
        next_step(page, "Étape 2 sur 5")
        choose(page, "q_problem", "Plus de service")
        type_number(page, "q_started_on", french(started))
        choose(page, "q_status", "Toujours en cours")
        type_number(page, "q_false_resolved_count", "1")
        assert "brouillon=" in page.url

        # A phone reloads the tab: the same step, the answers as they were typed.
        page.wait_for_timeout(500)  # the last rerun (and its save) has finished
        page.reload()
        expect(page.get_by_text("Nous avons repris votre brouillon")).to_be_visible()
        expect(page.get_by_text("Étape 2 sur 5").first).to_be_visible()
        expect(page.locator(".st-key-q_started_on input")).to_have_value(french(started))
        expect(page.locator(".st-key-q_false_resolved_count input")).to_have_value("1")
        page.locator(".st-key-form_back button").click()
        expect(page.get_by_text("Étape 1 sur 5").first).to_be_visible()
        expect(page.locator(".st-key-q_company input")).to_have_value("Free")
        forward(page, "Étape 2 sur 5")
        forward(page, "Étape 3 sur 5")
        forward(page, "Étape 4 sur 5")
        forward(page, "Étape 5 sur 5")
        page.locator(".st-key-q_consent_research label").click()
        page.locator(".st-key-form_submit button").click()
        expect(page.get_by_text("Merci")).to_be_visible()
        code = page.locator("[data-testid='stCode'] code").inner_text().strip()
        # Triage: where else the case can go, links only.
        for name, address in (
            ("J'alerte l'Arcep", "https://jalerte.arcep.fr/"),
            ("Le Médiateur des communications électroniques", "https://www.mediateur-telecom.fr/"),
            ("SignalConso", "https://signal.conso.gouv.fr/"),
        ):
            expect(page.get_by_role("link", name=name)).to_have_attribute("href", address)
        assert store.draft_count() == 0  # sent: the draft is gone

        before = headline(page, url, token)

        # "Compléter mon témoignage": resolved two days ago.
        page.goto(f"{url}/completer")
        expect(page.get_by_role("heading", name="Compléter mon témoignage")).to_be_visible()
        page.locator(".st-key-update_code input").fill(code)
        page.locator(".st-key-update_code input").press("Enter")
        page.locator(".st-key-update_open button").click()
        expect(page.get_by_text("Toujours en cours")).to_be_visible()
        choose(page, "update_kind", "Le problème est réglé")
        type_number(page, "update_event_on", french(today - timedelta(days=2)))
        page.locator(".st-key-update_record button").click()
        expect(page.get_by_text("Merci, votre mise à jour est enregistrée.")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "update_recorded.png"), full_page=True)

        after = headline(page, url, token)
    assert list(store.events()["kind"]) == ["resolved"]
    every = storage.Filters(include_flagged=True)
    answered = store.fetch_responses(every, columns=["status"])["status"]
    known = store.fetch_responses(every, known_on=today, columns=["status"])["status"]
    assert (known == "resolved").sum() == (answered == "resolved").sum() + 1
    assert after != before  # the dashboard's numbers moved
