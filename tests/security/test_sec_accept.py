"""Accept against a hostile change, on real git repos (issue 9, findings 3, 7 and 12).

Finding 3: accept must never overwrite or remove a file the user's HEAD does not track
(ignored through the global excludes file, .git/info/exclude or a nested .gitignore, or a
folder of such files), and a refusal leaves the repo byte for byte as it was.
Finding 7: the agent's .gitattributes must not make the user's own filter drivers run on
files it chose. Finding 12: signing is honoured, hooks run only when asked for.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput, RepoError, UnsafeChange
from agentdeck.engine.models import TaskState
from agentdeck.engine.core.reviews import RUN_HOOKS_SETTING
from agentdeck.engine.workspace import Workspace
from tests.engine.enginekit import git, make_repo, open_engine, wait_done
from tests.security.repokit import fingerprint

pytestmark = pytest.mark.usefixtures("user_config")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home")


def agent_change(ws: Workspace, repo: Path, write: dict[str, str],
                 task: str = "t1") -> tuple[str, str]:
    """Run a pretend agent on ``repo``: write files in its copy; return the base and the
    captured result commit."""
    base = ws.snapshot(task, repo)
    workdir = ws.prepare(task, repo, base)
    for name, text in write.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    result = ws.capture(task, repo, base, workdir)
    return base, result.commit


def changed_paths(ws: Workspace, repo: Path, base: str, commit: str) -> set[str]:
    return {f.path for f in ws.diff_result(repo, base, commit).files}


# --- finding 3: files of the user's that HEAD does not track ----------------------------

def _global_excludes(repo: Path, user_config: Path) -> str:
    excludes = user_config.parent / "global-excludes"
    excludes.write_text(".env\n")
    with user_config.open("a") as config:
        config.write(f"[core]\n\texcludesFile = {excludes}\n")
    (repo / ".env").write_text("API_KEY=the user's own\n")
    return ".env"


def _info_exclude(repo: Path, _config: Path) -> str:
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("notes.txt\n")
    (repo / "notes.txt").write_text("the user's private notes\n")
    return "notes.txt"


def _nested_gitignore(repo: Path, _config: Path) -> str:
    (repo / "web" / "dist").mkdir()
    (repo / "web" / "dist" / "app.js").write_text("the user's build\n")
    return "web/dist/app.js"


@pytest.mark.parametrize("ignore", [_global_excludes, _info_exclude, _nested_gitignore],
                         ids=["core.excludesFile", "info/exclude", "nested .gitignore"])
def test_an_ignored_file_of_the_user_is_never_overwritten(ws: Workspace, tmp_path: Path,
                                                         user_config: Path, ignore) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", "web/.gitignore": "dist/\n"})
    path = ignore(repo, user_config)
    assert git(repo, "status", "--porcelain", "--ignored", "--", path).startswith("!!")
    # The agent writes the same path (for dist/, after dropping the rule from its copy).
    base, commit = agent_change(ws, repo, {path: "agent's\n", "web/.gitignore": ""})
    assert path in changed_paths(ws, repo, base, commit)
    before = fingerprint(repo)
    with pytest.raises(RepoError, match=rf"\(untracked or ignored\): {path}\. Nothing was"):
        ws.accept("t1", repo, base, commit, "m")
    assert fingerprint(repo) == before
    assert "the user's" in (repo / path).read_text()


def test_an_ignored_folder_is_not_replaced_by_a_file(ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", ".gitignore": "build/\n"})
    (repo / "build").mkdir()
    (repo / "build" / "cache.bin").write_bytes(b"hours of compiling")
    base, commit = agent_change(ws, repo, {"build": "now a file\n"})
    assert "build" in changed_paths(ws, repo, base, commit)
    before = fingerprint(repo)
    with pytest.raises(RepoError, match=r"ignored\): build/\. Nothing"):
        ws.accept("t1", repo, base, commit, "m")
    assert fingerprint(repo) == before


def test_a_tracked_folder_turned_into_a_file_keeps_the_users_files_in_it(
        ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"docs/guide.md": "# guide\n", ".gitignore": "*.log\n"})
    (repo / "docs" / "build.log").write_text("the user's log\n")
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    shutil.rmtree(workdir / "docs")
    (workdir / "docs").write_text("docs are a file now\n")
    commit = ws.capture("t1", repo, base, workdir).commit
    assert {"docs", "docs/guide.md"} <= changed_paths(ws, repo, base, commit)
    before = fingerprint(repo)
    with pytest.raises(RepoError, match=r"ignored\): docs/build\.log\. Nothing"):
        ws.accept("t1", repo, base, commit, "m")
    assert fingerprint(repo) == before


def test_a_link_of_the_user_where_the_change_puts_a_folder_is_kept(
        ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", ".gitignore": "/lib\n"})
    os.symlink("README.md", repo / "lib")  # the user's own link, ignored
    base, commit = agent_change(ws, repo, {"lib/mod.py": "x = 1\n", ".gitignore": ""})
    assert "lib/mod.py" in changed_paths(ws, repo, base, commit)
    before = fingerprint(repo)
    with pytest.raises(RepoError, match=r"ignored\): lib\. Nothing"):
        ws.accept("t1", repo, base, commit, "m")
    assert fingerprint(repo) == before


def test_new_files_inside_an_ignored_folder_leave_its_other_files_alone(
        ws: Workspace, tmp_path: Path) -> None:
    """Only what would be overwritten or removed is refused, not a new file next to it."""
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", ".gitignore": "dist/\n"})
    (repo / "dist").mkdir()
    (repo / "dist" / "old.js").write_text("the user's\n")
    base, commit = agent_change(ws, repo, {".gitignore": "", "dist/new.js": "agent's\n"})
    ws.accept("t1", repo, base, commit, "m")
    assert (repo / "dist" / "new.js").read_text() == "agent's\n"
    assert (repo / "dist" / "old.js").read_text() == "the user's\n"


# --- finding 7: attributes at accept are the base's ------------------------------------

@pytest.fixture
def user_filter(user_config: Path, tmp_path: Path) -> Path:
    """A filter driver ``crypt`` in the user's config that notes each path it runs on."""
    marker = tmp_path / "filter-ran"
    with user_config.open("a") as config:
        config.write(f"[filter \"crypt\"]\n\tsmudge = \"echo %f >> '{marker}'; cat\"\n"
                     f"\tclean = \"echo %f >> '{marker}'; cat\"\n")
    return marker


