"""Exports researchers open in SPSS and Stata: variable and value labels from the questionnaire,
read back with pyreadstat (the ReadStat library, as R's haven reads them)."""

from datetime import date

import pandas as pd
import pyreadstat
import pytest

import cli
from survey import questionnaire as qn
from survey import store as storage
from tests.conftest import story_answers, submit


@pytest.fixture
def store(any_store):
    """Every test here runs on both backends (DuckDB, a real PostgreSQL server)."""
    return any_store


READERS = {"sav": pyreadstat.read_sav, "dta": pyreadstat.read_dta}


@pytest.fixture
def two_stories(store):
    """The seed story (ongoing, many NULLs) and a resolved variant, with an e-mail."""
    submit(store, {**story_answers(), "contact_email": "canary@example.org"}, fill_seconds=300)
    resolved = {
        **story_answers(),
        "company": "orange",
        "status": "resolved",
        "ended_on": date(2023, 8, 1),
        "csat": 2,
    }
    submit(store, resolved, fill_seconds=300)
    return store


@pytest.mark.parametrize("fmt", ["sav", "dta"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_labels_values_and_missing_survive_a_round_trip(two_stories, tmp_path, fmt, lang):
    out = tmp_path / f"responses.{fmt}"
    assert two_stories.export(out, fmt=fmt, lang=lang) == 2
    frame, meta = READERS[fmt](str(out))
    assert list(frame.columns) == list(qn.exported_columns())
    labels = meta.column_names_to_labels
    assert labels["status"] == qn.QUESTIONS["status"].label(lang)[: storage.STATA_LABEL_MAX]
    assert labels["submitted_at"] == dict((n, t(lang)) for n, _, t in qn.METADATA)["submitted_at"]
    # A choice is an integer code whose value label is the questionnaire's label.
    codes = storage.value_codes("status")
    status_labels = meta.variable_value_labels["status"]
    assert {int(code): text for code, text in status_labels.items()} == {
        codes[c.value]: c.label(lang) for c in qn.QUESTIONS["status"].choices
    }
    assert frame["status"].tolist() == [codes["ongoing"], codes["resolved"]]
    company_codes = storage.value_codes("company")
    assert frame["company"].tolist() == [company_codes["free"], company_codes["orange"]]
    yes = {"fr": "Oui", "en": "Yes"}[lang]
    assert meta.variable_value_labels["blamed_third_party"][1] == yes
    assert frame["blamed_third_party"].tolist() == [1, 1]
    # Numbers and dates intact; "don't know" (NULL) stays missing, zero stays zero.
    assert frame["wasted_km"].tolist() == [40.0, 40.0]
    assert frame["callbacks_received"].tolist() == [0, 0]
    assert frame["unanswered_calls"].isna().all()
    assert pd.isna(frame.loc[0, "ended_on"])
    assert pd.Timestamp(frame.loc[1, "ended_on"]) == pd.Timestamp("2023-08-01")
    assert pd.Timestamp(frame.loc[0, "started_on"]) == pd.Timestamp("2023-07-10")
    assert pd.isna(frame.loc[0, "csat"])
    assert frame.loc[1, "csat"] == 2
    assert frame["switched"].isna().all()  # an unanswered choice: missing, not a code
    assert frame["teleworks"].isna().all()  # an unanswered yes/no: missing, not 0
    # Private columns never leave the database.
    assert "canary@example.org" not in out.read_bytes().decode("latin-1")
    for private in ("deletion_hash", "submission_key", "fingerprint", "contact_email"):
        assert private not in frame.columns


def test_stata_limits_hold_for_every_exported_column(two_stories, tmp_path):
    """Stata: names <= 32 characters, variable labels <= 80 (the questionnaire's longest
    French label has 86: it is shortened, not refused)."""
    out = tmp_path / "responses.dta"
    two_stories.export(out, fmt="dta", lang="fr")
    _, meta = pyreadstat.read_dta(str(out), metadataonly=True)
    assert max(len(name) for name in meta.column_names) <= storage.STATA_NAME_MAX
    assert max(len(label) for label in meta.column_labels) <= storage.STATA_LABEL_MAX
    long_label = qn.QUESTIONS["loaner_offered"].label("fr")
    assert len(long_label) > storage.STATA_LABEL_MAX
    shortened = meta.column_names_to_labels["loaner_offered"]
    assert shortened.endswith("…")
    assert long_label.startswith(shortened[:-1])
    # SPSS keeps the whole label.
    sav = tmp_path / "responses.sav"
    two_stories.export(sav, fmt="sav", lang="fr")
    _, sav_meta = pyreadstat.read_sav(str(sav), metadataonly=True)
    assert sav_meta.column_names_to_labels["loaner_offered"] == long_label


def test_dates_are_dates_in_spss(two_stories, tmp_path):
    out = tmp_path / "responses.sav"
    two_stories.export(out, fmt="sav")
    _, meta = pyreadstat.read_sav(str(out), metadataonly=True)
    assert meta.original_variable_types["started_on"].startswith("DATE")
    assert meta.original_variable_types["submitted_at"].startswith("DATETIME")


def test_value_codes_follow_the_questionnaire_order():
    for question in qn.response_questions():
        if question.choices:
            codes = storage.value_codes(question.id)
            assert list(codes) == [c.value for c in question.choices]
            assert list(codes.values()) == list(range(1, len(question.choices) + 1))
    with pytest.raises(ValueError, match="`question_id`"):
        storage.value_codes("wasted_km")


def test_bad_format_and_language_name_the_parameter(store, tmp_path):
    with pytest.raises(ValueError, match="`fmt`"):
        store.export(tmp_path / "x.xlsx", fmt="xlsx")
    with pytest.raises(ValueError, match="`lang`"):
        store.export(tmp_path / "x.sav", fmt="sav", lang="de")


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_cli_export_with_labels_in_english(two_stories, backend, tmp_path, capsys, fmt):
    out = tmp_path / f"e.{fmt}"
    argv = ["export", "--format", fmt, "--lang", "en", "--out", str(out)]
    assert cli.main([*argv, "--db", str(backend.target)]) == 0
    assert "Exported 2 responses" in capsys.readouterr().out
    _, meta = READERS[fmt](str(out), metadataonly=True)
    assert meta.column_names_to_labels["company"] == qn.QUESTIONS["company"].label("en")
