"""The attacks of issue 12, as tests: each tries to read one respondent's answers back from
what the public sees, and must recover nothing, that is, the set of databases consistent with
what was published holds more than one value for every answer of the targeted respondent.

Each attack is first run against the rule it defeated (the pool of "all others" that still
held the hidden company, two releases one respondent apart...), where it must recover the
answer exactly: an attack that recovers nothing anywhere would prove nothing.
"""

from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

from analysis import dashboard, disclosure, kpis, metrics, snapshot
from survey import store as storage
from survey.demo import generate_frame
from tests.conftest import APP

TODAY = date(2026, 6, 15)
AS_OF = date(2026, 6, 15)
TARGET = "starlink"  # the company of nine responses
SHARES = [m.name for m in metrics.METRICS if m.kind == "share"]


def seeded_frame(rows: int = 1_500, *, seed: int = 12, hidden: int = 9) -> pd.DataFrame:
    """Demo rows that look real (source 'web'), one company cut to ``hidden`` responses and
    none other under the minimum cell."""
    frame = generate_frame(rows, seed=seed, today=TODAY)
    frame["source"] = "web"
    frame = frame[~frame["flag_too_fast"] & (frame["company"] != "lycamobile")]
    target = frame.index[frame["company"] == TARGET]
    frame = frame.drop(target[hidden:])
    return frame.reset_index(drop=True)


