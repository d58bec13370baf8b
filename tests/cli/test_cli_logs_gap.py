"""`agentdeck logs` shows lost output as a line of its own, marked."""
from __future__ import annotations

import asyncio

from agentdeck.engine.models import LostOutput
from tests.engine.enginekit import log_with_gap, make_repo


def test_logs_mark_the_lost_output_between_the_lines(cli, tmp_path):
    lost = LostOutput(1_796_596_000.0, 1_796_596_004.5)
    task_id = asyncio.run(log_with_gap(tmp_path / "home", make_repo(tmp_path / "repo"), lost))
    shown = cli("logs", task_id).stdout.splitlines()
    assert shown[:2] == ["1", "2"] and shown[3:] == ["9000", "9001"]
    assert shown[2].startswith("⚠ output lost: what the agent printed between ")
    assert "(an unknown number of lines)" in shown[2]
