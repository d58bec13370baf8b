"""`agentdeck doctor [--json]`: what this machine has and lacks to run your agents.

Exit code 0 when nothing the profiles you use need is missing (warnings allowed), else 1.
It opens no engine: it must work where the engine cannot start (a corrupt database, a
read-only data dir).
"""
from __future__ import annotations

import argparse
import asyncio
from itertools import groupby

from agentdeck.cli import format as fmt
from agentdeck.engine.api import Check, Report, Status, diagnose

_WORDS = {Status.OK: "ok", Status.WARN: "warn", Status.FAIL: "FAIL"}


def run_doctor_command(args: argparse.Namespace, output: fmt.Output) -> int:
    report = asyncio.run(diagnose())
    output.out(fmt.dumps(report.to_dict()) if args.json else doctor_table(report))
    return 0 if report.ok else 1


def doctor_table(report: Report) -> str:
    """The checks by group, one line each, the fix of each problem under it, a summary."""
    width = max(len(c.name) for c in report.checks)
    lines: list[str] = []
    for group, checks in groupby(report.checks, key=lambda c: c.group):
        lines.append(group)
        lines.extend(line for check in checks for line in _rows(check, width))
    lines.append("")
    lines.append(_summary(report))
    return "\n".join(lines)


def _rows(check: Check, width: int) -> list[str]:
    rows = [f"  {_WORDS[check.status]:4}  {check.name:{width}}  {fmt.safe_line(check.detail)}"]
    if check.fix:
        rows.append(f"  {'':4}  {'':{width}}  fix: {fmt.safe_line(check.fix)}")
    return rows


def _summary(report: Report) -> str:
    failed = sum(c.status == Status.FAIL for c in report.checks)
    warned = sum(c.status == Status.WARN for c in report.checks)
    runs = ", ".join(f"{name} on {runtime}" for name, runtime in report.needs["profiles"].items())
    head = (f"{failed} problem(s) stop the profiles you use ({runs})" if failed else
            f"ready: the profiles you use ({runs}) have what they need")
    return head + (f"; {warned} warning(s)" if warned else "")
