"""Abuse that does not count (issue 12): a limit per keyed hash of the client address, kept in
memory only, and a burst detector that flags a company's responses arriving too fast."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from survey import store as storage
from survey.validation import (
    ADDRESS_LIMIT,
    AddressLimiter,
    BurstDetector,
    client_address,
    poisson_tail,
)
from tests.conftest import APP

NOON = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_limit_counts_per_address_within_a_sliding_hour():
    clock = Clock(NOON)
    limiter = AddressLimiter(clock=clock)
    assert [limiter.acquire("203.0.113.7") for _ in range(ADDRESS_LIMIT + 2)] == [True] * 5 + [
        False,
        False,
    ]
    assert limiter.acquire("203.0.113.8")  # another address is not held back
    clock.now += 3599
    assert not limiter.acquire("203.0.113.7")
    clock.now += 2  # the first ones are more than an hour old
    assert limiter.acquire("203.0.113.7")


def test_a_released_count_is_given_back():
    limiter = AddressLimiter(limit=1, clock=Clock(NOON))
    assert limiter.acquire("local")
    limiter.release("local")
    assert limiter.used("local") == 0
    assert limiter.acquire("local")


def test_addresses_are_kept_only_as_keyed_hashes_forgotten_at_midnight():
    clock = Clock(NOON)
    limiter = AddressLimiter(clock=clock)
    limiter.acquire("203.0.113.7")
    kept = repr(vars(limiter))
    assert "203.0.113.7" not in kept
    digests = list(limiter._seen)
    assert len(digests) == 1 and len(digests[0]) == 64
    other = AddressLimiter(clock=clock)
    other.acquire("203.0.113.7")
    assert list(other._seen) != digests  # a random key per process: no stable pseudonym
    key = limiter._key
    clock.now += 12 * 3600 + 1  # past midnight, Paris time
    assert limiter.used("203.0.113.7") == 0
    assert limiter._key != key


def test_the_client_address_behind_a_local_proxy():
    assert client_address("198.51.100.4", None) == "198.51.100.4"
    assert client_address(None, "10.0.0.1, 198.51.100.4") == "198.51.100.4"
    assert client_address(None, "") == "local"


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"window": 0}, "window"),
    ],
)
def test_limiter_options_are_checked(options, parameter):
    with pytest.raises(ValueError, match=f"`{parameter}`"):
        AddressLimiter(**options)


def test_poisson_tail_against_scipy():
    from scipy.stats import poisson

    for count, mean in [(1, 0.5), (5, 0.2), (9, 2.0), (30, 12.5)]:
        assert poisson_tail(count, mean) == pytest.approx(poisson.sf(count - 1, mean), rel=1e-9)


def test_a_burst_is_flagged_against_the_companys_usual_rate():
    clock = Clock(NOON)
    detector = BurstDetector(clock=clock)
    # Two responses a day for three weeks: the usual rate for Orange.
    usual = []
    for _ in range(21 * 2):
        clock.now += 12 * 3600
        usual.append(detector.observe("orange"))
    assert not any(usual)
    # Then, two hours later, twenty in six minutes: flagged from the fifth on, not before.
    clock.now += 2 * 3600
    burst = []
    for _ in range(20):
        clock.now += 18
        burst.append(detector.observe("orange"))
    assert burst == [False] * 4 + [True] * 16
    assert not detector.observe("free")  # another company is not affected


def test_a_busy_company_is_not_flagged_at_its_usual_pace():
    clock = Clock(NOON)
    detector = BurstDetector(clock=clock)
    flags = []
    for _ in range(24 * 14 * 6):  # six an hour, every hour, for two weeks
        clock.now += 600
        flags.append(detector.observe("orange"))
    assert not any(flags[24 * 6 :])


def test_burst_options_are_checked():
    with pytest.raises(ValueError, match="`baseline`"):
        BurstDetector(window=10, baseline=5)
    with pytest.raises(ValueError, match="`minimum`"):
        BurstDetector(minimum=0)
    with pytest.raises(ValueError, match="`p_value`"):
        BurstDetector(p_value=1.5)


# --- the load test: twenty fresh sessions, one address ------------------------------------------

ANSWERS = {
    "q_company": "orange",
    "q_problem": "outage",
    "q_started_on": "3/7/2023",
    "q_status": "ongoing",
    "q_consent_research": True,
}


def fresh_session_submits() -> AppTest:
    """A new browser session (fresh AppTest) that fills the form and presses "Envoyer"."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    for name, value in ANSWERS.items():
        at.session_state[name] = value
    at.session_state["form_step"] = 4
    at.run()
    at.button(key="form_submit").click().run()
    assert not at.exception, at.exception
    return at


def test_twenty_fresh_sessions_from_one_address_count_at_most_the_limit(db_path, store):
    """Issue 12: 20 submissions from 20 new sessions (before: 20 accepted, 14 counted). From
    one address (AppTest connects as this machine: the address ``local``), at most
    ``ADDRESS_LIMIT`` are stored, and the refusal sits right under "Envoyer"."""
    sessions = [fresh_session_submits() for _ in range(20)]
    stored = store.fetch_responses(storage.Filters(include_flagged=True))
    assert len(stored) == ADDRESS_LIMIT
    counted = store.fetch_responses(storage.Filters())
    assert len(counted) <= ADDRESS_LIMIT
    accepted = [at for at in sessions if at.success]
    refused = [at for at in sessions if not at.success]
    assert (len(accepted), len(refused)) == (ADDRESS_LIMIT, 20 - ADDRESS_LIMIT)
    # The fifth in a few seconds for one company is a burst: flagged as a burst (not as a
    # bot), kept for researchers, out of the statistics by default.
    assert stored["flag_burst"].tolist() == [False] * 4 + [True]
    assert stored["flag_honeypot"].tolist() == [False] * 5
    burst_id = stored.loc[stored["flag_burst"], "response_id"].item()
    assert burst_id not in counted["response_id"].tolist()
    unflagged = storage.Filters(include_flagged=True).where()[0]
    assert "flag_burst" not in unflagged and "flag_burst" in storage.Filters().where()[0]
    at = refused[-1]
    message = "Trop de témoignages envoyés depuis cette connexion en une heure (5 au plus)"
    assert [e.value for e in at.error][0].startswith(message)
    order = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            order.append(child)
            walk(child)

    walk(at.main)
    button = next(i for i, e in enumerate(order) if getattr(e, "key", None) == "form_submit")
    error = next(i for i, e in enumerate(order) if id(e) == id(at.error[0]))
    assert error > button
    assert at.checkbox(key="q_consent_research").value is True  # nothing lost
