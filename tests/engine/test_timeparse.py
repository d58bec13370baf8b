"""Times and durations as users type them."""
from datetime import datetime, timedelta, timezone

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.timeparse import last_night, parse_duration, parse_when

# A fixed zone keeps the tests independent of the machine's local time and DST.
ZONE = timezone(timedelta(hours=1))
EVENING = datetime(2026, 11, 25, 22, 0, tzinfo=ZONE)
JUST_AFTER_MIDNIGHT = datetime(2026, 11, 26, 0, 30, tzinfo=ZONE)


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=ZONE).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", at(2026, 11, 25, 22, 0)),
        ("+30m", at(2026, 11, 25, 22, 30)),
        ("+2h", at(2026, 11, 26, 0, 0)),
        ("+1h30m", at(2026, 11, 25, 23, 30)),
        ("in 2 hours", at(2026, 11, 26, 0, 0)),
        ("in 45 minutes", at(2026, 11, 25, 22, 45)),
        ("23:15", at(2026, 11, 25, 23, 15)),
        ("21:00", at(2026, 11, 26, 21, 0)),  # already past today: tomorrow
        ("22:00", at(2026, 11, 26, 22, 0)),  # exactly now counts as past
        ("tonight", at(2026, 11, 26, 1, 0)),
        ("tonight 01:00", at(2026, 11, 26, 1, 0)),
        ("tonight 23:30", at(2026, 11, 25, 23, 30)),
        ("Tomorrow 09:30", at(2026, 11, 26, 9, 30)),
        ("today 08:00", at(2026, 11, 25, 8, 0)),
        ("  tomorrow   9:05 ", at(2026, 11, 26, 9, 5)),
        ("2026-11-26 01:00", at(2026, 11, 26, 1, 0)),
        ("2026-11-26T01:00", at(2026, 11, 26, 1, 0)),
        ("2026-11-26T01:00:00+00:00", at(2026, 11, 26, 2, 0)),
        ("2026-11-27", at(2026, 11, 27, 0, 0)),
    ],
)
def test_parse_when_understands(text: str, expected: float) -> None:
    assert parse_when(text, EVENING) == expected


def test_tonight_after_midnight_is_the_same_night() -> None:
    assert parse_when("tonight", JUST_AFTER_MIDNIGHT) == at(2026, 11, 26, 1, 0)
    assert parse_when("01:00", JUST_AFTER_MIDNIGHT) == at(2026, 11, 26, 1, 0)


def test_default_now_is_the_current_local_time() -> None:
    before = datetime.now().timestamp()
    assert before <= parse_when("now") <= datetime.now().timestamp()
    naive = parse_when("2026-11-26 01:00")
    assert naive == datetime(2026, 11, 26, 1, 0).timestamp()


@pytest.mark.parametrize("text", ["soon", "", "next week", "+", "in x", "+0m", "+-5m", "1am"])
def test_unreadable_times_list_examples(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_when(text, EVENING)
    message = str(caught.value)
    assert repr(text) in message
    assert "'tonight 01:00'" in message and "'+30m'" in message and "'2026-11-26 01:00'" in message


@pytest.mark.parametrize("text", ["25:00", "tonight 12:75", "tomorrow 24:00"])
def test_impossible_clock_times_say_so(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a time of day: use 00:00 to 23:59"):
        parse_when(text, EVENING)


def test_a_day_without_a_time_asks_for_one() -> None:
    expected = r"'tomorrow' needs a time of day, e\.g\. 'tomorrow 09:30'"
    with pytest.raises(InvalidInput, match=expected):
        parse_when("tomorrow", EVENING)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("2.5", 2.5), ("30m", 1800.0), ("2h", 7200.0), ("1h30m", 5400.0),
     ("2 hours", 7200.0), ("1 day", 86400.0), ("45 sec", 45.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_durations_name_the_text() -> None:
    with pytest.raises(InvalidInput, match=r"cannot read the duration '3 fortnights'.*'1h30m'"):
        parse_duration("3 fortnights")
    with pytest.raises(InvalidInput, match=r"duration '0' must be more than zero"):
        parse_duration("0")


@pytest.mark.parametrize("now", [EVENING, JUST_AFTER_MIDNIGHT,
                                 datetime(2026, 11, 26, 9, 0, tzinfo=ZONE)])
def test_last_night_starts_at_18_00_of_the_day_before(now):
    assert last_night(now) == at(now.year, now.month, now.day - 1, 18, 0)
