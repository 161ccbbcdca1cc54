"""The synthetic demo data set: seeded, vectorised, every row marked ``source = 'synthetic'``.

Each company gets a profile (how long its incidents last, how often it refunds, how many
trips for nothing...) loosely shaped by the story in ``shared/seed`` and by market shares, so
dashboards show real contrasts, censoring and missing answers. It is not a measurement of
anything: it never reaches a published snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from survey.questionnaire import QUESTIONNAIRE_VERSION, companies, departments
from survey.validation import paris_today

FIRST_START = date(2022, 1, 1)


@dataclass(frozen=True)
class Profile:
    weight: float  # share of responses
    median_days: float  # median true resolution time
    spread: float  # sigma of the log-normal resolution time
    give_up: float  # chance an unresolved incident ends without resolution before the report
    refund_full: float  # among decided refund requests
    refund_partial: float
    refund_pending: float  # among all requests
    refund_days: float  # median days to receive a refund
    trips: float  # mean wasted trips per incident
    useless_visit: float  # chance a technician visit achieves nothing
    callback_kept: float
    false_resolved: float  # mean times declared resolved while not
    loaner_offered: float
    loaner_cut: float
    satisfaction: float  # 0 (awful) .. 1 (excellent), shifts CSAT, effort and NPS


PROFILES: dict[str, Profile] = {
    "orange": Profile(
        16, 12, 1.3, 0.15, 0.45, 0.25, 0.15, 30, 0.5, 0.45, 0.40, 0.5, 0.30, 0.20, 0.40
    ),
    "sosh": Profile(5, 14, 1.3, 0.18, 0.40, 0.25, 0.15, 35, 0.4, 0.45, 0.35, 0.5, 0.20, 0.20, 0.38),
    "sfr": Profile(10, 20, 1.4, 0.22, 0.30, 0.25, 0.20, 45, 0.8, 0.60, 0.25, 0.9, 0.25, 0.35, 0.25),
    "red_by_sfr": Profile(
        5, 22, 1.4, 0.25, 0.28, 0.25, 0.20, 45, 0.6, 0.60, 0.22, 0.9, 0.15, 0.35, 0.23
    ),
    "free": Profile(
        12, 16, 1.4, 0.20, 0.35, 0.25, 0.20, 40, 0.9, 0.55, 0.30, 0.8, 0.35, 0.45, 0.30
    ),
    "bouygues": Profile(
        8, 13, 1.3, 0.17, 0.42, 0.25, 0.15, 32, 0.6, 0.50, 0.38, 0.6, 0.30, 0.25, 0.36
    ),
    "b_and_you": Profile(
        3, 15, 1.3, 0.20, 0.38, 0.25, 0.15, 35, 0.5, 0.50, 0.33, 0.6, 0.20, 0.25, 0.34
    ),
    "la_poste_mobile": Profile(
        2, 14, 1.2, 0.18, 0.40, 0.25, 0.15, 30, 0.4, 0.45, 0.40, 0.4, 0.15, 0.20, 0.40
    ),
    "starlink": Profile(
        1, 10, 1.2, 0.15, 0.45, 0.20, 0.15, 25, 0.2, 0.30, 0.20, 0.3, 0.10, 0.10, 0.45
    ),
    "lycamobile": Profile(
        1, 18, 1.3, 0.25, 0.30, 0.20, 0.20, 40, 0.5, 0.40, 0.20, 0.6, 0.05, 0.20, 0.28
    ),
    "amazon": Profile(
        14, 3, 0.9, 0.05, 0.85, 0.08, 0.05, 5, 0.2, 0.20, 0.75, 0.1, 0.05, 0.05, 0.75
    ),
    "aliexpress": Profile(
        6, 9, 1.1, 0.12, 0.65, 0.15, 0.10, 15, 0.3, 0.25, 0.45, 0.3, 0.03, 0.10, 0.55
    ),
    "temu": Profile(5, 8, 1.1, 0.12, 0.68, 0.12, 0.10, 12, 0.3, 0.25, 0.40, 0.3, 0.03, 0.10, 0.52),
    "fnac_darty": Profile(
        4, 8, 1.1, 0.10, 0.60, 0.20, 0.10, 20, 0.7, 0.35, 0.50, 0.3, 0.20, 0.15, 0.55
    ),
    "cdiscount": Profile(
        4, 11, 1.2, 0.14, 0.50, 0.20, 0.15, 25, 0.5, 0.35, 0.35, 0.4, 0.05, 0.15, 0.42
    ),
    "boulanger": Profile(
        3, 7, 1.1, 0.10, 0.62, 0.20, 0.10, 18, 0.7, 0.35, 0.55, 0.3, 0.20, 0.15, 0.58
    ),
}

ISP_SERVICES = np.array(["fixed_internet", "mobile", "landline", "tv"])
ISP_SERVICE_P = np.array([0.55, 0.30, 0.07, 0.08])
ISP_PROBLEMS = np.array(["outage", "degraded", "installation", "billing", "cancellation", "other"])
ISP_PROBLEM_P = np.array([0.35, 0.20, 0.15, 0.15, 0.10, 0.05])
SHOP_PROBLEMS = np.array(["delivery", "defective", "billing", "cancellation", "other"])
SHOP_PROBLEM_P = np.array([0.50, 0.30, 0.08, 0.07, 0.05])


def _profile_array(ids: list[str], attribute: str) -> np.ndarray:
    return np.array([getattr(PROFILES[i], attribute) for i in ids], dtype=float)


def _nullable_int(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype("int32"), missing.copy())


def _nullable_bool(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(values.astype(bool), missing.copy())


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = days.astype("datetime64[D]").astype("datetime64[us]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return out


def iter_frames(
    rows: int, *, seed: int = 42, today: date | None = None, chunk_rows: int = 200_000
) -> Iterator[pd.DataFrame]:
    """The demo data set in chunks (bounded memory); chunk ``i`` is seeded with ``(seed, i)``."""
    for index, start in enumerate(range(0, rows, chunk_rows)):
        yield generate_frame(min(chunk_rows, rows - start), seed=(seed, index), today=today)


def generate_frame(
    rows: int, *, seed: int | tuple[int, ...] = 42, today: date | None = None
) -> pd.DataFrame:
    """``rows`` synthetic responses as a DataFrame shaped like ``Store.fetch_responses``.

    Vectorised with numpy: a million rows take a few seconds. The same seed and ``today``
    give the same frame.
    """
    if rows < 0:
        raise ValueError("`rows` must be non-negative.")
    today = today or paris_today()
    rng = np.random.default_rng(seed)
    company_rows = [row for row in companies() if row["id"] in PROFILES]
    ids = [row["id"] for row in company_rows]
    weights = _profile_array(ids, "weight")
    company_index = rng.choice(len(ids), size=rows, p=weights / weights.sum())

    def per_company(attribute: str) -> np.ndarray:
        return _profile_array(ids, attribute)[company_index]

    is_isp = np.array([row["sector"] == "isp" for row in company_rows])[company_index]
    missing = lambda p: rng.random(rows) < p  # noqa: E731  (a "don't know" answer)

    # Dates, in days since the epoch.
    today_d = np.datetime64(today, "D").astype(np.int64)
    first = np.datetime64(FIRST_START, "D").astype(np.int64)
    started = rng.integers(first, today_d - 1, size=rows, endpoint=True)
    true_days = np.floor(
        rng.lognormal(np.log(per_company("median_days")), per_company("spread"))
    ).astype(np.int64)
    # People report some time after the problem started, and never after today.
    report_delay = np.floor(rng.exponential(60.0, size=rows)).astype(np.int64) + 1
    submitted = np.minimum(started + report_delay, today_d)
    resolved = started + true_days <= submitted
    gave_up = ~resolved & (rng.random(rows) < per_company("give_up"))
    ended = np.where(resolved, started + true_days, 0)
    give_up_at = started + np.floor(rng.random(rows) * (submitted - started + 1)).astype(np.int64)
    ended = np.where(gave_up, give_up_at, ended)
    status = np.where(resolved, "resolved", np.where(gave_up, "unresolved", "ongoing"))
    ongoing = status == "ongoing"
    seconds = rng.integers(7 * 3600, 23 * 3600, size=rows)
    submitted_at = (
        pd.to_datetime(submitted.astype("datetime64[D]")) + pd.to_timedelta(seconds, unit="s")
    ).tz_localize("Europe/Paris", ambiguous="NaT", nonexistent="shift_forward")

    service = np.where(
        is_isp,
        rng.choice(ISP_SERVICES, size=rows, p=ISP_SERVICE_P),
        "online_order",
    )
    problem = np.where(
        is_isp,
        rng.choice(ISP_PROBLEMS, size=rows, p=ISP_PROBLEM_P),
        rng.choice(SHOP_PROBLEMS, size=rows, p=SHOP_PROBLEM_P),
    )
    long_wait = 1.0 + np.minimum(np.maximum(submitted - started, 0), 365) / 60.0

    # Effort: counts, each with its share of "don't know".
    technician = np.where(
        is_isp & np.isin(problem, ["outage", "degraded", "installation"]),
        rng.poisson(0.6 * long_wait),
        0,
    )
    useless = rng.binomial(technician, per_company("useless_visit"))
    promised = rng.poisson(0.8 * long_wait)
    received = rng.binomial(promised, per_company("callback_kept"))
    trips = rng.poisson(per_company("trips") * np.where(is_isp, long_wait / 2, 1.0))
    km = np.where(trips > 0, np.round(trips * 2 * rng.exponential(8.0, size=rows) + 1.0), 0.0)
    false_resolved = rng.poisson(per_company("false_resolved") * np.where(is_isp, 1.0, 0.3))

    # Loaner equipment: ISPs, when there is no service.
    needs_loaner = is_isp & (problem == "outage")
    offered = needs_loaner & (rng.random(rows) < per_company("loaner_offered") * 2)
    obtained = offered & (rng.random(rows) < 0.7)
    cut = obtained & ~resolved & (rng.random(rows) < per_company("loaner_cut") * 2)
    loaner_days = np.floor(rng.exponential(4.0, size=rows)).astype(np.int64)
    loaner_asked = needs_loaner & ~missing(0.1)

    # Refunds.
    refund_requested = rng.random(rows) < np.where(is_isp, 0.35, 0.6)
    refund_asked_known = ~missing(0.05)
    requested_on = np.minimum(
        started + np.floor(rng.exponential(10.0, size=rows)).astype(np.int64), submitted
    )
    pending = refund_requested & (rng.random(rows) < per_company("refund_pending"))
    u = rng.random(rows)
    full_p, partial_p = per_company("refund_full"), per_company("refund_partial")
    outcome = np.where(u < full_p, "full", np.where(u < full_p + partial_p, "partial", "refused"))
    refund_days = np.floor(rng.lognormal(np.log(per_company("refund_days")), 0.8)).astype(np.int64)
    received_on = requested_on + refund_days
    paid = np.isin(outcome, ["full", "partial"])
    # A refund not yet received by the report date is still pending.
    pending |= refund_requested & paid & (received_on > submitted)
    outcome = np.where(pending, "pending", outcome)
    paid = refund_requested & np.isin(outcome, ["full", "partial"])
    amount_requested = np.round(rng.lognormal(np.log(60.0), 0.9, size=rows), 2)
    amount_obtained = np.where(
        outcome == "full",
        amount_requested,
        np.round(amount_requested * rng.uniform(0.2, 0.9, size=rows), 2),
    )
    gesture = rng.random(rows) < np.where(per_company("satisfaction") > 0.5, 0.15, 0.05)

    # Assessment, worse when the problem dragged on.
    mood = per_company("satisfaction") - 0.25 * np.log1p(np.maximum(submitted - started, 0)) / 6
    mood = np.clip(mood + rng.normal(0, 0.2, size=rows), 0, 1)
    csat = np.clip(np.round(1 + 4 * mood + rng.normal(0, 0.5, size=rows)), 1, 5)
    effort = np.clip(np.round(7 - 6 * mood + rng.normal(0, 0.7, size=rows)), 1, 7)
    nps = np.clip(np.round(10 * mood + rng.normal(0, 1.2, size=rows)), 0, 10)
    switched = np.where(mood < 0.25, "yes", np.where(mood < 0.45, "considering", "no"))

    department_codes = np.array([row["code"] for row in departments()])
    name_of = {row["id"]: row["name"] for row in company_rows}
    company_ids = np.array(ids)[company_index]
    fill_seconds = np.round(rng.lognormal(np.log(360.0), 0.5, size=rows), 1)
    household = rng.choice(
        np.array(["retired", "employed", "student", "other"]), size=rows, p=[0.3, 0.55, 0.08, 0.07]
    )
    uuid_hex = np.frombuffer(rng.bytes(16 * rows), dtype=np.uint8).reshape(rows, 16).copy()
    uuid_hex[:, 6] = (uuid_hex[:, 6] & 0x0F) | 0x40  # version 4
    uuid_hex[:, 8] = (uuid_hex[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    response_ids = np.frombuffer(uuid_hex.tobytes().hex().encode(), dtype="S32").astype(str)

    none = np.zeros(rows, dtype=bool)
    no_refund = ~refund_requested | ~refund_asked_known
    frame = pd.DataFrame(
        {
            "response_id": response_ids,
            "submitted_at": submitted_at,
            "submitted_on": _dates(submitted),
            "questionnaire_version": np.full(rows, QUESTIONNAIRE_VERSION, dtype=np.int32),
            "locale": np.where(rng.random(rows) < 0.9, "fr", "en"),
            "source": "synthetic",
            "fill_seconds": fill_seconds,
            "flag_honeypot": none,
            "flag_too_fast": fill_seconds < 60,
            "flag_duplicate": none,
            "flag_burst": none,
            "collected_from": pd.NaT,
            "company": company_ids,
            "company_other": None,
            "service": pd.array(np.where(missing(0.05), None, service), dtype=object),
            "department": np.where(
                missing(0.3), None, rng.choice(department_codes, size=rows)
            ).astype(object),
            "household": np.where(missing(0.1), None, household).astype(object),
            "school_children": _nullable_bool(rng.random(rows) < 0.3, missing(0.2)),
            "teleworks": _nullable_bool(rng.random(rows) < 0.25, missing(0.2)),
            "problem": problem,
            "started_on": _dates(started),
            "status": status,
            "ended_on": _dates(ended, ongoing),
            "blamed_third_party": _nullable_bool(
                rng.random(rows) < np.where(is_isp, 0.35, 0.1), missing(0.15)
            ),
            "false_resolved_count": _nullable_int(false_resolved, missing(0.2)),
            "contacts_phone": _nullable_int(rng.poisson(2.0 * long_wait / 2), missing(0.15)),
            "contacts_chat": _nullable_int(rng.poisson(1.0, size=rows), missing(0.2)),
            "contacts_email": _nullable_int(rng.poisson(1.0, size=rows), missing(0.2)),
            "contacts_shop": _nullable_int(rng.poisson(np.where(is_isp, 0.5, 0.05)), missing(0.2)),
            "contacts_social": _nullable_int(rng.poisson(0.2, size=rows), missing(0.25)),
            "contacts_letter": _nullable_int(rng.poisson(0.1, size=rows), missing(0.25)),
            "unanswered_calls": _nullable_int(rng.poisson(1.5 * long_wait / 2), missing(0.2)),
            "callbacks_promised": _nullable_int(promised, missing(0.15)),
            "callbacks_received": _nullable_int(received, missing(0.15)),
            "hours_spent": np.where(
                missing(0.2), np.nan, np.round(rng.gamma(2.0, 2.0 * long_wait), 1).clip(0, 1000)
            ),
            "technician_visits": _nullable_int(technician, missing(0.1)),
            "technician_visits_useless": _nullable_int(useless, missing(0.1)),
            "wasted_trips": _nullable_int(trips, missing(0.1)),
            "wasted_km": np.where(missing(0.15), np.nan, km),
            "escalation_mediator": rng.random(rows) < 0.04,
            "escalation_regulator": rng.random(rows) < np.where(is_isp, 0.05, 0.0),
            "escalation_signalconso": rng.random(rows) < 0.05,
            "escalation_association": rng.random(rows) < 0.02,
            "escalation_court": rng.random(rows) < 0.003,
            "loaner_offered": _nullable_bool(offered, ~loaner_asked),
            "loaner_obtained": _nullable_bool(obtained, ~loaner_asked),
            "loaner_days_to_obtain": _nullable_int(
                loaner_days, ~(loaner_asked & obtained) | missing(0.2)
            ),
            "loaner_cut_before_resolution": _nullable_bool(cut, ~(loaner_asked & obtained)),
            "refund_requested": _nullable_bool(refund_requested, ~refund_asked_known),
            "refund_outcome": np.where(no_refund, None, outcome).astype(object),
            "refund_amount_requested": np.where(no_refund | missing(0.2), np.nan, amount_requested),
            "refund_amount_obtained": np.where(
                no_refund | ~paid | missing(0.2), np.nan, amount_obtained
            ),
            "refund_requested_on": _dates(requested_on, no_refund | missing(0.25)),
            "refund_received_on": _dates(received_on, no_refund | ~paid | missing(0.25)),
            "unrequested_gesture": _nullable_bool(gesture, missing(0.2)),
            "csat": _nullable_int(csat, missing(0.1)),
            "effort": _nullable_int(effort, missing(0.15)),
            "nps": _nullable_int(nps, missing(0.1)),
            "switched": np.where(missing(0.1), None, switched).astype(object),
            "narrative": None,
            "consent_research": True,
            "consent_quote": False,
        }
    )
    # Questionnaire version 2's answers, drawn after every earlier column (which stay as they
    # were for a given seed) from a generator of their own.
    more = np.random.default_rng(rng.integers(2**63))
    _add_version_2(
        frame,
        more,
        is_isp=is_isp,
        service=service,
        problem=problem,
        started=started,
        submitted=submitted,
        ended=ended,
        ongoing=ongoing,
        false_resolved=false_resolved,
        trips=trips,
        loaner_known=loaner_asked & obtained,
        cut=cut,
        effort=frame["effort"],
    )
    frame["company_name"] = pd.Series(company_ids).map(name_of).to_numpy()
    sector_of = {row["id"]: row["sector"] for row in company_rows}
    origin_of = {row["id"]: row["origin"] for row in company_rows}
    frame["sector"] = frame["company"].map(sector_of)
    frame["origin"] = frame["company"].map(origin_of)
    return frame


def _add_version_2(
    frame,
    rng,
    *,
    is_isp,
    service,
    problem,
    started,
    submitted,
    ended,
    ongoing,
    false_resolved,
    trips,
    loaner_known,
    cut,
    effort,
) -> None:
    """The answers questionnaire version 2 added, consistent with the earlier ones: the
    services of a subscription, the date an old ongoing case was last known, the whole
    neighbourhood cut, the false "resolved" messages' dates, why trips were wasted, how many
    times the loaner was cut off, and the ease (8 - effort)."""
    rows = len(frame)
    missing = lambda p: rng.random(rows) < p  # noqa: E731

    def options(chosen: dict[str, np.ndarray], asked: np.ndarray) -> None:
        # a multiple choice: at least one ticked when answered, all NULL otherwise
        ticked = np.zeros(rows, dtype=bool)
        for values in chosen.values():
            ticked |= values
        unanswered = ~asked | ~ticked
        for column, values in chosen.items():
            frame[column] = _nullable_bool(values, unanswered)

    # what was answered decides what is asked (a "don't know" hides the follow-ups)
    false_resolved = frame["false_resolved_count"].fillna(0).to_numpy(dtype=np.int64)
    trips = frame["wasted_trips"].fillna(0).to_numpy(dtype=np.int64)
    service = frame["service"].fillna("").to_numpy(dtype=object)
    telecom = np.isin(service, ["fixed_internet", "mobile", "landline", "tv"]) & is_isp
    internet = (service == "fixed_internet") | (rng.random(rows) < 0.5)
    options(
        {
            "services_internet": internet,
            "services_landline": (service == "landline") | (internet & (rng.random(rows) < 0.7)),
            "services_tv": (service == "tv") | (internet & (rng.random(rows) < 0.5)),
            "services_mobile": (service == "mobile") | (rng.random(rows) < 0.3),
            "services_other": rng.random(rows) < 0.03,
        },
        telecom & ~missing(0.1),
    )
    # Most people report an ongoing case on the day they know it; some tell an old one whose
    # status they last checked a few weeks before filling in the form.
    old = ongoing & (submitted - started > 30) & (rng.random(rows) < 0.3)
    known = np.maximum(submitted - rng.integers(1, 45, size=rows), started)
    frame["status_known_on"] = _dates(known, ~old)
    no_service = is_isp & np.isin(problem, ["outage", "degraded"])
    frame["neighbourhood_cut"] = _nullable_bool(rng.random(rows) < 0.3, ~no_service | missing(0.35))
    # The false "resolved" messages fall between the start and the end (or the report).
    end = np.where(ongoing, submitted, ended)
    span = np.maximum(end - started, 0)
    first = started + np.floor(rng.random(rows) * np.minimum(span, 30) + 0.5).astype(np.int64)
    last = first + np.floor(rng.random(rows) * (end - first)).astype(np.int64)
    frame["false_resolved_first_on"] = _dates(first, (false_resolved < 1) | missing(0.3))
    frame["false_resolved_last_on"] = _dates(last, (false_resolved < 2) | missing(0.4))
    options(
        {
            "wasted_reason_no_stock": rng.random(rows) < np.where(is_isp, 0.45, 0.2),
            "wasted_reason_no_reservation": rng.random(rows) < np.where(is_isp, 0.25, 0.35),
            "wasted_reason_closed": rng.random(rows) < np.where(is_isp, 0.15, 0.3),
            "wasted_reason_other": rng.random(rows) < 0.15,
        },
        (trips >= 1) & ~missing(0.15),
    )
    cuts = np.where(cut, 1 + rng.poisson(0.5, size=rows), 0)
    frame["loaner_cut_count"] = _nullable_int(cuts, ~loaner_known)
    frame["ease"] = 8 - effort


def seed_story_answers() -> dict:
    """The story in shared/seed as answers to the questionnaire (a French ISP, unnamed there)."""
    return {
        "company": "free",
        "service": "fixed_internet",
        "department": "06",
        "household": "retired",
        "problem": "outage",
        "started_on": date(2023, 7, 10),
        "status": "ongoing",
        "blamed_third_party": True,
        "false_resolved_count": 1,
        "technician_visits": 2,
        "technician_visits_useless": 2,
        "wasted_trips": 2,
        "wasted_km": 40.0,
        "loaner_offered": True,
        "loaner_obtained": True,
        "loaner_cut_before_resolution": True,
        "callbacks_promised": 2,
        "callbacks_received": 0,
        "consent_research": True,
    }


def seed_story_details() -> dict:
    """What the story says that questionnaire version 1 could not hold (version 2's
    answers), to add to :func:`seed_story_answers`."""
    return {
        "services_internet": True,
        "services_landline": True,
        "services_tv": True,
        "status_known_on": date(2023, 9, 30),  # written at the end of September 2023
        "neighbourhood_cut": True,
        "false_resolved_first_on": date(2023, 8, 14),  # "résolu le 14 août"
        "wasted_reason_no_stock": True,  # Antibes: reserved, but no box in the shop
        "wasted_reason_no_reservation": True,  # the next month: no reservation in his name
        "loaner_cut_count": 2,
    }
