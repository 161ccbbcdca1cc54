"""What the dashboard page draws from a shared view, in one language: the chart specs and the
tables made for people, built once per view and language for every session of the app process,
and built in advance for the public view (:func:`warm`, by the background warming of
:func:`analysis.dashboard.keep_warm`), so that no visitor waits for Altair.

A chart's spec is Altair's build and validation (0.05-0.3 s a chart at a million responses,
1-1.6 s for the tabs of a first visit) then Streamlit's own conversion, the one
``st.altair_chart`` makes (its theme, the data as Arrow): the page draws the spec with
``st.vega_lite_chart``, the same message as before. That conversion is given to this module
(:func:`use_converter`) by the page and by the app process before it warms: the spec must be
the one Streamlit would send, and no Streamlit is imported here. The parts are shared objects: callers
must not modify them (the page copies a spec's top level, which Streamlit edits).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis import charts, dashboard, kpis, metrics
from survey import i18n

LOCALES = ("fr", "en")  # warmed in this order (the default language first)
FOREST_FAMILIES = (
    "refund_success",
    "wasted_trips",
    "useless_visits",
    "effort",
    "false_resolved",
    "callbacks_kept",
)
LOANER_STAGES = (
    ("loaner_offered", "dashboard.loaner.offered"),
    ("loaner_obtained", "dashboard.loaner.obtained"),
    ("loaner_cut", "dashboard.loaner.cut"),
)


@dataclass(frozen=True)
class Drawn:
    """A chart's Vega-Lite spec, its title and its figures (its text alternative)."""

    spec: dict
    title: str
    figures: pd.DataFrame


@dataclass(frozen=True)
class Design:
    """What the "France or the sector?" tab draws for one metric."""

    percent: bool
    effects: pd.DataFrame  # the five effects of the metric
    inputs: pd.DataFrame  # the companies' standardised values
    verdict: tuple[str, ...]
    effects_spec: dict
    effects_table: pd.DataFrame
    groups_table: pd.DataFrame
    inputs_drawn: Drawn


class _Built(dashboard.SharedViews):
    """Parts built once per key (:class:`analysis.dashboard.SharedViews`, all kept): a thread
    asking for a part another thread is building waits for it instead of building it again."""

    def __init__(self) -> None:
        super().__init__(size=None)

    def items(self) -> dict[Hashable, Any]:
        with self._lock:
            return dict(self._views)

    def put_all(self, parts: dict[Hashable, Any]) -> None:
        """Parts built before (read back from disk), not built here."""
        with self._lock:
            for key, part in parts.items():
                self._views.setdefault(key, part)


_SHARED: dict[int, dict[str, _Built]] = {}
_SHARED_LOCK = threading.RLock()  # (re-entrant: a view may be collected while it is held)


def _forget(view_id: int) -> None:
    with _SHARED_LOCK:
        _SHARED.pop(view_id, None)


def clear() -> None:
    """Forget every part (tests; the views themselves are in ``dashboard.VIEWS``)."""
    with _SHARED_LOCK:
        _SHARED.clear()


def built(view: dashboard.Dashboard, locale: str) -> int:
    """How many parts of ``view`` in ``locale`` were built so far (0 if none)."""
    with _SHARED_LOCK:
        parts = _SHARED.get(id(view), {}).get(locale)
    return 0 if parts is None else parts.built


def of(view: dashboard.Dashboard, locale: str) -> Parts:
    """The shared parts of ``view`` (a shared view, :func:`analysis.dashboard.view_for`) in
    ``locale``: built on first use, by whichever session or the warming asks first."""
    with _SHARED_LOCK:
        entry = _SHARED.get(id(view))
        if entry is None:
            entry = _SHARED[id(view)] = {}
            weakref.finalize(view, _forget, id(view))
        parts = entry.get(locale)
        if parts is None:
            parts = entry[locale] = _Built()
    return Parts(view, locale, parts)


_CONVERT: Callable[[Any], dict] | None = None


def use_converter(convert: Callable[[Any], dict]) -> None:
    """Streamlit's own conversion of an Altair chart to the spec ``st.altair_chart`` sends,
    given by whoever runs Streamlit: the page at each run, and ``clientroi serve``'s process
    before its background warming starts (this module imports no Streamlit)."""
    global _CONVERT
    _CONVERT = convert


