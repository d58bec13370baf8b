"""What LLM tokens cost: ``agentdeck/resources/prices.toml`` overridden by ``<data dir>/prices.toml``.

Prices are US dollars per million tokens. See the shipped file for how a model name
finds its price; unknown models (local ones) cost the ``default``, normally 0.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.config.paths import data_dir
from agentdeck.engine.config.resources import resource_path
from agentdeck.engine.config.tomlsource import TomlSource

FILE = "prices.toml"
_SEPARATORS = ("-", ":", "@")


@dataclass(frozen=True)
class Price:
    """US dollars per million input and output tokens."""

    input: float = 0.0
    output: float = 0.0


class PriceTable:
    """Model prices with name matching; build one with `PriceTable.load`."""

    def __init__(self, prices: dict[str, Price], default: Price = Price()) -> None:
        self.prices = {name.lower(): price for name, price in prices.items()}
        self.default = default

    @classmethod
    def load(cls, home: Path | None = None) -> "PriceTable":
        """The shipped prices merged with ``<home>/prices.toml`` (home: the data dir).

        Raises:
            InvalidInput: a prices file is unreadable or invalid (names file and line).
        """
        prices, default = parse_prices(_read(resource_path(FILE)), str(resource_path(FILE)))
        user_file = (home or data_dir()) / FILE
        if user_file.exists():
            extra, user_default = parse_prices(_read(user_file), str(user_file))
            prices.update(extra)
            default = user_default or default
        return cls(prices, default or Price())

    def price(self, model: str) -> Price:
        """The price of ``model``: exact name, else the longest known prefix, else default."""
        name = model.strip().lower()
        for candidate in (name, name.rsplit("/", 1)[-1]):
            found = self._match(candidate) or self._match(candidate.replace(".", "-"))
            if found:
                return found
        return self.default

    def _match(self, name: str) -> Price | None:
        if name in self.prices:
            return self.prices[name]
        best = max((known for known in self.prices
                    if any(name.startswith(known + sep) for sep in _SEPARATORS)),
                   key=len, default=None)
        return self.prices[best] if best else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """US dollars for that many tokens of ``model``."""
        price = self.price(model)
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def parse_prices(text: str, source: str) -> tuple[dict[str, Price], Price | None]:
    """The ``[models]`` entries and the ``[default]`` price (None if absent) of one file.

    Raises:
        InvalidInput: bad TOML, an unknown table or field, or a price that is not a
            number >= 0; the message names the file and line.
    """
    doc = TomlSource(text, source)
    for key in doc.data:
        if key not in ("models", "default"):
            doc.fail((key,), f"unknown table [{key}] (expected [models] and [default])")
    models = doc.data.get("models", {})
    if not isinstance(models, dict):
        doc.fail(("models",), "[models] must be a table of model = { input, output }")
    prices = {name: _price(doc, ("models", name), entry) for name, entry in models.items()}
    default = _price(doc, ("default",), doc.data["default"]) if "default" in doc.data else None
    return prices, default


def _price(doc: TomlSource, path: tuple[str, ...], entry: Any) -> Price:
    if not isinstance(entry, dict):
        doc.fail(path, f"{'.'.join(path)} must be a table like {{ input = 3.0, output = 15.0 }}")
    for key, value in entry.items():
        if key not in ("input", "output"):
            doc.fail(path + (key,), f"unknown field {key!r} (expected input and output)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            doc.fail(path + (key,), f"{key} must be a number >= 0 (USD per million tokens), "
                                    f"not {value!r}")
    return Price(float(entry.get("input", 0.0)), float(entry.get("output", 0.0)))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read prices file {path}: {exc}") from None


_cache: tuple[tuple[str, int], PriceTable] | None = None
_lock = threading.Lock()


def current_prices() -> PriceTable:
    """The price table of the current data dir, re-read when the user's file changes."""
    global _cache
    user_file = data_dir() / FILE
    try:
        stamp = (str(user_file), user_file.stat().st_mtime_ns)
    except FileNotFoundError:
        stamp = (str(user_file), 0)
    with _lock:
        if _cache is None or _cache[0] != stamp:
            _cache = (stamp, PriceTable.load(user_file.parent))
        return _cache[1]


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """US dollars for that many tokens of ``model`` at current prices (0 if unknown)."""
    return current_prices().cost(model, input_tokens, output_tokens)
