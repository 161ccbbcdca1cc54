"""The seed story typed into the real form in headless Chromium, then read back from DuckDB."""

from datetime import date

import pytest
from playwright.sync_api import expect

from survey import store as storage
from tests.browser import ARTIFACTS, browser_page, click_settled, serve_app

pytestmark = pytest.mark.browser


def choose(page, key, option):
    page.locator(f".st-key-{key} label[data-testid='stRadioOption']").filter(
        has_text=option
    ).first.click()


def type_number(page, key, value):
    """Type into a number field (a text field read the locale's way) as a person does."""
    field = page.locator(f".st-key-{key} input")
    field.click()
    page.keyboard.type(str(value))
    field.press("Tab")
    expect(field).to_have_value(str(value))


def type_date(page, key, day, month, year):
    """Type a date as the French do, DD/MM/YYYY, into its text field."""
    type_number(page, key, f"{day:02d}/{month:02d}/{year:04d}")


def next_step(page, title):
    click_settled(page, ".st-key-form_next button")
    expect(page.get_by_text(title).first).to_be_visible()


def test_the_seed_story_entered_in_chromium_is_stored_exactly(tmp_path):
    db_path = tmp_path / "browser.duckdb"
    storage.connect(db_path)  # migrated before the app starts, as `make run` does
    with serve_app(db_path) as url, browser_page() as page:
        page.goto(url)
        expect(page.get_by_text("Ce que nous gardons")).to_be_visible()

        # Step 1: the company (a French ISP: the story does not name it).
        page.locator(".st-key-q_company input[role='combobox']").click()
        page.keyboard.type("Free")
        page.get_by_role("option", name="Free", exact=True).click()
        choose(page, "q_service", "Box internet")
        # "Box Internet fibre avec numéro fixe et TV": three ticks of one multiple choice.
        for option in ("services_internet", "services_landline", "services_tv"):
            page.locator(f".st-key-q_{option} label").click()
        page.locator(".st-key-q_department input[role='combobox']").click()
        page.keyboard.type("Alpes-Maritimes")
        page.get_by_role("option", name="06 – Alpes-Maritimes").click()
        choose(page, "q_household", "Retraité")
        next_step(page, "Étape 2 sur 5")

        # Step 2: an outage since 10 July 2023, still ongoing, blamed on another company.
        choose(page, "q_problem", "Plus de service")
        type_date(page, "q_started_on", 10, 7, 2023)
        choose(page, "q_status", "Toujours en cours")
        expect(page.locator(".st-key-q_ended_on")).to_have_count(0)
        # Written at the end of September 2023: the status was known then, not today.
        type_date(page, "q_status_known_on", 30, 9, 2023)
        choose(page, "q_neighbourhood_cut", "Oui")
        choose(page, "q_blamed_third_party", "Oui")
        type_number(page, "q_false_resolved_count", 1)
        type_date(page, "q_false_resolved_first_on", 14, 8, 2023)
        next_step(page, "Étape 3 sur 5")

        # Step 3: two useless technician visits, two trips for nothing (40 km), callbacks.
        type_number(page, "q_callbacks_promised", 2)
        type_number(page, "q_callbacks_received", 0)
        type_number(page, "q_technician_visits", 2)
        type_number(page, "q_technician_visits_useless", 2)
        type_number(page, "q_wasted_trips", 2)
        type_number(page, "q_wasted_km", 40)
        page.locator(".st-key-q_wasted_reason_no_stock label").click()
        page.locator(".st-key-q_wasted_reason_no_reservation label").click()
        next_step(page, "Étape 4 sur 5")

        # Step 4: the loaner box, obtained then cut off twice before the problem ended.
        choose(page, "q_loaner_offered", "Oui")
        choose(page, "q_loaner_obtained", "Oui")
        expect(page.locator(".st-key-q_loaner_cut_before_resolution")).to_have_count(0)
        type_number(page, "q_loaner_cut_count", 2)
        next_step(page, "Étape 5 sur 5")

        # Step 5: consent, then send.
        page.locator(".st-key-q_consent_research label").click()
        page.locator(".st-key-form_submit button").click()
        expect(page.get_by_text("Merci, votre témoignage est enregistré.")).to_be_visible()
        code = page.locator("[data-testid='stCode'] code").inner_text().strip()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "form_confirmation_phone.png"), full_page=True)

    store = storage.connect(db_path)
    frame = store.fetch_responses(storage.Filters(include_flagged=True))
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["company"] == "free"
    assert row["sector"] == "isp"
    assert row["origin"] == "fr"
    assert row["service"] == "fixed_internet"
    assert row["department"] == "06"
    assert row["household"] == "retired"
    assert row["problem"] == "outage"
    assert row["started_on"].date() == date(2023, 7, 10)
    assert row["status"] == "ongoing"
    assert row["ended_on"] is None or str(row["ended_on"]) == "NaT"
    assert bool(row["blamed_third_party"]) is True
    assert row["false_resolved_count"] == 1
    assert row["technician_visits"] == 2
    assert row["technician_visits_useless"] == 2
    assert row["wasted_trips"] == 2
    assert row["wasted_km"] == 40.0
    assert bool(row["loaner_obtained"]) is True
    assert bool(row["loaner_cut_before_resolution"]) is True  # derived from the count
    assert row["loaner_cut_count"] == 2
    services = {c: row[f"services_{c}"] for c in ("internet", "landline", "tv", "mobile", "other")}
    assert services == {
        "internet": True,
        "landline": True,
        "tv": True,
        "mobile": False,
        "other": False,
    }
    assert row["status_known_on"].date() == date(2023, 9, 30)
    assert bool(row["neighbourhood_cut"]) is True
    assert row["false_resolved_first_on"].date() == date(2023, 8, 14)
    assert bool(row["wasted_reason_no_stock"]) is True
    assert bool(row["wasted_reason_no_reservation"]) is True
    assert bool(row["wasted_reason_closed"]) is False
    assert row["callbacks_promised"] == 2
    assert row["callbacks_received"] == 0
    assert row["source"] == "web"
    assert row["locale"] == "fr"
    assert bool(row["flag_honeypot"]) is False
    assert store.delete_response(code) is True


