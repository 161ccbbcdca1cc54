"""The Response model and every rule a response must follow, with errors keyed by question.

The same rules serve the form, the importer and anyone building a ``Response`` in code: the
pydantic model enforces them on construction, and :func:`validate_answers` reports every
problem at once, each next to its question and in the respondent's language.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from survey.questionnaire import (
    EARLIEST_DATE,
    FIELDS,
    QUESTIONS,
    TIME_ZONE,
    AtLeast,
    Question,
    error_message,
)

EMAIL_PATTERN = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]{2,}$")
# NUL and the bidirectional embedding, override and isolate controls (U+202A-U+202E,
# U+2066-U+2069): invisible, they can reorder what a researcher reads. Removed from free text.
STRIPPED_CHARACTERS = "\x00\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_STRIP_TABLE = str.maketrans("", "", STRIPPED_CHARACTERS)


def paris_today() -> date:
    """Today's date in the survey's time zone (Europe/Paris)."""
    return datetime.now(ZoneInfo(TIME_ZONE)).date()


@dataclass(frozen=True)
class Problem:
    """One problem with one answer: the question it belongs to, a code, and its parameters."""

    field: str
    code: str
    params: dict = field(default_factory=dict)

    def message(self, locale: str) -> str:
        """The problem in words, in ``locale``, numbers and dates written the locale's way."""
        return error_message(self.code, locale, **self.params)


def clean_text(text: str) -> str:
    r"""``text`` without NUL and bidirectional control characters (:data:`STRIPPED_CHARACTERS`).

    Examples
    --------
    >>> clean_text("box\u202e coupée\x00")
    'box coupée'
    """
    return text.translate(_STRIP_TABLE)


# --- what people type: numbers and dates, the locale's way ----------------------------------

