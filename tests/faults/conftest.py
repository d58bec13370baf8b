"""The fault harness's fixture: a `Deck` whose processes are reaped after the test."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.faults.harness import Deck


@pytest.fixture
def deck(tmp_path) -> Iterator[Deck]:
    """A data dir with a repo and the ``fault`` profile (`tests.faults.harness.Deck`)."""
    d = Deck(tmp_path)
    try:
        yield d
    finally:
        d.close()