def test_the_agents_attributes_do_not_reach_the_users_filter(
        ws: Workspace, tmp_path: Path, user_filter: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", "src/app.py": "x = 1\n"})
    base, commit = agent_change(ws, repo, {
        ".gitattributes": "*.py filter=crypt\nREADME.md filter=crypt\n",
        "src/app.py": "x = 2\n", "src/new.py": "y = 1\n"})
    before = fingerprint(repo)
    with pytest.raises(UnsafeChange, match=r"src/app\.py \(no filter -> filter crypt\).*"
                                           r"Exclude \.gitattributes"):
        ws.accept("t1", repo, base, commit, "m")
    assert not user_filter.exists()
    assert fingerprint(repo) == before
    ws.accept("t1", repo, base, commit, "m", exclude=[".gitattributes"])
    assert (repo / "src" / "new.py").read_text() == "y = 1\n"
    assert not user_filter.exists(), "the user's filter ran on a file the agent chose"


def test_the_users_own_attributes_still_apply_and_cannot_be_switched_off(
        ws: Workspace, tmp_path: Path, user_filter: Path) -> None:
    """The filter mechanism really works here (the base's attributes run it, as plain
    git would), and an agent dropping the user's rule is refused too."""
    repo = make_repo(tmp_path / "repo", {".gitattributes": "*.secret filter=crypt\n",
                                         "README.md": "hi\n"})
    user_filter.unlink(missing_ok=True)  # make_repo's commit ran the clean filter
    base, commit = agent_change(ws, repo, {".gitattributes": "", "vault.secret": "s\n"})
    with pytest.raises(UnsafeChange, match=r"vault\.secret \(filter crypt -> no filter\)"):
        ws.accept("t1", repo, base, commit, "m")
    assert not user_filter.exists()
    base, commit = agent_change(ws, repo, {"vault.secret": "s\n"}, task="t2")
    ws.accept("t2", repo, base, commit, "m")
    assert user_filter.read_text().split() == ["vault.secret"]


def test_a_nested_attributes_file_is_checked_too(ws: Workspace, tmp_path: Path,
                                                 user_filter: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n"})
    base, commit = agent_change(ws, repo, {"sub/.gitattributes": "* filter=crypt\n",
                                           "sub/x.txt": "x\n"})
    with pytest.raises(UnsafeChange, match=r"sub/x\.txt.*Exclude sub/\.gitattributes"):
        ws.accept("t1", repo, base, commit, "m")
    assert not user_filter.exists()


# --- finding 12: hooks off by default and said so, on when asked; signing honoured ------

def _hook(repo: Path, name: str, body: str) -> None:
    path = repo / ".git" / "hooks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_hooks_do_not_run_by_default_and_the_result_says_so(ws: Workspace,
                                                           tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = tmp_path / "hook-ran"
    _hook(repo, "pre-commit", f"echo pre-commit >> '{marker}'")
    _hook(repo, "commit-msg", f"echo commit-msg >> '{marker}'")
    base, commit = agent_change(ws, repo, {"a.txt": "a\n"})
    result = ws.accept("t1", repo, base, commit, "m")
    assert not marker.exists()
    assert git(repo, "rev-parse", "HEAD") == result.commit
    (note,) = result.notes
    assert note.startswith("hooks not run: pre-commit, commit-msg (") and "--run-hooks" in note


def test_run_hooks_commits_through_the_users_git_commit(ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = tmp_path / "hook-ran"
    # The hook sees the change checked out, as with a plain `git commit`.
    _hook(repo, "pre-commit", f"cat a.txt >> '{marker}'")
    _hook(repo, "post-commit", f"echo post-commit >> '{marker}'")
    (repo / "README.md").write_text("staged by the user\n")
    git(repo, "add", "README.md")
    base, commit = agent_change(ws, repo, {"a.txt": "agent\n"})
    result = ws.accept("t1", repo, base, commit, "Agent: add a.txt", run_hooks=True)
    assert marker.read_text() == "agent\npost-commit\n"
    assert result.notes == () and git(repo, "rev-parse", "HEAD") == result.commit
    assert git(repo, "show", "--name-only", "--format=%s", "HEAD") == "Agent: add a.txt\n\na.txt"
    assert git(repo, "status", "--porcelain") == "M  README.md"  # still staged, not committed


def test_a_failing_hook_leaves_the_repo_as_it_was(ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    _hook(repo, "pre-commit", "echo 'tests failed' >&2; exit 1")
    base, commit = agent_change(ws, repo, {"a.txt": "agent\n", "README.md": "agent's\n"})
    head, status, listing = (git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain"),
                             git(repo, "ls-files", "-s"))
    files = {p: v for p, v in fingerprint(repo).items() if not p.startswith(".git")}
    with pytest.raises(RepoError, match="tests failed.*Nothing was committed"):
        ws.accept("t1", repo, base, commit, "m", run_hooks=True)
    assert (git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain"),
            git(repo, "ls-files", "-s")) == (head, status, listing)
    assert {p: v for p, v in fingerprint(repo).items() if not p.startswith(".git")} == files
    assert git(repo, "reflog", "-1").endswith("initial")


def test_hooks_cannot_be_asked_for_a_branch(ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base, commit = agent_change(ws, repo, {"a.txt": "a\n"})
    with pytest.raises(InvalidInput, match="current branch"):
        ws.accept("t1", repo, base, commit, "m", branch=True, run_hooks=True)


@pytest.fixture
def signing_key(tmp_path: Path, user_config: Path) -> Path:
    """An ssh signing key in the user's config with commit.gpgSign on."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed: no ssh key to sign with")
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada@example.org",
                    "-f", str(key)], check=True)
    allowed = tmp_path / "allowed-signers"
    allowed.write_text(f"dev@example.com {(tmp_path / 'signing-key.pub').read_text()}")
    with user_config.open("a") as config:
        config.write(f"[gpg]\n\tformat = ssh\n[gpg \"ssh\"]\n\tallowedSignersFile = {allowed}\n"
                     f"[user]\n\tsigningKey = {key}.pub\n[commit]\n\tgpgSign = true\n")
    return key


def _verified(repo: Path, rev: str) -> bool:
    proc = subprocess.run(["git", "verify-commit", rev], cwd=repo, capture_output=True)
    return proc.returncode == 0 and b"Good \"git\" signature" in proc.stderr


@pytest.mark.parametrize("how", ["head", "branch", "hooks"])
def test_commits_are_signed_as_the_users_config_says(ws: Workspace, tmp_path: Path,
                                                     signing_key: Path, how: str) -> None:
    repo = make_repo(tmp_path / "repo")
    assert _verified(repo, "HEAD")  # the user's own commits are signed: the setup works
    base, commit = agent_change(ws, repo, {"a.txt": "a\n"})
    result = ws.accept("t1", repo, base, commit, "m", branch=how == "branch",
                       run_hooks=how == "hooks")
    assert _verified(repo, result.commit)


def test_a_signing_failure_changes_nothing(ws: Workspace, tmp_path: Path,
                                          signing_key: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base, commit = agent_change(ws, repo, {"a.txt": "a\n"})
    signing_key.unlink()
    (tmp_path / "signing-key.pub").unlink()
    before = fingerprint(repo)
    with pytest.raises(RepoError, match="signing the commit failed.*Nothing was changed"):
        ws.accept("t1", repo, base, commit, "m")
    assert fingerprint(repo) == before


async def test_the_cli_says_which_hooks_it_skipped_and_runs_them_when_asked(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = tmp_path / "hook-ran"
    _hook(repo, "pre-commit", f"cat '{repo}/one.txt' '{repo}/two.txt' >> '{marker}' 2>/dev/null"
                              f"; echo ran >> '{marker}'")
    home = tmp_path / "home"
    engine = await open_engine(home)
    try:
        ids = []
        for name in ("one", "two", "three"):
            task = await wait_done(engine, (await engine.submit(repo, f"echo {name} > {name}.txt")).id)
            assert task.state == TaskState.SUCCEEDED, task.error
            ids.append(task.id)
        await engine.update_settings(**{RUN_HOOKS_SETTING: True})
        await engine.accept(ids[2])  # the setting: hooks run
        assert marker.read_text() == "ran\n"
        marker.unlink()
        await engine.update_settings(**{RUN_HOOKS_SETTING: False})
    finally:
        await engine.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "AGENTDECK_HOME": str(home)}
        return subprocess.run([sys.executable, "-m", "agentdeck.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    skipped = cli("accept", ids[0])
    assert skipped.returncode == 0, skipped.stderr
    assert "note: hooks not run: pre-commit (" in skipped.stderr and not marker.exists()
    ran = cli("accept", ids[1], "--run-hooks")
    assert ran.returncode == 0, ran.stderr
    assert marker.read_text() == "one\ntwo\nran\n"  # it ran with the change checked out
    assert ran.stdout.strip() == f"committed {git(repo, 'rev-parse', 'HEAD')}"
