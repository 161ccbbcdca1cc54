"""Importing files: every row checked like a form answer, reasons for every rejection,
nothing stored twice, unreadable files refused with one line and no change."""

import csv
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from survey import questionnaire as qn
from survey import store as storage
from survey.importer import ImportRefused, import_file

DATA = Path(__file__).resolve().parent / "data"
BAD = DATA / "bad"
TODAY = date(2026, 6, 15)
ALL = storage.Filters(include_synthetic=True, include_flagged=True)


def copy(name, tmp_path, folder=BAD):
    target = tmp_path / name
    target.write_bytes((folder / name).read_bytes())
    return target


def rejections(report):
    return {(r.line, r.field) for r in report.rejections}


def test_the_seed_story_from_a_french_spreadsheet(store, tmp_path):
    """Headers and answers as French labels, ';' separator, DD/MM/YYYY dates, a timestamp."""
    report = import_file(copy("seed_story_fr.csv", tmp_path, DATA / "good"), store, today=TODAY)
    assert (report.rows, report.stored, report.rejected_rows) == (1, 1, 0)
    row = store.fetch_responses().iloc[0]
    assert row["company"] == "free"
    assert row["service"] == "fixed_internet"
    assert row["department"] == "06"
    assert row["problem"] == "outage"
    assert row["started_on"].date() == date(2023, 7, 10)
    assert row["status"] == "ongoing"
    assert bool(row["blamed_third_party"]) is True
    assert (row["technician_visits"], row["technician_visits_useless"]) == (2, 2)
    assert (row["wasted_trips"], row["wasted_km"]) == (2, 40.0)
    assert (row["callbacks_promised"], row["callbacks_received"]) == (2, 0)
    assert row["source"] == "import"
    assert row["submitted_on"].date() == date(2023, 9, 30)  # the file's timestamp column


def test_reimporting_the_same_file_stores_nothing_twice(store, tmp_path):
    path = copy("semicolon.csv", tmp_path)
    first = import_file(path, store, today=TODAY)
    second = import_file(path, store, today=TODAY)
    assert (first.stored, first.already_imported) == (2, 0)
    assert (second.stored, second.already_imported) == (0, 2)
    assert store.count() == 2


def test_identical_rows_in_one_file_are_two_experiences(store, tmp_path):
    path = tmp_path / "twins.csv"
    path.write_text(
        "company,problem,started_on,status,consent_research\n"
        + "free,outage,2023-07-10,ongoing,yes\n" * 2
    )
    assert import_file(path, store, today=TODAY).stored == 2
    assert import_file(path, store, today=TODAY).stored == 0


@pytest.mark.parametrize(
    ("name", "stored", "rejected"),
    [
        ("semicolon.csv", 2, set()),
        ("impossible_date.csv", 1, {(3, "started_on")}),
        ("negative_counts.csv", 1, {(3, "wasted_trips")}),
        ("formula.csv", 1, set()),
        ("unknown_company.csv", 1, set()),
    ],
)
def test_hostile_rows_get_their_documented_outcome(store, tmp_path, name, stored, rejected):
    path = copy(name, tmp_path)
    report = import_file(path, store, today=TODAY)
    assert report.stored == stored
    assert rejections(report) == rejected
    assert store.count(ALL) == stored
    if rejected:
        with open(f"{path}.rejected.csv", encoding="utf-8") as f:
            lines = list(csv.DictReader(f))
        assert {(int(r["line"]), r["field"]) for r in lines} == rejected
        assert all(r["reason"] for r in lines)
    else:
        assert report.report_path is None


def test_unknown_company_is_kept_as_other_and_counted(store, tmp_path):
    report = import_file(copy("unknown_company.csv", tmp_path), store, today=TODAY)
    assert report.mapped_to_other == 1
    row = store.fetch_responses().iloc[0]
    assert (row["company"], row["company_other"]) == ("other", "Box Bidule Télécom")
    assert "kept as 'other'" in report.summary()