# Spaces a French number may be grouped with: space, no-break space, narrow no-break space
# (what a phone or a copy from a French document gives), thin space.
GROUP_SPACES = " \u00a0\u202f\u2009"
_SPACE_CLASS = "[" + GROUP_SPACES + "]"
_SIGNS = {"": 1, "+": 1, "-": -1, "\u2212": -1}
_NUMBER_TEXT = re.compile(
    r"^(?P<sign>[+\-\u2212]?)\s*"
    r"(?P<whole>\d{1,3}(?:" + _SPACE_CLASS + r"\d{3})+|\d+(?:,\d{3})+|\d*)"
    r"(?:(?P<point>[.,])(?P<fraction>\d+))?$"
)
_DATE_DMY = re.compile(r"^(\d{1,2})([/.\- ])(\d{1,2})\2(\d{4}|\d{2})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


@dataclass(frozen=True)
class TypedAnswer:
    """What a typed text means: a ``value`` (None when blank or unreadable) and, when the
    text cannot be read, the :class:`Problem` that says what is expected."""

    value: int | float | date | None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def parse_number(text: str, *, locale: str = "fr") -> Decimal:
    """The exact number a person typed, read with the locale's rules.

    Parameters
    ----------
    text : str
        What was typed: ``1,5``, ``1 200`` (space, no-break or narrow no-break space),
        ``120,50``, ``-3``; in English also ``1,200`` and ``1.5``.
    locale : {"fr", "en"}
        The respondent's language.

    Returns
    -------
    Decimal
        The value, exactly as written (no binary rounding).

    Raises
    ------
    ValueError
        ``"ambiguous"`` when the text can be read two ways (``1.500`` in French: one and a
        half, or fifteen hundred written with a dot), ``"not_a_number"`` otherwise.

    Notes
    -----
    A decimal separator followed by other than three digits is a decimal separator in both
    languages (``1,5`` is one and a half: no language writes fifteen so). Followed by exactly
    three digits, the comma is decimal in French (``1,500`` = 1.5, as CLDR's ``fr`` writes it)
    and a thousands separator in English; the dot is decimal in English and ambiguous in
    French. Thousands are grouped by spaces in French and by commas in English, in groups of
    three, or not grouped at all.

    Examples
    --------
    >>> parse_number("1,5"), parse_number("1\u202f200"), parse_number("120,50")
    (Decimal('1.5'), Decimal('1200'), Decimal('120.50'))
    >>> parse_number("1,200", locale="en"), parse_number("1,200", locale="fr")
    (Decimal('1200'), Decimal('1.200'))
    """
    if locale not in ("fr", "en"):
        raise ValueError("`locale` must be 'fr' or 'en'.")
    match = _NUMBER_TEXT.match(text.strip())
    if match is None or not (match["whole"] or match["fraction"]):
        raise ValueError("not_a_number")
    whole, point, fraction = match["whole"], match["point"], match["fraction"]
    grouped_by_spaces = any(c in whole for c in GROUP_SPACES)
    grouped_by_commas = "," in whole
    if grouped_by_commas and locale == "fr" and not point and whole.count(",") == 1:
        whole, point, fraction = whole.split(",")[0], ",", whole.split(",")[1]  # 1,500 = 1.5
        grouped_by_commas = False
    if grouped_by_commas and (locale == "fr" or point == ","):
        raise ValueError("not_a_number")  # "1,234,567" in French, "1,234,5" anywhere
    if point and len(fraction) == 3 and not whole:
        raise ValueError("not_a_number")
    if point and len(fraction) == 3 and not (grouped_by_spaces or grouped_by_commas):
        if locale == "fr" and point == ".":
            raise ValueError("ambiguous")
        if locale == "en" and point == ",":
            whole, point, fraction = whole + fraction, None, None  # "1,500" is 1500
    digits = "".join(c for c in whole if c.isdigit()) or "0"
    try:
        number = Decimal(digits + ("." + fraction if point else ""))
    except InvalidOperation:  # pragma: no cover (the pattern admits digits only)
        raise ValueError("not_a_number") from None
    return number * _SIGNS[match["sign"]]


def parse_date(text: str, *, locale: str = "fr", today: date | None = None) -> date:
    """The calendar date a person typed.

    Parameters
    ----------
    text : str
        ``DD/MM/YYYY`` with or without leading zeros (``3/7/2023``, ``03/07/2023``), with a
        two-digit year (``03/07/23``), with ``/``, ``.``, ``-`` or a space between the parts
        (the same one twice); or ``YYYY-MM-DD``. Day first in both languages (as in France
        and in British English); never month first.
    locale : {"fr", "en"}
        The respondent's language (both read the same forms).
    today : date, optional
        For two-digit years: ``yy`` is 20yy unless that is after this year, then 19yy.

    Raises
    ------
    ValueError
        ``"not_a_date"`` when the text is not one of these forms or not a real date
        (``31/02/2023``).

    Examples
    --------
    >>> parse_date("3/7/2023"), parse_date("03/07/23", today=date(2024, 1, 1))
    (datetime.date(2023, 7, 3), datetime.date(2023, 7, 3))
    >>> parse_date("3/12/2023"), parse_date("2023-12-03", locale="en")
    (datetime.date(2023, 12, 3), datetime.date(2023, 12, 3))
    """
    if locale not in ("fr", "en"):
        raise ValueError("`locale` must be 'fr' or 'en'.")
    text = text.strip()
    if match := _DATE_DMY.match(text):
        day, month, year = int(match[1]), int(match[3]), match[4]
        if len(year) == 2:
            this_year = (today or paris_today()).year
            year = 2000 + int(year) if 2000 + int(year) <= this_year else 1900 + int(year)
        year = int(year)
    elif match := _DATE_ISO.match(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    else:
        raise ValueError("not_a_date")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError("not_a_date") from None


TYPED_KINDS = ("int", "float", "date")


def parse_typed(
    question_id: str, text: str, *, locale: str = "fr", today: date | None = None
) -> TypedAnswer:
    """What the text typed into a number or date question means, or what is wrong with it.

    The form reads every number and date through this function (a text field: a browser's
    number field reads ``1,5`` as 15). Bounds and cross-field rules are checked afterwards by
    :func:`validate_answers`, with the value returned here.

    Examples
    --------
    >>> parse_typed("hours_spent", "1,5").value
    1.5
    >>> parse_typed("technician_visits", "2,5").problem.code
    'not_whole'
    >>> parse_typed("started_on", "31/02/2023").problem.message("fr")
    'Saisissez une date au format JJ/MM/AAAA, par exemple 03/07/2023.'
    """
    q = QUESTIONS.get(question_id)
    if q is None or q.kind not in TYPED_KINDS:
        raise ValueError(f"`question_id` must be a number or date question, not {question_id!r}.")
    if _blank(text):
        return TypedAnswer(None)
    try:
        if q.kind == "date":
            return TypedAnswer(parse_date(text, locale=locale, today=today))
        number = parse_number(text, locale=locale)
    except ValueError as exc:
        return TypedAnswer(None, Problem(question_id, _TYPED_CODES[str(exc)]))
    if q.kind == "float":
        return TypedAnswer(float(number))
    if number != number.to_integral_value():
        return TypedAnswer(None, Problem(question_id, "not_whole"))
    return TypedAnswer(int(number))


_TYPED_CODES = {
    "not_a_number": "not_a_number",
    "ambiguous": "ambiguous_number",
    "not_a_date": "not_a_date",
}


def _type_and_bounds(q: Question) -> tuple[Any, dict[str, Any]]:
    """The Python type of a question's answer and its pydantic bounds."""
    if q.kind == "choice":
        return Literal[q.choice_values()], {}  # type: ignore[valid-type]
    if q.kind in ("bool", "flag", "consent", "option"):
        return bool, {}
    if q.kind == "int":
        return int, {"ge": q.minimum, "le": q.maximum}
    if q.kind == "float":
        return float, {"ge": q.minimum, "le": q.maximum, "allow_inf_nan": False}
    if q.kind == "date":
        return date, {}
    if q.kind in ("text", "email"):
        return str, {"max_length": q.max_length}
    raise ValueError(f"unknown question kind {q.kind!r}")


def _annotation(q: Question, *, required: bool = False) -> Any:
    python_type, bounds = _type_and_bounds(q)
    if required:
        return Annotated[python_type, Field(**bounds)]
    return Annotated[python_type | None, Field(default=None, **bounds)]


@cache
def _adapters() -> dict[str, TypeAdapter]:
    return {q.id: TypeAdapter(_annotation(q)) for q in FIELDS}


# Columns the form no longer asks (questionnaire version 2), computed from the question asked
# instead: column -> (that question, the function). Files and earlier versions may still give
# the column itself; when both are given they must agree.
DERIVED: dict[str, tuple[str, Any]] = {
    "loaner_cut_before_resolution": ("loaner_cut_count", lambda cuts: cuts > 0),
    "effort": ("ease", lambda ease: 8 - ease),
}


def with_derived(values: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """``values`` with each :data:`DERIVED` column computed from the question asked instead,
    where that one is answered and the column is not; a column given that disagrees with its
    source is a problem of the source (the answer the person gave on screen).

    >>> with_derived({"loaner_cut_count": 2, "ease": 6})[0]["effort"]
    2
    >>> with_derived({"loaner_cut_count": 0, "loaner_cut_before_resolution": True})[1][0].code
    'cut_count_disagrees'
    """
    out = dict(values)
    problems = []
    for column, (source, derive) in DERIVED.items():
        given = _whole(out.get(source))
        if given is None:
            continue
        value = derive(given)
        current = out.get(column)
        if isinstance(current, str):  # a file's canonical text: "true", "2"
            current = {"true": True, "false": False}.get(current.lower(), _whole(current))
        if current is None or _blank(out.get(column)):
            out[column] = value
        elif current != value and column == "effort":
            problems.append(Problem(source, "ease_disagrees"))
        elif current != value:
            problems.append(Problem(source, "cut_count_disagrees"))
    return out, problems


def _whole(value: Any) -> int | None:
    """A whole number given as a number or as a file's text ("2", "2.0"); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    return value if isinstance(value, int) else None


def cross_field_problems(values: dict[str, Any], *, today: date) -> list[Problem]:
    """Every rule that involves more than one answer, or today's date.

    ``values`` holds parsed answers (None where unanswered or invalid); a rule whose inputs
    are missing is not checked.
    """
    problems: list[Problem] = []
    v = values.get

    def add(field_id: str, code: str, **params) -> None:
        problems.append(Problem(field_id, code, params))

    for q in FIELDS:
        if q.kind == "date" and v(q.id) is not None:
            if v(q.id) > today:
                add(q.id, "in_future")
            elif v(q.id) < EARLIEST_DATE:
                add(q.id, "too_early", earliest=EARLIEST_DATE)
        if v(q.id) is not None and not q.applies(values):
            add(q.id, "not_applicable")

    started, ended, status = v("started_on"), v("ended_on"), v("status")
    if status in ("resolved", "unresolved") and ended is None:
        add("ended_on", "ended_on_required")
    if started is not None and ended is not None and ended < started:
        add("ended_on", "ended_before_started")
    known_on = v("status_known_on")
    if known_on is not None and started is not None and known_on < started:
        add("status_known_on", "known_before_started")
    first, last = v("false_resolved_first_on"), v("false_resolved_last_on")
    for field_id, day in (("false_resolved_first_on", first), ("false_resolved_last_on", last)):
        if day is None:
            continue
        if started is not None and day < started:
            add(field_id, "known_before_started")
        elif ended is not None and day > ended:
            add(field_id, "message_after_end")
    if first is not None and last is not None and last < first:
        add("false_resolved_last_on", "last_before_first")
    if v("company") == "other" and not v("company_other"):
        add("company_other", "other_company_name")
    if _gt(v("technician_visits_useless"), v("technician_visits")):
        add("technician_visits_useless", "useless_exceeds_visits")
    if _gt(v("callbacks_received"), v("callbacks_promised")):
        add("callbacks_received", "received_exceeds_promised")
    if v("wasted_trips") == 0 and (v("wasted_km") or 0) > 0:
        add("wasted_km", "km_without_trips")
    if _gt(v("refund_amount_obtained"), v("refund_amount_requested")) and not v(
        "unrequested_gesture"
    ):
        add("refund_amount_obtained", "obtained_exceeds_requested")
    requested_on, received_on = v("refund_requested_on"), v("refund_received_on")
    if requested_on is not None and received_on is not None and received_on < requested_on:
        add("refund_received_on", "refund_before_request")
    if requested_on is not None and started is not None and requested_on < started:
        add("refund_requested_on", "request_before_problem")
    if v("consent_research") is not True:
        add("consent_research", "consent_required")
    email = v("contact_email")
    if email and not EMAIL_PATTERN.match(email):
        add("contact_email", "invalid_email")
    return problems


def _gt(a, b) -> bool:
    return a is not None and b is not None and a > b


class _ResponseBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _clean_free_text(cls, data: Any) -> Any:
        # Whoever builds a Response (form, importer, code) stores no NUL nor bidi control.
        if isinstance(data, dict):
            return {k: clean_text(v) if isinstance(v, str) else v for k, v in data.items()}
        return data

    @model_validator(mode="before")
    @classmethod
    def _derived_columns(cls, data: Any) -> Any:
        # A column no longer asked (DERIVED) follows the question asked instead.
        if isinstance(data, dict):
            return with_derived(data)[0]
        return data

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> _ResponseBase:
        today = (info.context or {}).get("today") or paris_today()
        values = self.model_dump()
        problems = with_derived(values)[1] + cross_field_problems(values, today=today)
        if problems:
            raise ValidationError.from_exception_data(
                "Response",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(p.code, error_message(p.code, "en", **p.params)),
                        loc=(p.field,),
                        input=getattr(self, p.field, None),
                    )
                    for p in problems
                ],
            )
        return self


Response = create_model(
    "Response",
    __base__=_ResponseBase,
    __doc__="One experience with one company, valid by every rule of the questionnaire.",
    **{q.id: _annotation(q, required=q.required) for q in FIELDS},
)


@dataclass(frozen=True)
class ValidationOutcome:
    """The result of checking a set of answers: a Response, or problems keyed by question."""

    response: Any | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.response is not None

    def errors(self, locale: str) -> dict[str, str]:
        """One translated message per question (the first problem found for it)."""
        messages: dict[str, str] = {}
        for p in self.problems:
            messages.setdefault(p.field, p.message(locale))
        return messages


_PYDANTIC_CODES = {
    "missing": "required",
    "literal_error": "not_a_choice",
    "int_parsing": "not_whole",
    "int_from_float": "not_whole",
    "int_type": "not_whole",
    "float_parsing": "not_a_number",
    "float_type": "not_a_number",
    "finite_number": "not_a_number",
    "date_parsing": "not_a_date",
    "date_from_datetime_parsing": "not_a_date",
    "date_from_datetime_inexact": "not_a_date",
    "date_type": "not_a_date",
    "bool_parsing": "not_yes_no",
    "bool_type": "not_yes_no",
    "greater_than_equal": "too_small",
    "less_than_equal": "too_large",
    "string_too_long": "too_long",
    "string_type": "invalid",
}


def _problem_from_pydantic(field_id: str, error: dict, value: Any) -> Problem:
    code = _PYDANTIC_CODES.get(error["type"], "invalid")
    q = QUESTIONS[field_id]
    params: dict[str, Any] = {}
    # Raw numbers: Problem.message writes them the respondent's way ("100 000" or "100,000").
    if code == "too_small" and q.minimum is not None:
        params["minimum"] = q.minimum
    elif code == "too_large" and q.maximum is not None:
        params["maximum"] = q.maximum
    elif code == "too_long":
        params = {"length": len(str(value)), "max_length": q.max_length}
    return Problem(field_id, code, params)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def validate_answers(
    answers: dict[str, Any], *, today: date | None = None, locale: str | None = None
) -> ValidationOutcome:
    """Check a dict of answers against every rule; never raises for bad answers.

    Unknown keys are reported under their own name. Blank strings and NaN count as unanswered.
    Free text loses its NUL and bidirectional control characters (:func:`clean_text`).

    With ``locale`` ("fr" or "en"), numbers and dates given as text are read as a person of
    that language types them (:func:`parse_typed`: ``1,5``, ``1 200``, ``3/7/2023``), as the
    form sends them; without it, text is read as files write it (``1.5``, ``2023-07-03``).
    """
    today = today or paris_today()
    adapters = _adapters()
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    for key in answers:
        if key not in QUESTIONS:
            problems.append(Problem(key, "invalid"))
    for q in FIELDS:
        raw = answers.get(q.id)
        if _blank(raw):
            parsed[q.id] = None
            if q.required and q.kind != "consent":
                problems.append(Problem(q.id, "required"))
            continue
        if isinstance(raw, str):
            raw = clean_text(raw).strip()
            if locale is not None and q.kind in TYPED_KINDS:
                typed = parse_typed(q.id, raw, locale=locale, today=today)
                if typed.problem is not None:
                    parsed[q.id] = None
                    problems.append(typed.problem)
                    continue
                raw = typed.value
        try:
            parsed[q.id] = adapters[q.id].validate_python(raw)
        except ValidationError as exc:
            parsed[q.id] = None
            problems.append(_problem_from_pydantic(q.id, exc.errors()[0], raw))
    failed = {p.field for p in problems}
    parsed, disagreeing = with_derived(parsed)
    problems += [p for p in disagreeing if p.field not in failed]
    problems += [p for p in cross_field_problems(parsed, today=today) if p.field not in failed]
    if problems:
        return ValidationOutcome(None, tuple(problems))
    response = Response.model_validate(parsed, context={"today": today})
    return ValidationOutcome(response, ())


def step_problems(
    answers: dict[str, Any],
    section_ids: tuple[str, ...],
    *,
    today: date | None = None,
    locale: str | None = None,
) -> tuple[Problem, ...]:
    """Problems with the answers of the given sections only (a multi-step form's "Next")."""
    outcome = validate_answers(answers, today=today, locale=locale)
    return tuple(
        p
        for p in outcome.problems
        if p.field in QUESTIONS and QUESTIONS[p.field].section in section_ids
    )


# --- many rows at once: the importer's fast path -------------------------------------------------

# The texts the importer's cleaner writes, in their plainest form only (no sign, no leading
# zero, no exponent): anything else is left to the model, which decides and explains.
_PLAIN_WHOLE = re.compile(r"^(?:0|[1-9]\d{0,8})$")
_PLAIN_NUMBER = re.compile(r"^(?:0|[1-9]\d{0,8})(?:\.\d{1,9})?$")
_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class _Coded:
    """One column of a batch read through the distinct texts it holds: ``codes`` index
    ``texts`` (-1 or a None text: unanswered), ``ok`` says per distinct text whether the
    field alone accepts it, ``number`` holds its value (a number, a day since 1970, 1/0 for
    yes/no; NaN when there is none)."""

    codes: np.ndarray
    texts: np.ndarray
    ok: np.ndarray
    number: np.ndarray

    @property
    def present(self) -> np.ndarray:
        answered = np.array([t is not None for t in self.texts] + [False])
        return answered[self.codes]

    def rows(self, per_text: np.ndarray, missing) -> np.ndarray:
        return np.append(per_text, missing)[self.codes]  # code -1 takes the trailing value

    def values(self) -> np.ndarray:
        return self.rows(self.number, np.nan)

    def isin(self, accepted) -> np.ndarray:
        return self.rows(np.array([t in accepted for t in self.texts], dtype=bool), False)

    def filled(self) -> np.ndarray:
        """Rows holding a non-empty text (``not v(...)`` is False)."""
        return self.rows(np.array([bool(t) for t in self.texts], dtype=bool), False)


def _plain_value(q: Question, text: Any) -> tuple[bool, float]:
    """Whether the field ``q`` alone surely accepts ``text`` (canonical text or None), and the
    value the model would read (NaN for none). False means "not proven", not "invalid"."""
    if text is None:
        return True, math.nan
    if not isinstance(text, str):  # what the importer could not read: the model says why
        return False, math.nan
    if q.kind == "choice":
        return text in q.choice_values(), math.nan
    if q.kind in ("bool", "flag", "consent", "option"):
        return (True, float(text == "true")) if text in ("true", "false") else (False, math.nan)
    if q.kind in ("int", "float"):
        if not (_PLAIN_WHOLE if q.kind == "int" else _PLAIN_NUMBER).match(text):
            return False, math.nan
        value = float(int(text)) if q.kind == "int" else float(text)
        return q.minimum <= value <= q.maximum, value
    if q.kind == "date":
        if not _PLAIN_DATE.match(text):
            return False, math.nan
        try:
            return True, float((date.fromisoformat(text) - _EPOCH).days)
        except ValueError:
            return False, math.nan
    # Text as the importer writes it (cleaned, stripped): no more characters than allowed.
    plain = clean_text(text).strip() == text and len(text) <= q.max_length
    return plain, math.nan


def _coded(q: Question, codes: np.ndarray, texts: np.ndarray) -> _Coded:
    checked = [_plain_value(q, t) for t in texts]
    ok = np.array([c[0] for c in checked], dtype=bool)
    number = np.array([c[1] for c in checked], dtype=float)
    return _Coded(np.asarray(codes), texts, ok, number)


def proven_valid(columns: dict[str, tuple[np.ndarray, np.ndarray]], *, today: date) -> np.ndarray:
    """The rows of a batch that the ``Response`` model surely accepts, checked a column at a
    time: ``True`` where every answer is in its plainest canonical text (as the importer
    writes it) and within bounds, and no rule of :func:`cross_field_problems` nor of
    :func:`with_derived` is broken; ``False`` means "not proven" (the model then decides, and
    its reasons are the ones reported).

    Parameters
    ----------
    columns : dict
        Question id -> ``(codes, texts)``: each row's index into the column's distinct texts
        (-1 or a None text: unanswered). A question absent is unanswered in every row.
    today : date
        The day dates may not pass (the model's ``today``).

    Notes
    -----
    Conservative by construction: a text that is not a plain whole number, number, ISO date,
    ``true``/``false``, exact choice value or already-cleaned text is never accepted here,
    so a row is proven valid only when the per-row model would store the very same answers.
    ``tests/test_importer_fast.py`` checks it against the model on random batches.
    """
    unknown = set(columns) - set(QUESTIONS)
    if unknown:
        raise ValueError(f"`columns` must be question ids, not {sorted(unknown)}.")
    rows = len(next(iter(columns.values()))[0]) if columns else 0
    coded = {q_id: _coded(QUESTIONS[q_id], *pair) for q_id, pair in columns.items()}
    valid = np.ones(rows, dtype=bool)
    nothing = np.full(rows, np.nan)

    def number(q_id: str) -> np.ndarray:
        return coded[q_id].values() if q_id in coded else nothing

    for column in coded.values():
        valid &= column.rows(column.ok, True)
    for q in FIELDS:
        if q.required:
            valid &= _answered(coded, q.id, rows)
    # The columns no longer asked follow their source (the model fills and compares them).
    derived = {}
    for column, (source, _) in DERIVED.items():
        given, basis = number(column), number(source)
        value = 8 - basis if column == "effort" else (basis > 0).astype(float)
        value[np.isnan(basis)] = np.nan
        valid &= np.isnan(given) | np.isnan(basis) | (given == value)
        derived[column] = np.where(np.isnan(given), value, given)

    def value(q_id: str) -> np.ndarray:
        return derived[q_id] if q_id in derived else number(q_id)

    valid &= _applicable(coded, value, rows)
    valid &= _cross_field_valid(coded, value, rows, today=today)
    return valid


def _applicable(coded: dict[str, _Coded], value, rows: int) -> np.ndarray:
    """No answer given to a question that does not apply (``Question.applies``)."""
    applies: dict[str, np.ndarray] = {}

    def applying(q: Question) -> np.ndarray:
        if q.id not in applies:
            if q.shown_if is None:
                applies[q.id] = np.ones(rows, dtype=bool)
            else:
                parent_id, accepted = q.shown_if
                parent = QUESTIONS[parent_id]
                if isinstance(accepted, AtLeast):
                    among = value(parent_id) >= accepted.minimum
                elif parent.kind == "choice":
                    among = coded[parent_id].isin(accepted) if parent_id in coded else False
                else:  # a yes/no parent: (True,)
                    among = np.isin(value(parent_id), [float(a) for a in accepted])
                applies[q.id] = applying(parent) & among
        return applies[q.id]

    ok = np.ones(rows, dtype=bool)
    for q in FIELDS:
        if q.shown_if is not None:
            answered = ~np.isnan(value(q.id)) if q.id in DERIVED else _answered(coded, q.id, rows)
            ok &= ~answered | applying(q)
    return ok


def _answered(coded: dict[str, _Coded], q_id: str, rows: int) -> np.ndarray:
    return coded[q_id].present if q_id in coded else np.zeros(rows, dtype=bool)


def _cross_field_valid(coded: dict[str, _Coded], value, rows: int, *, today: date) -> np.ndarray:
    """:func:`cross_field_problems` over whole columns: False where any rule is broken."""
    with np.errstate(invalid="ignore"):
        ok = np.ones(rows, dtype=bool)
        last_day = float((today - _EPOCH).days)
        first_day = float((EARLIEST_DATE - _EPOCH).days)
        for q in FIELDS:
            if q.kind == "date":
                day = value(q.id)
                ok &= ~(day > last_day) & ~(day < first_day)
        started, ended = value("started_on"), value("ended_on")
        if "status" in coded:
            ok &= ~(coded["status"].isin(("resolved", "unresolved")) & np.isnan(ended))
        ok &= ~(ended < started)
        ok &= ~(value("status_known_on") < started)
        for field_id in ("false_resolved_first_on", "false_resolved_last_on"):
            ok &= ~(value(field_id) < started) & ~(value(field_id) > ended)
        ok &= ~(value("false_resolved_last_on") < value("false_resolved_first_on"))
        if "company" in coded:
            other = coded["company"].isin(("other",))
            named = coded["company_other"].filled() if "company_other" in coded else False
            ok &= ~other | named
        ok &= ~(value("technician_visits_useless") > value("technician_visits"))
        ok &= ~(value("callbacks_received") > value("callbacks_promised"))
        ok &= ~((value("wasted_trips") == 0) & (value("wasted_km") > 0))
        gesture = value("unrequested_gesture") == 1
        ok &= ~(value("refund_amount_obtained") > value("refund_amount_requested")) | gesture
        requested_on = value("refund_requested_on")
        ok &= ~(value("refund_received_on") < requested_on)
        ok &= ~(requested_on < started)
        ok &= value("consent_research") == 1
        if "contact_email" in coded:
            email = coded["contact_email"]
            wrong = [bool(t) and not EMAIL_PATTERN.match(t) for t in email.texts]
            ok &= ~email.rows(np.array(wrong, dtype=bool), False)
    return ok


SUBMISSIONS_PER_WINDOW = 5
WINDOW_SECONDS = 3600.0


def rate_limited(
    previous: list[float],
    now: float,
    *,
    limit: int = SUBMISSIONS_PER_WINDOW,
    window: float = WINDOW_SECONDS,
) -> bool:
    """Whether one browser session has already sent ``limit`` responses within ``window`` s."""
    return sum(1 for t in previous if now - t < window) >= limit


# --- abuse: many responses from one address, or for one company at once ----------------------

ADDRESS_LIMIT = 5
ADDRESS_WINDOW_SECONDS = 3600.0


def client_address(remote: str | None, forwarded_for: str | None) -> str:
    """The address a submission comes from, for the rate limit only (never stored).

    ``remote`` is the connection's address as Streamlit gives it (``st.context.ip_address``:
    None for a connection from this machine). Behind a reverse proxy on this machine (Caddy,
    nginx: docs/operations.md) every connection comes from the machine itself, so the last
    address the proxy appended to ``X-Forwarded-For`` is taken; without a proxy, a local
    connection is the address ``"local"``.

    >>> client_address("203.0.113.7", "198.51.100.1")
    '203.0.113.7'
    >>> client_address(None, "198.51.100.1, 192.0.2.44")
    '192.0.2.44'
    >>> client_address(None, None)
    'local'
    """
    if isinstance(remote, str) and remote:
        return remote
    if isinstance(forwarded_for, str) and forwarded_for.strip():
        return forwarded_for.split(",")[-1].strip()
    return "local"


class AddressLimiter:
    """At most ``limit`` counted responses per client address within ``window`` seconds.

    Addresses are never kept: only an HMAC-SHA256 of each, under a random key drawn in memory
    (:func:`secrets.token_bytes`) and replaced at midnight Paris time, when every count is
    forgotten with it. Nothing is written to disk; a restart forgets everything. Thread-safe:
    one limiter serves every session of a server process (``st.cache_resource``).

    Parameters
    ----------
    limit : int
        Responses counted per address and window (:data:`ADDRESS_LIMIT`, 5).
    window : float
        Length of the sliding window in seconds (:data:`ADDRESS_WINDOW_SECONDS`, one hour).
    clock : callable
        Seconds since the epoch (``time.time``); a test passes its own.

    Examples
    --------
    >>> limiter = AddressLimiter(limit=2, clock=lambda: 1_700_000_000.0)
    >>> [limiter.acquire("203.0.113.7") for _ in range(3)]
    [True, True, False]
    >>> limiter.acquire("198.51.100.1")
    True
    """

    def __init__(
        self,
        *,
        limit: int = ADDRESS_LIMIT,
        window: float = ADDRESS_WINDOW_SECONDS,
        clock=time.time,
    ) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError("`limit` must be a positive whole number.")
        if not window > 0:
            raise ValueError("`window` must be positive.")
        self.limit, self.window, self._clock = limit, float(window), clock
        self._lock = threading.Lock()
        self._key = b""
        self._key_day: date | None = None
        self._seen: dict[str, deque[float]] = {}

    def _digest(self, address: str, now: float) -> str:
        day = datetime.fromtimestamp(now, ZoneInfo(TIME_ZONE)).date()
        if day != self._key_day:
            self._key, self._key_day = secrets.token_bytes(32), day
            self._seen.clear()
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()

    def _recent(self, digest: str, now: float) -> deque[float]:
        times = self._seen.setdefault(digest, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def acquire(self, address: str) -> bool:
        """Count one response from ``address`` if it is under the limit; False if not."""
        with self._lock:
            now = self._clock()
            times = self._recent(self._digest(address, now), now)
            if len(times) >= self.limit:
                return False
            times.append(now)
            if len(self._seen) > 10_000:  # forget addresses whose window has passed
                for digest in [d for d, ts in self._seen.items() if not ts]:
                    del self._seen[digest]
            return True

    def release(self, address: str) -> None:
        """Give back the last count of ``address`` (its response was not stored after all)."""
        with self._lock:
            now = self._clock()
            times = self._recent(self._digest(address, now), now)
            if times:
                times.pop()

    def used(self, address: str) -> int:
        """How many responses from ``address`` count in the current window."""
        with self._lock:
            now = self._clock()
            return len(self._recent(self._digest(address, now), now))


BURST_WINDOW_SECONDS = 3600.0
BURST_BASELINE_SECONDS = 28 * 86400.0
BURST_MINIMUM = 5
BURST_P_VALUE = 0.001


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= ``count``) for X ~ Poisson(``mean``): how unusual ``count`` events are.

    >>> round(poisson_tail(3, 1.0), 6), poisson_tail(1, 0.0), poisson_tail(0, 2.0)
    (0.080301, 0.0, 1.0)
    """
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    term, below = math.exp(-mean), 0.0
    for k in range(count):  # terms of the distribution, not responses
        below += term
        term *= mean / (k + 1)
    return max(0.0, 1.0 - below)


class BurstDetector:
    """Flags a company's responses that arrive much faster than its usual rate.

    A response is part of a burst when the company's responses within the last ``window``
    seconds (this one included) number at least ``minimum`` and would happen with probability
    under ``p_value`` at the company's usual rate: a Poisson count whose mean is the
    company's rate over the ``baseline`` seconds before the window (only the time this
    process has watched counts; a company not seen before has a usual rate of zero, so its
    ``minimum``-th response within an hour is flagged). In memory only, thread-safe.

    Examples
    --------
    >>> now = [0.0]
    >>> detector = BurstDetector(clock=lambda: now[0])
    >>> flags = []
    >>> for minute in range(8):
    ...     now[0] = 60.0 * minute
    ...     flags.append(detector.observe("orange"))
    >>> flags
    [False, False, False, False, True, True, True, True]
    """

    def __init__(
        self,
        *,
        window: float = BURST_WINDOW_SECONDS,
        baseline: float = BURST_BASELINE_SECONDS,
        minimum: int = BURST_MINIMUM,
        p_value: float = BURST_P_VALUE,
        clock=time.time,
    ) -> None:
        if not window > 0 or not baseline > window:
            raise ValueError("`baseline` must be longer than `window`, both positive.")
        if not isinstance(minimum, int) or minimum < 1:
            raise ValueError("`minimum` must be a positive whole number.")
        if not 0 < p_value < 1:
            raise ValueError("`p_value` must be between 0 and 1.")
        self.window, self.baseline, self.minimum, self.p_value = window, baseline, minimum, p_value
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._seen: dict[str, deque[float]] = {}

    def observe(self, company: str) -> bool:
        """Record one counted response for ``company``; True when it is part of a burst."""
        with self._lock:
            now = self._clock()
            times = self._seen.setdefault(company, deque())
            while times and now - times[0] >= self.baseline:
                times.popleft()
            times.append(now)
            recent = sum(1 for t in times if now - t < self.window)
            watched = min(self.baseline, now - self._started) - self.window
            usual = (len(times) - recent) * self.window / watched if watched > 0 else 0.0
            return recent >= self.minimum and poisson_tail(recent, usual) < self.p_value
