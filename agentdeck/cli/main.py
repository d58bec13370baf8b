"""`agentdeck`: the command line front end (the GUI when run without a command).

Every command calls the same `Engine` methods the GUI does. Exit code 0 on success;
otherwise a one-line reason on stderr and exit code 1 (2 for usage errors). SIGTERM is a
clean shutdown (the engine closes, its lease is released, agents keep running): `run`
stops as at ``--until`` (exit 0), any other command is interrupted (exit 143). Everything is
printed through one `cli_format.Output`, which shows control characters in agent text
escaped (``--raw``: as they are).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from agentdeck.cli import format as fmt
from agentdeck.cli.progress import Progress, progress
from agentdeck.engine.api import (Engine, data_dir, data_dir_path, parse_batch_file,
                                  parse_when, start_log_file, validate)
from agentdeck.engine.errors import AgentdeckError, InvalidInput
from agentdeck.engine.models import TaskState

Handler = Callable[[Engine, argparse.Namespace], Awaitable[int]]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn
    return register


#: The output of the command being run (`main` sets it from ``--raw``).
OUTPUT = fmt.Output()


def out(text: str, end: str = "\n") -> None:
    """Print ``text`` on stdout, agent text escaped unless ``--raw``."""
    OUTPUT.out(text, end)


def err(text: str) -> None:
    """Print a message line on stderr, control characters escaped."""
    OUTPUT.err(text)


@command("submit")
async def _submit(engine: Engine, a: argparse.Namespace) -> int:
    agents = a.agent or ["shell"]
    options = dict(runtime=a.runtime, priority=a.priority,
                   not_before=parse_when(a.at) if a.at else None, title=a.title,
                   timeout=validate.timeout(a.timeout), include_uncommitted=a.uncommitted,
                   budget_usd=a.budget, paths=a.paths or ())
    if len(agents) > 1 or a.attempts != 1:
        tasks = await engine.submit_group(a.repo, a.prompt, agents=agents,
                                          attempts=a.attempts, **options)
        out(fmt.dumps({"group": tasks[0].group_id, "ids": [t.id for t in tasks]}) if a.json
            else "\n".join([f"group {tasks[0].group_id}", *(t.id for t in tasks)]))
    else:
        tasks = [await engine.submit(a.repo, a.prompt, agent=agents[0], **options)]
        out(fmt.dumps({"id": tasks[0].id}) if a.json else tasks[0].id)
    task = tasks[0]
    if task.runtime == "auto":
        err(f"agentdeck: {await engine.auto_runtime()}")
    if not a.uncommitted and (await engine.inspect_repo(task.repo)).dirty:
        err(f"agentdeck: note: {task.repo} has uncommitted changes; the task starts from "
            f"commit {(task.base_commit or '')[:10]} without them (--uncommitted takes them too)")
    return 0


@command("compare")
async def _compare(engine: Engine, a: argparse.Namespace) -> int:
    rows = await engine.compare(a.group)
    out(fmt.dumps([r.to_dict() for r in rows]) if a.json else fmt.summary_table(rows))
    return 0


@command("report")
async def _report(engine: Engine, a: argparse.Namespace) -> int:
    report = await engine.report(a.batch)
    out(fmt.dumps(report.to_dict()) if a.json else fmt.report_text(report))
    return 0


@command("list")
async def _list(engine: Engine, a: argparse.Namespace) -> int:
    if a.state and a.state not in {s.value for s in TaskState}:
        raise InvalidInput(f"unknown state {a.state!r}: use one of "
                           f"{', '.join(s.value for s in TaskState)}")
    tasks = await engine.list_tasks(state=a.state, repo=_abs(a.repo), batch_id=a.batch,
                                    limit=a.limit)
    out(fmt.dumps([t.to_dict() for t in tasks]) if a.json else fmt.task_table(tasks))
    return 0


@command("inbox")
async def _inbox(engine: Engine, a: argparse.Namespace) -> int:
    tasks = await engine.review_queue("batch" if a.by_batch else "oldest")
    if a.json:
        out(fmt.dumps([t.to_dict() for t in tasks]))
    else:
        out(fmt.task_table(tasks) if tasks else "(nothing waits for review)")
    return 0


@command("show")
async def _show(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.get_task(a.id)
    attempts = await engine.attempts(task.id)
    overlaps = (await engine.overlaps()).get(task.id, ())
    if a.json:
        out(fmt.dumps({**task.to_dict(), "attempts": attempts,
                       "overlaps": [dataclasses.asdict(o) for o in overlaps]}))
    else:
        out(fmt.task_details(task, attempts, overlaps))
    return 0


@command("logs")
async def _logs(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.get_task(a.id)
    seq = 0
    while True:
        entries = await engine.get_logs(task.id, after_seq=seq, limit=5000)
        if entries:
            out("\n".join(map(fmt.entry_line, entries)))
            seq = entries[-1].seq
            continue
        if not a.follow or (await engine.get_task(task.id)).state.is_terminal:
            return 0
        await asyncio.sleep(0.2)


@command("diff")
async def _diff(engine: Engine, a: argparse.Namespace) -> int:
    if a.hunks:
        files = await engine.get_hunks(a.id)
        if files:
            out("\n".join(map(fmt.hunk_line, fmt.units(files))))
        else:
            err("(no changes)")
        return 0
    patch = await (engine.get_interdiff(a.id) if a.since_review else engine.get_patch(a.id))
    if patch is None:
        raise InvalidInput(f"task {a.id} has no earlier review to compare with (no "
                           f"request-changes yet): `agentdeck diff {a.id}` shows the change")
    if patch:
        out(patch, end="")
    else:
        err("(no changes)")
    return 0


@command("accept")
async def _accept(engine: Engine, a: argparse.Namespace) -> int:
    result = await engine.accept(a.id, only=a.only or (), exclude=a.exclude or (),
                                 branch=a.branch,
                                 run_hooks=a.run_hooks or None)
    out(f"created branch {result.branch}" if result.branch else f"committed {result.commit}")
    for note in result.notes:
        err(f"note: {note}")
    return 0


@command("comment")
async def _comment(engine: Engine, a: argparse.Namespace) -> int:
    path, line, end = _where(a.where)
    comment = await engine.comment(a.id, path, line, a.text, end)
    out(f"{comment.task_id}: comment {comment.id} on {comment.where}")
    return 0


def _where(text: str) -> tuple[str, int, int]:
    """``PATH:LINE`` or ``PATH:LINE-END`` as (path, line, end line)."""
    path, _, lines = text.rpartition(":")
    start, _, end = lines.partition("-")
    if not path or not start.isdigit() or not (end.isdigit() or not end):
        raise InvalidInput(f"{text!r} is not PATH:LINE or PATH:LINE-END (such as "
                           "src/app.py:12 or src/app.py:12-14)")
    return path, int(start), int(end or start)


@command("comments")
async def _comments(engine: Engine, a: argparse.Namespace) -> int:
    comments = await engine.comments(a.id, current=not a.all)
    if a.json:
        out(fmt.dumps([dataclasses.asdict(c) for c in comments]))
    else:
        out("\n".join(map(fmt.comment_text, comments)) if comments else "(no comments)")
    return 0


@command("request-changes")
async def _request_changes(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.request_changes(a.id, a.message, exclude=a.exclude or ())
    out(f"{task.id}: changes requested, follow-up queued as attempt {task.attempt}")
    return 0


@command("approve")
async def _approve(engine: Engine, a: argparse.Namespace) -> int:
    for task_id in a.ids:
        task = await engine.approve(task_id, not a.undo)
        out(f"{task.id}: {'approved' if task.approved_at else 'not approved'}")
    return 0


@command("freshen")
async def _freshen(engine: Engine, a: argparse.Namespace) -> int:
    done = await engine.freshen(a.ids, hand_back=a.hand_back)
    for item in done:
        out(fmt.freshening_line(item))
    return 1 if any(item.outcome == "conflict" for item in done) else 0


@command("land")
async def _land(engine: Engine, a: argparse.Namespace) -> int:
    if bool(a.ids) == a.approved:
        raise InvalidInput("name the tasks to land in order, or give --approved (not both)")
    ids = a.ids or [t.id for t in await engine.approved()]
    if not ids:
        raise InvalidInput("no task is approved: approve some first (agentdeck approve ID)")
    report = await engine.land(ids, test=a.test, progress=lambda s: err(fmt.land_step(s)))
    out(fmt.land_report(report))
    return 1 if report.failed else 0


@command("reject")
async def _reject(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.reject(a.id)
    out(f"rejected {task.id} (`agentdeck reopen {task.id}` undoes it while its working copy is kept)")
    return 0


@command("reopen")
async def _reopen(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.reopen(a.id)
    out(f"reopened {task.id}: its change waits for review again")
    return 0


@command("du")
async def _du(engine: Engine, a: argparse.Namespace) -> int:
    report = await engine.disk_usage()
    out(fmt.dumps(dataclasses.asdict(report)) if a.json else fmt.storage_table(report))
    return 0


@command("gc")
async def _gc(engine: Engine, a: argparse.Namespace) -> int:
    report = await engine.collect_garbage(dry_run=a.dry_run)
    gone = report.removable
    if a.json:
        out(fmt.dumps({"dry_run": a.dry_run, "removed": [dataclasses.asdict(e) for e in gone],
                       "base_layers": list(report.unused_layers)}))
        return 0
    verb = "would remove" if a.dry_run else "removed"
    for entry in gone:
        out(f"{verb} {entry.task_id}  {fmt.size(entry.bytes)}  ({entry.removable})")
    for tag in report.unused_layers:
        out(f"{verb} base layer {tag}  {fmt.size(report.base_layers[tag])}")
    out(f"{verb} {len(gone)} task copies, {fmt.size(sum(e.bytes for e in gone))}")
    return 0


@command("cancel")
async def _cancel(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.cancel(a.id)
    out(f"{task.id}: {task.state.value}" + (" (cancel requested)" if task.state.is_active else ""))
    return 0


@command("retry")
async def _retry(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.retry(a.id)
    out(f"{task.id}: queued as attempt {task.attempt}")
    return 0


@command("collect")
async def _collect(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.collect(a.id, max_files=a.max_files, max_bytes=a.max_bytes)
    out(f"{task.id}: {task.files_changed} files collected, review {task.review.value}")
    return 0


@command("follow-up")
async def _follow_up(engine: Engine, a: argparse.Namespace) -> int:
    task = await engine.follow_up(a.id, a.message)
    out(f"{task.id}: follow-up queued as attempt {task.attempt}")
    return 0


@command("batch")
async def _batch(engine: Engine, a: argparse.Namespace) -> int:
    spec = await asyncio.to_thread(
        parse_batch_file, Path(a.file), default_repo=a.repo,
        at_override=parse_when(a.at) if a.at else None, agents=set(await engine.profiles()))
    with progress("snapshotting repos", plain=err) as bar:
        def on_snapshot(done: int, total: int, repo: str) -> None:
            bar.count(done, total)
            bar.status(fmt.safe_line(f"snapshot of {repo} taken"))
        tasks = await engine.submit_batch(spec, on_snapshot)
    if a.json:
        out(fmt.dumps({"batch": tasks[0].batch_id if tasks else None,
                       "ids": [t.id for t in tasks]}))
    else:
        out("\n".join(t.id for t in tasks))
    return 0


@command("agents")
async def _agents(engine: Engine, a: argparse.Namespace) -> int:
    profiles = await engine.profiles()
    if a.json:
        out(fmt.dumps({n: {"kind": p.kind, "description": p.description,
                           "command": list(p.command), "runtime": p.runtime,
                           "timeout": p.timeout} for n, p in profiles.items()}))
        return 0
    for name, p in sorted(profiles.items()):
        out(f"{name:10} {p.kind:12} {p.description or ' '.join(p.command)}")
    return 0


@command("run")
async def _run(engine: Engine, a: argparse.Namespace) -> int:
    until = parse_when(a.until) if a.until else None
    if not engine.drives:
        err("agentdeck: another agentdeck process runs the queue (the GUI or `agentdeck "
            "run`); this one takes over when it stops")
    with progress("tasks done", plain=err) as bar:
        ended: set[str] = set()
        unsubscribe = engine.bus.subscribe(lambda event: _show_event(bar, ended, event))
        try:
            outcome = await _drive(engine, until, bar, ended)
        finally:
            unsubscribe()
    out(outcome)
    return 0


async def _drive(engine: Engine, until: float | None, bar: Progress, ended: set[str]) -> str:
    """Poll until the queue is empty or ``until`` (saying which); the bar counts the
    tasks that ended."""
    while True:
        counts = await engine.counts()
        busy = counts["queued"] + counts["preparing"] + counts["running"]
        bar.count(len(ended), len(ended) + busy)
        if not busy and not engine.active_count():
            return "queue empty: done"
        if until and time.time() >= until:
            return "reached --until: stopping (running agents keep running)"
        await asyncio.sleep(0.3)


def _show_event(bar: Progress, ended: set[str], event: Any) -> None:
    from agentdeck.engine.events import Notice, TaskUpdated
    if isinstance(event, TaskUpdated) and event.task.state != TaskState.QUEUED:
        t = event.task
        if t.state.is_terminal:
            ended.add(t.id)
        extra = f" ({t.error})" if t.error else ""
        bar.note(fmt.safe_line(f"{time.strftime('%H:%M:%S')} {t.id} {t.state.value}{extra}  {t.title}"))
    elif isinstance(event, Notice):
        bar.note(fmt.safe_line(f"{event.level}: {event.message}"))


def _abs(path: str | None) -> str | None:
    return str(Path(path).resolve()) if path else None


async def _dispatch(a: argparse.Namespace) -> int:
    engine = await Engine.open(max_parallel=getattr(a, "max_parallel", None),
                               drive_queue=a.command == "run")
    try:
        return await COMMANDS[a.command](engine, a)
    finally:
        OUTPUT.note_escaped()
        await engine.close()


class Terminated(Exception):
    """SIGTERM arrived; what the command opened has been closed."""


async def _until_terminated(work: Awaitable[int]) -> int:
    """Await ``work``; a SIGTERM cancels it (its engine closes on the way out) and raises
    `Terminated`. A second SIGTERM while it closes ends the process at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        loop.remove_signal_handler(signal.SIGTERM)
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await task
    except asyncio.CancelledError:
        if terminated and task.cancelled():
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _start_log_file(command: str) -> None:
    """Log to the data dir's log file, and note there which command runs. `doctor` makes
    no data dir: it reports one that is missing or cannot be made."""
    home = data_dir_path()
    if command == "doctor" and not home.is_dir():
        return
    try:
        home = data_dir()
    except AgentdeckError:
        return  # the command says why when it opens the data dir
    if start_log_file(home):
        logging.getLogger("agentdeck.cli").info("agentdeck %s", command)


