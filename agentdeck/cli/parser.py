"""The argument parser of `agentdeck` (kept apart so `--help` stays readable)."""
from __future__ import annotations

import argparse

from agentdeck import __version__

DESCRIPTION = """\
Supervise many coding agents at once. Each task runs isolated (a Docker container, or its
own working copy on the local runtime), its log is kept, and its diff waits for you to
accept or reject it. Without a command, opens the desktop dashboard.

Data lives in $AGENTDECK_HOME (default: the platform data dir)."""

EXAMPLES = """\
examples:
  agentdeck submit ~/src/shop "Add rate limiting to src/api" --agent claude
  agentdeck submit . 'sed -i "s/colour/color/g" *.md' --agent shell --at "tonight 01:00"
  agentdeck batch techdebt.toml --at tonight
  agentdeck report last-night             # what ran overnight, and why some failed
  agentdeck submit . "Speed up the parser" --agent claude --agent codex --attempts 2
  agentdeck compare 3f2a                  # the four attempts side by side
  agentdeck run --max-parallel 4          # work the queue headless, exit when done
  agentdeck logs 3f2a -f                  # ids may be abbreviated
  agentdeck diff 3f2a && agentdeck accept 3f2a
  agentdeck comment 3f2a src/api.py:40-42 "a constant, please" && agentdeck request-changes 3f2a
  agentdeck diff 3f2a --since-review      # what the agent changed since
  agentdeck land 3f2a 9c01 --test "make test"   # in order; stops at the first failure
"""


def _add_id(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="task id (a unique prefix is enough)")


