"""Output a runtime lost is one entry of its own, stored with the lines after it."""
from __future__ import annotations

import asyncio
import calendar

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.logs.masking import Masker
from agentdeck.engine.logs.sink import TaskLog
from agentdeck.engine.models import AgentProfile, EntryKind, LostOutput, Stream
from tests.engine.enginekit import make_repo, open_engine

AFTER = calendar.timegm((2026, 12, 6, 22, 41, 3)) + 0.123
BEFORE = AFTER + 4.333


async def test_lost_output_is_one_gap_entry_before_the_lines_with_their_cursor(tmp_path):
    engine = await open_engine(tmp_path / "home", drive_queue=False)
    try:
        task = await engine.submit(make_repo(tmp_path / "repo"), "noop", runtime="local")
        log = TaskLog(task.id, 1, await engine.seq_counter(task.id), store=engine.store,
                      bus=engine.bus, adapter=AgentAdapter(AgentProfile("plain")),
                      masker=Masker(), on_facts=lambda *_: None)
        log(Stream.STDOUT, ["1", "2"], "before")
        log(Stream.STDOUT, ["9000", "9001"], "after", LostOutput(AFTER, BEFORE))
        await asyncio.to_thread(engine.store.flush)
        entries = await engine.get_logs(task.id, limit=None)
        cursor = engine.store.get_cursor(task.id)
    finally:
        await engine.close()
    assert [(e.kind, e.text) for e in entries if e.kind != EntryKind.GAP] == [
        (EntryKind.RAW, "1"), (EntryKind.RAW, "2"), (EntryKind.RAW, "9000"),
        (EntryKind.RAW, "9001")]
    [gap] = [e for e in entries if e.kind == EntryKind.GAP]
    assert [e.seq for e in entries].index(gap.seq) == 2 and gap.stream == Stream.SYSTEM
    assert gap.text == ("output lost: what the agent printed between 2026-12-06 22:41:03.123 "
                        "UTC and 2026-12-06 22:41:07.456 UTC was gone from the runtime's log "
                        "before agentdeck read it (an unknown number of lines)")
    assert gap.data == {"lost_after": AFTER, "lost_before": BEFORE}
    assert cursor == "after"
