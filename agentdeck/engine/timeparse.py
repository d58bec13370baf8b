"""Times and durations as people type them: "tonight", "+2h", "tomorrow 09:30".

All results are epoch seconds; wall-clock words ("23:15", "tomorrow") mean local time,
or the time zone of ``now`` when an aware datetime is passed (tests do that).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from agentdeck.engine.errors import InvalidInput

EXAMPLES = ("now", "+30m", "+2h", "in 2 hours", "23:15", "tonight", "tonight 01:00",
            "tomorrow 09:30", "2026-11-26 01:00")

# The hour "tonight" means when no time is given: the quiet middle of the coming night.
TONIGHT_HOUR = 1
# The hour an overnight run is taken to begin: "last night" is from 18:00 yesterday on.
EVENING_HOUR = 18

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"30m"``, ``"1h30m"``, ``"2 hours"`` or ``"90"``.

    A bare number is seconds.

    Raises:
        InvalidInput: The text is not a positive duration.
    """
    cleaned = text.strip().lower()
    try:
        seconds = float(cleaned)
    except ValueError:
        seconds = _sum_parts(cleaned, text)
    if not seconds > 0:
        raise InvalidInput(f"duration {text!r} must be more than zero")
    return seconds


def parse_when(text: str, now: datetime | None = None) -> float:
    """Epoch seconds for a start time typed by a person.

    Accepts ``now``, ``+30m`` / ``+2h`` / ``in 2 hours``, ``HH:MM`` (today, or tomorrow if
    that time has passed), ``tonight`` (the coming 01:00), ``tonight HH:MM`` (the next
    HH:MM), ``today HH:MM``, ``tomorrow HH:MM`` and ISO dates/datetimes
    (``2026-11-26 01:00``, ``2026-11-26T01:00``, with an optional UTC offset).

    Args:
        text: What the user typed.
        now: The reference time (default: the current local time).

    Raises:
        InvalidInput: The text is none of the above; the message lists examples.
    """
    now = now or datetime.now()
    cleaned = " ".join(text.strip().lower().split())
    if cleaned == "now":
        return now.timestamp()
    if cleaned.startswith(("+", "in ")):
        offset = cleaned[1:] if cleaned.startswith("+") else cleaned[3:]
        # Elapsed time, not wall-clock arithmetic: "+2h" stays two hours across DST.
        return now.timestamp() + _duration_or_fail(offset, text)
    if cleaned == "tonight":
        return _next_clock(now, TONIGHT_HOUR, 0, 0).timestamp()
    if cleaned in ("today", "tomorrow"):
        raise InvalidInput(f"{text!r} needs a time of day, e.g. '{cleaned} 09:30'")
    word, _, clock = cleaned.rpartition(" ")
    match = _CLOCK.fullmatch(clock)
    if match and word in ("", "tonight", "today", "tomorrow"):
        return _at_clock(word, match, now, text).timestamp()
    return _iso(text, now).timestamp()


def last_night(now: datetime | None = None) -> float:
    """Epoch seconds of the start of "last night": yesterday at `EVENING_HOUR` (local).

    From 18:00 yesterday covers the overnight run whether it is read at 02:00 (the night
    still on) or at 09:00 the next morning.
    """
    now = now or datetime.now()
    return (now - timedelta(days=1)).replace(hour=EVENING_HOUR, minute=0, second=0,
                                             microsecond=0).timestamp()


def _sum_parts(cleaned: str, original: str) -> float:
    total, pos = 0.0, 0
    while pos < len(cleaned):
        match = _DURATION_PART.match(cleaned, pos)
        if not match or match[2] not in _UNITS:
            raise InvalidInput(
                f"cannot read the duration {original!r}; use e.g. '90' (seconds), '30m', "
                "'2h', '1h30m' or '2 hours'"
            )
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    return total


def _duration_or_fail(offset: str, original: str) -> float:
    try:
        return parse_duration(offset)
    except InvalidInput:
        raise InvalidInput(_unreadable(original)) from None


def _at_clock(word: str, match: re.Match[str], now: datetime, original: str) -> datetime:
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidInput(f"{original!r} is not a time of day: use 00:00 to 23:59")
    if word == "today":
        return now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if word == "tomorrow":
        return (now + timedelta(days=1)).replace(
            hour=hour, minute=minute, second=second, microsecond=0
        )
    return _next_clock(now, hour, minute, second)


def _next_clock(now: datetime, hour: int, minute: int, second: int) -> datetime:
    """The first moment after ``now`` showing that wall-clock time."""
    candidate = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def _iso(text: str, now: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(_unreadable(text)) from None
    if moment.tzinfo is None and now.tzinfo is not None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return moment


def _unreadable(text: str) -> str:
    examples = ", ".join(repr(example) for example in EXAMPLES)
    return f"cannot read the time {text!r}; these work: {examples}"
