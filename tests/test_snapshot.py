"""The published snapshot (issue 5): reproducible, private, citable, offline.

One module-wide database is published once (``world``); tests that need another publication
make their own. The data: seeded demo rows marked ``source='web'``, a company (Starlink) with
exactly 9 qualifying responses plus one synthetic, one flagged, one unconsented and one
late response, a company (Lycamobile) with synthetic responses only, and a real response
carrying a narrative and an e-mail that must never be published.
"""

from __future__ import annotations

import csv
import hashlib
import html.parser
import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

import cli
from analysis import disclosure, kpis, metrics, snapshot
from survey import questionnaire as qn
from survey import store as storage
from survey.demo import generate_frame
from survey.validation import paris_today
from tests.conftest import APP, TODAY, story_answers, submit

ROOT = Path(__file__).resolve().parent.parent
PAGE = "analysis/publish_page.py"
CANARY = "NARRATIVE-CANARY-7731"
EMAIL = "canary@example.org"
OTHER = "OTHER-COMPANY-CANARY-5521"
# The canary is a real submission, dated today: the snapshot must reach today to include it.
AS_OF = paris_today()
IDENTITY = ("level", "id", "name", "sector", "origin", "companies", "n")


def web_frame(rows: int, *, seed: int) -> pd.DataFrame:
    """Demo rows that look real (source 'web'), without the ones flagged "too fast"."""
    frame = generate_frame(rows, seed=seed, today=TODAY)
    frame["source"] = "web"
    return frame[~frame["flag_too_fast"]].reset_index(drop=True)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def families(columns) -> list[str]:
    return [c.removesuffix("_suppressed") for c in columns if c.endswith("_suppressed")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("snapshot")
    db = folder / "clientroi.duckdb"
    store = storage.connect(db)
    frame = web_frame(1_200, seed=5)
    frame = frame[~frame["company"].isin(["starlink", "lycamobile"])].reset_index(drop=True)
    starlink = frame.index[:13]
    frame.loc[starlink, "company"] = "starlink"
    # rows 0-8 qualify; then one synthetic, one flagged, one unconsented, one after as_of
    frame.loc[starlink[9], "source"] = "synthetic"
    frame.loc[starlink[10], ["flag_too_fast", "fill_seconds"]] = [True, 20.0]
    frame.loc[starlink[11], "consent_research"] = False
    later = pd.Timestamp(AS_OF + timedelta(days=1))
    frame.loc[starlink[12], "submitted_on"] = later
    frame.loc[starlink[12], "submitted_at"] = later.tz_localize("Europe/Paris")
    store.insert_frame(frame)
    lycamobile = generate_frame(40, seed=9, today=TODAY).assign(company="lycamobile")
    store.insert_frame(lycamobile)  # synthetic: never published
    receipt = submit(
        store, {**story_answers(), "narrative": CANARY, "contact_email": EMAIL}, fill_seconds=300
    )
    # a company outside the reference list: its name is free text and must not be published
    submit(store, {**story_answers(), "company": "other", "company_other": OTHER}, fill_seconds=300)
    out = folder / "published"
    publication = snapshot.publish(store, out=out, as_of=AS_OF)
    return SimpleNamespace(
        db=db,
        store=store,
        out=out,
        publication=publication,
        folder=publication.folder,
        expected_rows=len(frame) - 4 + 2,
        canary_id=receipt.response_id,
    )


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


FIGURE_FAMILIES = {
    "fig-resolution": ("company", "resolution"),
    "fig-refund-success": ("company", "refund_success"),
    "fig-refund-time": ("company", "refund_time"),
    "fig-wasted-trips": ("company", "wasted_trips"),
    "fig-so-resolution": ("group", "resolution"),
    "fig-so-refund": ("group", "refund_success"),
    "fig-so-satisfied": ("group", "csat_satisfied"),
}


def base_sizes_drawn(figure: str, body: str, world) -> bool:
    """Every unit drawn in the figure shows the base n of the figure's metric."""
    level, family = FIGURE_FAMILIES[figure]
    svg = re.search(r"<svg.*?</svg>", body, re.S).group(0)
    texts = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg)).replace("\u202f", " ")
    units = [
        r
        for r in read_csv(world.folder / "kpis.csv")
        if r["level"] == level
        and r[f"{family}_suppressed"] == "false"
        and r["sector"] != "unlisted"
    ]
    assert units
    for unit in units:
        n = int(unit[f"{family}_n"])
        if not re.search(rf"(n ?= ?|^| ){n:,}".replace(",", "[ ,\u202f]?") + r"\b", texts):
            return False
    return True


