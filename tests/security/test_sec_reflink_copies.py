"""A hostile agent whose copy is a reflink clone of a template (a btrfs data dir): writing
into its files in place, through hard links and symlinks it makes, or at the template's
own path changes neither the template nor another task's copy; gc then removes the
template. Each attack leaves a marker when it works, and the test checks they ran."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentdeck.engine.models import TaskState
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.security.repokit import fingerprint

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is installed by make test (scripts/system-deps.sh)")

BIG = "template-bytes " * 1000  # beyond what btrfs inlines: the clone shares its extents
FILES = {"big.txt": BIG, "other.txt": BIG + "other\n", "src/app.py": "x = 1\n"}

ATTACK = """
printf PWNED | dd of=big.txt bs=1 seek=5 conv=notrunc 2>/dev/null && echo IN-PLACE-OK
ln other.txt hard && echo PWNED >> hard && echo HARDLINK-OK
ln -s {template}/files/src/app.py to-template && echo PWNED >> to-template 2>/dev/null && touch {marker}
ln -s {neighbour}/big.txt to-neighbour && echo PWNED >> to-neighbour 2>/dev/null && touch {marker}
ls {templates} 2>/dev/null && touch {marker}
echo PWNED > {template}/files/big.txt 2>/dev/null && touch {marker}
echo PWNED > {neighbour}/big.txt 2>/dev/null && touch {marker}
echo attacked
"""


async def test_an_agent_in_a_cloned_copy_cannot_change_the_template_or_another_copy(
        tmp_path, btrfs_dir):
    repo = make_repo(tmp_path / "repo", FILES)
    home = btrfs_dir / "home"
    marker = tmp_path / "PWNED"
    engine = await open_engine(home)
    try:
        first = await engine.submit(repo, "true")
        neighbour = Path((await wait_done(engine, first.id)).workdir)
        [template] = [p for p in (home / "templates").glob("*/*") if not p.name.startswith(".")]
        before = fingerprint(template), fingerprint(neighbour)
        script = ATTACK.format(template=template, templates=home / "templates",
                               neighbour=neighbour, marker=marker)
        attack = await engine.submit(repo, script)
        done = await wait_done(engine, attack.id, timeout=60)
        lines = [e.text for e in await engine.get_logs(attack.id, limit=None)]
        diff = await engine.get_diff(attack.id)
        later = await engine.submit(repo, "true")
        fresh = Path((await wait_done(engine, later.id)).workdir)
        after = fingerprint(template), fingerprint(neighbour)
        written = (Path(done.workdir) / "big.txt").read_text()
        pristine = [(fresh / name).read_text() for name in ("big.txt", "other.txt")]
        for task in (first, attack, later):
            await engine.reject(task.id)
        await engine.update_settings(storage_retention_days=0)
        await engine.collect_garbage()
    finally:
        await engine.close()
    assert done.state == TaskState.SUCCEEDED, done.error
    assert {"IN-PLACE-OK", "HARDLINK-OK", "attacked"} <= set(lines), lines
    assert {f.path for f in diff.files} == {"big.txt", "other.txt", "hard", "to-template",
                                            "to-neighbour"}
    assert written.startswith("templPWNED")
    if after != before or pristine != [BIG, BIG + "other\n"]:
        marker.touch()
    assert not marker.exists(), "the agent changed the template or another task's copy"
    assert not template.exists(), "gc keeps a template no task starts from"
