"""The staging's keys and ids: each stored row keeps the key of its own answers (the keys and
the new ids are given to the rows by position, see ``store._ImportStaging._key``), whatever
the order of the file, and the staged rows come in increasing id order."""

import csv
from datetime import date, timedelta

import pyarrow.parquet as pq

from survey import store as storage
from survey.importer import import_file

TODAY = date(2026, 6, 15)
ALL = storage.Filters(include_synthetic=True, include_flagged=True)
HEADER = ["company", "problem", "started_on", "status", "ended_on", "consent_research", "narrative"]
COMPANIES = ["free", "orange", "sfr", "bouygues"]
ROWS = 2_000  # with 300-row batches: several batches, and several of Arrow's blocks
REPEATED = 7  # every seventh row tells the same story as the others of its kind


def experiences(count):
    """Rows each telling their own story (its number in the narrative, the company and the
    day derived from it), except every REPEATED-th one: identical rows, a key each."""
    rows = []
    for i in range(count):
        if i % REPEATED == 0:
            rows.append(["free", "outage", "2023-07-10", "ongoing", "", "oui", "la même"])
            continue
        started = date(2023, 1, 1) + timedelta(days=i % 900)
        ended = started + timedelta(days=1 + i % 13)
        company = COMPANIES[i % len(COMPANIES)]
        status = "resolved"
        rows.append([company, "billing", str(started), status, str(ended), "yes", f"récit {i}"])
    return rows


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def keys_by_story(store):
    """Each stored story's submission keys (a list: the same story may be told more than
    once), checking on the way that every row's answers are those of its story."""
    found: dict[str, list[str]] = {}
    rows = store._read("SELECT narrative, company, started_on, submission_key FROM responses")
    for narrative, company, started_on, key in rows:
        if narrative != "la même":
            i = int(narrative.split()[1])
            assert company == COMPANIES[i % len(COMPANIES)]
            assert started_on == date(2023, 1, 1) + timedelta(days=i % 900)
        found.setdefault(narrative, []).append(key)
    return {story: sorted(keys) for story, keys in found.items()}


def test_each_row_keeps_the_key_of_its_own_answers_in_any_order(tmp_path):
    """The same rows imported in the file's order and in reverse, in batches, into two new
    databases: every story gets the same key in both (a key given to another row's answers
    would differ), identical rows get one key each, and importing the reversed file into the
    first database stores nothing twice."""
    rows = experiences(ROWS)
    forward = write_rows(tmp_path / "forward.csv", rows)
    backward = write_rows(tmp_path / "backward.csv", rows[::-1])
    first = storage.connect(tmp_path / "first.duckdb")
    second = storage.connect(tmp_path / "second.duckdb")
    import_file(forward, first, today=TODAY, batch_rows=300)
    import_file(backward, second, today=TODAY, batch_rows=300)
    keys = keys_by_story(first)
    assert keys == keys_by_story(second)
    assert len(keys["la même"]) == len(range(0, ROWS, REPEATED))
    assert len({k for ks in keys.values() for k in ks}) == ROWS
    again = import_file(backward, first, today=TODAY, batch_rows=300)
    assert again.already_imported == ROWS and again.stored == 0
    assert first.count(ALL) == ROWS


def test_the_staged_rows_come_in_increasing_id_order(tmp_path, monkeypatch):
    """The copy adds the rows to the primary key in order: the staged file's ids increase
    from its first row to its last, and are as many, and as distinct, as the rows."""
    path = write_rows(tmp_path / "rows.csv", experiences(ROWS))
    store = storage.connect(tmp_path / "db.duckdb")
    seen = []
    key = storage._ImportStaging._key

    def keep(self, rows):
        key(self, rows)
        seen.append(pq.read_table(self.keyed_file, columns=["response_id", "row_key"]))

    monkeypatch.setattr(storage._ImportStaging, "_key", keep)
    import_file(path, store, today=TODAY, batch_rows=300)
    (staged,) = seen
    ids = [str(v) for v in staged.column("response_id").to_pylist()]
    assert len(ids) == len(set(ids)) == ROWS
    assert ids == sorted(ids)
    stored = store.fetch_responses(ALL)
    assert set(stored["response_id"].astype(str)) == set(ids)
