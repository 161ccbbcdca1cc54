"""The published comparison snapshot: frozen aggregates, private by construction, citable, offline.

``clientroi publish`` (and the researchers' *Publier* page) turn the responses that may be
published into a folder ``<out>/<as_of>-<first 8 hex of the input hash>/`` holding a
self-contained French report (``index.html``, English ``index.en.html``), the aggregates
(``kpis.csv``, ``kpis.parquet``, ``survival_curves.csv``), a Frictionless Data descriptor
(``datapackage.json``) and a ``manifest.json`` that says how to reproduce every byte.

A module per job, each testable alone:

- :mod:`~analysis.snapshot.build`: the responses that may be published
  (:func:`fetch_qualifying`), their input hash, and :func:`build_snapshot`, pure: responses
  in, a :class:`Snapshot` of published (suppressed) tables out;
- :mod:`~analysis.snapshot.files`: the tables as CSV, Parquet and JSON bytes;
- :mod:`~analysis.snapshot.describe`: ``manifest.json`` and ``datapackage.json``;
- :mod:`~analysis.snapshot.report`: the two reports, from the Jinja2 templates of
  ``templates/``;
- :mod:`~analysis.snapshot.write`: :func:`render` (the bytes of every file),
  :func:`write_snapshot` (a temporary folder beside the target, then renamed, so a folder of
  that name is either complete or absent) and :func:`publish`, which chains them and refuses
  with :class:`SnapshotRefused` (one-line reason).
"""

from analysis.snapshot.build import (
    DEFAULT_MIN_CELL,
    FETCHED_COLUMNS,
    INPUT_COLUMNS,
    SEED,
    SUPPRESSED,
    Snapshot,
    SnapshotRefused,
    build_snapshot,
    fetch_qualifying,
    input_sha256,
    open_database,
    parse_as_of,
    qualifying_filters,
)
from analysis.snapshot.describe import software_versions
from analysis.snapshot.write import (
    FILES,
    Publication,
    list_snapshots,
    prepare_snapshot,
    publish,
    render,
    write_snapshot,
    zip_snapshot,
)

__all__ = [
    "DEFAULT_MIN_CELL",
    "FETCHED_COLUMNS",
    "FILES",
    "INPUT_COLUMNS",
    "SEED",
    "SUPPRESSED",
    "Publication",
    "Snapshot",
    "SnapshotRefused",
    "build_snapshot",
    "fetch_qualifying",
    "input_sha256",
    "list_snapshots",
    "open_database",
    "parse_as_of",
    "prepare_snapshot",
    "publish",
    "qualifying_filters",
    "render",
    "software_versions",
    "write_snapshot",
    "zip_snapshot",
]
