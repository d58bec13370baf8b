"""ANSI SGR parsing: 16 / 256 / truecolor, attributes, resets, other escapes dropped."""
from __future__ import annotations

from agentdeck.desktop.log.ansi import PLAIN, Span, Style, apply_sgr, palette_rgb, parse_ansi, strip_ansi


def test_plain_text_is_one_plain_span() -> None:
    assert parse_ansi("hello world") == (Span("hello world"),)
    assert parse_ansi("") == ()


def test_basic_and_bright_colours_and_reset() -> None:
    spans = parse_ansi("\x1b[31mred\x1b[0m plain \x1b[92mbright\x1b[39m end")
    assert spans == (Span("red", Style(fg=1)), Span(" plain ", PLAIN),
                     Span("bright", Style(fg=10)), Span(" end", PLAIN))


def test_backgrounds_and_attributes_combine() -> None:
    spans = parse_ansi("\x1b[1;4;44mA\x1b[22mB\x1b[24;49mC\x1b[103mD")
    assert [s.style for s in spans] == [
        Style(bg=4, bold=True, underline=True), Style(bg=4, underline=True), PLAIN,
        Style(bg=11)]


def test_256_and_truecolor_in_both_notations() -> None:
    assert apply_sgr(PLAIN, "38;5;208") == Style(fg=208)
    assert apply_sgr(PLAIN, "48;5;16") == Style(bg=16)
    assert apply_sgr(PLAIN, "38;2;10;20;30") == Style(fg=(10, 20, 30))
    assert apply_sgr(PLAIN, "38:2::10:20:30") == Style(fg=(10, 20, 30))
    assert apply_sgr(PLAIN, "38:5:99") == Style(fg=99)
    assert apply_sgr(PLAIN, "1;38;2;300;0;0;4") == Style(fg=(255, 0, 0), bold=True,
                                                          underline=True)


def test_empty_params_reset_and_unknown_codes_are_ignored() -> None:
    bold = apply_sgr(PLAIN, "1")
    assert apply_sgr(bold, "") == PLAIN
    assert apply_sgr(bold, "5;61") == bold  # blink, alternative font
    assert apply_sgr(PLAIN, "38;5") == PLAIN  # truncated: nothing to apply


def test_other_escapes_are_dropped() -> None:
    line = "\x1b]0;title\x07\x1b[2K\x1b[?25lgo\x1b[1Gne\x1b(B"
    assert strip_ansi(line) == "gone"
    assert strip_ansi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"


def test_carriage_return_keeps_the_last_redraw_and_tabs_expand() -> None:
    assert strip_ansi("progress 10%\rprogress 50%\rprogress 100%") == "progress 100%"
    assert strip_ansi("done\r") == "done"
    assert strip_ansi("a\tb") == "a    b"
    assert strip_ansi("one\r\n\x1b[1mtwo\x1b[0m\r\n50%\r100%") == "one\ntwo\n100%"


def test_same_style_neighbours_merge() -> None:
    assert parse_ansi("\x1b[32ma\x1b[32mb\x1b[0m\x1b[0mc") == (
        Span("ab", Style(fg=2)), Span("c"))


def test_palette_cube_and_greys() -> None:
    assert palette_rgb(16) == (0, 0, 0)
    assert palette_rgb(196) == (255, 0, 0)
    assert palette_rgb(231) == (255, 255, 255)
    assert palette_rgb(232) == (8, 8, 8)
    assert palette_rgb(255) == (238, 238, 238)
