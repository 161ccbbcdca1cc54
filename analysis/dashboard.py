"""What the dashboard shows, computed without Streamlit: tables, curves and display tables.

``compute`` turns a DataFrame of responses into every aggregate the views draw, once, so the
page only caches and draws it. Display helpers format the company table for people (French or
English headings, intervals as text, significance and small-base marks).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import design as design_module
from analysis import disclosure, kpis, metrics
from survey import i18n

AT_RISK_DAYS = (0, 7, 30, 90, 180, 365)
OTHER_NAME = "other"  # the name of companies outside the reference list, until displayed
# What the views read: the storage layer adds company_name, sector and origin to every row.
COLUMNS = [
    c for c in (*kpis.READ_COLUMNS, "problem", "collected_from") if c not in ("sector", "origin")
]
DEFAULT_SEED = 20231010  # fixed so the same data always gives the same intervals

# --- kept until the snapshot imports metrics/disclosure -------------------------------------
# The names below moved to analysis/metrics.py and analysis/disclosure.py; they stay here so
# that analysis/snapshot.py keeps working until it imports them from their new home.
UNLISTED = metrics.UNLISTED
PUBLIC_MIN_CELL = disclosure.MIN_CELL
IDENTITY_COLUMNS = metrics.IDENTITY_COLUMNS
OTHER_LABELS = metrics.OTHER_LABELS
GROUP_LABELS = metrics.GROUP_LABELS
FAMILY_LABELS = {metric.name: metric.label("en") for metric in metrics.METRICS}
family_of = metrics.family_of
metric_layout = disclosure.metric_layout
company_suppression = disclosure.company_suppression
group_suppression = disclosure.group_suppression
protect = disclosure.protect
_masked = disclosure.masked
group_label = metrics.group_label
company_label = metrics.company_label
# (family, estimate, low, high, percent, digits, label fr, label en), as the report reads it
HEADLINE = tuple(
    (f.family, f.estimate, f.low, f.high, f.percent, f.digits, *f.short) for f in metrics.HEADLINE
)
# --- end of the names kept for the snapshot --------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    """Every aggregate of one selection of responses."""

    as_of: date
    n: int
    companies: pd.DataFrame  # kpis.company_table
    groups: pd.DataFrame  # kpis.group_table
    resolution_curves: pd.DataFrame  # kpis.survival_curves(metric="resolution")
    refund_curves: pd.DataFrame  # kpis.survival_curves(metric="refund_time")
    naive: pd.DataFrame  # per company: naive mean of resolved cases vs the honest median
    trips: pd.DataFrame  # per company and number of wasted trips: responses (distribution)
    design_cells: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    design: design_module.DesignAnswer | None = None  # "France or the sector?"
    cuts: dict = dataclasses.field(default_factory=dict)  # kpis.cut_table by problem, by year
    launch: date | None = None
    # public=True: the tables with one disclosure control (comparisons among published units)
    published: disclosure.PublishedTables | None = None


def compute(
    responses: pd.DataFrame,
    *,
    as_of: date,
    seed: int = DEFAULT_SEED,
    launch: date | None = None,
    public: bool = False,
) -> Dashboard:
    """All the dashboard's aggregates (see :func:`_compute`), each column of the responses
    read once for all of them (:func:`analysis.kpis.shared_reading`)."""
    with kpis.shared_reading():
        return _compute(responses, as_of=as_of, seed=seed, launch=launch, public=public)


def _compute(
    responses: pd.DataFrame,
    *,
    as_of: date,
    seed: int,
    launch: date | None,
    public: bool,
) -> Dashboard:
    """All the dashboard's aggregates for ``responses`` (already filtered), as of ``as_of``;
    incidents that began before ``launch`` (the survey's opening) enter late.

    ``public=True`` computes the tables under the disclosure control
    (:func:`analysis.disclosure.published_tables`: every comparison among the published units
    only), ready for :func:`analysis.disclosure.protect`."""
    # nothing submitted after the view's date enters any of its figures
    in_time = pd.to_datetime(responses["submitted_on"]) <= pd.Timestamp(as_of)
    if not in_time.all():  # (a copy of every column only when some row is left out)
        responses = responses[in_time]
    if responses.empty:
        empty = pd.DataFrame()
        return Dashboard(as_of, 0, empty, empty, empty, empty, empty, empty, launch=launch)
    # Companies outside the reference list ("other") have no sector or origin: a group of
    # their own, kept out of the 2 x 2 design.
    # (a shallow copy: the other columns are shared with the caller's frame, not copied)
    responses = responses.copy(deep=False)
    responses["sector"] = _filled(responses["sector"], UNLISTED)
    responses["origin"] = _filled(responses["origin"], UNLISTED)
    responses["company_name"] = _filled(responses["company_name"], OTHER_NAME)
    published = None
    if public:
        holds = monthly_holds(responses, as_of=as_of, launch=launch)
        published = disclosure.published_tables(
            responses,
            as_of=as_of,
            rng=np.random.default_rng(seed),
            launch=launch,
            held_companies=holds.companies,
            held_groups=holds.groups,
        )
        tables = kpis.KpiTables(published.companies, published.groups)
    else:
        tables = kpis.summary_tables(
            responses, as_of=as_of, rng=np.random.default_rng(seed), launch=launch
        )
    resolution = kpis.survival_curves(responses, as_of=as_of, metric="resolution", launch=launch)
    refunds = kpis.survival_curves(responses, as_of=as_of, metric="refund_time")
    # the design compares companies within shared problem types: it needs the problem type
    cells = (
        kpis.design_cells(responses, as_of=as_of, launch=launch)
        if "problem" in responses.columns
        else pd.DataFrame()
    )
    # the fixed cuts (a frame without the problem type gives the cut by year alone)
    cuts = {
        by: kpis.cut_table(responses, by=by, as_of=as_of, launch=launch)
        for by in kpis.CUTS
        if by != "problem" or "problem" in responses.columns
    }
    if public:
        # a metric whose company or group table hides a cell hides a cell of every cut too
        must_hide = frozenset(
            family
            for family in published.company_hidden
            if published.company_hidden[family].any() or published.group_hidden[family].any()
        )
        cuts = {
            by: disclosure.protect_cuts(
                table,
                held=cut_holds(responses, by=by, as_of=as_of, launch=launch, now=table),
                must_hide=must_hide,
            )
            for by, table in cuts.items()
        }
    return Dashboard(
        as_of=as_of,
        n=len(responses),
        cuts=cuts,
        companies=tables.companies,
        groups=tables.groups,
        resolution_curves=resolution,
        refund_curves=refunds,
        naive=naive_versus_survival(responses, tables.companies),
        trips=trip_distribution(responses),
        design_cells=cells,
        design=None
        if public or not len(cells)
        else design_module.analyse(cells, metrics=kpis.DESIGN_METRICS),
        launch=launch,
        published=published,
    )


def _filled(column: pd.Series, value: str) -> pd.Series:
    """``column`` with ``value`` where it is missing; a categorical column stays one (a
    category more, no string per row)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        if not column.isna().any():
            return column
        if value not in column.cat.categories:
            column = column.cat.add_categories([value])
        return column.fillna(value)
    return column.astype(object).where(column.notna(), value)


# --- one computation per data version, shared by every session, warmed in the background -----

log = logging.getLogger(__name__)


class SharedViews:
    """Dashboards computed once per key (database, data version, filters, date, public) and
    shared by every session of the app process: the browser gets aggregates, never rows, and
    a second visitor reads what the first one caused to be computed. A session asking for a
    view that another thread is computing waits for it instead of computing it again. The
    views are shared objects: callers must not modify them."""

    def __init__(self, size: int | None = 16) -> None:
        self.size = size  # the newest kept (None: all)
        self._views: OrderedDict[Hashable, Any] = OrderedDict()
        self._computing: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.built = 0  # values built (not found) here: what a test counts

    def __len__(self) -> int:
        return len(self._views)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._views

    def clear(self) -> None:
        with self._lock:
            self._views.clear()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        while True:
            with self._lock:
                if key in self._views:
                    self._views.move_to_end(key)
                    return self._views[key]
                running = self._computing.get(key)
                if running is None:
                    running = self._computing[key] = threading.Event()
                    break
            running.wait()  # computed by another thread (or it failed: try again)
        try:
            view = build()
            with self._lock:
                self._views[key] = view
                self.built += 1
                while self.size is not None and len(self._views) > self.size:
                    self._views.popitem(last=False)
            return view
        finally:
            with self._lock:
                del self._computing[key]
            running.set()


VIEWS = SharedViews()


# --- the public view kept on disk, for the first visitor after a restart ----------------------

KEPT_VIEWS = 4  # public views kept on disk per database (one per data version, newest first)


def code_fingerprint() -> str:
    """What the views are computed by: this package's version and the source of the analysis
    and the questionnaire (a view computed by other code is never read back)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        import hashlib
        from importlib import metadata

        digest = hashlib.sha256()
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(metadata.version("clientroi").encode())
        root = Path(__file__).resolve().parent.parent
        for source in sorted([*root.glob("analysis/**/*.py"), *root.glob("survey/*.py")]):
            digest.update(source.relative_to(root).as_posix().encode())
            digest.update(source.read_bytes())
        _FINGERPRINT = digest.hexdigest()
    return _FINGERPRINT


_FINGERPRINT: str | None = None


def views_folder(store) -> Path:
    """Where a database's public views are kept: beside it, ``<database>.views/`` (0700)."""
    return Path(f"{store.path}.views")


def read_kept(path: Path, stamp: Hashable, what: str) -> Any | None:
    """What :func:`write_kept` kept in ``path`` under ``stamp``; None when there is nothing,
    another stamp (other data, other code), or a file that cannot be read (logged: it is
    computed again, and rewritten)."""
    import pickle

    try:
        with path.open("rb") as f:
            stored_stamp, value = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001
        log.warning("stored dashboard %s could not be read: %s", what, path, exc_info=True)
        return None
    return value if stored_stamp == stamp else None


def write_kept(store, path: Path, stamp: Hashable, value: Any, what: str) -> bool:
    """Keep ``value`` under ``stamp`` in ``path`` of the database's views folder (written
    whole, then renamed; readable by the owner only); False in a folder that cannot be
    written (logged: it is only in memory)."""
    import os
    import pickle
    import tempfile

    folder = views_folder(store)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")  # 0600
        with os.fdopen(fd, "wb") as f:
            pickle.dump((stamp, value), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        return True
    except OSError:
        log.warning("the dashboard %s could not be kept on disk in %s", what, folder, exc_info=True)
        return False


def stored_view(store, key: Hashable) -> Dashboard | None:
    """The public view of ``key`` computed by this code before (a restart), or None."""
    return read_kept(_view_file(store, key), (key, code_fingerprint()), "view")


def store_view(store, key: Hashable, view: Dashboard) -> None:
    """Keep a public view on disk (:func:`write_kept`), and only the newest
    :data:`KEPT_VIEWS` of the database."""
    if not write_kept(store, _view_file(store, key), (key, code_fingerprint()), view, "view"):
        return
    try:
        folder = views_folder(store)
        kept = sorted(folder.glob("*.view"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEPT_VIEWS:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".parts").unlink(missing_ok=True)  # its charts (dashboard_parts)
    except OSError:  # (another process removing them meanwhile: the next one will)
        log.warning("older dashboard views could not be removed", exc_info=True)


def _view_file(store, key: Hashable) -> Path:
    import hashlib

    name = hashlib.sha256(repr((key, code_fingerprint())).encode()).hexdigest()[:32]
    return views_folder(store) / f"{name}.view"


def view_key(store, filters, *, as_of: date, public: bool, version, launch: date | None):
    """What a view is computed once for (:func:`view_for`'s key, with the default seed)."""
    return (str(store.path), version, filters, as_of, launch, public, DEFAULT_SEED)


def view_for(
    store,
    filters,
    *,
    as_of: date,
    public: bool,
    version=None,
    launch: date | None = None,
    seed: int = DEFAULT_SEED,
) -> Dashboard:
    """The dashboard of ``filters`` as of ``as_of`` from ``store`` (a survey.store store),
    computed once per data version and shared (:data:`VIEWS`); ``public`` views come under
    the disclosure control already applied (:func:`analysis.disclosure.protect`)."""
    version = store.data_version() if version is None else version
    key = view_key(store, filters, as_of=as_of, public=public, version=version, launch=launch)
    key = key if seed == DEFAULT_SEED else (*key[:-1], seed)

    def build() -> Dashboard:
        # A public view computed before a restart by the same code on the same data is read
        # back (milliseconds) instead of computed again (seconds at a million responses).
        if public and (kept := stored_view(store, key)) is not None:
            return kept
        # as known on as_of: the respondents' later updates recorded by then are folded in
        frame = store.fetch_responses(
            filters, columns=COLUMNS, ordered=False, categorical=True, known_on=as_of
        )
        view = compute(frame, as_of=as_of, launch=launch, public=public, seed=seed)
        del frame
        if not public:
            return view
        view = disclosure.protect(view)
        store_view(store, key, view)
        return view

    return VIEWS.get(key, build)


class _KnownVersion:
    """A DuckDB file's data version and what its files looked like when it was read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: tuple | None = None
        self.version = None


_KNOWN_VERSIONS: dict[str, _KnownVersion] = {}
_KNOWN_VERSIONS_LOCK = threading.Lock()


def _files_state(path: Path) -> tuple:
    """What ``stat`` says of a DuckDB file and its write-ahead log: every commit appends to
    the log (or, when large, writes the file), and a checkpoint writes the file and empties
    the log, so a change of the data changes this (a read or a reopening does not)."""
    import os

    state = []
    for name in (str(path), f"{path}.wal"):
        try:
            info = os.stat(name)
        except FileNotFoundError:
            state.append(None)
        else:
            state.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(state)


def data_version(store):
    """``store.data_version()``, read from the database only when its files changed since the
    last reading: a ``stat`` of the file and its log instead of a query, and above all no
    reopening of a DuckDB file the app let go (25-160 ms at a million responses, and the file
    held again for two seconds). A tab's click checks the version this way. Whoever writes,
    this process or another, changes the log (each commit appends to it) or the file (a
    checkpoint, a large commit); a reading that saw the files change is not kept. A server's
    store (PostgreSQL) is asked each time (a pooled connection, no file)."""
    from survey import store as storage

    if not isinstance(store, storage.Store):
        return store.data_version()
    with _KNOWN_VERSIONS_LOCK:
        known = _KNOWN_VERSIONS.setdefault(str(store.path), _KnownVersion())
    with known.lock:
        files = _files_state(store.path)
        if files == known.files:
            return known.version
        version = store.data_version()
        # kept only if nothing was written while it was read (else: read again next time)
        known.files = files if _files_state(store.path) == files else None
        known.version = version
        return version


def public_defaults(store, today: date):
    """What the public page shows a visitor who changed nothing: the filters (synthetic
    responses shown only when there is nothing else), the date (the end of the last full
    month) and the launch."""
    from analysis.snapshot import releases  # the snapshot package imports this module
    from survey import store as storage

    sources = store.source_counts()
    only_synthetic = bool(sources) and set(sources) == {"synthetic"}
    return (
        storage.Filters(include_synthetic=only_synthetic),
        releases.last_full_month_end(today),
        store.launch_date(),
    )


def keep_warm(
    store,
    *,
    stop: threading.Event,
    poll_seconds: float = 30.0,
    today=None,
    draw: bool = True,
) -> None:
    """Compute the public view at start-up and again whenever the data change, so that no
    visitor waits for it (a background thread of each app process: ``clientroi serve``), then
    (``draw``) what the page draws from it in each language, its chart specs and tables
    (:func:`analysis.dashboard_parts.warm`), so that the first visitor waits for no chart's
    build either. ``today`` gives the current date (Paris); errors are logged and retried at
    the next poll."""
    import time

    from survey.validation import paris_today

    today = today or paris_today
    last = None
    while not stop.is_set():
        try:
            version = data_version(store)  # (no reopening of the file to learn nothing new)
            if version != last:
                filters, as_of, launch = public_defaults(store, today())
                view = view_for(
                    store, filters, as_of=as_of, public=True, version=version, launch=launch
                )
                log.info("public dashboard computed for %s responses", version.rows)
                last = version
                if draw:
                    from analysis import dashboard_parts  # (it imports this module)

                    started = time.perf_counter()
                    key = view_key(
                        store, filters, as_of=as_of, public=True, version=version, launch=launch
                    )
                    dashboard_parts.warm(view, kept=(store, key))
                    log.info(
                        "public dashboard drawn in %.2f s (%s)",
                        time.perf_counter() - started,
                        ", ".join(dashboard_parts.LOCALES),
                    )
        except Exception:  # noqa: BLE001  (a locked file, a server away: next poll)
            log.warning("could not compute the public dashboard in advance", exc_info=True)
        stop.wait(poll_seconds)


def monthly_holds(responses: pd.DataFrame, *, as_of: date, launch: date | None = None):
    """The figures the public view as of ``as_of`` holds back against the same view one month
    earlier: the live public dashboard is a release too (one per month, as of the month's last
    day), so a figure that would change on 1 to ``MIN_CELL - 1`` responses since the previous
    month's view is suppressed, as ``clientroi publish`` does against earlier snapshots."""
    from analysis.snapshot import releases  # the snapshot package imports this module

    previous_as_of = releases.last_full_month_end(as_of)
    # as of the previous month's end, the tables leave out what was submitted after it: the
    # same frame (read once, kpis.shared_reading), no copy of its earlier rows
    before = kpis.bases(responses, as_of=previous_as_of, launch=launch)
    layout = disclosure.metric_layout(before.companies)
    hidden = disclosure.company_suppression(before.companies, layout, disclosure.MIN_CELL)
    group_hidden = disclosure.group_suppression(
        before.groups, before.companies, hidden, layout, disclosure.MIN_CELL
    )
    rows = []
    for level, table, key, masks in (
        ("company", before.companies, "company", hidden),
        ("group", before.groups, "group", group_hidden),
    ):
        shown = table[[key, "n"]].rename(columns={key: "id"}).assign(level=level)
        for family, _ in layout:
            metric = metrics.METRIC[family]
            # a base the earlier view did not show is unknown to the public (NaN)
            shown[metric.n] = table[metric.n].where(~masks[family]).to_numpy(dtype=float)
        rows.append(shown)
    release = releases.Release(
        name=f"public view as of {previous_as_of.isoformat()}",
        as_of=previous_as_of,
        kpis=pd.concat(rows, ignore_index=True),
    )
    return releases.held_back(
        responses, as_of=as_of, previous=[release], min_cell=disclosure.MIN_CELL, launch=launch
    )


def cut_holds(
    responses: pd.DataFrame,
    *,
    by: str,
    as_of: date,
    launch: date | None = None,
    now: pd.DataFrame | None = None,
):
    """Per metric, the cells of a public cut held back because they changed on 1 to
    ``MIN_CELL - 1`` responses since the previous month's public view (as :func:`monthly_holds`
    does for companies and groups). ``now``: the cut table as of ``as_of`` when the caller has
    it already (``kpis.cut_table(responses, by=by, as_of=as_of, launch=launch)``)."""
    from analysis.snapshot import releases  # the snapshot package imports this module

    previous_as_of = releases.last_full_month_end(as_of)
    submitted = pd.to_datetime(responses["submitted_on"])
    added = responses[submitted > pd.Timestamp(previous_as_of)]
    if now is None:
        now = kpis.cut_table(responses, by=by, as_of=as_of, launch=launch)
    now = now.set_index("cut")
    before = disclosure.protect_cuts(
        kpis.cut_table(responses, by=by, as_of=previous_as_of, launch=launch)
    ).set_index("cut")
    new = kpis.cut_table(added, by=by, as_of=as_of, launch=launch).set_index("cut")
    held = {}
    for family in dict.fromkeys(metric for metric, _ in kpis.CUT_FIGURES):
        column = f"{family}_n"
        shown = pd.to_numeric(before[column].reindex(now.index), errors="coerce")
        plus = pd.to_numeric(new[column].reindex(now.index), errors="coerce").fillna(0)
        change = (plus + (shown + plus - now[column]).abs()).fillna(0).to_numpy()
        was_shown = shown.notna().to_numpy()
        holding = was_shown & (change > 0) & (change < disclosure.MIN_CELL)
        # the held cells' changes together are the cut's total change minus the published
        # ones: hold more cells until they rest on at least MIN_CELL changed responses
        while 0 < change[holding].sum() < disclosure.MIN_CELL:
            candidates = np.flatnonzero(was_shown & ~holding & (change > 0))
            if not candidates.size:
                break
            holding[candidates[np.argmin(change[candidates])]] = True
        held[family] = set(now.index[holding])
    return held


def naive_versus_survival(responses: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """The misleading number next to the honest one, per company.

    The naive figure averages ``ended_on - started_on`` over resolved incidents only, ignoring
    every incident still open; the Kaplan-Meier median counts open incidents as lasting at
    least until their report.
    """
    resolved = responses["status"].eq("resolved") & responses["ended_on"].notna()
    days = (responses["ended_on"] - responses["started_on"]).dt.days
    naive = (
        pd.DataFrame({"company": responses["company"], "days": days})[resolved]
        .groupby("company", observed=True)["days"]
        .agg(naive_mean_days="mean", naive_n="size")
    )
    open_share = (
        responses["status"]
        .ne("resolved")
        .groupby(responses["company"], observed=True)
        .mean()
        .rename("open_share")
    )
    out = companies[["company", "company_name", "resolution_median_days", "resolution_n"]]
    out = out.merge(naive, on="company", how="left").merge(open_share, on="company", how="left")
    return out.sort_values("resolution_median_days", ascending=False, na_position="first")


def trip_distribution(responses: pd.DataFrame, *, cap: int = 5) -> pd.DataFrame:
    """Responses per company and number of wasted trips (0, 1, ..., ``cap``+), answered only."""
    trips = pd.to_numeric(responses["wasted_trips"], errors="coerce")
    known = trips.notna()
    bucket = np.minimum(trips[known].to_numpy(dtype=float), cap).astype(int)
    frame = pd.DataFrame({"company": responses.loc[known, "company"].to_numpy(), "trips": bucket})
    counts = frame.value_counts().rename("responses").reset_index()
    counts["share"] = counts["responses"] / counts.groupby("company")["responses"].transform("sum")
    counts["trips_label"] = counts["trips"].map(lambda t: f"{t}+" if t == cap else str(t))
    return counts.sort_values(["company", "trips"]).reset_index(drop=True)


def at_risk_table(curves: pd.DataFrame, *, days=AT_RISK_DAYS, by: str = "company") -> pd.DataFrame:
    """Numbers still at risk (not yet resolved, still followed) at given days, per curve.

    As R's ``summary(survfit, times=...)``: at day t, the number at risk at the first event or
    censoring time at or after t (0 once every incident has left follow-up).
    """
    rows = {}
    for label, curve in curves.groupby(by, sort=True):
        times = curve["time"].to_numpy(dtype=float)
        at_risk = curve["n_at_risk"].to_numpy()
        # Row 0 is the synthetic day-0 point; later rows are real times.
        index = np.searchsorted(times, np.asarray(days, dtype=float), side="left")
        rows[label] = [int(at_risk[i]) if i < len(times) else 0 for i in index]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"{d}" for d in days])


# --- display -------------------------------------------------------------------------------

MARKS = {"better": "▲", "worse": "▼", "": ""}


def _interval(low, high, locale: str, *, percent: bool = False, digits: int = 0) -> str:
    """``[low–high]`` in the locale's numbers; "NA" for a bound not reached (as R prints it)."""
    if low is None or high is None or pd.isna(low) and pd.isna(high):
        return ""
    scale = 100 if percent else 1

    def fmt(x):
        return "NA" if pd.isna(x) else i18n.number(x * scale, locale, digits=digits)

    return f"[{fmt(low)}–{fmt(high)}]"


def headline_table(table: pd.DataFrame, locale: str, *, label_column: str = "company_name"):
    """The headline table for people: numbers stay numbers (sortable), intervals as text.

    Each figure of ``metrics.HEADLINE`` gives three columns: the estimate, its 95% interval,
    and a mark: ▲ / ▼ when it differs from all others after Benjamini-Hochberg, "petite base" /
    "small base" when n < 30, "masqué" / "masked" when the disclosure control hid it.
    """
    if label_column == "group":
        heading = i18n.t("dashboard.headline.group", locale)
        labels = [group_label(g, locale) for g in table["group"]]
    else:
        heading = i18n.t("dashboard.headline.company", locale)
        labels = [
            company_label(c, name, locale)
            for c, name in zip(table["company"], table[label_column], strict=True)
        ]
    out = pd.DataFrame({heading: labels, "n": table["n"].to_numpy()})
    for figure in metrics.HEADLINE:
        metric = metrics.METRIC[figure.family]
        label = figure.text("short", locale)
        scale = 100.0 if figure.percent else 1.0
        out[label] = (table[figure.estimate].astype(float) * scale).round(figure.digits).to_numpy()
        out[i18n.t("dashboard.headline.ci_column", locale, label=label)] = [
            _interval(lo, hi, locale, percent=figure.percent, digits=figure.digits)
            for lo, hi in zip(table[figure.low], table[figure.high], strict=True)
        ]
        marks = []
        hidden = table.get(metric.suppressed, pd.Series(False, index=table.index))
        protects = table.get(f"{figure.family}_protects_other", pd.Series(False, index=table.index))
        for flag, is_small, n, is_hidden, for_other in zip(
            table[metric.flag],
            table[metric.small_base],
            table[metric.n],
            hidden,
            protects,
            strict=True,
        ):
            mark = MARKS.get(flag or "", "")
            if bool(for_other):
                # no base: it would say how many responses the protected company holds
                mark = i18n.t("dashboard.headline.masked_other", locale)
            elif bool(is_hidden):
                mark = i18n.t(
                    "dashboard.headline.masked",
                    locale,
                    min_cell=i18n.integer(disclosure.MIN_CELL, locale),
                )
            elif bool(is_small):
                small = i18n.t("dashboard.headline.small_base", locale, n=i18n.integer(n, locale))
                mark = (mark + " " if mark else "") + small
            marks.append(mark)
        out[i18n.t("dashboard.headline.mark_column", locale, label=label)] = marks
    return out


# --- "France or the sector?" for people ----------------------------------------------------------


def effects_table(effects: pd.DataFrame, locale: str, *, percent: bool) -> pd.DataFrame:
    """The five effects as a table: difference, 95% interval, p-value, companies per side and
    whether a side is large enough to speak of a group."""
    scale = 100.0 if percent else 1.0
    t = lambda key, **kw: i18n.t(key, locale, **kw)  # noqa: E731
    return pd.DataFrame(
        {
            t("dashboard.design.col.effect"): [
                t(f"dashboard.design.effect.{e}") for e in effects["effect"]
            ],
            t("dashboard.design.col.difference"): (effects["estimate"] * scale).round(2),
            t("dashboard.design.col.interval"): [
                _interval(lo, hi, locale, digits=1)
                for lo, hi in zip(effects["low"] * scale, effects["high"] * scale, strict=True)
            ],
            t("dashboard.design.col.p"): effects["p_value"].round(4),
            t("dashboard.design.col.companies"): [
                f"{int(a)} / {int(b)}"
                for a, b in zip(effects["companies_a"], effects["companies_b"], strict=True)
            ],
            t("dashboard.design.col.identifiable"): [
                t("dashboard.design.yes") if ok else t("dashboard.design.not_identifiable")
                for ok in effects["identifiable"]
            ],
        }
    )


def design_groups_table(
    groups: pd.DataFrame, metric: str, locale: str, *, percent: bool
) -> pd.DataFrame:
    """The four sector x origin cells: the mean of their companies' figures, unweighted and
    weighted by market size, with the companies that have no market figure."""
    rows = groups[groups["metric"] == metric]
    scale = 100.0 if percent else 1.0
    t = lambda key, **kw: i18n.t(key, locale, **kw)  # noqa: E731
    return pd.DataFrame(
        {
            t("dashboard.headline.group"): [
                group_label(f"{s}/{o}", locale)
                for s, o in zip(rows["sector"], rows["origin"], strict=True)
            ],
            t("dashboard.design.col.companies_n"): rows["companies"].astype(int).to_numpy(),
            t("dashboard.design.col.unweighted"): (rows["unweighted_mean"] * scale).round(2),
            t("dashboard.design.col.unweighted_ci"): [
                _interval(lo, hi, locale, digits=1)
                for lo, hi in zip(
                    rows["unweighted_low"] * scale, rows["unweighted_high"] * scale, strict=True
                )
            ],
            t("dashboard.design.col.weighted"): (rows["weighted_mean"] * scale).round(2),
            t("dashboard.design.col.weighted_ci"): [
                _interval(lo, hi, locale, digits=1)
                for lo, hi in zip(
                    rows["weighted_low"] * scale, rows["weighted_high"] * scale, strict=True
                )
            ],
            t("dashboard.design.col.without_weight"): [
                ", ".join(str(w).split("|")) if isinstance(w, str) else ""
                for w in rows["without_weight"]
            ],
        }
    )


def cut_display(cut: pd.DataFrame, by: str, locale: str) -> pd.DataFrame:
    """A cut (by problem type or by year) for people: its label, n, and each figure of
    ``kpis.CUT_FIGURES`` with its interval; "masqué" / "masked" where the control hid it."""
    from survey import questionnaire  # labels of the problem types

    t = lambda key, **kw: i18n.t(key, locale, **kw)  # noqa: E731
    if by == "problem":
        labels = [questionnaire.QUESTIONS["problem"].choice_label(c, locale) for c in cut["cut"]]
    else:
        labels = [str(c) for c in cut["cut"]]
    out = pd.DataFrame(
        {
            t(f"dashboard.cut.{by}"): labels,
            "n": cut["n"].astype("Int64").to_numpy(),
        }
    )
    for family, stem in kpis.CUT_FIGURES:
        figure = metrics.estimate(stem)
        percent = figure.percent
        scale = 100.0 if percent else 1.0
        hidden = cut.get(f"{family}_suppressed", pd.Series(False, index=cut.index)).to_numpy()
        out[figure.text("short", locale)] = (cut[figure.estimate] * scale).round(1).to_numpy()
        out[f"{figure.text('short', locale)} · {t('dashboard.cut.interval')}"] = [
            t("dashboard.cut.masked") if masked else _interval(lo, hi, locale, percent=percent)
            for masked, lo, hi in zip(hidden, cut[figure.low], cut[figure.high], strict=True)
        ]
    return out
