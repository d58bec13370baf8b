"""Log positions, cursors and line assembly of the Docker runtime (no daemon needed)."""
from __future__ import annotations

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import Stream
from agentdeck.engine.runtimes.base import MAX_LINE_BYTES, cut_marker
from agentdeck.engine.runtimes.docker.cursor import (
    LineReader, LogCursor, LogPosition, TimestampParser,
)
from agentdeck.engine.runtimes.docker.endpoints import parse_endpoint

T0 = "2026-11-25T03:00:00"
NS = 1795575600 * 10**9  # T0 in ns since the epoch


def frame(frac: str, payload: bytes) -> bytes:
    return f"{T0}{frac}Z ".encode() + payload


def test_timestamps_with_trimmed_or_missing_fractions() -> None:
    parse = TimestampParser()
    assert parse(f"{T0}.123456789Z".encode()) == NS + 123456789
    assert parse(f"{T0}.5Z".encode()) == NS + 500000000
    assert parse(f"{T0}Z".encode()) == NS


def test_cursor_round_trip_and_garbage() -> None:
    cursor = LogCursor(stdout=LogPosition(NS + 5, 2), scan_ns=NS + 7)
    assert LogCursor.decode(cursor.encode()) == cursor
    assert LogCursor.decode(None) == LogCursor()
    with pytest.raises(InvalidInput, match="unreadable Docker log cursor"):
        LogCursor.decode("stdout=abc")
    assert cursor.since() == "1795575600.000000007" and LogCursor().since() is None
    assert cursor.moved(Stream.STDERR, LogPosition(NS, 1)).position(Stream.STDERR) == (NS, 1)


def test_a_cursor_stored_before_the_scan_mark_resumes_from_its_older_stream() -> None:
    old = LogCursor.decode(f"stderr={NS + 3}:1;stdout={NS + 9}:2")
    assert old == LogCursor(LogPosition(NS + 9, 2), LogPosition(NS + 3, 1), NS + 3)
    assert LogCursor.decode(f"stderr=0:0;stdout={NS}:1").scan_ns == 0  # stderr: from the start


def test_resume_skips_exactly_what_was_delivered_even_with_equal_timestamps() -> None:
    frames = [frame(".1", b"a\n"), frame(".2", b"b\n"), frame(".2", b"c\n"), frame(".3", b"d\n")]
    first = LineReader(LogPosition(), TimestampParser())
    assert first.feed(frames[:2]) == ["a", "b"]
    resumed = LineReader(first.line_pos, TimestampParser())
    assert resumed.feed(frames) == ["c", "d"]  # the daemon re-sends from the timestamp on
    assert resumed.line_pos == LogPosition(NS + 300000000, 1)


def test_a_long_line_in_several_messages_is_one_line_and_is_cut_at_the_limit() -> None:
    reader = LineReader(LogPosition(), TimestampParser())
    part = b"x" * 16384
    assert reader.feed([frame(".1", part)] * 5) == []
    assert reader.line_pos == LogPosition()  # a half line is not a position to resume at
    assert reader.partial_ts == NS + 100000000
    (line,) = reader.feed([frame(".1", b"yz\n")])
    assert line == "x" * MAX_LINE_BYTES + cut_marker(5 * 16384 + 2 - MAX_LINE_BYTES)
    assert reader.line_pos == LogPosition(NS + 100000000, 6) and reader.partial_ts is None
    assert reader.feed([frame(".2", b"tail")]) == [] and reader.finish() == ["tail"]


@pytest.mark.parametrize(("line", "expected"), [
    ("tcp://10.0.0.5:2376", ("10.0.0.5", "tcp://10.0.0.5:2376", None)),
    ("box ssh://me@box 8", ("box", "ssh://me@box", 8)),
    ("local default 3", ("local", None, 3)),
    ("default", ("local", None, None)),
])
def test_endpoints_from_settings_lines(line: str, expected: tuple[str, str | None, int | None]) -> None:
    endpoint = parse_endpoint(line)
    assert (endpoint.name, endpoint.url) == expected[:2]
    assert endpoint.max_parallel == (expected[2] or endpoint.max_parallel) >= 1


@pytest.mark.parametrize("line", ["", "a b c", "box notaurl", "box tcp://x 0"])
def test_unreadable_endpoint_lines_say_how_to_write_them(line: str) -> None:
    with pytest.raises(InvalidInput, match="'\\[name\\] url \\[max parallel\\]'"):
        parse_endpoint(line)


def test_messages_docker_sends_again_at_a_rotation_are_taken_once() -> None:
    # As seen on a rotating log: a long line's pieces share a stamp, and the follow
    # stream goes back one message (or a few) and sends them again.
    a1, a2, b1, b2 = b"a" * 16384, b"a-end\n", b"b" * 16384, b"b-end\n"
    reader = LineReader(LogPosition(), TimestampParser())
    lines = reader.feed([frame(".1", a1), frame(".1", a2), frame(".2", b1),
                         frame(".1", a2), frame(".2", b1), frame(".2", b2),   # again
                         frame(".2", b2),                                      # again
                         frame(".3", b"c\n"), frame(".3", b"d\n")])
    assert lines == [(a1 + a2).decode()[:-1], (b1 + b2).decode()[:-1], "c", "d"]
    assert reader.line_pos == LogPosition(NS + 300000000, 2)
