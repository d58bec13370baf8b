"""A profile's local files copied into and out of a hostile working copy (issue 9,
finding 2).

The copy may hold links an agent (or an earlier attempt) planted, and the user's repo may
hold a chain of links an accepted change brought in, each of which stays inside the repo
when read on its own (``a -> .``, ``b -> a/..``, ``c -> b/..``) while together they lead
out of it. Copying in must neither write nor delete outside the copy, nor read outside the
user's repo. Each attack's path is shown to really lead outside before agentdeck meets it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentdeck.engine.core.setup_phase import copy_local_files, remove_local_files


def plant_chain(folder: Path) -> None:
    """Links under ``folder``, each inside it on paper; ``c`` leads two levels up."""
    os.symlink(".", folder / "a")
    os.symlink("a/..", folder / "b")
    os.symlink("b/..", folder / "c")


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The user's repo, the agent's copy and a file of the user's outside both."""
    repo, workdir = tmp_path / "user" / "repo", tmp_path / "data" / "work"
    repo.mkdir(parents=True)
    workdir.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file\n")
    return repo, workdir, victim


def test_links_in_the_copy_cannot_redirect_the_copy_out(layout: tuple[Path, Path, Path]) -> None:
    repo, workdir, victim = layout
    (repo / "leak").write_text("TOKEN=from-the-profile\n")
    (repo / "conf").mkdir()
    (repo / "conf" / "victim.txt").write_text("TOKEN=from-the-profile\n")
    plant_chain(workdir)
    os.symlink("c/victim.txt", workdir / "leak")
    os.symlink("c", workdir / "conf")
    assert (workdir / "leak").resolve() == victim.resolve(), "the chain does not lead out"
    assert (workdir / "conf" / "victim.txt").resolve() == victim.resolve()

    report = copy_local_files(repo, workdir, ("leak", "conf/victim.txt"), set())

    assert victim.read_text() == "the user's own file\n"
    assert [line.split(" (")[0] for line in report] == [
        "not copied: leak", "not copied: conf/victim.txt"]
    assert os.readlink(workdir / "leak") == "c/victim.txt"


def test_a_chain_in_the_users_repo_does_not_pull_an_outside_secret_in(
        layout: tuple[Path, Path, Path]) -> None:
    repo, workdir, victim = layout
    plant_chain(repo)
    assert (repo / "c" / "victim.txt").read_text() == victim.read_text(), "no way out"

    report = copy_local_files(repo, workdir, ("c/victim.txt",), set())

    assert report[0].startswith("not copied: c/victim.txt (a symlink")
    assert os.listdir(workdir) == []


def test_removing_the_files_never_deletes_through_a_link(
        layout: tuple[Path, Path, Path]) -> None:
    repo, workdir, victim = layout
    plant_chain(workdir)
    os.symlink("c/victim.txt", workdir / ".env")
    os.symlink("c", workdir / "conf")
    assert (workdir / "conf" / "victim.txt").exists()

    remove_local_files(workdir, (".env", "conf/victim.txt", "c/victim.txt"))

    assert victim.read_text() == "the user's own file\n"
    assert os.path.islink(workdir / ".env")


def test_plain_files_are_copied_in_and_taken_out_again(layout: tuple[Path, Path, Path]) -> None:
    repo, workdir, _ = layout
    (repo / ".env").write_text("TOKEN=local\n")
    (repo / "cfg").mkdir()
    (repo / "cfg" / "local.toml").write_text("x = 1\n")
    (workdir / ".env").write_text("left by an earlier attempt\n")

    report = copy_local_files(repo, workdir, (".env", "cfg/local.toml", "../x", "nope"), set())

    assert report == [
        "copied .env from the repository (kept out of the diff)",
        "copied cfg/local.toml from the repository (kept out of the diff)",
        "not copied: ../x (only plain paths inside the repository can be copied)",
        "not copied: nope (no such file in the repository)",
    ]
    assert (workdir / ".env").read_text() == "TOKEN=local\n"
    assert (workdir / "cfg" / "local.toml").read_text() == "x = 1\n"
    remove_local_files(workdir, (".env", "cfg/local.toml"))
    assert not (workdir / ".env").exists() and not (workdir / "cfg" / "local.toml").exists()
