"""`agentdeck image build [--offline]`: the agent container image."""
from __future__ import annotations

import argparse
import sys

from agentdeck.engine.errors import AgentdeckError


def run_image_command(args: argparse.Namespace) -> int:
    from agentdeck.engine.api import build_image
    try:
        tag = build_image(args.offline, args.tag, lambda line: print(line, flush=True),
                          if_missing=args.if_missing)
    except AgentdeckError as exc:
        print(f"agentdeck: {exc}", file=sys.stderr)
        return 1
    print(f"built {tag}")
    return 0
