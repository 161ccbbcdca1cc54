"""The published ``datapackage.json`` is a valid Frictionless Data package, checked by the
``frictionless`` library itself (v5) for every resource: descriptor, bytes, hash, and every
cell of the tables against its field's type and constraints (issue 9).

The one resource frictionless cannot check straight from the file is ``kpis.parquet``:
frictionless 5 reads Parquet through ``pyarrow.Table.to_pandas()`` with pandas' default types,
which turn an integer column holding nulls (a suppressed base) into floats, and then reports
each null as the cell "nan" not being an integer; and, pyarrow opening the file itself, it
counts no bytes ("byte-count" error, actual None; bytes and hash are checked here instead). So the Parquet table is also validated from
the same file read with nullable types, against the same schema, and the direct validation
must fail on nothing but those null integer cells.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from frictionless import Resource, Schema, validate

from analysis import snapshot
from tests.conftest import TODAY
from tests.test_report_text import reference_responses


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    snap = snapshot.build_snapshot(reference_responses(), as_of=TODAY)
    return snapshot.write_snapshot(snap, tmp_path_factory.mktemp("published")).folder


@pytest.fixture(scope="module")
def report(folder):
    return validate(str(folder / "datapackage.json"))


def descriptor(folder) -> dict:
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


def parquet_frame(path) -> pd.DataFrame:
    """The Parquet table with nullable integers and booleans (nulls stay nulls)."""
    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return pq.read_table(path).to_pandas(types_mapper=nullable.get)


def test_every_resource_is_validated(folder, report):
    listed = [resource["name"] for resource in descriptor(folder)["resources"]]
    assert [task.name for task in report.tasks] == listed
    assert set(listed) == {
        "kpis",
        "kpis-parquet",
        "survival-curves",
        "design-effects",
        "design-effects-parquet",
        "design-inputs",
        "design-inputs-parquet",
        "design-groups",
        "sensitivity",
        "manifest",
        "report-fr",
        "report-en",
    }
    assert not report.errors  # the package descriptor itself


@pytest.mark.parametrize(
    "name",
    [
        "kpis",
        "survival-curves",
        "design-effects",
        "design-inputs",
        "design-groups",
        "sensitivity",
        "manifest",
        "report-fr",
        "report-en",
    ],
)
def test_frictionless_validates_the_resource(report, name):
    task = next(task for task in report.tasks if task.name == name)
    assert task.valid, [error.message for error in task.errors[:5]]


def test_the_csv_tables_are_read_cell_by_cell(report):
    """Not a check of the descriptor alone: every row of both CSV tables went through."""
    rows = {task.name: task.stats.get("rows") for task in report.tasks}
    assert rows["kpis"] > 20 and rows["survival-curves"] > 100


def test_frictionless_hashes_the_bytes_the_descriptor_states(folder, report):
    hashed = set()
    for resource, task in zip(descriptor(folder)["resources"], report.tasks, strict=True):
        if "sha256" not in task.stats:  # Parquet: read by pyarrow, not as a byte stream
            continue
        hashed.add(resource["name"])
        assert resource["hash"] == f"sha256:{task.stats['sha256']}", resource["name"]
        assert resource["bytes"] == task.stats["bytes"], resource["name"]
    assert hashed >= {"kpis", "survival-curves", "manifest", "report-fr", "report-en"}
    parquet = next(r for r in descriptor(folder)["resources"] if r["name"] == "kpis-parquet")
    data = (folder / "kpis.parquet").read_bytes()
    assert parquet["bytes"] == len(data)
    assert parquet["hash"] == f"sha256:{hashlib.sha256(data).hexdigest()}"


def test_the_parquet_table_fails_directly_only_on_null_integers(folder, report):
    task = next(task for task in report.tasks if task.name == "kpis-parquet")
    resource = next(r for r in descriptor(folder)["resources"] if r["name"] == "kpis-parquet")
    types = {field["name"]: field["type"] for field in resource["schema"]["fields"]}
    frame = parquet_frame(folder / "kpis.parquet")
    for error in task.errors:
        if error.type == "byte-count":  # pyarrow opens the file: frictionless counts no bytes
            assert 'actual is "None"' in error.note, error.message
            continue
        assert error.type == "type-error", error.message
        assert types[error.field_name] == "integer" and error.cell == "nan", error.message
        # frictionless counts the header as row 1
        assert pd.isna(frame.loc[error.row_number - 2, error.field_name]), error.message


def test_the_parquet_table_is_valid_read_with_nullable_types(folder):
    resource = next(r for r in descriptor(folder)["resources"] if r["name"] == "kpis-parquet")
    frame = parquet_frame(folder / "kpis.parquet")
    assert list(frame.columns) == [field["name"] for field in resource["schema"]["fields"]]
    schema = Schema.from_descriptor(resource["schema"])
    checked = Resource(data=frame, format="pandas", schema=schema).validate()
    assert checked.valid, [error.message for error in checked.tasks[0].errors[:5]]
    assert checked.tasks[0].stats["rows"] == len(frame) > 20
    # and the check can fail: a level outside its enum, a missing required id
    broken = frame.copy()
    broken.loc[0, "level"] = "region"
    broken.loc[1, "id"] = None
    failed = Resource(data=broken, format="pandas", schema=schema).validate()
    assert {error.type for error in failed.tasks[0].errors} == {"constraint-error"}


def test_column_descriptions_name_the_metric_and_the_threshold(folder):
    resource = next(r for r in descriptor(folder)["resources"] if r["name"] == "kpis")
    fields = {field["name"]: field for field in resource["schema"]["fields"]}
    assert all(field["description"] for field in fields.values())
    assert "fewer than 10 responses" in fields["resolution_suppressed"]["description"]
    assert fields["resolution_n"]["description"].endswith(
        "responses entering the metric (its base)"
    )
