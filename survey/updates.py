"""What a respondent's later updates mean: the kinds of dated event, the checks on one update,
and the fold that turns a response and its events into the response as known on a date.

The original answers are never overwritten: an update is one row of ``response_events``
(kind, the day it happened, an amount for a refund or the kilometres of a wasted trip, no free
text). Readers that want the latest state ask the store for ``known_on=D``; the store reads the
events recorded on or before D and :func:`fold_events` folds them into the columns the
statistics read. No Streamlit and no database here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from survey.validation import Problem, parse_typed

EVENT_KINDS = (
    "resolved",
    "gave_up",
    "still_ongoing",
    "refund_received",
    "refund_refused",
    "wasted_trip",
)
"""resolved / gave up (switched or abandoned) / still ongoing on a date (the status confirmed);
a refund received (amount, date) or refused; one more wasted trip (its kilometres, optional)."""
STATUS_OF_EVENT = {"resolved": "resolved", "gave_up": "unresolved", "still_ongoing": "ongoing"}
REFUND_EVENTS = ("refund_received", "refund_refused")
# Which typed question reads an event's amount (the same French typing rules as the form).
AMOUNT_QUESTION = {"refund_received": "refund_amount_obtained", "wasted_trip": "wasted_km"}
MAX_AMOUNT = 100_000  # euros or kilometres: the questionnaire's own maximum
KNOWN_ON_COLUMN = "status_known_on"
"""The latest day the status was known: the response's own ``status_known_on`` answer (the
submission day when it has none) or the day of a later status event, whichever is latest."""
FOLDED_COLUMNS = (
    "status",
    "ended_on",
    "refund_requested",
    "refund_outcome",
    "refund_amount_obtained",
    "refund_received_on",
    "wasted_trips",
    "wasted_km",
)
"""The columns an event can change (in the frame read "as known on D", never in the table)."""
FOLD_INPUTS = ("response_id", "submitted_on", "refund_amount_requested", *FOLDED_COLUMNS)
EVENT_COLUMNS = ("event_id", "response_id", "recorded_at", "kind", "event_on", "amount")


@dataclass(frozen=True)
class Update:
    """One checked update, ready to store: a kind, the day it happened, an amount or None."""

    kind: str
    event_on: date
    amount: float | None = None


@dataclass(frozen=True)
class UpdateOutcome:
    """An :class:`Update` when every check passed, else the problems (field -> Problem)."""

    update: Update | None
    problems: dict[str, Problem]

    @property
    def ok(self) -> bool:
        return self.update is not None


def check_update(
    kind: str | None,
    event_on_text: str | None,
    amount_text: str | None = None,
    *,
    started_on: date,
    today: date,
    locale: str = "fr",
) -> UpdateOutcome:
    """Read and check one update as typed: the date in French (``3/7/2023``) or ISO, not
    before the problem's start, not after today; the amount (``120,50``) when the kind has one.

    Problems are keyed ``kind``, ``event_on`` and ``amount``; their messages are the form's.

    >>> out = check_update("resolved", "3/10/2023", started_on=date(2023, 7, 10),
    ...                    today=date(2024, 1, 1))
    >>> out.update
    Update(kind='resolved', event_on=datetime.date(2023, 10, 3), amount=None)
    >>> check_update("resolved", "1/7/2023", started_on=date(2023, 7, 10),
    ...              today=date(2024, 1, 1)).problems["event_on"].code
    'event_before_start'
    """
    problems: dict[str, Problem] = {}
    if kind not in EVENT_KINDS:
        problems["kind"] = Problem("kind", "required")
    typed = parse_typed("ended_on", event_on_text or "", locale=locale, today=today)
    event_on = typed.value
    if typed.problem is not None:
        problems["event_on"] = Problem("event_on", typed.problem.code, typed.problem.params)
    elif event_on is None:
        problems["event_on"] = Problem("event_on", "required")
    elif event_on > today:
        problems["event_on"] = Problem("event_on", "in_future")
    elif event_on < started_on:
        problems["event_on"] = Problem("event_on", "event_before_start", {"start": started_on})
    amount = None
    if kind in AMOUNT_QUESTION and amount_text not in (None, ""):
        typed_amount = parse_typed(AMOUNT_QUESTION[kind], amount_text, locale=locale)
        if typed_amount.problem is not None:
            problems["amount"] = Problem(
                "amount", typed_amount.problem.code, typed_amount.problem.params
            )
        elif typed_amount.value is not None and typed_amount.value < 0:
            problems["amount"] = Problem("amount", "too_small", {"minimum": 0})
        elif typed_amount.value is not None and typed_amount.value > MAX_AMOUNT:
            problems["amount"] = Problem("amount", "too_large", {"maximum": MAX_AMOUNT})
        else:
            amount = None if typed_amount.value is None else float(typed_amount.value)
    if kind == "refund_received" and amount is None and "amount" not in problems:
        problems["amount"] = Problem("amount", "required")
    if problems:
        return UpdateOutcome(None, problems)
    return UpdateOutcome(Update(kind, event_on, amount), {})


def empty_events() -> pd.DataFrame:
    """An events frame with no row (the shape :func:`fold_events` reads)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})