def published_kpis(snap: snapshot.Snapshot) -> pd.DataFrame:
    """``kpis.csv`` as a reader gets it, from the published bytes."""
    data = snapshot.render(snap)["kpis.csv"]
    return pd.read_csv(io.BytesIO(data), na_values=[snapshot.SUPPRESSED], keep_default_na=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacks")
    store = storage.connect(folder / "clientroi.duckdb")
    store.insert_frame(seeded_frame())
    responses = snapshot.fetch_qualifying(store, as_of=AS_OF)
    assert (responses["company"] == TARGET).sum() == 9
    snap = snapshot.build_snapshot(responses, as_of=AS_OF)
    return SimpleNamespace(
        store=store, responses=responses, snapshot=snap, kpis=published_kpis(snap)
    )


# --- (b) Fisher p-values against a hidden company ------------------------------------------------


def fisher_candidates(s, n, published, hidden_n: int) -> set[tuple[int, int]]:
    """Every (base, successes) of the hidden company that, added to the pool of "all others",
    reproduces each company's Fisher p-value (``s`` successes of ``n``) to the published six
    significant digits. The attacker knows every other company's counts."""
    found = set()
    for base in range(hidden_n + 1):
        for successes in range(base + 1):
            rest_s = s.sum() - s + successes
            rest_n = n.sum() - n + base
            p = [
                stats.fisher_exact([[a, b - a], [c, d - c]]).pvalue if b and d else np.nan
                for a, b, c, d in zip(s, n, rest_s, rest_n, strict=True)
            ]
            if np.allclose(p, published, rtol=1e-5, atol=1e-12, equal_nan=True):
                found.add((base, successes))
    return found


def rounded(values) -> np.ndarray:
    return np.array([float(f"{v:.6g}") if np.isfinite(v) else v for v in values], dtype=float)


def answers_changed(responses: pd.DataFrame, rows, variant: int) -> pd.DataFrame:
    """The same database with every answer of ``rows`` replaced (two variants that differ in
    every yes/no and every score entering a published figure)."""
    out = responses.copy()
    yes = variant == 0
    out.loc[rows, "refund_requested"] = True
    out.loc[rows, "refund_outcome"] = "full" if yes else "refused"
    out.loc[rows, "refund_requested_on"] = out.loc[rows, "started_on"]
    out.loc[rows, "refund_received_on"] = out.loc[rows, "started_on"] if yes else pd.NaT
    for column, high, low in (
        ("wasted_trips", 4, 0),
        ("wasted_km", 80.0, 0.0),
        ("technician_visits_useless", 3, 0),
        ("false_resolved_count", 2, 0),
        ("csat", 5, 1),
        ("effort", 1, 7),
        ("nps", 10, 0),
        ("callbacks_promised", 3, 3),
        ("callbacks_received", 3, 0),
    ):
        out.loc[rows, column] = high if yes else low
    out.loc[rows, "loaner_offered"] = yes
    out.loc[rows, "loaner_obtained"] = True if yes else None
    out.loc[rows, "loaner_cut_before_resolution"] = False if yes else None
    out.loc[rows, "status"] = "resolved" if yes else "unresolved"
    out.loc[rows, "ended_on"] = out.loc[rows, "started_on"] + pd.Timedelta(days=1 if yes else 60)
    return out


def test_fisher_counts_against_the_old_pool_gave_the_answer_away(world):
    """Issue 12, route 2, as it worked: every company's Fisher p-value against a pool that
    still held the nine-response company; trying every count of that company gives back its
    answer (a sanity check of the attack, on the rule it defeated)."""
    old = kpis.company_table(world.responses, as_of=AS_OF, rng=1, n_resamples=100)
    target = old["company"] == TARGET
    recovered = []
    for family in SHARES:
        n = old[f"{family}_n"].to_numpy(dtype=int)
        s = np.rint(old[f"{family}_share"].fillna(0).to_numpy() * n).astype(int)
        answer = (int(n[target][0]), int(s[target][0]))
        published = rounded(old.loc[~target, f"{family}_vs_others_p"].to_numpy(dtype=float))
        candidates = fisher_candidates(s[~target], n[~target], published, 9)
        assert answer in candidates, family  # the attacker's model is right
        if answer[0] and candidates == {answer}:
            recovered.append(family)
    assert len(recovered) >= 3, recovered


def test_fisher_counts_against_the_hidden_company_recover_nothing(world):
    """Issue 12, route 2, against the snapshot: the nine-response company takes no part in
    any published pool, so two databases in which its respondents gave opposite answers to
    every question publish the same kpis.csv, byte for byte. Every count tried by the attack
    is consistent with what was published (and so is every answer of each respondent)."""
    published = world.kpis[world.kpis["level"] == "company"].set_index("id")
    flags = [f"{m.name}_suppressed" for m in metrics.METRICS]
    assert published.loc[TARGET, flags].all()
    rows = world.responses.index[world.responses["company"] == TARGET]
    before = snapshot.render(world.snapshot)["kpis.csv"]
    for variant in (0, 1):
        other = snapshot.build_snapshot(
            answers_changed(world.responses, rows, variant), as_of=AS_OF
        )
        assert snapshot.render(other)["kpis.csv"] == before, variant
    # and the attack itself, on the published figures, finds every candidate consistent
    shown = published.drop(index=TARGET)
    for family in SHARES:
        visible = ~shown[f"{family}_suppressed"].astype(bool)
        n = shown.loc[visible, f"{family}_n"].to_numpy(dtype=int)
        s = np.rint(shown.loc[visible, f"{family}_share"].to_numpy(dtype=float) * n).astype(int)
        p = shown.loc[visible, f"{family}_vs_others_p"].to_numpy(dtype=float)
        # the published pool is the published companies: the hidden one adds nothing to it
        assert fisher_candidates(s, n, p, 0) == {(0, 0)}, family


# --- (c) two releases around one new respondent --------------------------------------------------

FIRST, SECOND = date(2026, 6, 14), date(2026, 6, 15)
FIGURES = ("kpis.csv", "survival_curves.csv", "design_effects.csv", "design_inputs.csv")
FIGURES += ("design_groups.csv", "sensitivity.csv")


@pytest.fixture(scope="module")
def releases_world(tmp_path_factory):
    """A database published as of FIRST, then one respondent (at Orange) submitted on SECOND
    and the database published again as of SECOND, into the same folder."""
    folder = tmp_path_factory.mktemp("releases")
    store = storage.connect(folder / "clientroi.duckdb")
    frame = seeded_frame(900, seed=21)
    frame = frame[frame["submitted_on"] <= pd.Timestamp(FIRST)].reset_index(drop=True)
    newcomer = frame.index[frame["company"] == "orange"][-1]
    frame.loc[newcomer, "submitted_on"] = pd.Timestamp(SECOND)
    frame.loc[newcomer, "submitted_at"] = pd.Timestamp(SECOND).tz_localize("Europe/Paris")
    later = frame.loc[[newcomer]]
    store.insert_frame(frame.drop(index=newcomer))
    out = folder / "published"
    first = snapshot.publish(store, out=out, as_of=FIRST)
    store.insert_frame(later)
    second = snapshot.publish(store, out=out, as_of=SECOND)
    return SimpleNamespace(store=store, out=out, first=first, second=second)


def test_two_releases_one_respondent_apart_without_the_control_gave_the_answers(releases_world):
    """Issue 12, route 3, as it worked: the same two releases built without knowing the first
    one give the newcomer's satisfaction and effort by difference of two means."""
    responses = snapshot.fetch_qualifying(releases_world.store, as_of=SECOND)
    blind = snapshot.build_snapshot(responses, as_of=SECOND).companies.set_index("id")
    before = releases_world.first.snapshot.companies.set_index("id")
    newcomer = responses[responses["submitted_on"] == pd.Timestamp(SECOND)].iloc[0]
    for column in ("csat", "effort"):
        n1, m1 = before.loc["orange", f"{column}_n"], before.loc["orange", f"{column}_mean"]
        n2, m2 = blind.loc["orange", f"{column}_n"], blind.loc["orange", f"{column}_mean"]
        assert n2 == n1 + 1
        assert round(n2 * m2 - n1 * m1) == newcomer[column], column


def test_two_releases_one_respondent_apart_recover_nothing(releases_world):
    """Issue 12, route 3, with the control: the second release holds back every figure that
    the newcomer changed (listed in the manifest), so that two databases in which the newcomer
    gave opposite answers to every question publish the same figures, byte for byte."""
    second = releases_world.second.snapshot
    held = second.release_control["held"]
    assert {(h["level"], h["id"]) for h in held} >= {("company", "orange")}
    assert {h["since"] for h in held if h["level"] == "company"} == {
        releases_world.first.snapshot.name
    }
    manifest = (releases_world.second.folder / "manifest.json").read_text(encoding="utf-8")
    assert '"held"' in manifest and "orange" in manifest
    orange = second.companies.set_index("id").loc["orange"]
    assert all(bool(orange[f"{m.name}_suppressed"]) for m in metrics.METRICS)
    responses = snapshot.fetch_qualifying(releases_world.store, as_of=SECOND)
    rows = responses.index[responses["submitted_on"] == pd.Timestamp(SECOND)]
    assert len(rows) == 1
    earlier = snapshot.releases.earlier_releases(releases_world.out)
    published = snapshot.render(second)
    for variant in (0, 1):
        other = snapshot.build_snapshot(
            answers_changed(responses, rows, variant),
            as_of=SECOND,
            previous=[r for r in earlier if r.as_of < SECOND],
            launch=second.launch,
        )
        files = snapshot.render(other)
        for name in FIGURES:
            assert files[name] == published[name], (variant, name)


def test_a_release_before_one_already_out_is_refused(releases_world, tmp_path):
    with pytest.raises(snapshot.SnapshotRefused, match="already published after"):
        snapshot.publish(releases_world.store, out=releases_world.out, as_of=FIRST.replace(day=1))


def test_as_of_defaults_to_the_end_of_the_last_full_month():
    assert snapshot.releases.last_full_month_end(date(2026, 3, 1)) == date(2026, 2, 28)
    assert snapshot.releases.last_full_month_end(date(2026, 3, 31)) == date(2026, 2, 28)


# --- route 1: the public dashboard ---------------------------------------------------------------


def public_tables(responses: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, ...]:
    """What the public dashboard shows as of ``as_of``: the company and group tables and the
    cuts by problem type and by year, under the disclosure control and the month-over-month
    hold (``dashboard.compute(public=True)`` then ``disclosure.protect``)."""
    view = disclosure.protect(dashboard.compute(responses, as_of=as_of, public=True))
    return view.companies, view.groups, view.cuts["problem"], view.cuts["year"]


def test_url_filters_do_not_reach_the_public_view(db_path):
    """Issue 12, route 1 (Starlink with all départements against all but Nièvre; periods one
    day apart; all problems against all but one): the public dashboard has no free filter, so
    every such pair of URLs gives the same page."""
    store = storage.connect(db_path)
    store.insert_frame(seeded_frame(600, seed=4))
    pages = []
    for params in (
        {},
        {"company": "starlink", "department": "58"},
        {"company": "starlink", "to": "2026-05-30"},
        {"problem": "outage"},
    ):
        at = AppTest.from_file(APP, default_timeout=120)
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        at.switch_page("analysis/dashboard_page.py").run()
        assert not at.exception, at.exception
        pages.append([frame.value for frame in at.dataframe])
    for other in pages[1:]:
        assert len(other) == len(pages[0])
        for mine, theirs in zip(pages[0], other, strict=True):
            pd.testing.assert_frame_equal(mine, theirs)


def test_two_monthly_public_views_one_respondent_apart_recover_nothing():
    """The live public view is a release too: as of the end of each month, a figure changed by
    1 to 9 responses since the previous month's view is held back. Two databases in which the
    one newcomer of June gave opposite answers to everything show the same public tables; the
    same views computed without the hold give the newcomer's satisfaction away."""
    may, june = date(2026, 5, 31), date(2026, 6, 30)
    frame = seeded_frame(900, seed=21)
    frame = frame[frame["submitted_on"] <= pd.Timestamp(may)].reset_index(drop=True)
    newcomer = frame.index[frame["company"] == "orange"][-1]
    frame.loc[newcomer, "submitted_on"] = pd.Timestamp(date(2026, 6, 10))
    before = disclosure.published_tables(frame, as_of=may, rng=1, n_resamples=200)
    blind = disclosure.published_tables(frame, as_of=june, rng=1, n_resamples=200)
    b, a = before.companies.set_index("company"), blind.companies.set_index("company")
    n1, m1 = b.loc["orange", "csat_n"], b.loc["orange", "csat_mean"]
    n2, m2 = a.loc["orange", "csat_n"], a.loc["orange", "csat_mean"]
    assert round(n2 * m2 - n1 * m1) == frame.loc[newcomer, "csat"]  # the attack, unguarded
    shown = [public_tables(answers_changed(frame, [newcomer], v), june) for v in (0, 1)]
    for mine, theirs in zip(shown[0], shown[1], strict=True):
        pd.testing.assert_frame_equal(mine, theirs)
    orange = shown[0][0].set_index("company").loc["orange"]
    assert bool(orange["csat_suppressed"])


def test_a_hidden_cut_cell_cannot_be_rebuilt_from_the_whole():
    """Each cut partitions the same responses, so the whole is known from any fully published
    view: the hidden cells of a cut must rest on at least 10 responses together, and a metric
    that hides a company or group cell hides a cut cell too."""
    cut = pd.DataFrame(
        {
            "cut": ["a", "b", "c", "d"],
            "n": [4, 40, 12, 60],
            "resolution_n": [4, 40, 12, 60],
            "refund_success_n": [20, 30, 40, 50],
        }
    )
    for _, name in kpis.CUT_FIGURES:
        for column in metrics.estimate(name).columns:
            cut[column] = 0.5
    shown = disclosure.protect_cuts(cut, must_hide=frozenset({"refund_success"}))
    hidden = shown["resolution_suppressed"].to_numpy()
    assert hidden.tolist() == [True, False, True, False]  # 4 alone could be rebuilt: 12 goes too
    assert cut["resolution_n"][hidden].sum() >= 10
    assert shown["refund_success_suppressed"].sum() >= 1  # the whole cannot be rebuilt
    assert shown.loc[hidden, "resolution_n"].isna().all()  # no base beside a masked figure


def test_every_pair_of_public_views_recovers_nothing_about_one_respondent():
    """The broader attack: the public's views are the fixed page of each month, with or
    without the synthetic demonstration rows (the URL changes nothing else, see above). For
    one seeded respondent (June's newcomer), every view is the same whichever answers they
    gave, so no pair of views, differenced or combined, tells anything about them."""
    months = (date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30))
    frame = seeded_frame(900, seed=33)
    frame = frame[frame["submitted_on"] <= pd.Timestamp(months[1])].reset_index(drop=True)
    newcomer = frame.index[frame["company"] == "free"][-1]
    frame.loc[newcomer, "submitted_on"] = pd.Timestamp(date(2026, 6, 3))
    demo_rows = generate_frame(300, seed=9, today=TODAY)  # source 'synthetic': not people
    worlds = [answers_changed(frame, [newcomer], variant) for variant in (0, 1)]
    views = []
    for world in worlds:
        shown = {}
        for month in months:
            for synthetic in (False, True):
                rows = pd.concat([world, demo_rows], ignore_index=True) if synthetic else world
                shown[(month, synthetic)] = public_tables(rows, month)
        views.append(shown)
    for key in views[0]:  # each view, hence every pair of views, is the same in both worlds
        for mine, theirs in zip(views[0][key], views[1][key], strict=True):
            pd.testing.assert_frame_equal(mine, theirs)