def test_formula_is_stored_as_typed_and_neutralised_in_csv_export(store, tmp_path):
    import_file(copy("formula.csv", tmp_path), store, today=TODAY)
    assert store.fetch_responses()["narrative"][0].startswith("=HYPERLINK(")
    out = tmp_path / "export.csv"
    store.export(out, fmt="csv")
    assert pd.read_csv(out)["narrative"][0].startswith("'=HYPERLINK(")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("latin1.csv", "not UTF-8"),
        ("empty.csv", "empty"),
        ("binary.csv", "binary"),
        ("not_a_table.csv", "no recognised column"),
    ],
)
def test_unreadable_files_are_refused_with_one_line_and_no_change(
    store, tmp_path, capsys, name, message
):
    path = copy(name, tmp_path)
    before = store.data_version()
    with pytest.raises(ImportRefused, match=message):
        import_file(path, store, today=TODAY)
    capsys.readouterr()  # only what the command line prints is judged below
    assert cli.main(["import", str(path), "--db", str(store.path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert message in err
    assert store.data_version() == before


def test_a_ten_megabyte_narrative_rejects_its_row_only(store, tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["company", "problem", "started_on", "status", "consent_research", "narrative"]
        )
        writer.writerow(["free", "outage", "2023-07-10", "ongoing", "yes", "ok"])
        writer.writerow(["sfr", "outage", "2023-07-10", "ongoing", "yes", "x" * 10_000_000])
    report = import_file(path, store, today=TODAY)
    assert report.stored == 1
    assert rejections(report) == {(3, "narrative")}
    assert "10,000,000 characters" in report.rejections[0].reason  # localised numbers


def test_excel_files_are_read(store, tmp_path):
    path = tmp_path / "responses.xlsx"
    pd.DataFrame(
        {
            "Company concerned": ["Amazon", "Orange"],
            "Kind of problem": ["Delivery (late, lost, damaged)", "outage"],
            "Date the problem started": ["2024-03-01", "02/04/2024"],
            "Where does it stand today?": ["Resolved", "Still ongoing"],
            "Date it ended": ["2024-03-04", ""],
            qn.QUESTIONS["consent_research"].label.en: ["Yes", "yes"],
        }
    ).to_excel(path, index=False)
    report = import_file(path, store, today=TODAY)
    assert (report.stored, report.rejected_rows) == (2, 0)
    frame = store.fetch_responses()
    assert sorted(frame["company"]) == ["amazon", "orange"]
    assert date(2024, 4, 2) in set(frame["started_on"].dt.date)


def test_dry_run_reports_and_stores_nothing(store, tmp_path, capsys):
    path = copy("impossible_date.csv", tmp_path)
    assert cli.main(["import", str(path), "--db", str(store.path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 would store" in out and "1 rejected" in out
    assert store.count(ALL) == 0
    assert Path(f"{path}.rejected.csv").exists()


def test_reasons_in_french_on_request(store, tmp_path):
    report = import_file(copy("negative_counts.csv", tmp_path), store, locale="fr", today=TODAY)
    assert report.rejections[0].reason == "Minimum : 0."


def test_a_failure_mid_transaction_leaves_nothing_half_imported(store):
    """The third row cannot be stored (not a number): the two rows before it are not kept."""
    frame = pd.DataFrame(
        {
            "company": ["free", "sfr", "orange"],
            "problem": ["outage"] * 3,
            "started_on": ["2023-07-10"] * 3,
            "status": ["ongoing"] * 3,
            "consent_research": ["true"] * 3,
            "wasted_trips": ["1", "2", "two"],
            "line": [2, 3, 4],
            "submitted_on": [None] * 3,
        }
    )
    with pytest.raises(storage.DataRejected, match="could not be stored"):
        store.insert_imported(frame, today=TODAY)
    assert store.count(ALL) == 0
    store.insert_imported(frame.iloc[:2], today=TODAY)
    assert store.count(ALL) == 2


cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "yes",
            "non",
            "2023-07-10",
            "31/02/2024",
            "-1",
            "1e9",
            "=1+1",
            "NaN",
            "free",
            "Amazon",
            "ongoing",
            "resolved",
            "outage",
            ";",
            '"',
            "\n",
        ]
    ),
)
columns = st.lists(
    st.sampled_from([q.id for q in qn.FIELDS] + ["Entreprise concernée", "junk"]),
    min_size=1,
    max_size=12,
    unique=True,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(header=columns, data=st.data())
def test_random_rows_never_crash_the_importer(tmp_path, header, data):
    rows = data.draw(
        st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), min_size=1, max_size=8)
    )
    path = tmp_path / "random.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    try:
        report = import_file(path, None, dry_run=True, today=TODAY)
    except ImportRefused:
        return
    assert report.stored + report.already_imported + report.rejected_rows == report.rows
    assert report.rejected_rows == len({r.line for r in report.rejections})


def test_a_byte_order_mark_and_leading_zeros_are_read(store, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(
        b"\xef\xbb\xbfcompany,problem,started_on,status,consent_research,wasted_trips,department\n"
        b"free,outage,2023-07-10,ongoing,yes,007,6\n"
    )
    report = import_file(path, store, today=TODAY)
    assert (report.stored, report.rejected_rows) == (1, 0)
    row = store.fetch_responses().iloc[0]
    assert (row["company"], row["wasted_trips"], row["department"]) == ("free", 7, "06")


def test_values_pydantic_would_accept_but_the_database_not_are_rejected_by_row(store, tmp_path):
    """on/off are yes/no; a Unix timestamp, 1_000 or a date with a time are not answers."""
    path = tmp_path / "odd.csv"
    path.write_text(
        "company,problem,started_on,status,consent_research,blamed_third_party,wasted_trips\n"
        "free,outage,2023-07-10,ongoing,yes,off,1\n"
        "free,outage,1690848000,ongoing,on,yes,1_000\n"
        "sfr,outage,2023-07-10T00:00:00,ongoing,yes,,2\n"
    )
    report = import_file(path, store, today=TODAY)
    assert report.stored == 1
    assert rejections(report) == {(3, "started_on"), (3, "wasted_trips"), (4, "started_on")}
    assert bool(store.fetch_responses()["blamed_third_party"][0]) is False


def test_a_french_header_with_more_commas_than_semicolons(store, tmp_path, caplog):
    """French labels hold commas; the file is separated by semicolons. Counting characters of
    the first line picked the comma and refused the file ("no recognised column")."""
    labels = [
        qn.QUESTIONS[qid].label.fr
        for qid in (
            "company",
            "problem",
            "started_on",
            "status",
            "consent_research",
            "wasted_trips",
            "wasted_km",
            "loaner_offered",
        )
    ]
    header = ";".join(
        [*labels, "Remarques (texte libre, facultatif, jamais publié, ni cité, ni vendu)"]
    )
    assert header.count(",") > header.count(";")
    path = tmp_path / "export_fr.csv"
    path.write_text(
        header
        + "\n"
        + "Free;Plus de service (panne);10/07/2023;Toujours en cours;Oui;2;40,5;Oui;\n",
        encoding="utf-8",
    )
    report = import_file(path, store, today=TODAY)
    assert (report.stored, report.rejected_rows) == (1, 0)
    assert report.ignored_columns == [
        "Remarques (texte libre, facultatif, jamais publié, ni cité, ni vendu)"
    ]
    row = store.fetch_responses().iloc[0]
    assert (row["company"], row["wasted_trips"], row["wasted_km"]) == ("free", 2, 40.5)
    assert bool(row["loaner_offered"]) is True


def test_the_separator_is_the_one_that_maps_most_columns():
    from survey.importer import choose_delimiter

    commas = "company,problem,started_on,status\nfree,outage,2023-07-10,ongoing\n"
    assert choose_delimiter(commas) == (",", ["company", "problem", "started_on", "status"])
    tabs = commas.replace(",", "\t")
    assert choose_delimiter(tabs)[0] == "\t"
    # A cut sample: the last, partial row does not count.
    assert choose_delimiter(commas + "sfr,out", complete=False)[0] == ","


def test_a_refused_import_is_logged(store, tmp_path, caplog):
    path = copy("not_a_table.csv", tmp_path)
    with caplog.at_level("WARNING", logger="survey.importer"), pytest.raises(ImportRefused):
        import_file(path, store, today=TODAY)
    (record,) = [r for r in caplog.records if r.name == "survey.importer"]
    assert record.levelname == "WARNING"
    assert "import refused" in record.getMessage()
    assert "no recognised column" in record.getMessage()


def test_demo_rows_exported_then_imported_never_become_real(filled_store, tmp_path):
    """Issue 12, "synthetic data laundering": the export carries `source`; an imported row
    that says `synthetic` is refused with its reason, the real ones are imported."""
    from tests.conftest import story_answers, submit

    submit(filled_store, story_answers(), source="web")
    exported = tmp_path / "export.csv"
    filled_store.export(exported, fmt="csv")
    target = storage.connect(tmp_path / "other.duckdb")
    report = import_file(exported, target, today=TODAY, locale="fr")
    assert report.rows == 2_001
    assert report.stored == 1
    assert target.source_counts() == {"import": 1}
    refused = [r for r in report.rejections if r.field == "source"]
    assert len(refused) == 2_000
    assert refused[0].reason.startswith("Ligne de démonstration (source « synthetic »)")
    assert report.rejected_rows == 2_000


def test_bidi_controls_never_reach_the_database(store, tmp_path):
    """(A NUL byte makes the whole file refused as binary, tested above.)"""
    path = tmp_path / "bidi.csv"
    path.write_text(
        "company,problem,started_on,status,consent_research,narrative\n"
        'orange,outage,2024-01-10,ongoing,yes,"Panne\u202e totale\u2066 \u202a!"\n',
        encoding="utf-8",
    )
    report = import_file(path, store, today=TODAY)
    assert report.stored == 1, report.rejections
    assert store.fetch_responses().iloc[0]["narrative"] == "Panne totale !"


def test_an_import_records_the_day_its_own_survey_opened(store, tmp_path):
    path = copy("semicolon.csv", tmp_path)
    opening = date(2023, 6, 1)
    import_file(path, store, today=TODAY, collected_from=opening)
    stored = store.fetch_responses(ALL)
    assert set(stored["collected_from"].dt.date) == {opening}
    other = tmp_path / "other.duckdb"
    argv = ["import", str(path), "--db", str(other), "--collected-from", "2024-01-31"]
    assert cli.main(argv) == 0
    again = storage.connect(other).fetch_responses(ALL)
    assert set(again["collected_from"].dt.date) == {date(2024, 1, 31)}
