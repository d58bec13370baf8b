"""Output a runtime lost is one entry of its own, stored with the lines after it."""
from __future__ import annotations

import calendar

from agentdeck.engine.models import EntryKind, LostOutput, Stream
from tests.engine.enginekit import log_with_gap, make_repo, open_engine

AFTER = calendar.timegm((2026, 12, 6, 22, 41, 3)) + 0.123
BEFORE = AFTER + 4.333
GAP_TEXT = ("output lost: what the agent printed between 2026-12-06 22:41:03.123 UTC and "
            "2026-12-06 22:41:07.456 UTC was gone from the runtime's log before agentdeck "
            "read it (an unknown number of lines)")


async def test_lost_output_is_one_gap_entry_before_the_lines_with_their_cursor(tmp_path):
    task_id = await log_with_gap(tmp_path / "home", make_repo(tmp_path / "repo"),
                                 LostOutput(AFTER, BEFORE))
    engine = await open_engine(tmp_path / "home", drive_queue=False)
    try:
        entries = await engine.get_logs(task_id, limit=None)
        cursor = engine.store.get_cursor(task_id)
    finally:
        await engine.close()
    assert [(e.kind, e.stream, e.text) for e in entries] == [
        (EntryKind.RAW, Stream.STDOUT, "1"), (EntryKind.RAW, Stream.STDOUT, "2"),
        (EntryKind.GAP, Stream.SYSTEM, GAP_TEXT),
        (EntryKind.RAW, Stream.STDOUT, "9000"), (EntryKind.RAW, Stream.STDOUT, "9001")]
    assert entries[2].data == {"lost_after": AFTER, "lost_before": BEFORE}
    assert cursor == "after"