def vega_lite(chart) -> dict:
    """The Vega-Lite spec Streamlit makes of an Altair chart for ``st.altair_chart``
    (:func:`use_converter`)."""
    if _CONVERT is None:
        raise RuntimeError("no converter of charts: dashboard_parts.use_converter was not called")
    return _CONVERT(chart)


class Parts:
    """The parts of one view in one language (:func:`of`); each method builds its part once."""

    def __init__(self, view: dashboard.Dashboard, locale: str, built: _Built) -> None:
        self.view = view
        self.locale = locale
        self._built = built

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """``build()`` once for this view and language, whoever asks."""
        return self._built.get(key, build)

    def chart(self, key: Hashable, build: Callable[[], Any]) -> dict:
        """The Vega-Lite spec of the Altair chart ``build()`` gives, once."""
        return self.get(("chart", *key), lambda: vega_lite(build()))

    def t(self, key: str, **params) -> str:
        return i18n.t(key, self.locale, **params)

    @property
    def names(self) -> dict[str, str]:
        """Each company's name as the page shows it, in this language."""
        return self.get(
            ("names",),
            lambda: {
                company: metrics.company_label(company, name, self.locale)
                for company, name in zip(
                    self.view.companies["company"], self.view.companies["company_name"], strict=True
                )
            },
        )

    def _named(self) -> pd.DataFrame:
        table = self.view.companies
        return table.assign(company_name=table["company"].map(self.names))

    # --- the headline tab -------------------------------------------------------------------

    def headline(self) -> pd.DataFrame:
        return self.get(
            ("headline",), lambda: dashboard.headline_table(self.view.companies, self.locale)
        )

    def headline_groups(self) -> pd.DataFrame:
        return self.get(
            ("headline_groups",),
            lambda: dashboard.headline_table(self.view.groups, self.locale, label_column="group"),
        )

    def cut(self, by: str) -> pd.DataFrame:
        return self.get(
            ("cut", by), lambda: dashboard.cut_display(self.view.cuts[by], by, self.locale)
        )

    def cuts(self) -> list[str]:
        """The cuts the headline tab shows (those with rows)."""
        return [by for by in kpis.CUTS if by in self.view.cuts and len(self.view.cuts[by])]

    # --- the charts' tabs -------------------------------------------------------------------

    def curves(self, kind: str) -> Drawn:
        """Kaplan-Meier curves per company with their 95% bands (``kind``: resolution or
        refund_time)."""
        frame = self.view.resolution_curves if kind == "resolution" else self.view.refund_curves
        curve = charts.CURVES[kind]
        title = charts.pick(curve.title, self.locale)
        spec = self.chart(
            ("curves", kind),
            lambda: charts.survival_chart(
                frame,
                self.names,
                horizon=curve.horizon,
                title=title,
                x_title=charts.pick(curve.x_title, self.locale),
                y_title=charts.pick(curve.y_title, self.locale),
            ),
        )
        figures = self.get(
            ("curves_figures", kind),
            lambda: charts.survival_figures(
                frame, self.names, horizon=curve.horizon, locale=self.locale
            ),
        )
        return Drawn(spec, title, figures)

    def at_risk(self) -> pd.DataFrame:
        """The numbers at risk under the curves, one row per company by its name."""

        def build() -> pd.DataFrame:
            at_risk = dashboard.at_risk_table(self.view.resolution_curves)
            at_risk.index = [self.names.get(i, i) for i in at_risk.index]
            return at_risk

        return self.get(("at_risk",), build)

    def naive(self) -> pd.DataFrame:
        """The naive mean beside the Kaplan-Meier median, columns named in the language."""

        def build() -> pd.DataFrame:
            view = self.view
            naive = view.naive.assign(company_name=view.naive["company"].map(self.names))
            return naive.rename(
                columns={
                    "company_name": self.t("dashboard.headline.company"),
                    "resolution_median_days": self.t("dashboard.naive.median"),
                    "resolution_n": "n",
                    "naive_mean_days": self.t("dashboard.naive.mean"),
                    "naive_n": self.t("dashboard.naive.n_resolved"),
                    "open_share": self.t("dashboard.naive.open_share"),
                }
            ).drop(columns=["company"])

        return self.get(("naive",), build)

    def forest(self, family: str) -> Drawn:
        """One metric across companies: estimate, 95% interval and n per company."""
        figure = charts.METRICS[family]
        title = figure.text("title", self.locale)
        options = dict(estimate=figure.estimate, low=figure.low, high=figure.high, n=figure.n)
        spec = self.chart(
            ("forest", family),
            lambda: charts.forest_chart(
                self._named(),
                **options,
                percent=figure.percent,
                title=title,
                x_title=figure.text("axis", self.locale),
            ),
        )
        figures = self.get(
            ("forest_figures", family),
            lambda: charts.forest_figures(
                self._named(), **options, percent=figure.percent, locale=self.locale
            ),
        )
        return Drawn(spec, title, figures)

    def trips(self) -> Drawn:
        """The distribution of wasted trips per company."""
        title = self.t("dashboard.trips.title")
        spec = self.chart(
            ("trips",),
            lambda: charts.distribution_chart(
                self.view.trips,
                self.names,
                title=title,
                x_title=self.t("dashboard.trips.x_title"),
                legend=self.t("dashboard.trips.legend"),
            ),
        )
        figures = self.get(
            ("trips_figures",),
            lambda: charts.distribution_figures(self.view.trips, self.names, locale=self.locale),
        )
        return Drawn(spec, title, figures)

    def kilometres(self) -> pd.DataFrame:
        """The kilometres driven for nothing, per company."""

        def build() -> pd.DataFrame:
            table = self.view.companies
            km = metrics.METRIC["wasted_km"]
            return pd.DataFrame(
                {
                    self.t("dashboard.headline.company"): table["company"]
                    .map(self.names)
                    .to_numpy(),
                    km.main.text("short", self.locale): table[km.main.estimate].to_numpy(),
                    "n": table[km.n].to_numpy(),
                }
            )

        return self.get(("kilometres",), build)

    def loaners(self) -> Drawn:
        """Loaners offered, obtained, cut: one dot per company and stage."""
        stages = [(family, self.t(label)) for family, label in LOANER_STAGES]
        title = self.t("dashboard.loaner.title")
        spec = self.chart(
            ("loaners",),
            lambda: charts.stages_chart(
                self._named(), stages, title=title, x_title=self.t("dashboard.loaner.x_title")
            ),
        )
        figures = self.get(
            ("loaners_figures",),
            lambda: charts.stages_figures(self._named(), stages, locale=self.locale),
        )
        return Drawn(spec, title, figures)

    def design_groups(self) -> pd.DataFrame:
        """The four sector x origin groups of the 2 x 2 design (the groups' table's rows)."""
        groups = self.view.groups
        return self.get(
            ("design_groups",),
            lambda: groups[
                groups["sector"].isin(metrics.SECTOR_LABELS)
                & groups["origin"].isin(metrics.ORIGIN_LABELS)
            ],
        )

    def sector_origin(self, family: str) -> Drawn:
        """One metric in the four sector x origin cells, pooled over their companies."""
        figure = charts.METRICS[family]
        title = figure.text("title", self.locale)
        cells = dict(
            estimate=figure.estimate,
            low=figure.low,
            high=figure.high,
            n=figure.n,
            sector_labels={
                k: charts.pick(v, self.locale) for k, v in metrics.SECTOR_LABELS.items()
            },
            origin_labels={
                k: charts.pick(v, self.locale) for k, v in metrics.ORIGIN_LABELS.items()
            },
            percent=figure.percent,
        )
        spec = self.chart(
            ("sector_origin", family),
            lambda: charts.sector_origin_chart(
                self.design_groups(),
                **cells,
                title=title,
                legend="%" if figure.percent else self.t("dashboard.design.days"),
            ),
        )
        figures = self.get(
            ("sector_origin_figures", family),
            lambda: charts.sector_origin_figures(self.design_groups(), **cells, locale=self.locale),
        )
        return Drawn(spec, title, figures)

    def design(self, metric_id: str) -> Design:
        """ "France or the sector?" for one design metric (the view must have a design)."""
        return self.get(("design", metric_id), lambda: self._design(metric_id))

    def _design(self, metric_id: str) -> Design:
        answer = self.view.design
        percent = metric_id != "resolution_unresolved90_days"
        effects = answer.effects[answer.effects["metric"] == metric_id].reset_index(drop=True)
        inputs = answer.inputs[answer.inputs["metric"] == metric_id]
        group_labels = {
            g: metrics.group_label(g, self.locale) for g in self.design_groups()["group"]
        }
        title = self.t("dashboard.design.inputs_title")
        inputs_spec = self.chart(
            ("inputs", metric_id),
            lambda: charts.inputs_chart(
                inputs,
                names=self.names,
                group_labels=group_labels,
                title=title,
                x_title=self.t(f"dashboard.design.metric.{metric_id}"),
                percent=percent,
            ),
        )
        inputs_figures = charts.inputs_figures(
            inputs,
            names=self.names,
            group_labels=group_labels,
            locale=self.locale,
            percent=percent,
        )
        return Design(
            percent=percent,
            effects=effects,
            inputs=inputs,
            verdict=tuple(answer.verdict(metric_id, locale=self.locale)),
            effects_spec=self.chart(
                ("effects", metric_id),
                lambda: charts.design_effects_chart(effects, self.t, percent=percent),
            ),
            effects_table=dashboard.effects_table(effects, self.locale, percent=percent),
            groups_table=dashboard.design_groups_table(
                answer.groups, metric_id, self.locale, percent=percent
            ),
            inputs_drawn=Drawn(inputs_spec, title, inputs_figures),
        )

    # --- in advance -----------------------------------------------------------------------

    def warm(self) -> None:
        """Build every part the tabs draw from this view without a visitor's choice (the
        design's effects depend on the metric chosen, and the public view has none), in the
        order a visitor meets them: the headline tables, then the curves."""
        self.headline()
        self.headline_groups()
        for by in self.cuts():
            self.cut(by)
        self.curves("resolution")
        self.at_risk()
        self.naive()
        self.forest("refund_success")
        if not self.view.refund_curves.empty:
            self.curves("refund_time")
        for family in FOREST_FAMILIES[1:]:
            self.forest(family)
        self.trips()
        self.kilometres()
        self.loaners()
        design = self.view.design
        if design is not None and not design.effects.empty:
            for metric_id in kpis.DESIGN_METRICS:  # the first is the one shown at first
                self.design(metric_id)
        for family in charts.SECTOR_ORIGIN_METRICS:
            self.sector_origin(family)


