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

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values masked, longest first."""
        return tuple(self._secrets)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def mask_lines(self, lines: list[str]) -> list[str]:
        if not self._secrets:
            return lines
        return [self.mask(line) for line in lines]


class StreamMasker:
    """Masks secrets in a byte stream that arrives in arbitrary chunks.

    A secret may be split across two chunks (a pipe read, a cut line): `feed` holds back
    the last ``longest secret - 1`` bytes until more data or `flush` shows whether they
    start a secret. So at most that many bytes are delayed, and no secret reaches the
    output whole or in pieces.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = Masker(secrets).secrets
        self._secrets = [s.encode() for s in values]
        self._mask = MASK.encode()
        self._keep = max((len(s) for s in self._secrets), default=1) - 1
        self._pending = b""

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def feed(self, data: bytes) -> bytes:
        """Return the masked bytes of ``data`` that can be released now."""
        if not self._secrets:
            return data
        buf = self._replace(self._pending + data)
        cut = self._safe_cut(buf)
        self._pending = buf[cut:]
        return buf[:cut]

    def flush(self) -> bytes:
        """Release what is held back (the stream ended)."""
        rest, self._pending = self._pending, b""
        return rest

    def _replace(self, buf: bytes) -> bytes:
        for secret in self._secrets:
            if secret in buf:
                buf = buf.replace(secret, self._mask)
        return buf

    def _safe_cut(self, buf: bytes) -> int:
        """Where the released part ends: before the earliest tail that could still grow
        into a secret."""
        start = max(0, len(buf) - self._keep)
        for i in range(start, len(buf)):
            tail = buf[i:]
            if any(s.startswith(tail) for s in self._secrets):
                return i
        return len(buf)
