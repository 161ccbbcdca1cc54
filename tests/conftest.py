"""Shared fixtures: every test gets a real DuckDB file in its own temporary folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from survey import store as storage
from survey.demo import generate_frame

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TODAY = date(2026, 6, 15)


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "clientroi.duckdb"
    monkeypatch.setenv("CLIENTROI_DB", str(path))
    return path


@pytest.fixture
def store(db_path: Path) -> storage.Store:
    return storage.connect(db_path)


@pytest.fixture
def filled_store(store: storage.Store) -> storage.Store:
    """A store holding 2,000 seeded synthetic responses."""
    store.insert_frame(generate_frame(2_000, seed=42, today=TODAY))
    return store


def story_answers() -> dict:
    """The seed story (shared/seed) as valid answers."""
    from survey.demo import seed_story_answers

    return seed_story_answers()


def submit(store: storage.Store, answers: dict, **meta) -> storage.Receipt:
    from survey.validation import validate_answers

    outcome = validate_answers(answers)
    assert outcome.ok, outcome.errors("en")
    meta.setdefault("submission_key", storage.new_submission_key())
    meta.setdefault("deletion_code", storage.new_deletion_code())
    return store.insert_response(outcome.response, storage.SubmissionMeta(**meta))
