"""The Response model and every rule a response must follow, with errors keyed by question.

The same rules serve the form, the importer and anyone building a ``Response`` in code: the
pydantic model enforces them on construction, and :func:`validate_answers` reports every
problem at once, each next to its question and in the respondent's language.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

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
    Question,
    error_message,
)

EMAIL_PATTERN = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]{2,}$")


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


def _type_and_bounds(q: Question) -> tuple[Any, dict[str, Any]]:
    """The Python type of a question's answer and its pydantic bounds."""
    if q.kind == "choice":
        return Literal[q.choice_values()], {}  # type: ignore[valid-type]
    if q.kind in ("bool", "flag", "consent"):
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

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> _ResponseBase:
        today = (info.context or {}).get("today") or paris_today()
        problems = cross_field_problems(self.model_dump(), today=today)
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


def validate_answers(answers: dict[str, Any], *, today: date | None = None) -> ValidationOutcome:
    """Check a dict of answers against every rule; never raises for bad answers.

    Unknown keys are reported under their own name. Blank strings and NaN count as unanswered.
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
            raw = raw.strip()
        try:
            parsed[q.id] = adapters[q.id].validate_python(raw)
        except ValidationError as exc:
            parsed[q.id] = None
            problems.append(_problem_from_pydantic(q.id, exc.errors()[0], raw))
    failed = {p.field for p in problems}
    problems += [p for p in cross_field_problems(parsed, today=today) if p.field not in failed]
    if problems:
        return ValidationOutcome(None, tuple(problems))
    response = Response.model_validate(parsed, context={"today": today})
    return ValidationOutcome(response, ())


def step_problems(
    answers: dict[str, Any], section_ids: tuple[str, ...], *, today: date | None = None
) -> tuple[Problem, ...]:
    """Problems with the answers of the given sections only (a multi-step form's "Next")."""
    outcome = validate_answers(answers, today=today)
    return tuple(
        p
        for p in outcome.problems
        if p.field in QUESTIONS and QUESTIONS[p.field].section in section_ids
    )


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
