"""Masking of secret values in agent output before it is stored or shown."""
from __future__ import annotations

from typing import Iterable

MASK = "••••••"
#: Values shorter than this are not masked: they would blank out ordinary words.
MIN_SECRET_LEN = 6


class Masker:
    """Replaces every known secret value in a line with `MASK`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN},
                               key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def mask_lines(self, lines: list[str]) -> list[str]:
        if not self._secrets:
            return lines
        return [self.mask(line) for line in lines]

