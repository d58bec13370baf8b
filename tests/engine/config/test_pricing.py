"""Prices: the shipped table, name matching, the user's override file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.config.pricing import Price, PriceTable, cost_usd


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTDECK_HOME", str(tmp_path))
    return tmp_path


def test_known_models_and_dated_snapshots(home: Path) -> None:
    table = PriceTable.load(home)
    assert table.price("claude-sonnet-4-5-20250929") == Price(3.0, 15.0)
    assert table.price("gpt-4o-mini-2024-07-18") == Price(0.15, 0.60)  # longest prefix wins
    assert table.price("gpt-4o-2024-08-06") == Price(2.50, 10.0)
    assert table.price("anthropic/claude-sonnet-4.5") == Price(3.0, 15.0)  # OpenRouter style
    assert table.price("O4-MINI") == Price(1.10, 4.40)


def test_unknown_and_local_models_cost_nothing(home: Path) -> None:
    assert cost_usd("llama3.1:8b", 10_000, 10_000) == 0.0
    assert cost_usd("gpt-4.10", 1_000_000, 0) == 0.0  # a prefix only counts at a boundary


def test_cost_matches_what_claude_code_reports(home: Path) -> None:
    # Claude Code printed total_cost_usd 0.0012 for 250 in / 30 out on claude-sonnet-4-5.
    assert cost_usd("claude-sonnet-4-5", 250, 30) == pytest.approx(0.0012)


def test_user_file_overrides_and_is_reread_when_changed(home: Path) -> None:
    user = home / "prices.toml"
    user.write_text('[default]\ninput = 1.0\noutput = 1.0\n'
                    '[models]\n"gpt-4.1" = { input = 10.0, output = 20.0 }\n')
    assert cost_usd("gpt-4.1", 1_000_000, 1_000_000) == pytest.approx(30.0)
    assert cost_usd("my-local-model", 1_000_000, 0) == pytest.approx(1.0)
    user.write_text('[models]\n"gpt-4.1" = { input = 1.0, output = 1.0 }\n')
    os.utime(user, ns=(1, 1))  # a different mtime even on coarse clocks
    assert cost_usd("gpt-4.1", 1_000_000, 1_000_000) == pytest.approx(2.0)
    assert cost_usd("claude-opus-4-1", 1_000_000, 0) == pytest.approx(15.0)


@pytest.mark.parametrize("text, message", [
    ('[models]\n"x" = { input = -1 }\n', "line 2: input must be a number >= 0"),
    ('[models]\n"x" = { input = 1, outptu = 2 }\n', "line 2: unknown field 'outptu'"),
    ('[modles]\n', "line 1: unknown table [modles]"),
    ('[models]\n"x" = 3\n', "line 2: models.x must be a table"),
    ('[models\n', "line 1, column"),
])
def test_bad_user_file_names_file_and_line(home: Path, text: str, message: str) -> None:
    (home / "prices.toml").write_text(text)
    with pytest.raises(InvalidInput) as info:
        PriceTable.load(home)
    assert str(home / "prices.toml") in str(info.value) and message in str(info.value)