def row(rows, level, unit):
    return next(r for r in rows if r["level"] == level and r["id"] == unit)


# --- reproducible ------------------------------------------------------------------------------


def test_publishing_twice_gives_byte_identical_folders(world, tmp_path):
    assert world.publication.created
    assert sorted(p.name for p in world.folder.iterdir()) == sorted(snapshot.FILES)
    again = snapshot.publish(world.store, out=tmp_path, as_of=AS_OF)
    assert again.folder.name == world.folder.name
    for name in snapshot.FILES:
        assert (again.folder / name).read_bytes() == (world.folder / name).read_bytes(), name
    # the same snapshot into the same place is a no-op that says so
    same = snapshot.publish(world.store, out=world.out, as_of=AS_OF)
    assert (same.folder, same.created) == (world.folder, False)
    # as_of is written as given; no clock time anywhere
    for name in snapshot.FILES:
        text = (world.folder / name).read_bytes().decode("utf-8", errors="replace")
        assert not re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", text), name


def test_a_fresh_process_reproduces_the_same_bytes(world, tmp_path):
    """Another interpreter, another hash seed: the command line writes the same files."""
    out = tmp_path / "elsewhere"
    code = (
        "import sys, cli; sys.exit(cli.main(['publish', '--db', sys.argv[1], '--out', "
        "sys.argv[2], '--as-of', sys.argv[3]]))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    done = subprocess.run(
        [sys.executable, "-c", code, str(world.db), str(out), AS_OF.isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"to {out / world.folder.name}" in done.stdout
    for name in snapshot.FILES:
        assert (out / world.folder.name / name).read_bytes() == (
            world.folder / name
        ).read_bytes(), name


# --- private -----------------------------------------------------------------------------------


def test_the_canary_narrative_and_email_appear_in_no_published_byte(world):
    assert world.store.fetch_response(world.canary_id)["narrative"] == CANARY  # it is stored
    assert manifest_of(world.folder)["input"]["rows"] == world.expected_rows  # and it is used
    for path in world.folder.iterdir():
        data = path.read_bytes()
        secrets = (CANARY, EMAIL, OTHER, "CANARY", "example.org")
        for secret in (s.encode() for s in secrets):
            assert secret not in data, (path.name, secret)
    # Parquet is compressed: read it back and look at every value too
    table = pq.read_table(world.folder / "kpis.parquet")
    values = " ".join(str(v) for column in table.columns for v in column.to_pylist())
    assert CANARY not in values and EMAIL not in values and OTHER not in values


def test_no_response_identifier_is_published(world):
    ids = set(world.store.fetch_responses(columns=["response_id"])["response_id"])
    uuid = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    for path in world.folder.iterdir():
        found = {m.decode() for m in uuid.findall(path.read_bytes())}
        assert not found & ids, path.name


def test_a_company_outside_the_list_is_published_under_a_neutral_label(world):
    rows = read_csv(world.folder / "kpis.csv")
    other = row(rows, "company", "other")
    assert (other["name"], other["sector"], other["origin"], other["n"]) == (
        "",
        "unlisted",
        "unlisted",
        "1",
    )
    assert row(rows, "group", "unlisted/unlisted")["resolution_suppressed"] == "true"
    french = (world.folder / "index.html").read_text(encoding="utf-8")
    assert "Autres entreprises (hors liste)</th><td>1</td>" in french
    assert "Entreprises hors liste</th><td>1</td>" in french


def test_with_every_value_suppressed_the_report_still_renders(world):
    responses = snapshot.fetch_qualifying(world.store, as_of=AS_OF)
    everything_hidden = snapshot.build_snapshot(responses, as_of=AS_OF, min_cell=100_000)
    files = snapshot.render(everything_hidden)
    french = files["index.html"].decode()
    assert "<svg" not in french and french.count("Moins de 100000 réponses") == 16 + 5
    kpis_rows = list(csv.DictReader(io.StringIO(files["kpis.csv"].decode())))
    assert all(r["resolution_median_days"] == snapshot.SUPPRESSED for r in kpis_rows)


def test_only_consented_unflagged_real_responses_up_to_as_of_enter(world):
    manifest = manifest_of(world.folder)
    assert manifest["input"]["rows"] == world.expected_rows
    assert manifest["n_per_company"]["starlink"] == 9  # not the synthetic, flagged, ... ones
    assert "lycamobile" not in manifest["n_per_company"]  # synthetic only
    rows = read_csv(world.folder / "kpis.csv")
    assert "lycamobile" not in {r["id"] for r in rows}
    assert sum(int(r["n"]) for r in rows if r["level"] == "company") == world.expected_rows
    assert "lycamobile" not in {
        r["company"] for r in read_csv(world.folder / "survival_curves.csv")
    }
    for report in ("index.html", "index.en.html"):
        assert "Lycamobile" not in (world.folder / report).read_text(encoding="utf-8")


def test_a_company_with_nine_responses_shows_only_its_n(world):
    rows = read_csv(world.folder / "kpis.csv")
    starlink = row(rows, "company", "starlink")
    assert (starlink["name"], starlink["n"]) == ("Starlink", "9")
    for column, value in starlink.items():
        if column in IDENTITY:
            continue
        expected = "true" if column.endswith("_suppressed") else snapshot.SUPPRESSED
        assert value == expected, column
    # its group (foreign internet providers) holds only Starlink: n only as well
    group = row(rows, "group", "isp/foreign")
    assert group["n"] == "9"
    assert all(group[f"{f}_suppressed"] == "true" for f in families(group))
    # Parquet: null, with the companion flag
    table = pq.read_table(world.folder / "kpis.parquet").to_pandas()
    record = table[(table["level"] == "company") & (table["id"] == "starlink")].iloc[0]
    assert record["n"] == 9
    for column in table.columns:
        if column in IDENTITY:
            continue
        if column.endswith("_suppressed"):
            assert bool(record[column]) is True, column
        else:
            assert pd.isna(record[column]), column
    # curves: one marker row per metric, nothing else
    curves = [
        r for r in read_csv(world.folder / "survival_curves.csv") if r["company"] == "starlink"
    ]
    assert [r["metric"] for r in curves] == ["resolution", "refund_time"]
    for curve in curves:
        assert curve["suppressed"] == "true"
        assert {curve[c] for c in ("time", "n_at_risk", "survival", "low", "high")} == {
            snapshot.SUPPRESSED
        }
    # reports: the row says so, and no figure of Starlink is drawn
    french = (world.folder / "index.html").read_text(encoding="utf-8")
    english = (world.folder / "index.en.html").read_text(encoding="utf-8")
    assert re.search(r"Starlink</th><td>9</td><td[^>]*>Moins de 10 réponses", french)
    assert re.search(r"Starlink</th><td>9</td><td[^>]*>Fewer than 10 responses", english)
    for report in (french, english):
        for svg in re.findall(r"<svg.*?</svg>", report, flags=re.S):
            assert "Starlink" not in svg


def test_every_value_under_min_cell_is_suppressed_in_every_file(world):
    rows = read_csv(world.folder / "kpis.csv")
    table = pq.read_table(world.folder / "kpis.parquet").to_pandas()
    shown_company_cells_suppressed = 0
    for index, record in enumerate(rows):
        for family in families(record):
            columns = [c for c in record if metrics.family_of(c) == family]
            columns.remove(f"{family}_suppressed")
            if record[f"{family}_suppressed"] == "true":
                assert {record[c] for c in columns} == {snapshot.SUPPRESSED}, (record["id"], family)
                assert table.loc[index, columns].isna().all()
                assert bool(table.loc[index, f"{family}_suppressed"])
                if record["level"] == "company" and int(record["n"]) >= 10:
                    shown_company_cells_suppressed += 1
            else:
                assert int(record[f"{family}_n"]) >= 10, (record["id"], family)
                assert snapshot.SUPPRESSED not in {record[c] for c in columns}
    assert shown_company_cells_suppressed > 0  # the fixture exercises single-cell suppression
    for curve in read_csv(world.folder / "survival_curves.csv"):
        if curve["suppressed"] == "false":
            assert int(curve["n_at_risk"]) >= 10


def test_curves_stop_before_the_first_day_with_fewer_than_min_cell_at_risk(world):
    published = pd.read_csv(world.folder / "survival_curves.csv", na_values=["suppressed"])
    responses = snapshot.fetch_qualifying(world.store, as_of=AS_OF)
    launch = world.store.launch_date()  # incidents begun before the opening enter late
    full = kpis.survival_curves(responses, as_of=AS_OF, metric="resolution", launch=launch)
    for company, mine in published[published["metric"] == "resolution"].groupby("company"):
        if mine["suppressed"].all():
            continue
        theirs = full[full["company"] == company].reset_index(drop=True)
        kept = len(mine)
        assert mine["time"].tolist() == theirs["time"].iloc[:kept].astype(int).tolist()
        assert theirs["n_at_risk"].iloc[:kept].min() >= 10
        if kept < len(theirs):
            assert theirs["n_at_risk"].iloc[kept] < 10
        np.testing.assert_allclose(mine["survival"], theirs["survival"].iloc[:kept], rtol=1e-5)


def test_a_group_cell_is_suppressed_when_it_would_reveal_a_company_by_difference():
    frame = web_frame(2_000, seed=11)
    frame = frame[frame["company"] != "lycamobile"].reset_index(drop=True)
    isp_foreign = frame.index[frame["company"] == "starlink"]
    assert len(isp_foreign) >= 10
    alone = snapshot.build_snapshot(frame, as_of=TODAY, min_cell=10)
    group = alone.groups.set_index("id").loc["isp/foreign"]
    assert not group["resolution_suppressed"]  # only Starlink in it: nothing hidden to reveal
    # five Lycamobile responses in the same group: Starlink's figures and the group's would
    # give Lycamobile's by difference, so the group cell goes
    donors = frame.index[frame["company"] == "orange"][:5]
    frame.loc[donors, ["company", "company_name", "origin"]] = [
        "lycamobile",
        "Lycamobile",
        "foreign",
    ]
    with_small = snapshot.build_snapshot(frame, as_of=TODAY, min_cell=10)
    companies = with_small.companies.set_index("id")
    assert companies.loc["lycamobile", "n"] == 5
    assert companies.loc["lycamobile", "resolution_suppressed"]
    assert not companies.loc["starlink", "resolution_suppressed"]
    group = with_small.groups.set_index("id").loc["isp/foreign"]
    assert group["n"] == companies.loc["starlink", "n"] + 5  # the pool keeps every response
    assert group["resolution_suppressed"] and pd.isna(group["resolution_median_days"])


# --- offline, citable ------------------------------------------------------------------------


class _Resources(html.parser.HTMLParser):
    """Every URL-bearing attribute, every element name."""

    ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "data", "poster", "action", "background"}

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name == "id":
                self.ids.add(value)
            if name in self.ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))