def _add_raw(p: argparse.ArgumentParser) -> None:
    p.add_argument("--raw", action="store_true",
                   help="print the agent's text as it is; by default control characters "
                        "(escape sequences, carriage returns, bidi overrides) are shown "
                        r"escaped, like \x1b, so that they cannot act on your terminal")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentdeck", description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="with no command: on first start, queue the demo batch on a "
                             "sample repo so you can watch agents work")
    parser.add_argument("--self-test", action="store_true",
                        help="with no command: open the dashboard in a temporary data dir, "
                             "run one demo task, accept its diff and exit (0: it all worked)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("submit", help="queue a task for an agent")
    p.add_argument("repo", help="path to a git repository")
    p.add_argument("prompt", help="what the agent should do (for --agent shell: a script)")
    p.add_argument("--agent", action="append", metavar="PROFILE",
                   help="agent profile (see `agentdeck agents`; default shell); several "
                        "make a best-of-N group, one attempt each (times --attempts)")
    p.add_argument("--attempts", type=int, default=1, metavar="N",
                   help="run the prompt N times (per agent) as a best-of-N group: compare "
                        "them with `agentdeck compare`, accepting one rejects the others")
    p.add_argument("--runtime", choices=["local", "docker", "auto"], help="where it runs")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.add_argument("--at", metavar="TIME", help='start no earlier than TIME ("tonight 01:00", "+2h", "2026-12-01 09:00")')
    p.add_argument("--timeout", metavar="DURATION",
                   help='stop the agent after this long (seconds, or "30m", "1h30m")')
    p.add_argument("--title", help="a short title (default: the prompt's first line)")
    p.add_argument("--budget", type=float, metavar="USD",
                   help="stop the agent once it has cost this many dollars")
    p.add_argument("--uncommitted", action="store_true",
                   help="include uncommitted changes of the repo in the snapshot")
    p.add_argument("--paths", nargs="+", metavar="PATH",
                   help="check out only these folders/files (sparse, git's cone: plus the "
                        "files of the folders above them)")
    p.add_argument("--json", action="store_true",
                   help='print {"id": ...} (a group: {"group": ..., "ids": [...]})')

    p = sub.add_parser("compare", help="a best-of-N group's attempts side by side")
    p.add_argument("group", help="the group id (a unique prefix), or the id of one attempt")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("report", help="how a batch went: each task, its diff, time, cost, "
                                      "and why the failed ones failed")
    p.add_argument("batch", metavar="BATCH|last-night",
                   help="a batch id (a unique prefix) or name, or last-night: the tasks "
                        "submitted since yesterday 18:00")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("list", help="list tasks")
    p.add_argument("--state", help="only tasks in this state (queued, running, failed, ...)")
    p.add_argument("--repo", help="only tasks of this repository")
    p.add_argument("--batch", help="only tasks of this batch id")
    p.add_argument("--limit", type=int, help="at most this many (newest first)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("inbox", help="every task waiting for review, oldest first "
                                     "(the desktop's review inbox, in the same order)")
    p.add_argument("--by-batch", action="store_true",
                   help="batch by batch (the batch waiting longest first), oldest first in each")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("show", help="details of a task")
    _add_id(p)
    p.add_argument("--json", action="store_true")
    _add_raw(p)

    p = sub.add_parser("logs", help="print a task's log")
    _add_id(p)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    _add_raw(p)

    p = sub.add_parser("diff", help="print a task's diff (git format; --raw for `git apply`)")
    _add_id(p)
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--since-review", action="store_true",
                       help="only what changed since you last requested changes (interdiff)")
    shown.add_argument("--hunks", action="store_true",
                       help="list the hunks as PATH#N with their headers (for accept --only "
                            "/ --exclude)")
    _add_raw(p)

    p = sub.add_parser("comment", help="comment on lines of a task's diff (for request-changes)")
    _add_id(p)
    p.add_argument("where", metavar="PATH:LINE[-END]",
                   help="a file of the diff and a line (or range) of its new side")
    p.add_argument("text")

    p = sub.add_parser("comments", help="list the comments on a task's diff")
    _add_id(p)
    p.add_argument("--all", action="store_true", help="also those of earlier attempts")
    p.add_argument("--json", action="store_true")
    _add_raw(p)

    p = sub.add_parser("request-changes",
                       help="send your comments (and what you leave out) back to the agent "
                            "as a follow-up in the same working copy")
    _add_id(p)
    p.add_argument("--message", metavar="TEXT", help="what else to tell the agent")
    p.add_argument("--exclude", action="extend", nargs="+", metavar="PATH[#N]",
                   help="files or hunks you leave out of the change, named (hunks quoted) "
                        "to the agent")

    p = sub.add_parser("accept", help="commit a task's change to its repository")
    _add_id(p)
    p.add_argument("--branch", action="store_true",
                   help="only create branch agentdeck/<id>; leave the checkout alone")
    p.add_argument("--only", action="extend", nargs="+", metavar="PATH[#N]",
                   help="apply only these files or hunks (see diff --hunks)")
    p.add_argument("--exclude", action="extend", nargs="+", metavar="PATH[#N]",
                   help="leave these files or hunks out")
    p.add_argument("--run-hooks", action="store_true",
                   help="commit with your own git commit so your hooks run (off by default: "
                        "a hook runs with the agent's files checked out)")

    p = sub.add_parser("approve", help="mark waiting tasks approved for landing "
                                       "(`land --approved` takes them in that order)")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--undo", action="store_true", help="take the mark away")

    p = sub.add_parser("freshen", help="rebase waiting tasks onto their branch's current head")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--hand-back", action="store_true",
                   help="give a conflicting one to its agent as a follow-up with the "
                        "conflict (files and hunks) instead of only marking it")

    p = sub.add_parser("land", help="accept tasks one at a time in this order, running the "
                                    "tests after each; stop at the first failure")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--approved", action="store_true",
                   help="the approved tasks, in the order they were approved")
    p.add_argument("--test", metavar="CMD",
                   help="the test command (a shell line; default: the profile's "
                        "test_command, else [test] command in the repo's agentdeck.toml)")

    for name, text in (("reject", "refuse a task's change (`reopen` undoes it while its copy is kept)"),
                       ("reopen", "undo a reject: the change waits for review again"),
                       ("cancel", "stop a task"),
                       ("retry", "run a finished task again as a new attempt")):
        _add_id(sub.add_parser(name, help=text))

    p = sub.add_parser("du", help="disk used by the tasks' working copies, per task and repo")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("gc", help="remove working copies no task needs (accepted, orphaned, "
                                  "rejected or ended past storage_retention_days)")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("collect", help="copy a task's change back again from the container "
                                       "kept when it was over a limit, with higher limits")
    _add_id(p)
    p.add_argument("--max-files", type=int, metavar="N", help="most changed files to take")
    p.add_argument("--max-bytes", type=int, metavar="N", help="most bytes of change to take")

    p = sub.add_parser("follow-up", help="send a new instruction to a finished task")
    _add_id(p)
    p.add_argument("message")

    p = sub.add_parser("batch", help="queue every task of a TOML batch file (all or none)")
    p.add_argument("file")
    p.add_argument("--at", metavar="TIME", help="start time for the whole batch")
    p.add_argument("--repo", help="repository for tasks that name none")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("agents", help="list agent profiles")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("run", help="work the queue headless; exit when nothing is left")
    p.add_argument("--until", metavar="TIME", help="stop at TIME even if work is left")
    p.add_argument("--max-parallel", type=int, metavar="N", help="agents at once")

    p = sub.add_parser("doctor", help="check Docker, the sandbox, agent CLIs, keyring, data dir "
                                      "and database; say what to fix (exit 1: something your "
                                      "profiles need is missing)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("image", help="build the agent container image")
    p.add_argument("action", choices=["build"])
    p.add_argument("--offline", action="store_true",
                   help="build from Debian packages with no registry (docker import)")
    p.add_argument("--tag", default="agentdeck-agent:latest")
    p.add_argument("--if-missing", action="store_true",
                   help="with --offline: keep an image already built from the same recipe")
    return parser
