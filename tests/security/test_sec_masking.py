"""Finding 11 (engine side): a secret is masked however the output was split.

A secret reaches the engine in pieces when a pipe read, a Docker frame or the line cut at
`MAX_LINE_BYTES` falls inside it, and two secrets may overlap. The trace of a leak is any
piece of the secret (its first or second half) in what was stored.
"""
from __future__ import annotations

import asyncio
import random
import re

import pytest

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.logs.masking import MASK, Masker, StreamMasker
from agentdeck.engine.models import AgentProfile, Stream, TaskState
from agentdeck.engine.runtimes.base import MAX_LINE_BYTES
from agentdeck.engine.runtimes.lines import LineSplitter
from agentdeck.engine.logs.sink import TaskLog
from tests.engine.enginekit import make_repo, open_engine, wait_done, wait_until

SECRET = "sk-live-0123456789abcdefSECRET"
HALVES = (SECRET[:15], SECRET[15:])
_MASKS = re.compile("(" + re.escape(MASK) + ")+")


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
    assert masker.mask("<abcdef123456xyz>") == f"<{MASK}>"  # one masked the other's start


def test_a_stream_cut_anywhere_masks_like_the_whole_text():
    secrets = [SECRET, "abcabcab", "zzzzzz", "cabzzzzq"]
    rng = random.Random(7)
    for _ in range(3000):
        pieces = [rng.choice(secrets + ["".join(rng.choice("abcz-sk") for _ in range(rng.randint(0, 5)))])
                  for _ in range(rng.randint(1, 8))]
        data = "".join(pieces).encode()
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 6))))
        masker = StreamMasker(secrets)
        out = b"".join(masker.feed(data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)]))
        out += masker.flush()
        assert not any(s.encode() in out for s in secrets), (data, cuts)
        # Same as masking the whole text (a mask split by a cut may come out twice).
        assert _MASKS.sub(MASK, out.decode()) == _MASKS.sub(MASK, Masker(secrets).mask(data.decode()))


async def test_a_secret_at_the_line_cut_is_masked_not_half_kept(tmp_path):
    """A line longer than MAX_LINE_BYTES whose cut falls inside the secret: the kept part
    ends with the secret's start (the Docker runtime's lines are cut the same way)."""
    engine = await open_engine(tmp_path / "home", drive_queue=False)
    try:
        task = await engine.submit(make_repo(tmp_path / "repo"), "noop", runtime="local")
        log = TaskLog(task.id, 1, await engine.seq_counter(task.id), store=engine.store,
                      bus=engine.bus, adapter=AgentAdapter(AgentProfile("plain")),
                      masker=Masker([SECRET]), on_facts=lambda *_: None)
        line = b"x" * (MAX_LINE_BYTES - 10) + SECRET.encode() + b" and more\n"
        splitter = LineSplitter()
        for at in range(0, len(line), 4096):  # read in chunks, as the tail thread does
            for lines, end in splitter.feed(line[at:at + 4096]):
                log(Stream.STDOUT, lines, str(end))
        await asyncio.to_thread(engine.store.flush)
        [stored] = [e.text for e in await engine.get_logs(task.id, limit=None)]
    finally:
        await engine.close()
    assert "line cut" in stored                               # the cut really was inside it
    assert SECRET[:10] not in stored and SECRET[:4] not in stored
    assert stored.startswith("x" * (MAX_LINE_BYTES - 10) + MASK)


async def test_a_secret_written_in_two_pieces_is_masked_on_disk_and_in_the_log(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKY_TOKEN", SECRET)
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        '[profiles.leaky]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\n'
        'secrets = ["LEAKY_TOKEN"]\n')
    # The halves are cut out of the variable by the agent: the prompt (which the log
    # shows) holds neither.
    script = (f"printf 'token=%s' \"$(printf %s \"$LEAKY_TOKEN\" | cut -c1-{len(HALVES[0])})\"; "
              f"sleep 1; printf %s \"$LEAKY_TOKEN\" | cut -c{len(HALVES[0]) + 1}-; sleep 3")
    engine = await open_engine(home)
    try:
        task = await engine.submit(make_repo(tmp_path / "repo"), script, agent="leaky",
                                   runtime="local")
        stdout = home / "runs" / task.id / "1" / "stdout.log"
        await wait_until(lambda: stdout.exists() and b"\n" in stdout.read_bytes(), timeout=60,
                         what="both pieces on disk")
        on_disk = stdout.read_bytes().decode()          # read while the agent still runs
        done = await wait_done(engine, task.id, timeout=60)
        texts = [e.text for e in await engine.get_logs(task.id, limit=None)]
    finally:
        await engine.close()
    assert done.state == TaskState.SUCCEEDED, done.error
    assert on_disk == f"token={MASK}\n"                 # the pieces were written apart
    assert f"token={MASK}" in texts
    assert not any(h in text for h in HALVES for text in [on_disk, *texts])
