"""The clientroi command line, run in-process and once through the installed console script."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

import cli
from survey import store as storage
from survey.validation import paris_today
from tests.conftest import story_answers, submit


def test_demo_adds_synthetic_rows(db_path, capsys):
    assert cli.main(["demo", "--rows", "1500", "--db", str(db_path)]) == 0
    assert "Loaded 1,500 synthetic responses" in capsys.readouterr().out
    assert storage.connect(db_path).source_counts() == {"synthetic": 1500}


def test_demo_refuses_zero_rows(db_path, capsys):
    assert cli.main(["demo", "--rows", "0", "--db", str(db_path)]) == 2
    assert "--rows" in capsys.readouterr().err


def test_export_csv_and_parquet_without_private_columns(db_path, tmp_path, capsys):
    store = storage.connect(db_path)
    submit(store, {**story_answers(), "contact_email": "canary@example.org"})
    cli.main(["demo", "--rows", "50", "--db", str(db_path)])
    csv_out, parquet_out = tmp_path / "e.csv", tmp_path / "e.parquet"
    assert cli.main(["export", "--format", "csv", "--out", str(csv_out), "--db", str(db_path)]) == 0
    assert "Exported 51 responses" in capsys.readouterr().out
    argv = ["export", "--format", "parquet", "--out", str(parquet_out), "--db", str(db_path)]
    assert cli.main(argv) == 0
    frame = pd.read_csv(csv_out)
    table = pq.read_table(parquet_out)
    for columns in (list(frame.columns), table.column_names):
        assert "contact_email" not in columns
        assert "deletion_hash" not in columns
        assert "submission_key" not in columns
    assert "canary@example.org" not in csv_out.read_text()
    assert b"canary@example.org" not in parquet_out.read_bytes()
    assert sorted(frame["source"].unique()) == ["synthetic", "web"]


def test_export_of_a_missing_database_fails_clearly(tmp_path, capsys):
    missing = tmp_path / "nope.duckdb"
    argv = ["export", "--format", "csv", "--out", str(tmp_path / "x.csv"), "--db", str(missing)]
    assert cli.main(argv) == 1
    assert "no database" in capsys.readouterr().err
    assert not missing.exists()


def test_delete_by_code(db_path, capsys):
    store = storage.connect(db_path)
    code = storage.new_deletion_code()
    submit(store, story_answers(), deletion_code=code)
    assert cli.main(["delete", "not-a-code", "--db", str(db_path)]) == 1
    assert "no response matches" in capsys.readouterr().err
    assert cli.main(["delete", code, "--db", str(db_path)]) == 0
    assert store.count() == 0


def test_sql_in_arguments_is_data(db_path, capsys):
    store = storage.connect(db_path)
    submit(store, story_answers())
    assert cli.main(["delete", "' OR 1=1; DROP TABLE responses; --", "--db", str(db_path)]) == 1
    assert store.count() == 1


def test_codebook_markdown_and_json(tmp_path, capsys):
    assert cli.main(["codebook"]) == 0
    assert "| `company` (required) |" in capsys.readouterr().out
    out = tmp_path / "codebook.json"
    assert cli.main(["codebook", "--format", "json", "--out", str(out)]) == 0
    book = json.loads(out.read_text(encoding="utf-8"))
    assert {entry["id"] for entry in book["fields"]} >= {"company", "wasted_km", "narrative"}


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "clientroi"
    path = str(script) if script.exists() else shutil.which("clientroi")
    assert path, "the clientroi console script is not installed"
    result = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "demo", "export", "delete", "codebook"):
        assert command in result.stdout


def test_a_bad_retention_setting_is_one_clear_line(db_path, monkeypatch, capsys):
    storage.connect(db_path)
    monkeypatch.setenv("CLIENTROI_CONTACT_RETENTION_DAYS", "abc")
    assert cli.main(["purge-contacts", "--db", str(db_path)]) == 1
    assert "must be a number of days" in capsys.readouterr().err
    assert cli.main(["codebook"]) == 0  # other commands are not affected


def test_a_publication_is_logged_to_the_log_file(db_path, tmp_path, caplog):
    storage.connect(db_path)
    cli.main(["demo", "--rows", "200", "--db", str(db_path)])
    store = storage.connect(db_path)
    for _ in range(3):
        submit(store, story_answers(), fill_seconds=300)
    out = tmp_path / "snapshots"
    # as of the day the three were submitted (Paris), whatever the clock says elsewhere
    as_of = paris_today().isoformat()
    argv = ["publish", "--out", str(out), "--min-cell", "1", "--as-of", as_of]
    with caplog.at_level("INFO", logger="clientroi"):
        assert cli.main([*argv, "--db", str(db_path)]) == 0
    (record,) = [r for r in caplog.records if r.name == "clientroi"]
    assert "publication" in record.getMessage()
    assert "3 responses" in record.getMessage()
    log_text = (db_path.parent / "clientroi.log").read_text(encoding="utf-8")
    assert "publication" in log_text and "INFO clientroi" in log_text


def test_errors_are_one_line_with_unchanged_exit_codes(db_path, tmp_path, capsys):
    storage.connect(db_path)
    backup = tmp_path / "backup"
    assert cli.main(["backup", "--out", str(backup), "--db", str(db_path)]) == 0
    capsys.readouterr()
    cases = [
        (["backup", "--out", str(backup)], 1, "not empty"),
        (["restore", str(backup)], 1, "already exists"),
        (["restore", str(tmp_path / "nothing")], 1, "not a Client Roi backup"),
        (["demo", "--rows", "0"], 2, "--rows must be at least 1"),
        (["publish", "--as-of", "yesterday"], 1, ""),
    ]
    for argv, code, message in cases:
        assert cli.main([*argv, "--db", str(db_path)]) == code, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, (argv, err)
        assert message in err


def test_serve_listens_on_localhost_and_stops_with_its_app_on_sigterm(tmp_path):
    """Issue 12: ``clientroi serve`` listens on 127.0.0.1 unless --address says otherwise,
    and a SIGTERM (a service manager's stop) ends Streamlit too: no child left, port free."""
    from tests import conftest as helpers
    from tests.pg import free_port

    db = tmp_path / "served.duckdb"
    port = free_port()
    process = helpers.start_serve("--db", str(db), "--port", str(port))
    try:
        helpers.wait_until_serving(process, port)
        assert helpers.http_get(port, "/")[0] == 200
        assert helpers.listening_addresses(port) == {"127.0.0.1"}
        children = helpers.child_pids(process.pid)
        assert len(children) == 1
        assert db.stat().st_mode & 0o777 == 0o600
    finally:
        status = helpers.stop_serve(process)
    assert status == 0
    deadline = time.monotonic() + 5
    while helpers.pid_alive(children[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not helpers.pid_alive(children[0])
    assert helpers.port_is_free(port)
    assert storage.connect(db).count() == 0  # the file is free for the command line again


def test_publish_reads_earlier_releases_from_previous_and_defaults_to_the_last_full_month(
    db_path, tmp_path, capsys
):
    """``--as-of`` omitted: as of the last day of the last full month. ``--previous PATH``
    (repeatable) names the releases already out wherever they are: against them, figures that
    three new responses would change are held back; without it only ``--out``'s own earlier
    snapshots count (here none), and a folder that is no snapshot is a one-line error."""
    from analysis.snapshot import releases
    from survey.demo import generate_frame
    from survey.validation import paris_today

    month_end = releases.last_full_month_end(paris_today())
    month_before = releases.last_full_month_end(month_end)
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(600, seed=3, today=month_end).assign(source="web"))
    first_out = tmp_path / "first"
    argv = ["publish", "--out", str(first_out), "--db", str(db_path)]
    assert cli.main([*argv, "--as-of", month_before.isoformat()]) == 0
    assert cli.main(argv) == 0
    assert f"as of {month_end.isoformat()} to" in capsys.readouterr().out
    earlier = sorted(p for p in first_out.iterdir() if (p / "manifest.json").exists())
    dates = [json.loads((p / "manifest.json").read_text())["as_of"] for p in earlier]
    assert dates == [month_before.isoformat(), month_end.isoformat()]

    for _ in range(3):  # three more Free responses, after the earlier releases
        submit(store, story_answers(), fill_seconds=300)
    today = ["--as-of", paris_today().isoformat()]

    def release_control(out: Path, *extra: str) -> dict:
        assert cli.main(["publish", "--out", str(out), *today, *extra, "--db", str(db_path)]) == 0
        (folder,) = list(out.iterdir())
        return json.loads((folder / "manifest.json").read_text())["release_control"]

    blind = release_control(tmp_path / "blind")
    assert (blind["earlier_releases"], blind["held"]) == ([], [])
    previous = [arg for folder in earlier for arg in ("--previous", str(folder))]
    controlled = release_control(tmp_path / "controlled", *previous)
    assert controlled["earlier_releases"] == [p.name for p in earlier]
    assert "free" in {held["id"] for held in controlled["held"]}
    capsys.readouterr()

    argv = ["publish", "--out", str(tmp_path / "x"), *today, "--previous", str(tmp_path)]
    assert cli.main([*argv, "--db", str(db_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: `previous`:") and "not a readable snapshot" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
