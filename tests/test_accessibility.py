"""Accessibility (issue 13, RGAA 4.1 / WCAG 2.1 AA), measured in headless Chromium at a phone's
size: axe-core's WCAG 2.0/2.1 A and AA rules on every page state a respondent and the public
meet, the form completed with the keyboard only, focus after each step, and the page language.

axe-core is the npm package pinned in package-lock.json (``make axe`` runs ``npm ci``); the test
injects the installed file, nothing is fetched while it runs.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd
import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from survey import i18n
from survey import questionnaire as qn
from survey import store as storage
from survey.demo import generate_frame
from tests.browser import (
    ARTIFACTS,
    ROOT,
    browser_page,
    expect_focus_kept,
    remember_focus,
    serve_app,
    settle,
)
from tests.conftest import APP, TODAY, story_answers, submit

DASHBOARD_TABS = sum(key.startswith("dashboard.tab.") for key in i18n.catalogue())

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
STEP_TITLES = [section.title("fr") for section in qn.SECTIONS]
STATEMENT_SOURCE = ROOT / "survey" / "accessibility_page.py"
# No axe rule is switched off: every violation found on Streamlit's markup so far was fixed from
# our side (theme colours, labels, our own markup). Were one impossible to fix, it would be
# disabled on that one element here, with the reason, and listed in the statement.


def axe_version() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"]["node_modules/axe-core"]["version"]


def statement_constant(name: str) -> str:
    match = re.search(rf"^{name} = (.+)$", STATEMENT_SOURCE.read_text(encoding="utf-8"), re.M)
    assert match, name
    return match.group(1).strip('"')


class Axe:
    """Runs axe-core in the page and keeps the name of every page state it checked."""

    def __init__(self, page):
        if not AXE.is_file():
            pytest.fail("axe-core is not installed: run `make axe` (npm ci)")
        self.page = page
        self.checked: list[str] = []

    def check(self, state: str) -> None:
        page = self.page
        settle(page)  # Streamlit's last rerun drawn: no dimmed (stale) element left
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags},"
            " resultTypes: ['violations']})",
            WCAG_AA,
        )
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} -> "
            + "; ".join(f"{n['target']} {n.get('failureSummary', '')[:160]}" for n in v["nodes"])
            for v in result["violations"]
        ]
        assert violations == [], f"{state}: {violations}"
        self.checked.append(state)


def active(page, selector: str) -> bool:
    return page.evaluate(
        "(selector) => !!(document.activeElement && document.activeElement.closest(selector))",
        selector,
    )


# The most presses of Tab from where the focus is to what the test aims at: across one step's
# questions and their help buttons at most (step 3 with its trip reasons: about 30), never
# round the whole page. A focus dropped to the page's start by a rerun is caught before that
# (type_field and choose_option check it once the rerun is drawn, tab_to when it starts).
TAB_LIMIT = 40


def tab_to(
    page, selector: str, *, backwards: bool = False, limit: int = TAB_LIMIT, from_top=False
) -> int:
    """Press Tab (or Shift+Tab) until the focus is inside ``selector``; the presses it took (0
    when it is there already). Unless ``from_top`` (a page just opened), the focus must be on
    an element of the page when it starts: a rerun that dropped it is caught here too."""
    if active(page, selector):
        return 0
    if not from_top:
        where = page.evaluate(
            "document.activeElement && document.activeElement !== document.body"
            " ? document.activeElement.outerHTML.slice(0, 120) : ''"
        )
        assert where, f"the focus was at the page's start before Tab to {selector}"
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if active(page, selector):
            return presses
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab")


def focused_text(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.textContent : ''")


def expect_step_heading_focused(page, step: int) -> None:
    title = STEP_TITLES[step]
    expect(page.locator(".st-key-form_step_heading h3")).to_have_text(title)
    page.wait_for_function(
        "(title) => document.activeElement && document.activeElement.tagName === 'H3'"
        " && document.activeElement.textContent.trim() === title",
        arg=title,
    )


def expect_focus_inside(page, selector: str) -> None:
    page.wait_for_function(
        "(selector) => document.activeElement && document.activeElement !== document.body"
        " && document.activeElement.closest(selector) !== null",
        arg=selector,
    )


def type_field(page, key: str, text: str, *, opens: str | None = None) -> None:
    """Tab to a text field, type, Tab on: the focus moves to the next element, and stays on
    it once the rerun the typed value caused is drawn (``opens``: the question that rerun
    draws, above or below the focus, waited for)."""
    tab_to(page, f".st-key-{key} input")
    page.keyboard.type(text)
    page.keyboard.press("Tab")
    expect(page.locator(f".st-key-{key} input")).to_have_value(text)
    remember_focus(page)
    if opens:
        expect(page.locator(f".st-key-{opens}")).to_have_count(1)
    settle(page)  # the rerun the typed value caused is drawn before the next key
    expect_focus_kept(page, f"after typing {text!r} in {key}")


def choose_option(page, key: str, option: str) -> None:
    """Tab into a radio group, Space on its first option, arrows to ``option``."""
    tab_to(page, f".st-key-{key} input[type='radio']")
    page.keyboard.press("Space")
    for _ in range(12):
        page.wait_for_timeout(150)
        label = page.evaluate(
            "() => { const l = document.activeElement.closest('label'); "
            "return l ? l.innerText.trim() : ''; }"
        )
        checked = page.evaluate("document.activeElement.checked")
        if label.split(" (")[0] == option and checked:  # "Box internet (fibre, ADSL)"
            remember_focus(page)
            settle(page)  # (the choice's rerun may add or remove the questions it decides)
            expect_focus_kept(page, f"after choosing {option!r} in {key}")
            return
        page.keyboard.press("ArrowRight")
    raise AssertionError(f"{option!r} not reached in {key}")


def pick_from_list(page, key: str, typed: str, option: str, *, from_top=False) -> None:
    tab_to(page, f".st-key-{key} input[role='combobox']", from_top=from_top)
    page.keyboard.type(typed)
    expect(page.get_by_role("option", name=option, exact=True)).to_be_visible()
    page.keyboard.press("Enter")
    # Chosen (not only typed): Streamlit offers to clear a chosen value.
    expect(page.locator(f".st-key-{key} input[role='combobox']")).to_have_value(option)
    expect(page.locator(f".st-key-{key} [aria-label='Effacer la valeur']")).to_have_count(1)


def press_button(page, key: str) -> None:
    tab_to(page, f".st-key-{key} button")
    page.keyboard.press("Enter")


@pytest.mark.browser
def test_every_page_is_axe_clean_and_the_form_works_with_the_keyboard_only(tmp_path):
    """One phone-sized Chromium session: the form filled with Tab, Shift+Tab, Space, Enter,
    arrows and typing (no mouse), axe on each of its steps, its saved draft's resume code and
    its confirmation, focus on the new step's heading after Suivant / Précédent, the update
    page (code entry, event form, its messages, the update recorded), the resume page (and an
    unknown code), the delete page (first tap, then a confirmation), the accessibility
    statement and each tab of the public dashboard; then the stored row, read back from
    DuckDB."""
    db_path = tmp_path / "a11y.duckdb"
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(2_000, seed=42, today=TODAY))
    deletion_code = storage.new_deletion_code()
    submit(store, story_answers(), deletion_code=deletion_code, fill_seconds=300)
    store.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve_app(db_path) as url, browser_page() as page:
        axe = Axe(page)
        page.goto(url)
        expect(page.get_by_text("Ce que nous gardons")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        # Streamlit's own control names are read in French too.
        expect(page.locator(".st-key-q_company button[aria-label^='Aide : ']")).to_have_count(1)
        axe.check("form step 1")

        # Step 1, keyboard only.
        pick_from_list(page, "q_company", "Free", "Free", from_top=True)
        choose_option(page, "q_service", "Box internet")
        pick_from_list(page, "q_department", "Alpes-Maritimes", "06 – Alpes-Maritimes")
        choose_option(page, "q_household", "Retraité(e)")
        press_button(page, "form_next")
        expect_step_heading_focused(page, 1)
        # From the heading, the first question is one or two presses away (its help, then it).
        assert tab_to(page, ".st-key-q_problem", limit=3) <= 2
        axe.check("form step 2")

        # Step 2: an outage since 10 July 2023, still ongoing (the typing: 10/07/2023).
        page.keyboard.press("Shift+Tab")
        choose_option(page, "q_problem", "Plus de service")
        type_field(page, "q_started_on", "10/07/2023")
        choose_option(page, "q_status", "Toujours en cours")
        choose_option(page, "q_blamed_third_party", "Oui")
        # One false "resolved" message, typed in the step's last field: Tab goes on to
        # "Précédent", and the rerun draws its date's question above it; the focus stays on
        # "Précédent" (each question has a place of its own on the page: form_page.show_step).
        type_field(page, "q_false_resolved_count", "1", opens="q_false_resolved_first_on")
        assert "st-key-form_back" in page.evaluate(
            "document.activeElement.closest('[class*=\"st-key-form_b\"]').className"
        )
        press_button(page, "form_next")
        expect_step_heading_focused(page, 2)
        axe.check("form step 3")

        # Step 3: two trips for nothing, 40 km (the trip reasons drawn once a trip is typed).
        type_field(page, "q_wasted_trips", "2", opens="q_wasted_reason_no_stock")
        assert tab_to(page, ".st-key-q_wasted_km input") == 0  # where Tab left it
        type_field(page, "q_wasted_km", "40")
        press_button(page, "form_next")
        expect_step_heading_focused(page, 3)
        axe.check("form step 4")

        # Step 4 left blank; "Précédent" (Shift+Tab from "Suivant") and back again.
        tab_to(page, ".st-key-form_next button")
        tab_to(page, ".st-key-form_back button", backwards=True, limit=1)
        page.keyboard.press("Enter")
        expect_step_heading_focused(page, 2)
        expect(page.locator(".st-key-q_wasted_km input")).to_have_value("40")
        press_button(page, "form_next")
        expect_step_heading_focused(page, 3)
        press_button(page, "form_next")
        expect_step_heading_focused(page, 4)

        # Step 5: the scales show their ends on screen and run from worst to best.
        csat = page.locator(".st-key-q_csat label[data-testid='stRadioOption']")
        expect(csat.first).to_have_text("1 – très insatisfait")
        expect(csat.last).to_have_text("5 – très satisfait")
        ease = page.locator(".st-key-q_ease label[data-testid='stRadioOption']")
        expect(ease.first).to_have_text("1 – très difficile")
        expect(ease.last).to_have_text("7 – très facile")
        axe.check("form step 5")
        choose_option(page, "q_csat", "2")
        choose_option(page, "q_ease", "2")  # quite hard: an effort of 6
        tab_to(page, ".st-key-q_consent_research input[type='checkbox']")
        page.keyboard.press("Space")
        expect(page.locator(".st-key-q_consent_research input")).to_be_checked()
        # "Enregistrer et reprendre plus tard": the draft kept, a resume code shown; then back
        # (Shift+Tab) to "Envoyer".
        press_button(page, "form_later")
        expect(page.get_by_text("Votre brouillon est enregistré.")).to_be_visible()
        resume_code = page.locator("[data-testid='stCode'] code").inner_text().strip()
        assert resume_code
        axe.check("form draft saved, resume code")
        tab_to(page, ".st-key-form_submit button", backwards=True, limit=3)
        page.keyboard.press("Enter")
        expect(page.get_by_text("Merci, votre témoignage est enregistré.")).to_be_visible()
        axe.check("form confirmation")
        page.screenshot(path=str(ARTIFACTS / "a11y_form_confirmation.png"), full_page=True)

        # "Compléter mon témoignage" with the story's personal code: the code entry, the event
        # form, its messages next to the fields, the update recorded.
        page.goto(f"{url}/completer")
        expect(page.get_by_role("heading", name="Compléter mon témoignage")).to_be_visible()
        axe.check("update page, code entry")
        page.locator(".st-key-update_code input").fill(deletion_code)
        page.locator(".st-key-update_code input").press("Enter")
        page.locator(".st-key-update_open button").click()
        expect(page.get_by_text("Toujours en cours")).to_be_visible()
        # The button pressed is gone: focus goes to the story it opened (WCAG 2.4.3).
        expect_focus_inside(page, ".st-key-update_current")
        axe.check("update page, event form")
        page.locator(".st-key-update_kind label[data-testid='stRadioOption']").filter(
            has_text="J'ai reçu un remboursement"
        ).click()
        expect(page.locator(".st-key-update_amount input")).to_be_visible()
        page.locator(".st-key-update_record button").click()
        expect(page.get_by_text("Cette réponse est obligatoire.")).to_have_count(2)
        axe.check("update page, messages")
        page.locator(".st-key-update_event_on input").fill("2/10/2023")
        page.locator(".st-key-update_amount input").fill("40,50")
        page.locator(".st-key-update_amount input").press("Tab")
        page.locator(".st-key-update_record button").click()
        expect(page.get_by_text("Merci, votre mise à jour est enregistrée.")).to_be_visible()
        expect_focus_inside(page, ".st-key-update_done_box")
        axe.check("update page, update recorded")

        # "Reprendre un brouillon": the page, then the resume code of the draft just sent (a
        # sent draft is gone, so the code opens nothing and the page says so).
        page.goto(f"{url}/reprendre")
        expect(page.get_by_role("heading", name="Reprendre un brouillon")).to_be_visible()
        axe.check("resume page")
        page.locator(".st-key-resume_code input").fill(resume_code)
        page.locator(".st-key-resume_code input").press("Enter")
        page.locator(".st-key-resume_button button").click()
        expect(page.get_by_text("Ce code ne correspond à aucun brouillon")).to_be_visible()
        axe.check("resume page, unknown code")

        # The delete page: the first tap on the button works while the field still has the
        # focus, then it asks before deleting.
        page.goto(f"{url}/supprimer")
        expect(page.get_by_role("heading", name="Supprimer ma réponse")).to_be_visible()
        axe.check("delete page")
        page.get_by_label("Code de suppression").click()
        page.keyboard.type(deletion_code)
        page.locator(".st-key-delete_ask button").click()
        expect(page.get_by_text("Cette action ne peut pas être annulée.")).to_be_visible()
        axe.check("delete confirmation")
        page.locator(".st-key-delete_button button").click()
        expect(page.get_by_text("Votre réponse a été supprimée.")).to_be_visible()

        # The public dashboard, each tab.
        page.goto(f"{url}/tableau?synthetic=true")
        expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
        tabs = page.get_by_role("tab")
        # every tab drawn before they are counted (the page arrives element by element)
        expect(tabs).to_have_count(DASHBOARD_TABS)
        for index in range(DASHBOARD_TABS):
            tab = tabs.nth(index)
            tab.click()
            expect(tab).to_have_attribute("aria-selected", "true")
            panel = page.get_by_role("tabpanel").nth(index)
            charts = panel.locator("[data-testid='stVegaLiteChart']")
            if charts.count():
                expect(charts.first.locator("svg, canvas").first).to_be_attached()
            axe.check(f"dashboard tab {tab.inner_text()}")

        # The accessibility statement, then the page language after a switch to English.
        page.goto(f"{url}/accessibilite")
        expect(page.get_by_role("heading", name="Déclaration d'accessibilité")).to_be_visible()
        # Read once its last section is drawn (the page arrives element by element).
        expect(
            page.get_by_role("heading", name="Établissement de cette déclaration")
        ).to_be_visible()
        statement = page.get_by_test_id("stMain").inner_text()
        axe.check("accessibility statement")
        page.screenshot(path=str(ARTIFACTS / "a11y_statement_phone.png"), full_page=True)
        page.locator("[aria-label='Langue'] button").filter(has_text="English").click()
        expect(page.get_by_role("heading", name="Accessibility statement")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "en")

    # What the statement says is what this test measured.
    assert f"axe-core {axe_version()}" in statement
    assert statement_constant("AXE_VERSION") == axe_version()
    assert f"sur {len(axe.checked)} états de page" in statement, axe.checked

    store = storage.connect(db_path)
    frame = store.fetch_responses(storage.Filters(include_flagged=True, include_synthetic=False))
    assert len(frame) == 1  # the story deleted, the keyboard's response kept
    row = frame.iloc[0]
    assert row["company"] == "free"
    assert row["service"] == "fixed_internet"
    assert row["department"] == "06"
    assert row["household"] == "retired"
    assert row["problem"] == "outage"
    assert row["started_on"].date() == date(2023, 7, 10)
    assert row["status"] == "ongoing"
    assert bool(row["blamed_third_party"]) is True
    assert row["false_resolved_count"] == 1
    assert row["wasted_trips"] == 2
    assert row["wasted_km"] == 40.0
    assert row["csat"] == 2
    assert row["ease"] == 2
    assert row["effort"] == 6  # 8 - ease: the effort figures stay comparable across versions
    assert bool(row["consent_research"]) is True


# --- the French dashboard's text, over the demo data (AppTest) ------------------------------

UNREADABLE = re.compile(r"\bNone\b|\bNaN\b|\bnan\b|\b1\.000000\b|(?<![\d\u202f])1 réponses")


def shown_texts(at) -> list[str]:
    """Every text the page shows: prose, captions, alerts, and each cell and heading of every
    table (a missing value in st.dataframe is drawn as "None")."""
    texts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info"):
        texts += [str(element.value) for element in getattr(at, kind)]
    texts += [str(element.value) for element in at.warning] + [str(e.value) for e in at.error]
    tables = [(e.value, e.proto.placeholder or "None") for e in at.dataframe]
    tables += [(e.value, "None") for e in at.table]
    for frame, missing in tables:
        texts += [str(column) for column in frame.columns]
        texts += [str(label) for label in frame.index]
        texts += [missing if pd.isna(cell) else str(cell) for cell in frame.to_numpy().ravel()]
    return texts


def test_the_french_dashboard_never_shows_none_nan_or_raw_floats(filled_store):
    """Issue 13: on the demo data, the public dashboard (each tab selected in turn in AppTest)
    shows no `None`, `NaN`, `1.000000` or "1 réponses" in its prose and tables, and every
    chart comes with its figures as a table."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("analysis/dashboard_page.py").run()
    assert not at.exception, at.exception
    texts, expanders = [], []
    for tab in list(at.tabs):  # only the selected tab runs: select each in turn
        at.session_state["tab"] = tab.label
        at.run()
        assert not at.exception, at.exception
        # The methodology tab documents functions returning NaN: a technical term there, not
        # a missing figure; it is left out.
        texts += [text for text in shown_texts(at) if not text.startswith("# Méthodologie")]
        expanders += [e.label for e in at.expander]
    assert len(texts) > 200  # the tables were read, not an empty page
    bad = sorted({text for text in texts if UNREADABLE.search(text)})
    assert bad == []
    alternatives = [label for label in expanders if label.startswith("Chiffres du graphique")]
    # resolution, refunds (2), trips (4), loaners (3), design inputs; the pooled 2 x 2 cells
    # are shown unfolded under their own caption.
    assert len(alternatives) >= 10, expanders
