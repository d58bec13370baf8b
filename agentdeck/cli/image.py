"""`agentdeck image build [--offline]`: the agent container image."""
from __future__ import annotations

import argparse
import re
import sys

from agentdeck.cli.format import safe_line
from agentdeck.cli.progress import Progress, progress
from agentdeck.engine.errors import AgentdeckError

#: A `docker build` step line: ``Step 3/12 : RUN ...``.
_STEP = re.compile(r"Step (\d+)/(\d+) :")


def run_image_command(args: argparse.Namespace) -> int:
    from agentdeck.engine.api import build_image
    try:
        with progress("building the image", plain=lambda line: print(line, flush=True)) as bar:
            tag = build_image(args.offline, args.tag, lambda line: _show(bar, line),
                              if_missing=args.if_missing)
    except AgentdeckError as exc:
        print(f"agentdeck: {exc}", file=sys.stderr)
        return 1
    print(f"built {tag}")
    return 0


def _show(bar: Progress, line: str) -> None:
    """A build step moves the bar and stays on screen; other output is the status."""
    text = safe_line(line)
    if step := _STEP.match(text):
        bar.count(int(step[1]) - 1, int(step[2]))
        bar.note(text)
    else:
        bar.status(text)
