"""Small pieces the agent adapters share to turn one output line into a `ParsedEntry`.

Everything here is total: any string goes in, an entry comes out. Agent output is
untrusted and may be truncated, binary or of a newer format than we know, so nothing
in this module raises on odd input.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, Mapping

from agentdeck.engine.models import EntryKind, ParsedEntry

#: Counts and costs at or above this are garbage, not usage.
_PLAUSIBLE = 1e15
#: Longest tool input / output summary put into an entry's text (the data keeps it all).
SUMMARY_CHARS = 200

# Words that mark a plain log line as an error report, for agents without structured
# output and for the stderr of those with it.
_ERRORISH = re.compile(
    r"\b(error|errors|failed|failure|fatal|exception|traceback|panic(?:ked)?|denied|"
    r"unauthori[sz]ed|forbidden|invalid|not found|no conversation found|rate limit)\b",
    re.IGNORECASE,
)


def load_event(line: str) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None when the line is not one (text, cut, garbage)."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # cut, not JSON, or nested beyond the parser's depth
        return None
    return value if isinstance(value, dict) else None


def raw(line: str, **data: Any) -> ParsedEntry:
    """The line kept verbatim as a RAW entry."""
    return ParsedEntry(EntryKind.RAW, line, _clean(data) or None)


def entry(kind: EntryKind, text: str, line: str, **data: Any) -> ParsedEntry:
    """An entry of ``kind``; the original line is kept in ``data["raw"]`` when it differs."""
    values = _clean(data)
    if text != line:
        values["raw"] = line
    return ParsedEntry(kind, text, values or None)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def usage(input_tokens: Any, output_tokens: Any, cost_usd: Any = 0.0) -> dict[str, Any]:
    """The ``usage`` fact in the shape the engine adds up."""
    return {"input_tokens": as_int(input_tokens), "output_tokens": as_int(output_tokens),
            "cost_usd": as_float(cost_usd)}


def as_int(value: Any) -> int:
    """``value`` as a plausible non-negative int; anything else counts as 0."""
    return int(as_float(value))


def as_float(value: Any) -> float:
    """``value`` as a plausible non-negative number; anything else counts as 0.0.

    None, text, bools, negatives, inf/NaN and absurd sizes (which would overflow the
    store's integer columns when added up) all count as nothing.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    number = float(value)
    return number if math.isfinite(number) and 0 < number < _PLAUSIBLE else 0.0


def as_text(value: Any) -> str:
    """A string field, or "" when the field is missing or of another type."""
    return value if isinstance(value, str) else ""


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """One line of at most ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def compact_json(value: Any) -> str:
    """``value`` as short JSON for a summary (never raises)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(value)


def looks_like_error(line: str) -> bool:
    """True when a plain log line reads like an error report."""
    return bool(_ERRORISH.search(line))


def plain_line(line: str) -> ParsedEntry:
    """A line of plain text output: ERROR when it reads like one, else RAW."""
    if line.strip() and looks_like_error(line):
        return ParsedEntry(EntryKind.ERROR, line)
    return raw(line)


Handler = Callable[[dict[str, Any], str], ParsedEntry]


def dispatch(handlers: Mapping[str, Handler], event: dict[str, Any], line: str) -> ParsedEntry:
    """The entry the handler of the event's ``type`` makes; the line as RAW when no
    handler knows the type or the handler trips over a shape we did not foresee."""
    handler = handlers.get(as_text(event.get("type")))
    if handler is None:
        return raw(line)
    try:
        return handler(event, line)
    except Exception:  # untrusted input: kept, not lost
        return raw(line)