def main(argv: list[str] | None = None) -> int:
    from agentdeck.cli.parser import build_parser
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    global OUTPUT
    OUTPUT = fmt.Output(raw=getattr(args, "raw", False))
    if args.command is None:  # the desktop app, with the options of its own we left
        from agentdeck.desktop.app import main as gui_main
        return gui_main([sys.argv[0], *(["--self-test"] if args.self_test else []), *rest],
                        demo=args.demo, strict=True)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    _start_log_file(args.command)
    if args.command == "doctor":
        from agentdeck.cli.doctor import run_doctor_command
        return run_doctor_command(args, OUTPUT)
    if args.command == "image":
        from agentdeck.cli.image import run_image_command
        return run_image_command(args)
    try:
        return asyncio.run(_until_terminated(_dispatch(args)))
    except Terminated:
        if args.command == "run":
            out("terminated: stopping (running agents keep running)")
            return 0
        err("agentdeck: terminated")
        return 128 + signal.SIGTERM
    except AgentdeckError as exc:
        err(f"agentdeck: {exc}")
        return 1
    except KeyboardInterrupt:
        err("agentdeck: interrupted (running agents keep running)")
        return 130
    except BrokenPipeError:  # `agentdeck logs ID | head`: the reader has had enough
        # Python would report the failed flush of stdout at exit: point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
