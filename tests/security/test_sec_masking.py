"""Secrets are masked however the output is chunked on its way to disk or the store."""
from __future__ import annotations

import pytest

from engine.masking import MASK, Masker, StreamMasker

SECRET = "sk-live-0123456789abcdef"


@pytest.mark.parametrize("cut", range(1, len(SECRET)))
def test_a_secret_split_at_any_byte_between_two_reads_is_masked(cut: int) -> None:
    data = f"key={SECRET} and again {SECRET}\n".encode()
    at = data.index(SECRET.encode()) + cut
    masker = StreamMasker([SECRET])
    out = masker.feed(data[:at]) + masker.feed(data[at:]) + masker.flush()
    assert out == f"key={MASK} and again {MASK}\n".encode()


def test_a_stream_of_one_byte_reads_is_masked_and_holds_back_little() -> None:
    masker = StreamMasker([SECRET, "other-secret-value"])
    data = f"a {SECRET} b other-secret-value c".encode()
    released = [masker.feed(data[i:i + 1]) for i in range(len(data))]
    out = b"".join(released) + masker.flush()
    assert out == f"a {MASK} b {MASK} c".encode()
    assert SECRET.encode()[:6] not in out


def test_overlapping_secrets_leave_no_part_in_clear() -> None:
    masker = Masker(["abcdef123", "123456xyz"])
    assert masker.mask("<abcdef123456xyz>") == f"<{MASK}>"
