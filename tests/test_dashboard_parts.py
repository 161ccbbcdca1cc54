"""What the dashboard page draws, built once per view and language and in advance for the
public view (analysis.dashboard_parts, keep_warm), and the data version a tab's click checks
without reopening the file (analysis.dashboard.data_version), on real DuckDB files."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from streamlit.elements import vega_charts
from streamlit.testing.v1 import AppTest

from analysis import dashboard, dashboard_parts
from survey import store as storage
from survey.demo import generate_frame
from tests.conftest import APP, TODAY, story_answers, submit

DASHBOARD = "analysis/dashboard_page.py"


@pytest.fixture
def demo_db(db_path):
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(3_000, seed=42, today=TODAY))
    dashboard.VIEWS.clear()
    dashboard_parts.clear()
    # as `clientroi serve`'s process does before it warms (cli.worker)
    dashboard_parts.use_converter(vega_charts._convert_altair_to_vega_lite_spec)
    yield store
    dashboard.VIEWS.clear()
    dashboard_parts.clear()


@pytest.fixture
def conversions(monkeypatch):
    """Counts the Altair charts converted to Vega-Lite (the real conversion runs)."""
    converted = []
    original = dashboard_parts.vega_lite

    def counted(chart):
        converted.append(chart)
        return original(chart)

    monkeypatch.setattr(dashboard_parts, "vega_lite", counted)
    return converted


def every_tab(locale: str = "fr") -> list[list[str]]:
    """A new visitor of the public dashboard clicking every tab: the specs sent, per tab."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    if locale != "fr":
        at.session_state["locale"] = locale
        at.run()
    at.switch_page(DASHBOARD).run()
    assert not at.exception, at.exception
    specs = []
    for tab in list(at.tabs):
        at.session_state["tab"] = tab.label
        at.run()
        assert not at.exception, at.exception
        specs.append([chart.proto.spec for chart in at.get("vega_lite_chart")])
    return specs


def warm_in_background(store, caplog) -> None:
    """keep_warm as ``clientroi serve`` runs it, until the public view is drawn."""
    stop = threading.Event()
    thread = threading.Thread(
        target=dashboard.keep_warm,
        args=(store,),
        kwargs={"stop": stop, "poll_seconds": 0.2},
        daemon=True,
    )
    with caplog.at_level("INFO", logger="analysis.dashboard"):
        thread.start()
        deadline = time.monotonic() + 120
        while "public dashboard drawn" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(timeout=60)
    assert "public dashboard drawn" in caplog.text


def test_after_the_warming_the_first_visitor_builds_no_chart(demo_db, conversions, caplog):
    """Issue 14: the app process's warming builds every chart spec and table of the public
    view in both languages: the first visitor's runs of every tab build nothing, and get the
    same specs as a visitor whose page built them itself."""
    warm_in_background(demo_db, caplog)
    warmed = len(conversions)
    assert warmed >= 2 * 12  # the charts of the tabs, in French and in English
    specs = {locale: every_tab(locale) for locale in dashboard_parts.LOCALES}
    assert len(conversions) == warmed  # nothing built for the visitors
    shown = sum(len(tab) for tab in specs["fr"])
    assert shown >= 12

    dashboard_parts.clear()  # the same view, nothing drawn in advance: the page builds them
    assert every_tab("fr") == specs["fr"]
    assert len(conversions) == warmed + shown


def test_a_visitor_waits_for_the_part_the_warming_builds_instead_of_building_it_again(
    demo_db, monkeypatch
):
    filters, as_of, launch = dashboard.public_defaults(demo_db, TODAY)
    view = dashboard.view_for(demo_db, filters, as_of=as_of, public=True, launch=launch)
    started, release, built = threading.Event(), threading.Event(), []

    def slow_build():
        built.append(1)
        started.set()
        release.wait(10)
        return "spec"

    parts = dashboard_parts.of(view, "fr")
    warming = threading.Thread(target=parts.get, args=(("slow",), slow_build))
    warming.start()
    started.wait(10)
    got = []
    visitor = threading.Thread(
        target=lambda: got.append(dashboard_parts.of(view, "fr").get(("slow",), slow_build))
    )
    visitor.start()
    time.sleep(0.2)
    assert not got  # waiting for the warming's build
    release.set()
    warming.join(10)
    visitor.join(10)
    assert got == ["spec"] and built == [1]


def test_a_view_s_parts_go_with_the_view(demo_db):
    filters, as_of, launch = dashboard.public_defaults(demo_db, TODAY)
    view = dashboard.view_for(demo_db, filters, as_of=as_of, public=True, launch=launch)
    dashboard_parts.of(view, "fr").headline()
    assert dashboard_parts.built(view, "fr") >= 1
    view_id = id(view)
    dashboard.VIEWS.clear()
    del view
    assert view_id not in dashboard_parts._SHARED


def read_counted(store, monkeypatch) -> list:
    """Counts the store's real readings of its data version."""
    readings = []
    original = store.data_version

    def counted():
        readings.append(1)
        return original()

    monkeypatch.setattr(store, "data_version", counted)
    return readings


def test_the_version_check_reads_the_database_only_when_its_files_changed(db_path, monkeypatch):
    """A tab's click asks for the data version: a stat of the file and its log, no query and
    no reopening of a file the app let go; a write here or by another process is seen."""
    app_store = storage.connect(db_path)  # keep_open=0: the file closed after each operation
    app_store.insert_frame(generate_frame(500, seed=1, today=TODAY))
    readings = read_counted(app_store, monkeypatch)
    first = dashboard.data_version(app_store)
    assert first.rows == 500 and len(readings) == 1
    for _ in range(5):
        assert dashboard.data_version(app_store) == first
    assert len(readings) == 1  # the file not reopened

    submit(app_store, story_answers(), fill_seconds=300)  # a submission through this store
    second = dashboard.data_version(app_store)
    assert second.rows == 501 and len(readings) == 2
    assert dashboard.data_version(app_store) == second and len(readings) == 2

    # another process deletes a response (the command line)
    code = storage.new_deletion_code()
    submit(app_store, story_answers(), fill_seconds=300, deletion_code=code)
    third = dashboard.data_version(app_store)
    assert third.rows == 502
    script = (
        "import sys; from survey import store as s; "
        "print(s.connect(sys.argv[1]).delete_response(sys.argv[2]))"
    )
    subprocess.run([sys.executable, "-c", script, str(db_path), code], check=True)
    assert dashboard.data_version(app_store).rows == 501

    assert len(readings) == 4  # once per change, never in between


def test_the_app_s_store_is_not_reopened_to_check_the_version(db_path, monkeypatch):
    """The app's store keeps its file open 2 s after use, then lets it go: a tab's click
    after that reads no version from the database (it would reopen the file)."""
    storage.connect(db_path).insert_frame(generate_frame(300, seed=2, today=TODAY))
    app_store = storage.connect(db_path, keep_open=0.3)  # (its opening wrote the file)
    time.sleep(1.0)  # let go
    readings = read_counted(app_store, monkeypatch)
    first = dashboard.data_version(app_store)
    assert len(readings) == 1
    time.sleep(1.0)  # let go again
    assert app_store._database is None
    for _ in range(3):
        assert dashboard.data_version(app_store) == first
    assert len(readings) == 1 and app_store._database is None  # not reopened
    submit(app_store, story_answers(), fill_seconds=300)
    assert dashboard.data_version(app_store).rows == first.rows + 1
    app_store.close()
