"""Date-aware cards on worked dates: before and after the deadline, on and around voting days,
in the stations' own time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pollwatch.errors import InputError
from pollwatch.guide.cards import URGENT_DAYS, KeyDates, guide_cards

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
TBILISI = ZoneInfo("Asia/Tbilisi")

# The 2024 election abroad, as a voter in Berlin saw it: register by 12 February 23:59 Moscow
# time; vote on 15, 16 and 17 March, 08:00-20:00 local time.
DEADLINE = datetime(2024, 2, 12, 23, 59, tzinfo=MOSCOW)


def _days(zone: ZoneInfo, *dates: int) -> tuple[tuple[datetime, datetime], ...]:
    return tuple(
        (datetime(2024, 3, d, 8, tzinfo=zone), datetime(2024, 3, d, 20, tzinfo=zone)) for d in dates
    )


BERLIN_DATES = KeyDates(
    registration_deadline=DEADLINE,
    deadline_timezone="Europe/Moscow",
    voting=_days(BERLIN, 15, 16, 17),
    voting_timezone="Europe/Berlin",
)


def kinds(dates: KeyDates, now: datetime) -> list[str]:
    return [c.kind for c in guide_cards(dates, now).cards]


def test_before_the_deadline_register_by_with_days_left() -> None:
    result = guide_cards(BERLIN_DATES, datetime(2024, 2, 1, 12, tzinfo=UTC))
    register, voting = result.cards
    assert register.kind == "register-by" and register.at == "2024-02-12 23:59"
    assert register.zone == "Europe/Moscow"  # shown in the zone it was announced in
    assert register.days_left == 11 and not register.urgent
    assert voting.kind == "voting-days"
    assert voting.days == (
        "2024-03-15 08:00–20:00",
        "2024-03-16 08:00–20:00",
        "2024-03-17 08:00–20:00",
    )
    assert not result.live_first


def test_the_last_days_are_urgent_and_the_last_day_says_so() -> None:
    near = DEADLINE - timedelta(days=URGENT_DAYS, seconds=-1)
    (card, _) = guide_cards(BERLIN_DATES, near).cards
    assert card.urgent and card.days_left == URGENT_DAYS - 1
    (card, _) = guide_cards(BERLIN_DATES, DEADLINE - timedelta(hours=5)).cards
    assert card.kind == "register-by" and card.days_left == 0 and card.urgent


def test_the_deadline_is_a_moment_not_a_local_date() -> None:
    # 23:59 in Moscow is 21:59 in Berlin: at 22:30 Berlin time registration is closed
    late_in_berlin = datetime(2024, 2, 12, 22, 30, tzinfo=BERLIN)
    assert kinds(BERLIN_DATES, late_in_berlin) == ["registration-closed", "voting-days"]
    assert kinds(BERLIN_DATES, datetime(2024, 2, 12, 21, 58, tzinfo=BERLIN))[0] == "register-by"
    assert kinds(BERLIN_DATES, DEADLINE) == ["registration-closed", "voting-days"]


def test_election_day_puts_the_live_status_first() -> None:
    before = guide_cards(BERLIN_DATES, datetime(2024, 3, 15, 7, 30, tzinfo=BERLIN))
    assert before.live_first and [(c.kind, c.at) for c in before.cards] == [
        ("opens-today", "08:00")
    ]
    during = guide_cards(BERLIN_DATES, datetime(2024, 3, 16, 12, tzinfo=BERLIN))
    assert during.live_first and [(c.kind, c.at) for c in during.cards] == [("open-now", "20:00")]
    evening = guide_cards(BERLIN_DATES, datetime(2024, 3, 16, 20, 0, tzinfo=BERLIN))
    (card,) = evening.cards
    assert evening.live_first and card.kind == "closed-today"
    assert card.reopens == "2024-03-17 08:00"  # multi-day voting: it opens again
    last = guide_cards(BERLIN_DATES, datetime(2024, 3, 17, 21, tzinfo=BERLIN))
    assert last.live_first and last.cards[0].kind == "closed-today"
    assert last.cards[0].reopens is None


def test_after_voting_it_is_over() -> None:
    after = guide_cards(BERLIN_DATES, datetime(2024, 3, 18, 9, tzinfo=BERLIN))
    assert not after.live_first
    assert [(c.kind, c.at) for c in after.cards] == [
        ("registration-closed", "2024-02-12 23:59"),
        ("voting-over", "2024-03-17 20:00"),
    ]


def test_today_is_the_station_s_local_date() -> None:
    """At 21:00 UTC on 14 March it is already 15 March in Tbilisi (UTC+4), not in Berlin."""
    tbilisi = KeyDates(voting=_days(TBILISI, 15), voting_timezone="Asia/Tbilisi")
    berlin = KeyDates(voting=_days(BERLIN, 15), voting_timezone="Europe/Berlin")
    now = datetime(2024, 3, 14, 21, tzinfo=UTC)
    assert guide_cards(tbilisi, now).live_first
    assert [(c.kind, c.at, c.zone) for c in guide_cards(tbilisi, now).cards] == [
        ("opens-today", "08:00", "Asia/Tbilisi")
    ]
    assert not guide_cards(berlin, now).live_first
    assert kinds(berlin, now) == ["voting-days"]
    # 08:00 in Tbilisi is 04:00 UTC: open at 05:00 UTC, when Berlin's doors are still shut
    five_utc = datetime(2024, 3, 15, 5, tzinfo=UTC)
    assert kinds(tbilisi, five_utc) == ["open-now"]
    assert kinds(berlin, five_utc) == ["opens-today"]


def test_a_summer_time_change_is_respected() -> None:
    """Berlin moves to summer time on 31 March 2024: 08:00 local is 06:00 UTC after it."""
    day = ((datetime(2024, 3, 31, 8, tzinfo=BERLIN), datetime(2024, 3, 31, 20, tzinfo=BERLIN)),)
    dates = KeyDates(voting=day, voting_timezone="Europe/Berlin")
    assert kinds(dates, datetime(2024, 3, 31, 6, 30, tzinfo=UTC)) == ["open-now"]
    assert kinds(dates, datetime(2024, 3, 31, 5, 30, tzinfo=UTC)) == ["opens-today"]


def test_unknown_dates_make_no_cards() -> None:
    assert guide_cards(KeyDates(), datetime(2024, 1, 1, tzinfo=UTC)).cards == ()
    only_deadline = KeyDates(registration_deadline=DEADLINE, deadline_timezone="Europe/Moscow")
    assert kinds(only_deadline, datetime(2024, 3, 16, tzinfo=UTC)) == ["registration-closed"]


def test_bad_key_dates_are_refused() -> None:
    naive = datetime(2024, 3, 15, 8)
    with pytest.raises(InputError):
        guide_cards(BERLIN_DATES, naive)
    with pytest.raises(InputError):
        KeyDates(registration_deadline=naive)
    with pytest.raises(InputError):
        KeyDates(deadline_timezone="Mars/Olympus")
    with pytest.raises(InputError):
        KeyDates(voting=tuple(reversed(_days(BERLIN, 15, 16))), voting_timezone="Europe/Berlin")
    backwards = (
        (datetime(2024, 3, 15, 20, tzinfo=BERLIN), datetime(2024, 3, 15, 8, tzinfo=BERLIN)),
    )
    with pytest.raises(InputError):
        KeyDates(voting=backwards)


def test_to_dict_is_json_ready() -> None:
    import json

    data = guide_cards(BERLIN_DATES, datetime(2024, 2, 1, tzinfo=UTC)).to_dict()
    assert json.loads(json.dumps(data))["cards"][0]["kind"] == "register-by"
    assert data["live_first"] is False


def test_the_docstring_examples_hold() -> None:
    import doctest

    from pollwatch.guide import cards, demo

    for module in (cards, demo):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__