def test_the_reports_load_nothing_from_the_network(world):
    for name in ("index.html", "index.en.html"):
        text = (world.folder / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text
        parser = _Resources()
        parser.feed(text)
        assert not parser.tags & {"script", "iframe", "img", "link", "object", "embed", "video"}
        assert "@import" not in text and not re.search(r"url\((?!#)", text)
        for tag, attribute, url in parser.urls:
            assert not re.match(r"^\s*([a-z][a-z0-9+.-]*:|//)", url, re.I), (tag, attribute, url)
            if url.startswith("#"):
                assert url[1:] in parser.ids, url  # an anchor of the page
            else:
                assert tag == "a" and attribute == "href", (tag, url)
                assert (world.folder / url).is_file(), url  # a sibling file of the snapshot


def test_the_reports_hold_every_section_with_base_sizes(world):
    french = (world.folder / "index.html").read_text(encoding="utf-8")
    english = (world.folder / "index.en.html").read_text(encoding="utf-8")
    assert french.startswith("<!DOCTYPE html>") and '<html lang="fr">' in french
    assert '<html lang="en">' in english
    for report, words in (
        (french, ("pas un échantillon représentatif", "Annexe méthodologique", "Benjamini")),
        (english, ("not a representative sample", "Methodology annex", "Benjamini")),
    ):
        for word in words:
            assert word in report
        figures = re.findall(r'<figure class="chart" id="([^"]+)">(.*?)</figure>', report, re.S)
        assert [f for f, _ in figures] == [
            "fig-design",
            "fig-resolution",
            "fig-refund-success",
            "fig-refund-time",
            "fig-wasted-trips",
            "fig-so-resolution",
            "fig-so-refund",
            "fig-so-satisfied",
        ]
        for figure, body in figures:
            assert "<svg" in body, figure
            if figure == "fig-design":  # its base: the companies on each side of each effect
                effects = [
                    r
                    for r in read_csv(world.folder / "design_effects.csv")
                    if r["metric"] == "resolution_unresolved90_days"
                ]
                assert len(effects) == 5
                drawn = [e for e in effects if e["estimate"] not in ("", "NaN")]
                assert drawn  # an effect that cannot be estimated (no company) is not drawn
                for effect in drawn:
                    assert f"{effect['companies_a']} / {effect['companies_b']}" in body
                continue
            assert base_sizes_drawn(figure, body, world), figure  # a base on every figure
        assert world.folder.name in report and world.publication.snapshot.input_sha256 in report
    # the headline table: every published company with its n and its metric bases
    for company in ("Orange", "Free", "Amazon"):
        assert re.search(rf"{company}</th><td>\d+</td><td>.*?n = \d", french)


# --- descriptors ------------------------------------------------------------------------------


def _valid(value: str, field: dict) -> bool:
    kind = field["type"]
    if kind == "integer":
        return re.fullmatch(r"-?\d+", value) is not None
    if kind == "number":
        return re.fullmatch(r"-?(\d+(\.\d+)?|\.\d+)|NaN|-?INF", value) is not None
    if kind == "boolean":
        return value in ("true", "false")
    if kind == "date":
        return re.fullmatch(r"\d{4}-\d\d-\d\d", value) is not None
    return kind == "string"


def test_datapackage_validates_against_its_own_fields(world):
    package = json.loads((world.folder / "datapackage.json").read_text(encoding="utf-8"))
    assert package["profile"] == "data-package"
    assert re.fullmatch(r"[a-z0-9._-]+", package["name"])
    listed = {resource["path"] for resource in package["resources"]}
    assert listed == set(snapshot.FILES) - {"datapackage.json"}  # every file listed
    for resource in package["resources"]:
        data = (world.folder / resource["path"]).read_bytes()
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        if resource.get("profile") != "tabular-data-resource":
            continue
        schema = resource["schema"]
        fields = schema["fields"]
        for field in fields:
            assert field["type"] in ("string", "number", "integer", "boolean", "date"), field
            assert field["description"]
        names = [field["name"] for field in fields]
        if resource["format"] == "parquet":
            parquet = pq.read_schema(io.BytesIO(data))
            assert parquet.names == names  # every column typed, same order
            arrow = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
            for field in fields:
                assert parquet.field(field["name"]).type == arrow.get(field["type"], pa.string())
            continue
        assert resource["dialect"]["lineTerminator"] == "\n" and b"\r" not in data
        reader = csv.reader(io.StringIO(data.decode(resource["encoding"])))
        assert next(reader) == names  # every column typed, same order
        missing = set(schema["missingValues"])
        records = list(reader)
        assert records
        for record in records:
            assert len(record) == len(fields)
            for value, field in zip(record, fields, strict=True):
                if value in missing:
                    assert not field.get("constraints", {}).get("required"), field["name"]
                    continue
                assert _valid(value, field), (resource["name"], field["name"], value)
                if "enum" in field.get("constraints", {}):
                    assert value in field["constraints"]["enum"], (field["name"], value)
        if "primaryKey" in schema:
            keys = [tuple(r[names.index(k)] for k in schema["primaryKey"]) for r in records]
            assert len(set(keys)) == len(keys)


def test_the_manifest_says_how_to_reproduce_the_snapshot(world):
    manifest = manifest_of(world.folder)
    snap = world.publication.snapshot
    assert (
        manifest["snapshot"] == world.folder.name == f"{AS_OF.isoformat()}-{snap.input_sha256[:8]}"
    )
    assert manifest["as_of"] == AS_OF.isoformat()
    assert manifest["software"]["clientroi"] == importlib.metadata.version("clientroi")
    assert manifest["software"]["vl-convert-python"] == importlib.metadata.version(
        "vl-convert-python"
    )
    assert manifest["questionnaire_version"] == qn.QUESTIONNAIRE_VERSION
    assert manifest["period"] == {
        "submitted_from": snap.submitted_from.isoformat(),
        "submitted_to": AS_OF.isoformat(),  # the canary, today
    }
    assert manifest["thresholds"]["min_cell"] == 10
    assert manifest["thresholds"]["small_base"] == kpis.SMALL_BASE
    assert manifest["random_seed"] == snapshot.SEED
    assert len(manifest["methods"]) >= 6 and any("Kaplan-Meier" in m for m in manifest["methods"])
    kpis_rows = read_csv(world.folder / "kpis.csv")
    assert manifest["n_per_company"] == {
        r["id"]: int(r["n"]) for r in kpis_rows if r["level"] == "company"
    }
    for name, stamp in manifest["files"].items():
        data = (world.folder / name).read_bytes()
        assert stamp == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert manifest["input"]["sha256"] == snap.input_sha256


def test_a_reader_recomputes_the_input_hash_from_the_recipe(world):
    """Follow manifest.json's recipe with pyarrow alone, from the store's rows."""
    recipe = manifest_of(world.folder)["input"]["canonical_form"]
    rows = world.store.fetch_responses(storage.Filters(submitted_to=AS_OF), known_on=AS_OF)
    types = {
        "string": pa.string(),
        "date": pa.date32(),
        "boolean": pa.bool_(),
        "integer": pa.int64(),
        "number": pa.float64(),
    }
    arrays = []
    for column in recipe["columns"]:
        values = rows[column["name"]]
        if column["type"] == "date":
            array = pa.array(values, from_pandas=True).cast(pa.date32())
        else:
            array = pa.array(values, from_pandas=True).cast(types[column["type"]])
        arrays.append(array)
    table = pa.Table.from_arrays(arrays, names=[c["name"] for c in recipe["columns"]])
    table = table.sort_by("response_id")
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(
        include_header=True, delimiter=",", eol="\n", null_string="", quoting_style="needed"
    )
    pa_csv.write_csv(table, buffer, options)
    assert (
        hashlib.sha256(buffer.getvalue()).hexdigest()
        == manifest_of(world.folder)["input"]["sha256"]
    )


def test_the_hash_covers_every_column_the_statistics_read():
    hashed = {name for name, _ in snapshot.INPUT_COLUMNS}
    assert set(kpis.READ_COLUMNS) <= hashed
    assert not hashed & {"narrative", "company_other", "contact_email", "department"}


def test_every_column_of_the_statistics_is_tied_to_a_base():
    """A new kpis column must be published under a family's suppression, never dropped."""
    frame = web_frame(600, seed=3)
    tables = kpis.summary_tables(frame, as_of=TODAY, rng=1)
    for table in (tables.companies, tables.groups):
        layout = dict(disclosure.metric_layout(table))
        tied = {c for columns in layout.values() for c in columns}
        assert set(table.columns) - tied <= {
            "company",
            "company_name",
            "sector",
            "origin",
            "n",
            "group",
            "companies",
        }


# --- refusals ---------------------------------------------------------------------------------


def test_refuses_a_missing_database(tmp_path, capsys):
    missing = tmp_path / "nope.duckdb"
    out = tmp_path / "snapshots"
    assert cli.main(["publish", "--db", str(missing), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no database at") and err.count("\n") == 1
    assert not missing.exists() and not out.exists()


def test_refuses_when_nothing_qualifies(db_path, tmp_path, capsys):
    store = storage.connect(db_path)
    store.insert_frame(generate_frame(50, seed=1, today=TODAY))  # synthetic only
    out = tmp_path / "snapshots"
    argv = ["publish", "--db", str(db_path), "--out", str(out), "--as-of", TODAY.isoformat()]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no response qualifies as of 2026-06-15") and err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())


def test_refuses_a_different_snapshot_of_the_same_name(world, capsys):
    before = {name: (world.folder / name).read_bytes() for name in snapshot.FILES}
    argv = ["publish", "--db", str(world.db), "--out", str(world.out), "--as-of", AS_OF.isoformat()]
    assert cli.main([*argv, "--min-cell", "5"]) == 1  # same data, same name, other content
    err = capsys.readouterr().err
    assert "already holds a different snapshot of the same name" in err and err.count("\n") == 1
    assert {name: (world.folder / name).read_bytes() for name in snapshot.FILES} == before
    assert sorted(p.name for p in world.out.iterdir()) == [world.folder.name]  # nothing left over


def test_refuses_a_date_in_the_future_or_not_a_date(world, capsys):
    argv = ["publish", "--db", str(world.db), "--out", str(world.out)]
    assert cli.main([*argv, "--as-of", (AS_OF + timedelta(days=2)).isoformat()]) == 1
    assert "is in the future" in capsys.readouterr().err
    assert cli.main([*argv, "--as-of", "15/06/2026"]) == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert cli.main([*argv, "--min-cell", "0"]) == 1
    assert "`min_cell` must be" in capsys.readouterr().err


def test_a_failure_while_writing_leaves_no_folder_behind(world, tmp_path, monkeypatch):
    out = tmp_path / "snapshots"
    written = []

    def fail_on_the_third(path, data):
        if len(written) == 2:
            raise OSError("disk full")
        written.append(path.name)
        path.write_bytes(data)

    monkeypatch.setattr(snapshot.write, "_write_file", fail_on_the_third)
    with pytest.raises(OSError, match="disk full"):
        snapshot.publish(world.store, out=out, as_of=AS_OF)
    assert len(written) == 2
    assert list(out.iterdir()) == []  # neither the snapshot nor its temporary folder


def test_build_refuses_rows_that_may_not_be_published():
    frame = web_frame(200, seed=2)
    with pytest.raises(ValueError, match="synthetic rows"):
        snapshot.build_snapshot(frame.assign(source="synthetic"), as_of=TODAY)
    with pytest.raises(ValueError, match="without research consent"):
        snapshot.build_snapshot(frame.assign(consent_research=False), as_of=TODAY)
    with pytest.raises(ValueError, match="after `as_of`"):
        snapshot.build_snapshot(frame, as_of=date(2022, 1, 1))
    with pytest.raises(ValueError, match="`min_cell` must be"):
        snapshot.build_snapshot(frame, as_of=TODAY, min_cell=0)
    with pytest.raises(snapshot.SnapshotRefused, match="no response qualifies"):
        snapshot.build_snapshot(frame.iloc[:0], as_of=TODAY)


def test_a_burst_flagged_response_is_never_published(db_path):
    """Issue 12: a response flagged as part of a burst is refused by the publishable check
    like the other flags (a frame without the flag is refused too), and the store's
    qualifying read leaves it out."""
    frame = web_frame(200, seed=2).assign(flag_burst=False)
    with pytest.raises(ValueError, match="flagged rows"):
        snapshot.build_snapshot(frame.assign(flag_burst=frame.index == 0), as_of=TODAY)
    with pytest.raises(ValueError, match="lacks the columns: flag_burst"):
        snapshot.build_snapshot(frame.drop(columns="flag_burst"), as_of=TODAY)
    assert snapshot.build_snapshot(frame, as_of=TODAY).rows == len(frame)
    assert "flag_burst" in snapshot.FETCHED_COLUMNS
    store = storage.connect(db_path)
    kept = submit(store, story_answers(), fill_seconds=300)
    submit(store, story_answers(), fill_seconds=300, suspected_burst=True)
    qualifying = snapshot.fetch_qualifying(store, as_of=paris_today())
    assert qualifying["response_id"].tolist() == [kept.response_id]
    assert qualifying["flag_burst"].tolist() == [False]


# --- the command line --------------------------------------------------------------------------


def test_the_command_line_publishes_next_to_the_database_by_default(world, tmp_path, capsys):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(world.db.read_bytes())
    argv = ["publish", "--db", str(db), "--as-of", AS_OF.isoformat()]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "snapshots" / world.folder.name
    assert out == (
        f"Published {world.expected_rows:,} responses as of {AS_OF.isoformat()} to {folder} "
        f"(input SHA-256 {world.publication.snapshot.input_sha256})\n"
    )
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == f"Already published, identical: {folder}\n"
    assert snapshot.list_snapshots(tmp_path / "snapshots")[0]["rows"] == world.expected_rows


# --- the publish page -------------------------------------------------------------------------


def open_page(store, *, researcher: bool, locale: str = "fr") -> AppTest:
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.session_state["store"] = store
    at.session_state["locale"] = locale
    at.session_state["researcher_signed_in"] = researcher  # as app.py sets it
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_publish_page_is_reserved_to_signed_in_researchers(world):
    for locale, title, words in (
        ("fr", "Publier", "réservée aux chercheurs connectés"),
        ("en", "Publish", "reserved for signed-in researchers"),
    ):
        at = open_page(world.store, researcher=False, locale=locale)
        assert at.title[0].value == title
        assert words in at.info[0].value
        assert not [b for b in at.button if b.key == "publish_button"]
        assert not at.dataframe


def test_the_publish_page_previews_then_publishes(world):
    at = open_page(world.store, researcher=True)
    assert at.date_input(key="publish_as_of").value == AS_OF
    assert at.number_input(key="publish_min_cell").value == 10
    preview = at.dataframe[0].value.set_index("Entreprise ou groupe")
    assert preview.loc["Starlink", "n"] == 9
    assert preview.loc["Starlink", "Chiffres publiés"] == "effectif seul"
    assert preview.loc["Orange", "Chiffres publiés"] == "oui"
    assert world.folder.name in [m.value for m in at.metric]
    at.button(key="publish_button").click().run()
    assert not at.exception, at.exception
    folder = world.db.parent / "snapshots" / world.folder.name
    assert "Publié dans" in at.success[0].value and str(folder) in at.success[0].value
    for name in snapshot.FILES:
        assert (folder / name).read_bytes() == (world.folder / name).read_bytes()
    listed = at.dataframe[1].value
    assert listed["snapshot"].tolist() == [world.folder.name]
    # the threshold is an input: a lower one previews more figures
    at.number_input(key="publish_min_cell").set_value(5).run()
    assert (
        at.dataframe[0].value.set_index("Entreprise ou groupe").loc["Starlink", "Chiffres publiés"]
        == "oui"
    )


def test_the_publish_page_through_the_app(world, monkeypatch):
    monkeypatch.setenv("CLIENTROI_DB", str(world.db))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Publier"
    assert "réservée aux chercheurs connectés" in at.info[0].value
    assert not [b for b in at.button if b.key == "publish_button"]