def warm(view: dashboard.Dashboard, locales=LOCALES, *, kept=None) -> None:
    """Build the parts of ``view`` in each of ``locales`` (the warming's second step, after
    the view itself): the first visitor's runs then read them. ``kept``: (store, key) of a
    public view kept on disk (:func:`analysis.dashboard.store_view`): its parts are read
    back from beside it when the same code drew them (a restart: milliseconds instead of a
    second or two of Altair while the first visitor's page is served), else built and kept
    there."""
    if view.n == 0:
        return
    read = _read_back(view, *kept) if kept else False
    for locale in locales:
        of(view, locale).warm()
    if kept and not read:
        _keep(view, locales, *kept)


def parts_fingerprint() -> str:
    """What the parts are drawn by: this code (the views' fingerprint) and the libraries that
    make a spec and its Arrow data."""
    from importlib import metadata

    versions = [metadata.version(name) for name in ("altair", "streamlit", "pyarrow", "pandas")]
    return "|".join([dashboard.code_fingerprint(), *versions])


def _parts_file(store, key: Hashable):
    return dashboard._view_file(store, key).with_suffix(".parts")


def _read_back(view: dashboard.Dashboard, store, key: Hashable) -> bool:
    """Put the parts kept beside the view ``key`` into its shared parts; False if none."""
    stamp = (key, parts_fingerprint())
    parts = dashboard.read_kept(_parts_file(store, key), stamp, "charts")
    if parts is None:
        return False
    for locale, kept in parts.items():
        of(view, locale)._built.put_all(kept)
    return True


def _keep(view: dashboard.Dashboard, locales, store, key: Hashable) -> None:
    """Keep the parts of ``view`` beside it on disk (:func:`analysis.dashboard.write_kept`)."""
    parts = {locale: of(view, locale)._built.items() for locale in locales}
    dashboard.write_kept(
        store, _parts_file(store, key), (key, parts_fingerprint()), parts, "charts"
    )
