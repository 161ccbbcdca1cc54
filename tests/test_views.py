"""Dashboards computed once and shared (analysis.dashboard.view_for, SharedViews, keep_warm),
and the public view kept on disk so that the first visitor after a restart does not wait for
it, on a real DuckDB file."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from analysis import dashboard
from survey import store as storage
from survey.demo import generate_frame
from tests.conftest import TODAY, story_answers, submit


@pytest.fixture
def store(db_path):
    opened = storage.connect(db_path)
    opened.insert_frame(generate_frame(1_500, seed=3, today=TODAY))
    dashboard.VIEWS.clear()
    yield opened
    dashboard.VIEWS.clear()


@pytest.fixture
def computed(monkeypatch):
    """Counts the computations (the real ones run)."""
    calls = []
    original = dashboard.compute

    def counted(*args, **kwargs):
        calls.append(kwargs.get("public"))
        return original(*args, **kwargs)

    monkeypatch.setattr(dashboard, "compute", counted)
    return calls


def public_view(store):
    filters, as_of, launch = dashboard.public_defaults(store, TODAY)
    return dashboard.view_for(store, filters, as_of=as_of, public=True, launch=launch)


def test_visitors_at_once_share_one_computation(store, computed):
    views = []
    threads = [threading.Thread(target=lambda: views.append(public_view(store))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(computed) == 1
    assert all(view is views[0] for view in views)


def test_the_public_view_is_read_back_after_a_restart_and_only_while_it_is_true(
    store, computed, monkeypatch
):
    first = public_view(store)
    assert computed == [True]
    folder = dashboard.views_folder(store)
    (kept,) = folder.glob("*.view")
    assert folder.stat().st_mode & 0o777 == 0o700 and kept.stat().st_mode & 0o777 == 0o600

    dashboard.VIEWS.clear()  # a restart: nothing in memory
    again = public_view(store)
    assert computed == [True]  # read back, not computed
    pd.testing.assert_frame_equal(again.companies, first.companies)
    assert again.n == first.n

    # Other code (an upgrade) never reads it: computed again.
    dashboard.VIEWS.clear()
    monkeypatch.setattr(dashboard, "_FINGERPRINT", "another version of the code")
    public_view(store)
    assert computed == [True, True]

    # New data: a new version, computed again; only the newest views stay on disk.
    for _ in range(dashboard.KEPT_VIEWS + 1):
        submit(store, story_answers(), fill_seconds=300)
        public_view(store)
    assert len(computed) == 2 + dashboard.KEPT_VIEWS + 1
    assert len(list(folder.glob("*.view"))) == dashboard.KEPT_VIEWS


def test_a_researcher_view_is_never_written_to_disk(store, computed):
    filters = storage.Filters(include_synthetic=True)
    view = dashboard.view_for(store, filters, as_of=TODAY, public=False)
    assert view.n > 0 and computed == [False]
    assert not list(dashboard.views_folder(store).glob("*.view"))


def test_an_unreadable_stored_view_is_computed_again(store, computed):
    public_view(store)
    for kept in dashboard.views_folder(store).glob("*.view"):
        kept.write_bytes(b"not a view")
    dashboard.VIEWS.clear()
    assert public_view(store).n > 0
    assert computed == [True, True]


def test_keep_warm_computes_the_public_view_before_anyone_asks(store, computed):
    stop = threading.Event()
    thread = threading.Thread(
        target=dashboard.keep_warm,
        args=(store,),
        kwargs={"stop": stop, "poll_seconds": 0.2, "today": lambda: TODAY},
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not computed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert computed == [True]
    submit(store, story_answers(), fill_seconds=300)  # new data: warmed again
    while len(computed) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=30)
    assert computed == [True, True]
    public_view(store)  # the visitor finds it ready
    assert computed == [True, True]
