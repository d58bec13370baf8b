"""The log file in the data dir: private, rotated at its size cap, its tail readable."""
from __future__ import annotations

import logging
import stat

import pytest

from agentdeck.engine.api import log_file, start_log_file, tail_log


@pytest.fixture
def root_logger():
    """The root logger as it was, restored (and the test's handlers closed) after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in set(root.handlers) - set(handlers):
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_records_go_to_a_private_file_in_the_data_dir(tmp_path, root_logger):
    path = start_log_file(tmp_path / "home")
    assert path == log_file(tmp_path / "home") == tmp_path / "home" / "logs" / "agentdeck.log"
    logging.getLogger("agentdeck.test").info("hello from the test")
    assert "INFO agentdeck.test: hello from the test" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert start_log_file(tmp_path / "home") == path  # again: no second handler
    assert sum(getattr(h, "baseFilename", None) == str(path) for h in root_logger.handlers) == 1


def test_the_file_is_rotated_at_its_cap_and_the_rotated_ones_stay_private(tmp_path, root_logger):
    path = start_log_file(tmp_path / "home", max_bytes=10_000)
    for i in range(400):
        logging.getLogger("agentdeck.test").warning("line %d %s", i, "x" * 60)
    rotated = sorted(path.parent.glob("agentdeck.log.*"))
    assert [p.name for p in rotated] == ["agentdeck.log.1", "agentdeck.log.2", "agentdeck.log.3"]
    assert all(p.stat().st_size <= 10_000 for p in [path, *rotated])
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in [path, *rotated])
    assert "line 399 " in path.read_text()


def test_warnings_still_reach_stderr_when_the_file_is_the_first_handler(tmp_path, root_logger,
                                                                         capfd):
    root_logger.handlers[:] = []  # as in the CLI: nothing set up before
    start_log_file(tmp_path / "home")
    logging.getLogger("agentdeck.test").warning("careful")
    logging.getLogger("agentdeck.test").info("only in the file")
    assert capfd.readouterr().err == "careful\n"


def test_a_log_dir_that_cannot_be_made_leaves_no_log_file_and_says_so(tmp_path, root_logger,
                                                                       capfd):
    (tmp_path / "logs").write_text("a file where the log dir goes")
    assert start_log_file(tmp_path) is None
    assert "no log file" in capfd.readouterr().err


def test_an_unwritable_data_dir_leaves_the_saying_to_the_store(tmp_path, root_logger, capfd):
    """One line for one problem: the store's error names the dir and the fix."""
    (tmp_path / "file").write_text("not a dir")
    assert start_log_file(tmp_path / "file" / "home") is None
    assert capfd.readouterr().err == ""


def test_tail_gives_the_last_lines(tmp_path):
    path = tmp_path / "log"
    path.write_text("".join(f"line {i}\n" for i in range(100_000)))  # more than is read
    tail = tail_log(path, 200)
    assert tail.splitlines() == [f"line {i}" for i in range(99_800, 100_000)]
    assert tail_log(tmp_path / "missing") == ""