def test_french_typing_on_a_phone_is_stored_as_typed(tmp_path):
    """Issue 13: `1,5` hours, `120,50` EUR and `3/7/2023` typed on a phone, read back from
    DuckDB (before: 15.0, 12050.0 and an emptied field)."""
    db_path = tmp_path / "typing.duckdb"
    storage.connect(db_path)
    with serve_app(db_path) as url, browser_page() as page:
        page.goto(url)
        page.locator(".st-key-q_company input[role='combobox']").click()
        page.keyboard.type("Orange")
        page.get_by_role("option", name="Orange", exact=True).click()
        next_step(page, "Étape 2 sur 5")
        choose(page, "q_problem", "Plus de service")
        type_number(page, "q_started_on", "3/7/2023")
        choose(page, "q_status", "Toujours en cours")
        next_step(page, "Étape 3 sur 5")
        hours = page.locator(".st-key-q_hours_spent input")
        expect(hours).to_have_attribute("inputmode", "decimal")
        type_number(page, "q_hours_spent", "1,5")
        type_number(page, "q_unanswered_calls", "600")
        expect(page.get_by_text("Maximum : 500.")).to_be_visible()
        click_settled(page, ".st-key-form_next button")
        expect(page.get_by_text("Étape 3 sur 5").first).to_be_visible()
        expect(page.get_by_text("Maximum : 500.")).to_be_visible()
        page.locator(".st-key-q_unanswered_calls input").fill("")
        type_number(page, "q_unanswered_calls", "12")
        expect(page.get_by_text("Maximum : 500.")).to_have_count(0)
        next_step(page, "Étape 4 sur 5")
        choose(page, "q_refund_requested", "Oui")
        type_number(page, "q_refund_amount_requested", "120,50")
        next_step(page, "Étape 5 sur 5")
        page.locator(".st-key-q_consent_research label").click()
        page.locator(".st-key-form_submit button").click()
        expect(page.get_by_text("Merci, votre témoignage est enregistré.")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "form_french_typing_phone.png"), full_page=True)

    row = storage.connect(db_path).fetch_responses(storage.Filters(include_flagged=True)).iloc[0]
    assert row["started_on"].date() == date(2023, 7, 3)
    assert row["hours_spent"] == 1.5
    assert row["refund_amount_requested"] == 120.5
    assert row["unanswered_calls"] == 12
