"""The researchers' dashboard through AppTest, on a real DuckDB file built by the demo generator."""

from datetime import date

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.snapshot import releases
from survey import store as storage
from survey.demo import generate_frame
from survey.validation import paris_today
from tests.conftest import APP, TODAY, story_answers, submit

DASHBOARD = "analysis/dashboard_page.py"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def demo_db(db_path):
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(3_000, seed=42, today=TODAY))
    return store


def open_dashboard():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(DASHBOARD).run()
    assert not at.exception, at.exception
    return at


def show_tab(at, index: int):
    """Select the dashboard's tab ``index`` (only the selected tab runs and is sent)."""
    at.session_state["tab"] = at.tabs[index].label
    at.run()
    assert not at.exception, at.exception
    return at


DATA_TAB, DESIGN_TAB = 7, 5


def table(at, column):
    """The first table showing ``column`` (AppTest does not keep dataframe keys)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    return None


def headline(at):
    return at.dataframe[0].value


def sign_in(at, db_path):
    token = storage.ensure_researcher_token(db_path)
    at.text_input(key="researcher_token").input(token).run()
    at.button(key="sign_in").click().run()
    assert not at.exception, at.exception


def test_every_view_renders_on_synthetic_data_with_a_banner(demo_db):
    at = open_dashboard()
    assert at.title[0].value == "Tableau de bord"
    assert at.toggle(key="synthetic").value is True  # only synthetic data: shown, with a banner
    assert "Données synthétiques" in at.warning[0].value
    assert len(at.tabs) == 8
    companies = headline(at)
    assert set(companies["Entreprise"]) >= {"Amazon", "Orange", "Free", "SFR"}
    assert companies["n"].sum() == demo_db.count(storage.Filters(include_synthetic=True))
    assert len(at.dataframe[1].value) == 4  # sector x origin groups
    assert not at.get("vega_lite_chart")  # the headline tab holds tables; the others wait
    charts = 0
    for index in range(1, len(at.tabs)):  # each tab runs when selected
        charts += len(show_tab(at, index).get("vega_lite_chart"))
    assert charts >= 10


def test_a_chart_is_built_once_per_view_and_language_for_every_visitor(demo_db, monkeypatch):
    """Two visitors of the same view get the same chart spec, built once (Altair's build and
    validation are not repeated per session); another language builds its own."""
    from analysis import charts

    built = []
    original = charts.forest_chart

    def counted(*args, **kwargs):
        built.append(kwargs["title"])
        return original(*args, **kwargs)

    monkeypatch.setattr(charts, "forest_chart", counted)
    refunds = 2
    first = show_tab(open_dashboard(), refunds)
    second = show_tab(open_dashboard(), refunds)
    specs = [[c.proto.spec for c in at.get("vega_lite_chart")] for at in (first, second)]
    assert specs[0] == specs[1] and len(specs[0]) >= 1
    assert len(built) == 1
    english = open_dashboard()
    english.session_state["locale"] = "en"
    english.run()  # the tabs' labels in English, then the refunds tab
    show_tab(english, refunds)
    assert len(built) == 2 and built[0] != built[1]  # the English title


def test_the_headline_tables_are_formatted_once_per_view_and_language(demo_db, monkeypatch):
    """Issue 14: the headline tables (pandas formatting, 0.05-0.1 s each at a million
    responses) are formatted once per shared view and language, not per visitor."""
    from analysis import dashboard

    formatted = []
    original = dashboard.headline_table

    def counted(table, locale, **kwargs):
        formatted.append(locale)
        return original(table, locale, **kwargs)

    monkeypatch.setattr(dashboard, "headline_table", counted)
    first, second = open_dashboard(), open_dashboard()
    assert headline(first).equals(headline(second))
    assert formatted == ["fr", "fr"]  # the companies' table and the groups' table
    english = open_dashboard()
    english.session_state["locale"] = "en"
    english.run()
    assert formatted == ["fr", "fr", "en", "en"]


def test_all_filters_combined_and_an_empty_selection(demo_db, db_path):
    at = open_dashboard()
    assert not [m for m in at.multiselect if m.key == "company"]  # the public: no free filter
    sign_in(at, db_path)
    at.multiselect(key="company").select("orange").select("amazon").run()
    at.multiselect(key="sector").select("isp").run()
    at.multiselect(key="origin").select("fr").run()
    at.multiselect(key="problem").select("outage").run()
    at.multiselect(key="service").select("fixed_internet").run()
    at.date_input(key="from").set_value(date(2022, 6, 1)).run()
    at.date_input(key="to").set_value(date(2026, 1, 1)).run()
    at.toggle(key="flagged").set_value(True).run()
    assert not at.exception, at.exception
    assert list(headline(at)["Entreprise"]) == ["Orange"]
    at.multiselect(key="department").select("2A").select("976").run()
    at.multiselect(key="company").unselect("orange").run()  # Amazon is not an ISP: nothing left
    assert not at.exception, at.exception
    assert "Aucune réponse ne correspond à ces filtres." in [i.value for i in at.info]


def test_researcher_rows_only_after_sign_in_and_narratives_as_text(demo_db, db_path):
    submit(
        demo_db,
        {**story_answers(), "narrative": HOSTILE, "contact_email": "x@example.org"},
        fill_seconds=300,
    )
    at = open_dashboard()
    assert table(at, "response_id") is None
    assert not [b for b in at.button if b.key and b.key.startswith("prepare_")]
    assert HOSTILE not in str(at)
    # A wrong token is refused.
    at.text_input(key="researcher_token").input("guess").run()
    at.button(key="sign_in").click().run()
    assert "Jeton incorrect." in [e.value for e in at.error]
    sign_in(at, db_path)
    show_tab(at, DATA_TAB)
    # Real responses exist, so synthetic ones are hidden by default: one row.
    assert table(at, "response_id")["narrative"].tolist() == [HOSTILE]
    texts = [t.value for t in at.text]
    assert HOSTILE in texts  # shown verbatim, as text
    assert "contact_email" not in table(at, "response_id").columns
    at.button(key="prepare_csv").click().run()
    assert not at.exception
    assert at.session_state["export_csv"].startswith(b'"response_id"')
    assert b"x@example.org" not in at.session_state["export_csv"]


def test_real_responses_only_hide_synthetic_by_default(db_path):
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(500, seed=1, today=TODAY))
    for _ in range(3):
        submit(store, story_answers(), fill_seconds=300)
    at = open_dashboard()
    assert at.toggle(key="synthetic").value is False
    assert not at.warning
    # the public view is as of the end of the last full month: today's three are not in it yet
    assert "Aucune réponse ne correspond à ces filtres." in [i.value for i in at.info]
    sign_in(at, db_path)
    companies = headline(at)
    assert list(companies["Entreprise"]) == ["Free"]
    assert companies["n"].tolist() == [3]


def test_the_public_cannot_single_out_a_respondent(db_path):
    """Narrow filters in a URL do nothing for the public (one fixed view, as of the end of the
    last full month, every figure under 10 responses masked without its base); signed-in
    researchers filter freely."""
    store = storage.connect(db_path)
    frame = generate_frame(600, seed=5, today=TODAY)
    frame["source"] = "web"
    store.insert_frame(frame)
    for _ in range(3):
        submit(store, {**story_answers(), "csat": 1, "nps": 0}, fill_seconds=300)  # today, Free
    narrow = AppTest.from_file(APP, default_timeout=120)
    narrow.query_params["company"] = "starlink"
    narrow.query_params["department"] = "06"
    narrow.run()
    narrow.switch_page(DASHBOARD).run()
    wide = open_dashboard()
    pd.testing.assert_frame_equal(headline(narrow), headline(wide))  # the URL changed nothing
    public = headline(wide)
    small = public[public["n"].isna() | (public["n"] < 10)] if "n" in public else public
    for column in ("Satisfaction (1-5)", "NPS"):
        assert small[column].isna().all(), column
    masked = [m for m in public["NPS · signe"].astype(str) if "masqué" in m]
    assert masked and all("n=" not in m for m in masked)  # no base beside a masked figure
    assert "Vue publique" in " ".join(c.value for c in wide.caption)
    sign_in(wide, db_path)
    wide.multiselect(key="company").select("free").run()
    researcher = headline(wide)
    assert researcher["n"].tolist() == [frame["company"].eq("free").sum() + 3]


def test_companies_outside_the_list_are_named_and_kept_out_of_the_design(db_path):
    store = storage.connect(db_path)
    for name in ("Box Bidule", "Fibre Truc") * 6:
        submit(
            store, {**story_answers(), "company": "other", "company_other": name}, fill_seconds=300
        )
    at = open_dashboard()
    sign_in(at, db_path)  # submitted today: after the public view's date
    assert headline(at)["Entreprise"].tolist() == ["Autres entreprises (hors liste)"]
    assert at.dataframe[1].value["Groupe"].tolist() == ["Entreprises hors liste"]
    assert "None" not in str(at.dataframe[1].value)


def test_the_english_switch_reaches_the_dashboard(demo_db):
    at = open_dashboard()
    at.segmented_control(key="locale").set_value("en").run()
    assert at.title[0].value == "Dashboard"
    assert "Company" in headline(at).columns


def test_with_an_identity_provider_the_token_box_gives_way_to_its_sign_in(demo_db):
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-only",
        "client_id": "client",
        "client_secret": "secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at.secrets["clientroi"] = {"researchers": ["someone@example.org"]}
    at.run()
    at.switch_page(DASHBOARD).run()
    assert not at.exception, at.exception
    assert [b for b in at.button if b.key == "sign_in_oidc"]
    assert not [t for t in at.text_input if t.key == "researcher_token"]
    assert at.session_state["researcher_signed_in"] is False
    assert table(at, "response_id") is None


def test_numbers_and_dates_are_written_the_way_each_language_writes_them(demo_db, db_path):
    today = releases.last_full_month_end(paris_today())  # the public view's as_of
    at = open_dashboard()
    captions = " ".join(c.value for c in at.caption)
    assert "3\u202f000 réponses" in captions and today.strftime("%d/%m/%Y") in captions
    for bad in ("None", "nan", "NaN", "1.000000", "1 réponses"):
        assert bad not in captions
    at.segmented_control(key="locale").set_value("en").run()
    captions = " ".join(c.value for c in at.caption)
    assert "3,000 responses" in captions and today.isoformat() in captions
    assert "20 000" not in captions and "3 000" not in captions


def test_signed_in_researchers_are_offered_spss_and_stata_exports(demo_db, db_path):
    at = show_tab(open_dashboard(), DATA_TAB)
    sign_in(at, db_path)
    keys = {b.key for b in at.button if b.key}
    assert {
        "prepare_csv",
        "prepare_csv-fr",
        "prepare_parquet",
        "prepare_sav",
        "prepare_dta",
    } <= keys
    at.button(key="prepare_csv-fr").click().run()
    assert not at.exception, at.exception
    french = at.session_state["export_csv-fr"]
    assert french.startswith("\ufeff".encode()) and b";" in french.splitlines()[0]
    at.button(key="prepare_sav").click().run()
    assert not at.exception, at.exception
    # until survey/store.py writes SPSS, the page shows the store's refusal; once it does, a file
    if "export_sav" in at.session_state:
        assert at.session_state["export_sav"]
    else:
        assert "SAV" in " ".join(e.value for e in at.error)


def test_france_or_the_sector_leads_with_the_verdict_and_companies_as_units(demo_db, db_path):
    """Issue 11: the tab opens with sentences computed from the effects, then the five effects
    with the companies on each side, the weighted and unweighted cells. In the public view a
    company whose standardised input rests on fewer than 10 responses takes no part in the
    model (on 3,000 demo rows: the two small foreign ISPs), and the verdict says so."""
    at = show_tab(open_dashboard(), DESIGN_TAB)
    public = [element.value for element in at.text]
    assert public[0].startswith("Parmi les fournisseurs d'accès"), public
    assert "aucune comparaison possible" in public[0]
    sign_in(at, db_path)
    texts = [element.value for element in at.text]
    assert texts[-1].startswith("Au total"), texts
    assert any("intervalle" in text for text in texts)  # sentences carry their interval
    effects = table(at, "Comparaison")
    assert effects is not None and len(effects) == 5
    sides = [tuple(map(int, v.split(" / "))) for v in effects["Entreprises (a / b)"]]
    identifiable = effects["Identifiable"] == "oui"
    # the four simple contrasts (the interaction needs three companies in every cell)
    assert all(
        (min(a, b) >= 3) == ok for (a, b), ok in zip(sides[:4], identifiable[:4], strict=True)
    )
    cells = table(at, "Pondérée par la taille du marché")
    assert cells is not None and len(cells) >= 3  # a cell whose companies all dropped out goes
    at.segmented_control(key="design_metric").set_value("refund_success_share").run()
    assert not at.exception, at.exception
    assert table(at, "Comparaison") is not None


def test_failed_sign_ins_are_logged_and_slowed(demo_db, caplog, monkeypatch):
    """Issue 12: a failed researcher sign-in is logged (never the token tried, never the
    address) and, after three failures, each attempt waits (the waits the page asks for are
    recorded: a wall-clock measure depends on how loaded the machine is)."""
    import logging
    import time

    waits = []
    real_sleep = time.sleep

    def recorded(seconds):
        waits.append(seconds)
        real_sleep(min(seconds, 0.01))

    at = open_dashboard()
    caplog.set_level(logging.WARNING, logger="clientroi.dashboard")
    at.text_input(key="researcher_token").input("guess-1234").run()
    monkeypatch.setattr(time, "sleep", recorded)
    for _ in range(4):
        at.button(key="sign_in").click().run()
        assert "Jeton incorrect." in [e.value for e in at.error]
    monkeypatch.setattr(time, "sleep", real_sleep)
    failures = [r.getMessage() for r in caplog.records if "failed researcher sign-in" in r.message]
    assert len(failures) == 4
    assert not any("guess-1234" in message for message in failures)
    # the first three attempts did not wait, the fourth waited 2 s
    assert [w for w in waits if w >= 1] == [2.0]  # (Streamlit itself polls with short sleeps)
    assert not at.session_state["researcher_signed_in"]
