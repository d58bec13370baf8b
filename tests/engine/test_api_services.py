"""The facade's services for front ends: profiles text, batch text and files, working
copies, the TOML files read off the event loop."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from agentdeck.engine import api
from agentdeck.engine.core import profile_source
from agentdeck.engine.errors import BatchError, InvalidInput, NotFound
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.fakes.memory_keyring import MemoryKeyring


async def test_profiles_text_is_checked_saved_and_used(engine) -> None:
    assert await engine.read_profiles_text() == ""
    with pytest.raises(InvalidInput, match="line 2"):
        await engine.save_profiles_text('[profiles.x]\nkind = "nope"\n')
    assert not (engine.home / api.PROFILES_FILE).exists()
    text = '[profiles.fast]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\n'
    assert "fast" in await engine.save_profiles_text(text)
    assert await engine.read_profiles_text() == text
    assert "fast" in await engine.profiles()


async def test_batch_text_files_and_their_errors(idle_engine, repo, tmp_path: Path) -> None:
    spec = await idle_engine.parse_batch(f'name = "b"\n[[task]]\nprompt = "echo"\nrepo = "{repo}"\n',
                                    source="b.toml", base_dir=tmp_path)
    await idle_engine.export_batch(spec, tmp_path / "b.toml")
    again = await idle_engine.read_batch_file(tmp_path / "b.toml")
    assert (await idle_engine.parse_batch(again, source="b.toml", base_dir=tmp_path)).tasks == spec.tasks
    with pytest.raises(BatchError, match="b.toml line 4: no agent profile named 'ghost'"):
        await idle_engine.parse_batch('name = "b"\n[[task]]\nprompt = "x"\nagent = "ghost"\n',
                                 source="b.toml", base_dir=tmp_path, default_repo=repo)
    with pytest.raises(InvalidInput, match="cannot read the batch file .*missing.toml"):
        await idle_engine.read_batch_file(tmp_path / "missing.toml")
    with pytest.raises(InvalidInput, match="cannot write the batch file"):
        await idle_engine.export_batch(spec, tmp_path / "no" / "such" / "dir.toml")


async def test_working_copy_path_stays_inside_the_working_copy(engine, tmp_path: Path) -> None:
    task = await engine.submit(make_repo(tmp_path / "repo"), "echo hi > NEW.md")
    task = await wait_done(engine, task.id)
    workdir = Path(task.workdir)
    assert await engine.working_copy_path(task.id, "NEW.md") == workdir / "NEW.md"
    assert await engine.working_copy_path(task.id) == workdir
    with pytest.raises(NotFound, match="../../etc is not in the working copy"):
        await engine.working_copy_path(task.id, "../../etc")
    await engine.accept(task.id)
    with pytest.raises(NotFound, match="is gone"):
        await engine.working_copy_path(task.id, "NEW.md")


async def test_profiles_and_providers_files_are_read_off_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which thread reads the files is not observable from outside: a wrapper records it."""
    readers: list[bool] = []
    real = profile_source.load_providers

    def recording(home: Path):
        readers.append(threading.current_thread() is threading.main_thread())
        return real(home)
    monkeypatch.setattr(profile_source, "load_providers", recording)
    engine = await open_engine(tmp_path / "home", drive_queue=False)
    try:
        await engine.reload_profiles()
    finally:
        await engine.close()
    assert readers == [False, False]  # open, reload: never on the loop's (main) thread


async def test_api_keys_are_stored_found_and_deleted(
        idle_engine, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    await idle_engine.store_secrets({"MY_KEY": "sk-1"})
    assert await idle_engine.stored_secrets(["MY_KEY", "OTHER"]) == {"MY_KEY": True, "OTHER": False}
    assert await idle_engine.find_secret("MY_KEY") == "sk-1"
    monkeypatch.setenv("MY_KEY", "sk-env")
    assert await idle_engine.find_secret("MY_KEY") == "sk-env"
    await idle_engine.delete_secret("MY_KEY")
    assert memory_keyring.items == {}


async def test_opening_an_engine_bounds_how_long_the_loop_waits_for_the_gil(tmp_path: Path
                                                                           ) -> None:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default
    try:
        engine = await open_engine(tmp_path / "home", drive_queue=False)
        await engine.close()
        assert sys.getswitchinterval() <= api.GIL_SWITCH_INTERVAL
    finally:
        sys.setswitchinterval(before)
