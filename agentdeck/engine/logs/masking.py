"""Masking of secret values in agent output before it is stored or shown.

Every byte that is part of an occurrence of a secret is masked, also where occurrences of
two secrets overlap (replacing one secret after the other would leave the rest of the
other in clear). `Masker` masks whole texts (lines, messages); `StreamMasker` masks a byte
stream that arrives in chunks, so that a secret split across two reads is masked too.
"""
from __future__ import annotations

from typing import Iterable, Sequence, TypeVar

MASK = "••••••"
#: Values shorter than this are not masked: they would blank out ordinary words.
MIN_SECRET_LEN = 6

AnyStr = TypeVar("AnyStr", str, bytes)
Span = tuple[int, int]


def _occurrences(buf: AnyStr, secrets: Sequence[AnyStr]) -> list[Span]:
    """Where each secret occurs in ``buf`` (overlapping occurrences included)."""
    spans = []
    for secret in secrets:
        at = buf.find(secret)
        while at >= 0:
            spans.append((at, at + len(secret)))
            at = buf.find(secret, at + 1)
    return spans


def _masked(buf: AnyStr, spans: list[Span], mask: AnyStr) -> AnyStr:
    """``buf`` with each run of overlapping spans replaced by one ``mask``."""
    if not spans:
        return buf
    parts, done, run_start, run_end = [], 0, -1, -1
    for start, end in sorted(spans):
        if start < run_end:  # overlaps the current run: the run grows
            run_end = max(run_end, end)
            continue
        if run_end > 0:
            parts += [buf[done:run_start], mask]
            done = run_end
        run_start, run_end = start, end
    parts += [buf[done:run_start], mask, buf[run_end:]]
    return buf[:0].join(parts)


class Masker:
    """Replaces every known secret value in a text with `MASK`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first: the order `StreamMasker` derives its hold-back from.
        self._secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN},
                               key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values masked, longest first."""
        return tuple(self._secrets)

    def mask(self, text: str) -> str:
        """``text`` with every secret in it masked."""
        if not any(secret in text for secret in self._secrets):  # the common case
            return text
        return _masked(text, _occurrences(text, self._secrets), MASK)

    def mask_lines(self, lines: list[str]) -> list[str]:
        """`mask` of each line (the same list when there is nothing to mask)."""
        if not self._secrets:
            return lines
        return [self.mask(line) for line in lines]

    def mask_cut(self, kept: str) -> str:
        """`mask` of the part kept of a text whose rest was dropped: a tail of ``kept``
        that a secret starts with is masked too, since the dropped rest may have
        completed it (at worst a few characters that only looked like a secret's start
        are masked)."""
        kept = self.mask(kept)
        for start in range(max(0, len(kept) - self._hold()), len(kept)):
            tail = kept[start:]
            if any(secret.startswith(tail) for secret in self._secrets):
                return kept[:start] + MASK
        return kept

    def _hold(self) -> int:
        return len(self._secrets[0]) - 1 if self._secrets else 0


class StreamMasker:
    """Masks secrets in a byte stream that arrives in arbitrary chunks.

    A secret may be split across two chunks (a pipe read, a cut line): `feed` holds back
    the shortest tail that could still grow into a secret (at most ``longest secret - 1``
    bytes) until more data or `flush` shows whether it does. No secret reaches the output
    whole or in pieces; a secret whose occurrence overlaps a held-back tail may come out
    as two masks.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = [s.encode() for s in Masker(secrets).secrets]
        self._mask = MASK.encode()
        self._keep = len(self._secrets[0]) - 1 if self._secrets else 0
        self._pending = b""
        self._covered = 0  # leading bytes of _pending that belong to a secret already cut

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def feed(self, data: bytes) -> bytes:
        """Return the masked bytes of ``data`` (and of what was held) that can be released."""
        if not self._secrets:
            return data
        buf = self._pending + data
        return self._release(buf, self._safe_cut(buf))

    def flush(self) -> bytes:
        """Release what is held back (the stream ended)."""
        return self._release(self._pending, len(self._pending))

    def _release(self, buf: bytes, cut: int) -> bytes:
        """Mask and return ``buf[:cut]``; keep the rest (raw) for the next call."""
        spans = _occurrences(buf, self._secrets)
        if self._covered:
            spans.append((0, self._covered))
        before = [(start, min(end, cut)) for start, end in spans if start < cut]
        # Spans that go on past the cut stay covered there; those that start at or after
        # it are found again in the raw rest.
        self._covered = max([end - cut for start, end in spans if start < cut < end]
                            + [self._covered - cut, 0])
        self._pending = buf[cut:]
        return _masked(buf[:cut], before, self._mask)

    def _safe_cut(self, buf: bytes) -> int:
        """Where the released part ends: before the earliest tail that could still grow
        into a secret."""
        for i in range(max(0, len(buf) - self._keep), len(buf)):
            tail = buf[i:]
            if any(s.startswith(tail) for s in self._secrets):
                return i
        return len(buf)
