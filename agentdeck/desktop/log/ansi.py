"""ANSI escape codes in agent output: SGR colours parsed into styled spans, the rest dropped.

Pure Python (no Qt), so it is tested on its own. Colours stay symbolic — a palette index
0–255 or an ``(r, g, b)`` triple — and the painter maps indexes 0–15 to the theme's
terminal colours, so the same log reads well in light and dark themes.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

Color = int | tuple[int, int, int]

# CSI sequences (colours, cursor moves, erases), OSC strings (titles, hyperlinks),
# charset selections and two-character escapes. Only SGR ("...m") changes the style;
# everything else is dropped.
_ESCAPE = re.compile(
    r"\x1b\[([0-9;:?<=>]*)[ -/]*([@-~])"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[()*+][0-9A-Za-z]"
    r"|\x1b[@-Z\\-_]"
)
_CUBE = (0, 95, 135, 175, 215, 255)


@dataclass(frozen=True, slots=True)
class Style:
    """How a run of text looks. ``None`` colours mean the theme's default."""

    fg: Color | None = None
    bg: Color | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    inverse: bool = False
    strike: bool = False


PLAIN = Style()


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text in one style."""

    text: str
    style: Style = PLAIN


@functools.lru_cache(maxsize=8192)
def parse_ansi(line: str) -> tuple[Span, ...]:
    """Split one line into styled spans; a carriage return keeps only what came after it
    (progress bars redraw the line), tabs become four spaces."""
    line = line.rstrip("\r")
    if "\r" in line:
        line = line.rsplit("\r", 1)[1]
    line = line.replace("\t", "    ")
    spans: list[Span] = []
    style, pos = PLAIN, 0
    for match in _ESCAPE.finditer(line):
        if match.start() > pos:
            spans.append(Span(line[pos:match.start()], style))
        if match.group(2) == "m":
            style = apply_sgr(style, match.group(1))
        pos = match.end()
    if pos < len(line):
        spans.append(Span(line[pos:], style))
    return tuple(_merge(spans))


def strip_ansi(text: str) -> str:
    """The text without escape sequences (for search and copying), line by line."""
    if "\x1b" not in text and "\r" not in text:
        return text.replace("\t", "    ")
    return "\n".join("".join(span.text for span in parse_ansi(line))
                     for line in text.split("\n"))


def apply_sgr(style: Style, params: str) -> Style:
    """The style after an SGR sequence ``ESC [ params m`` (``""`` means reset)."""
    codes = _codes(params)
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in (38, 48) and i + 1 < len(codes):
            color, used = _extended_color(codes, i + 1)
            i += used
            if color is not None:
                style = replace(style, **{"fg" if code == 38 else "bg": color})
        else:
            style = _simple(style, code)
        i += 1
    return style


def palette_rgb(index: int) -> tuple[int, int, int]:
    """RGB of xterm palette colours 16–255 (0–15 come from the theme)."""
    if index < 232:
        index -= 16
        return _CUBE[index // 36], _CUBE[(index // 6) % 6], _CUBE[index % 6]
    level = 8 + 10 * (index - 232)
    return level, level, level


def _codes(params: str) -> list[int]:
    """Numbers of an SGR parameter string; colon sub-parameters ("38:2::r:g:b") are
    flattened to the semicolon form with the empty colour-space id removed."""
    out: list[int] = []
    for part in params.split(";") if params else ["0"]:
        if ":" in part:
            subs = part.split(":")
            if len(subs) == 6 and subs[1] == "2":
                subs = subs[:2] + subs[3:]
            out.extend(int(s) if s.isdigit() else 0 for s in subs)
        else:
            out.append(int(part) if part.isdigit() else 0)
    return out


def _extended_color(codes: list[int], at: int) -> tuple[Color | None, int]:
    """Read ``5;n`` or ``2;r;g;b`` at ``codes[at]``; returns (colour, codes consumed)."""
    if codes[at] == 5 and at + 1 < len(codes):
        return min(codes[at + 1], 255), 2
    if codes[at] == 2 and at + 3 < len(codes):
        r, g, b = (min(c, 255) for c in codes[at + 1:at + 4])
        return (r, g, b), 4
    return None, 1


_RESETS = {22: {"bold": False, "dim": False}, 23: {"italic": False},
           24: {"underline": False}, 27: {"inverse": False}, 29: {"strike": False},
           39: {"fg": None}, 49: {"bg": None}}
_SETS = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 7: "inverse", 9: "strike"}


def _simple(style: Style, code: int) -> Style:
    if code == 0:
        return PLAIN
    if code in _SETS:
        return replace(style, **{_SETS[code]: True})
    if code in _RESETS:
        return replace(style, **_RESETS[code])
    if 30 <= code <= 37:
        return replace(style, fg=code - 30)
    if 40 <= code <= 47:
        return replace(style, bg=code - 40)
    if 90 <= code <= 97:
        return replace(style, fg=code - 90 + 8)
    if 100 <= code <= 107:
        return replace(style, bg=code - 100 + 8)
    return style  # blink, fonts, ...: not shown


def _merge(spans: list[Span]) -> list[Span]:
    """Join neighbours of the same style (``ESC[0m`` between plain runs, empty runs)."""
    out: list[Span] = []
    for span in spans:
        if out and out[-1].style == span.style:
            out[-1] = Span(out[-1].text + span.text, span.style)
        elif span.text:
            out.append(span)
    return out
