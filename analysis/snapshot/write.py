"""Turning a snapshot into files and folders: the bytes of every file (:func:`render`), an
all-or-nothing write (:func:`write_snapshot`), the whole chain from a store (:func:`publish`),
and the published folders (:func:`list_snapshots`, :func:`zip_snapshot`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from analysis import drawing
from analysis.snapshot import describe, files, releases, report
from analysis.snapshot.build import (
    DEFAULT_MIN_CELL,
    SEED,
    Snapshot,
    SnapshotRefused,
    build_snapshot,
    fetch_qualifying,
    validate_as_of,
    validate_min_cell,
)
from survey import store as storage
from survey.validation import paris_today

FILES = (
    "datapackage.json",
    "design_effects.csv",
    "design_effects.parquet",
    "design_groups.csv",
    "design_inputs.csv",
    "design_inputs.parquet",
    "index.en.html",
    "index.html",
    "kpis.csv",
    "kpis.parquet",
    "manifest.json",
    "sensitivity.csv",
    "survival_curves.csv",
)
REPORTS = {"fr": "index.html", "en": "index.en.html"}


@dataclass(frozen=True)
class Publication:
    """Where a snapshot was written; ``created`` is False when an identical one was there."""

    folder: Path
    snapshot: Snapshot
    created: bool


def render(snapshot: Snapshot, *, figures=None) -> dict[str, bytes]:
    """Every file of the snapshot folder, by name. Deterministic: same snapshot, same bytes.
    ``figures``: the reports' charts by locale (:func:`report.figures` of this snapshot),
    already sent to be drawn."""
    figures = figures or {}
    out = {
        "kpis.csv": files.csv_bytes(snapshot.kpis),
        "kpis.parquet": files.parquet_bytes(snapshot.kpis),
        "survival_curves.csv": files.csv_bytes(snapshot.curves),
        "design_effects.csv": files.csv_bytes(snapshot.design_effects),
        "design_effects.parquet": files.parquet_bytes(snapshot.design_effects),
        "design_inputs.csv": files.csv_bytes(snapshot.design_inputs),
        "design_groups.csv": files.csv_bytes(snapshot.design_groups),
        "design_inputs.parquet": files.parquet_bytes(snapshot.design_inputs),
        "sensitivity.csv": files.csv_bytes(snapshot.sensitivity),
    }
    manifest = describe.manifest(snapshot, out)
    out["manifest.json"] = files.json_bytes(manifest)
    for locale, name in REPORTS.items():
        drawn = figures.get(locale)
        out[name] = report.render_report(snapshot, manifest, locale, drawn).encode("utf-8")
    out["datapackage.json"] = files.json_bytes(describe.datapackage(snapshot, out))
    return {name: out[name] for name in FILES}


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _holds(folder: Path, expected: dict[str, bytes]) -> bool:
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else None
    if present != sorted(expected):
        return False
    return all((folder / name).read_bytes() == data for name, data in expected.items())


def write_snapshot(snapshot: Snapshot, out: str | os.PathLike, *, figures=None) -> Publication:
    """Write the snapshot into ``out/<snapshot.name>``, all or nothing.

    The files go to a hidden temporary folder beside the target, which is then renamed (an
    atomic step): a folder of that name is complete or absent. Writing again a snapshot that
    is already there, byte for byte, succeeds without touching it (``created`` False); a
    *different* snapshot under the same name is refused.
    """
    out = Path(out)
    rendered = render(snapshot, figures=figures)
    target = out / snapshot.name
    if target.exists():
        if _holds(target, rendered):
            return Publication(target, snapshot, created=False)
        raise SnapshotRefused(f"{target} already holds a different snapshot of the same name")
    out.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{snapshot.name}.", suffix=".partial", dir=out))
    try:
        for name, data in rendered.items():
            _write_file(partial / name, data)
        partial.chmod(0o755)
        try:
            os.rename(partial, target)
        except OSError:
            if not target.exists():
                raise
            # another publisher won the race: fine if it wrote the same snapshot
            if _holds(target, rendered):
                return Publication(target, snapshot, created=False)
            raise SnapshotRefused(
                f"{target} already holds a different snapshot of the same name"
            ) from None
        _fsync_directory(out)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return Publication(target, snapshot, created=True)


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable (best effort: not every file system syncs a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _releases(previous) -> list[releases.Release]:
    out = []
    for item in previous or ():
        out.append(item if isinstance(item, releases.Release) else releases.read_release(item))
    return out


def prepare_snapshot(
    store: storage.Store,
    *,
    as_of=None,
    min_cell: int = DEFAULT_MIN_CELL,
    seed: int = SEED,
    previous=(),
) -> Snapshot:
    """Read the publishable responses of ``store`` and build their snapshot (nothing written).

    ``as_of`` defaults to the end of the last full month in Paris (the monthly cadence); a day
    after today is refused, since responses could still arrive for it. ``previous``: the
    releases already published (``Release`` objects or snapshot folders), against which no
    figure may change on fewer than ``min_cell`` responses (see :mod:`.releases`); those dated
    on or after ``as_of`` are left to :func:`publish`, which refuses them.
    """
    return _prepared(store, as_of=as_of, min_cell=min_cell, seed=seed, previous=previous)[0]


def _prepared(store, *, as_of, min_cell, seed, previous, draw_ahead: bool = False):
    """:func:`prepare_snapshot`'s snapshot and, with ``draw_ahead``, its reports' charts by
    locale, sent to the drawing helper as soon as the tables are built (before the input
    hash is waited for), else None."""
    today = paris_today()
    as_of = releases.last_full_month_end(today) if as_of is None else validate_as_of(as_of)
    min_cell = validate_min_cell(min_cell)
    if as_of > today:
        raise SnapshotRefused(
            f"as_of {as_of.isoformat()} is in the future (today is {today.isoformat()}, Paris)"
        )
    # incidents that began before the survey opened enter late (recorded in the manifest)
    launch = store.launch_date()
    if draw_ahead:  # (a process of its own: it starts its engine while the rows are read)
        report.start_chart_engine(helper=True)
    responses = [fetch_qualifying(store, as_of=as_of)]
    if not draw_ahead:
        report.start_chart_engine()

    def ahead(built: Snapshot) -> dict:
        return {locale: report.figures(built, locale) for locale in REPORTS}

    # (the responses held by nothing else, so that the build can free what it no longer reads)
    built = build_snapshot(
        responses.pop(),
        as_of=as_of,
        min_cell=min_cell,
        seed=seed,
        launch=launch if launch is not None and launch <= as_of else None,
        previous=[r for r in _releases(previous) if r.as_of < as_of],
        ahead=ahead if draw_ahead else None,
    )
    return built if draw_ahead else (built, None)


def publish(
    store: storage.Store,
    *,
    out: str | os.PathLike | None = None,
    as_of=None,
    min_cell: int = DEFAULT_MIN_CELL,
    seed: int = SEED,
    previous=None,
) -> Publication:
    """Build the snapshot of ``store`` as of ``as_of`` and write it under ``out``.

    Parameters
    ----------
    store : survey.store.Store
    out : path, optional
        Parent folder of snapshots; default ``snapshots/`` next to the database.
    as_of : datetime.date or str, optional
        Default: the last day of the last full month (Europe/Paris): releases are monthly.
        Written only as given, never the clock time.
    min_cell : int, default 10
    seed : int
    previous : sequence of paths or Release, optional
        The releases already published; default: every snapshot under ``out``. A figure that
        would change on 1 to ``min_cell - 1`` responses since one of them is suppressed and
        listed in the manifest (``release_control.held``).

    Returns
    -------
    Publication

    Raises
    ------
    SnapshotRefused
        Nothing qualifies, ``as_of`` is in the future, ``out`` already holds a different
        snapshot of the same name, or an earlier release is dated after ``as_of`` or on the
        same day with other data (the two could be differenced).
    """
    min_cell = validate_min_cell(min_cell)
    out = Path(store.path).parent / "snapshots" if out is None else Path(out)
    known = releases.earlier_releases(out) if previous is None else _releases(previous)
    day = releases.last_full_month_end(paris_today()) if as_of is None else validate_as_of(as_of)
    later = [r.name for r in known if r.as_of > day]
    if later:
        raise SnapshotRefused(
            f"{', '.join(later)} already published after {day.isoformat()}: a release cannot "
            "go before one already out"
        )
    try:
        snapshot, figures = _prepared(
            store, as_of=day, min_cell=min_cell, seed=seed, previous=known, draw_ahead=True
        )
        snapshot_name = snapshot.name
        other_same_day = [r.name for r in known if r.as_of == day and r.name != snapshot_name]
        if other_same_day:
            raise SnapshotRefused(
                f"{', '.join(other_same_day)} already published as of {day.isoformat()} from "
                "other data: the two could be differenced"
            )
        return write_snapshot(snapshot, out, figures=figures)
    finally:
        drawing.stop()  # (a long-lived caller, the app, keeps no idle helper)


def list_snapshots(out: str | os.PathLike) -> list[dict]:
    """The snapshots under ``out`` (newest name first), from their manifests."""
    out = Path(out)
    if not out.is_dir():
        return []
    found = []
    for folder in sorted(out.iterdir(), reverse=True):
        manifest = folder / "manifest.json"
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append(
            {
                "snapshot": folder.name,
                "as_of": data.get("as_of"),
                "rows": data.get("input", {}).get("rows"),
                "sha256": data.get("input", {}).get("sha256"),
                "min_cell": data.get("thresholds", {}).get("min_cell"),
                "clientroi": data.get("software", {}).get("clientroi"),
                "path": str(folder),
            }
        )
    return found


def zip_snapshot(folder: str | os.PathLike) -> bytes:
    """The snapshot folder as a zip archive with fixed timestamps (same folder, same bytes)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                info = zipfile.ZipInfo(
                    f"{folder.name}/{path.name}", date_time=(1980, 1, 1, 0, 0, 0)
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