def _days(values: Any) -> pd.Series:
    """Dates (date objects, datetime64 of any unit, NaT) as datetime64[ns] without a zone."""
    series = pd.to_datetime(pd.Series(values), errors="coerce")
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    return series.astype("datetime64[ns]")


def known_on_base(frame: pd.DataFrame) -> pd.Series:
    """The day each response's own answers were known: its ``status_known_on`` answer when the
    questionnaire has one and it is given, else its submission day."""
    base = _days(frame["submitted_on"].to_numpy())
    if KNOWN_ON_COLUMN in frame:
        own = _days(frame[KNOWN_ON_COLUMN].to_numpy())
        base = own.where(own.notna(), base)
    return pd.Series(base.to_numpy(), index=frame.index)


def fold_events(frame: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (responses, with :data:`FOLD_INPUTS`) with ``events`` folded in, and the
    column :data:`KNOWN_ON_COLUMN`.

    Rules (each update is newer knowledge than the answers, so it wins over them):

    - status: the last *recorded* status event (resolved, gave up, still ongoing) gives the
      status; ``ended_on`` is its day (none when still ongoing). Without one, the answers stand.
    - ``status_known_on``: the latest of :func:`known_on_base` and every status event's day.
    - refunds: the last recorded refund event gives the outcome (refused; received: ``full``
      when the total obtained reaches the amount requested or none was stated, else
      ``partial``); received amounts add to ``refund_amount_obtained``, ``refund_received_on``
      is the latest receipt, and ``refund_requested`` becomes true.
    - a wasted trip adds one to ``wasted_trips`` and its kilometres to ``wasted_km``; a count
      the respondent did not know (missing) stays missing: one more of an unknown number is
      still an unknown number.

    Only the rows with events are touched (a few among a million); the frame is not copied
    when there is no event.

    >>> frame = pd.DataFrame({"response_id": ["a"], "submitted_on": [date(2023, 10, 8)],
    ...     "status": ["ongoing"], "ended_on": [None], "refund_requested": [None],
    ...     "refund_outcome": [None], "refund_amount_requested": [None],
    ...     "refund_amount_obtained": [None], "refund_received_on": [None],
    ...     "wasted_trips": [2], "wasted_km": [40.0]})
    >>> events = pd.DataFrame({"event_id": ["e"], "response_id": ["a"],
    ...     "recorded_at": [pd.Timestamp("2024-01-02", tz="UTC")], "kind": ["resolved"],
    ...     "event_on": [date(2023, 12, 20)], "amount": [None]})
    >>> out = fold_events(frame, events)
    >>> out.loc[0, "status"], str(out.loc[0, "ended_on"].date()), str(out.loc[0, "status_known_on"].date())
    ('resolved', '2023-12-20', '2023-12-20')
    """
    frame[KNOWN_ON_COLUMN] = known_on_base(frame)
    if events.empty:
        return frame
    events = events.sort_values(["recorded_at", "event_id"], kind="stable")
    events = events.assign(
        response_id=events["response_id"].astype(str), event_on=_days(events["event_on"].to_numpy())
    )
    ids = frame["response_id"].astype(str)
    hit = ids.isin(set(events["response_id"]))
    if not hit.any():
        return frame
    rows = ids[hit]

    def set_values(column: str, mask: pd.Series, values: pd.Series) -> None:
        """frame[column] = values where mask (mask and values indexed like ``rows``)."""
        if not mask.any():
            return
        target = rows.index[mask.to_numpy()]
        new = values[mask].to_numpy()
        current = frame[column]
        if isinstance(current.dtype, pd.CategoricalDtype):
            missing = set(pd.unique(new[pd.notna(new)])) - set(current.cat.categories)
            if missing:
                frame[column] = current.cat.add_categories(sorted(missing))
        elif pd.api.types.is_datetime64_any_dtype(current.dtype) or new.dtype.kind == "M":
            if not pd.api.types.is_datetime64_any_dtype(current.dtype):
                current = pd.Series(_days(current.to_numpy()).to_numpy(), index=current.index)
                frame[column] = current
            new = pd.to_datetime(pd.Series(new)).astype(current.dtype).to_numpy()
        elif pd.api.types.is_integer_dtype(current.dtype) or pd.api.types.is_bool_dtype(
            current.dtype
        ):
            frame[column] = current.astype(object if current.dtype == bool else "float64")
        frame.loc[target, column] = new

    # Status, and the day it was last known.
    status_events = events[events["kind"].isin(STATUS_OF_EVENT)]
    if not status_events.empty:
        grouped = status_events.groupby("response_id", sort=False)
        last = grouped.tail(1).set_index("response_id")
        has = rows.isin(last.index)
        kind = rows.map(last["kind"])
        set_values("status", has, kind.map(STATUS_OF_EVENT))
        ended = rows.map(last["event_on"]).where(kind != "still_ongoing")
        set_values("ended_on", has, ended)
        latest = rows.map(grouped["event_on"].max())
        base = frame.loc[rows.index, KNOWN_ON_COLUMN]
        set_values(KNOWN_ON_COLUMN, has, pd.concat([base, latest], axis=1).max(axis=1))

    # Refunds.
    refund_events = events[events["kind"].isin(REFUND_EVENTS)]
    if not refund_events.empty:
        grouped = refund_events.groupby("response_id", sort=False)
        last_kind = rows.map(grouped.tail(1).set_index("response_id")["kind"])
        has = last_kind.notna()
        received = refund_events[refund_events["kind"] == "refund_received"]
        got = rows.map(received.groupby("response_id")["amount"].sum(min_count=1))
        received_on = rows.map(received.groupby("response_id")["event_on"].max())
        before = pd.to_numeric(frame.loc[rows.index, "refund_amount_obtained"], errors="coerce")
        total = before.fillna(0.0) + got.astype(float)
        requested = pd.to_numeric(frame.loc[rows.index, "refund_amount_requested"], errors="coerce")
        full = requested.isna() | (total >= requested)
        outcome = pd.Series(
            np.where(last_kind == "refund_refused", "refused", np.where(full, "full", "partial")),
            index=rows.index,
        )
        set_values("refund_outcome", has, outcome)
        set_values("refund_requested", has, pd.Series(True, index=rows.index))
        set_values("refund_amount_obtained", got.notna(), total)
        set_values("refund_received_on", received_on.notna(), received_on)

    # Wasted trips.
    trips = events[events["kind"] == "wasted_trip"]
    if not trips.empty:
        grouped = trips.groupby("response_id", sort=False)
        count = rows.map(grouped.size())
        km = rows.map(grouped["amount"].sum(min_count=1))
        has = count.notna()
        before_trips = pd.to_numeric(frame.loc[rows.index, "wasted_trips"], errors="coerce")
        set_values("wasted_trips", has & before_trips.notna(), before_trips + count)
        before_km = pd.to_numeric(frame.loc[rows.index, "wasted_km"], errors="coerce")
        set_values("wasted_km", km.notna() & before_km.notna(), before_km + km)
    return frame
