"""Workspace: snapshots, working copies, capture, accept — on real git repos."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agentdeck.engine.errors import ConflictError, InvalidInput, RepoError, UnsafeChange
from agentdeck.engine.workspace import Workspace
from agentdeck.engine.workspace.capture import Manifest, record_checkout
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.restat import IndexMismatch, checkout_stats
from tests.engine.enginekit import tree_hash


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Plain git as a user would run it (the test's own isolated global config)."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode:
        raise AssertionError(f"git {args} failed: {proc.stderr}")
    return proc.stdout.strip()


def fingerprint(repo: Path) -> tuple[str, str, str, str]:
    """HEAD, status, work tree and the whole .git folder, byte for byte."""
    return (git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain"),
            tree_hash(repo), tree_hash(repo / ".git", skip_git=False))


@pytest.fixture(autouse=True)
def _git_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's git config must not leak into the tests (nor theirs into it)."""
    home = tmp_path_factory.mktemp("user-home")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A user's repo with text, binary, executable and symlink files in one commit."""
    path = tmp_path / "user repo"
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.name", "Ada User")
    git(path, "config", "user.email", "ada@example.org")
    (path / "a.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    (path / "b.txt").write_text("bravo\n" * 5)
    (path / "gone.txt").write_text("to be deleted\n")
    (path / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (path / "img.bin").write_bytes(bytes(range(256)))
    (path / "docs").mkdir()
    (path / "docs" / "guide.md").write_text("# guide\n")
    os.symlink("docs/guide.md", path / "guide-link")
    (path / ".gitignore").write_text("*.log\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "initial")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home")


def private_dir(ws: Workspace) -> Path:
    (path,) = (ws.home / "git").glob("*.git")
    return path


def run_agent(ws: Workspace, repo: Path, task: str = "t1", **snap: bool) -> tuple[str, Path]:
    base = ws.snapshot(task, repo, **snap)
    return base, ws.prepare(task, repo, base)


def edit_a(workdir: Path, line: int = 2, text: str = "agent") -> None:
    path = workdir / "a.txt"
    lines = path.read_text().splitlines(keepends=True)
    lines[line - 1] = f"{text}\n"
    path.write_text("".join(lines))


# --- inspect and bad inputs -------------------------------------------------------------

def test_inspect_reports_branch_head_and_dirtiness(ws: Workspace, repo: Path) -> None:
    info = ws.inspect(repo / "docs")
    assert (info.path, info.branch, info.dirty) == (repo.resolve(), "main", False)
    assert info.head == git(repo, "rev-parse", "HEAD")
    (repo / "new.txt").write_text("x")
    assert ws.inspect(repo).dirty
    git(repo, "checkout", "-q", "--detach")
    assert ws.inspect(repo).branch is None


@pytest.mark.parametrize("case, words", [
    ("missing", "does not exist"), ("file", "is not a folder"),
    ("plain", "is not a git repository"), ("bare", "bare repository"),
    ("empty", "no commits yet"), ("dotgit", "inside a .git folder"),
])
def test_bad_repo_inputs_say_what_is_wrong(ws: Workspace, tmp_path: Path, repo: Path,
                                           case: str, words: str) -> None:
    target = {"missing": tmp_path / "nope", "file": repo / "a.txt", "plain": tmp_path / "plain",
              "bare": tmp_path / "bare.git", "empty": tmp_path / "empty",
              "dotgit": repo / ".git"}[case]
    (tmp_path / "plain").mkdir()
    git(tmp_path, "init", "-q", "--bare", "bare.git")
    git(tmp_path, "init", "-q", "empty")
    with pytest.raises(RepoError, match=words):
        ws.inspect(target)
    with pytest.raises(RepoError, match=words):
        ws.snapshot("t1", target)


@pytest.mark.parametrize("task_id", ["../x", "a/b", "", "-rf", "x.lock", "a..b"])
def test_task_ids_that_are_not_plain_names_are_refused(ws: Workspace, repo: Path,
                                                       task_id: str) -> None:
    with pytest.raises(InvalidInput):
        ws.snapshot(task_id, repo)


def test_unknown_or_malformed_commits_are_refused(ws: Workspace, repo: Path) -> None:
    ws.snapshot("t1", repo)
    with pytest.raises(InvalidInput, match="not a full commit id"):
        ws.prepare("t1", repo, "--output=/tmp/x")
    with pytest.raises(RepoError, match="unknown"):
        ws.prepare("t1", repo, "0" * 40)


# --- snapshot and prepare ---------------------------------------------------------------

def test_snapshot_of_head_touches_nothing(ws: Workspace, repo: Path) -> None:
    (repo / "a.txt").write_text("uncommitted\n")
    before = fingerprint(repo)
    assert ws.inspect(repo).dirty
    assert ws.snapshot("t1", repo) == git(repo, "rev-parse", "HEAD")
    assert fingerprint(repo) == before
    workdir = ws.prepare("t1", repo, before[0])
    assert (workdir / "a.txt").read_text().startswith("line 1\n")


def test_snapshot_with_uncommitted_work_leaves_the_user_repo_byte_for_byte(
        ws: Workspace, repo: Path) -> None:
    (repo / "a.txt").write_text("edited\n")
    (repo / "b.txt").write_text("staged\n")
    git(repo, "add", "b.txt")
    (repo / "gone.txt").unlink()
    (repo / "fresh.txt").write_text("untracked\n")
    (repo / "debug.log").write_text("ignored\n")
    before = fingerprint(repo)
    base, workdir = run_agent(ws, repo, include_uncommitted=True)
    assert fingerprint(repo) == before
    assert git(repo, "rev-parse", f"{base}^", check=False) != before[0]  # not in user's store
    assert (workdir / "a.txt").read_text() == "edited\n"
    assert (workdir / "b.txt").read_text() == "staged\n"
    assert (workdir / "fresh.txt").read_text() == "untracked\n"
    assert not (workdir / "gone.txt").exists() and not (workdir / "debug.log").exists()
    assert ws.behind(repo, base) == 0


def test_clean_tree_with_uncommitted_flag_is_just_head(ws: Workspace, repo: Path) -> None:
    assert ws.snapshot("t1", repo, include_uncommitted=True) == git(repo, "rev-parse", "HEAD")


def test_prepare_gives_the_base_files_and_a_clean_inner_repo(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    assert tree_hash(workdir) == tree_hash(repo)
    assert os.readlink(workdir / "guide-link") == "docs/guide.md"
    assert git(workdir, "status", "--porcelain") == ""
    assert git(workdir, "log", "--format=%an %s") == f"agentdeck agentdeck: base {base}"
    (workdir / "scratch").write_text("leftover")
    assert not (ws.prepare("t1", repo, base) / "scratch").exists()  # fresh every time


def test_a_checkouts_manifest_comes_from_its_index_as_the_tree_listing_would_give_it(
        ws: Workspace, repo: Path, tmp_path: Path) -> None:
    base, workdir = run_agent(ws, repo)
    from_index = Manifest.load(ws.home / "index" / "t1").files
    listed = tmp_path / "listed"
    record_checkout(Git(git_dir=private_dir(ws)), base, workdir, listed)  # no index given
    assert from_index == Manifest.load(listed).files
    assert sorted(from_index) == [".gitignore", "a.txt", "b.txt", "docs/guide.md",
                                  "gone.txt", "img.bin", "run.sh"]  # files, not the link


def test_an_index_it_cannot_read_falls_back_to_the_tree_listing(ws: Workspace, repo: Path,
                                                               tmp_path: Path) -> None:
    base, workdir = run_agent(ws, repo)
    index = tmp_path / "index-v4"
    subprocess.run(["git", "-c", "index.version=4", "read-tree", base], check=True,
                   env={**os.environ, "GIT_DIR": str(private_dir(ws)), "GIT_INDEX_FILE": str(index)})
    with pytest.raises(IndexMismatch, match="version 4"):
        checkout_stats(index, workdir, hash_len=20)
    manifest = tmp_path / "manifest"
    record_checkout(Git(git_dir=private_dir(ws)), base, workdir, manifest, index)
    assert Manifest.load(manifest).files == Manifest.load(ws.home / "index" / "t1").files


# --- capture ----------------------------------------------------------------------------

def test_capture_reports_every_kind_of_change(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    (workdir / "a.txt").write_text((workdir / "a.txt").read_text() + "more\n")
    (workdir / "gone.txt").unlink()
    os.rename(workdir / "b.txt", workdir / "b2.txt")
    (workdir / "new.txt").write_text("one\ntwo\nthree\n")
    (workdir / "img.bin").write_bytes(bytes(range(255, -1, -1)))
    (workdir / "run.sh").chmod(0o755)
    (workdir / "noise.log").write_text("ignored by the repo's .gitignore")
    result = ws.capture("t1", repo, base, workdir)
    got = {f.path: (f.status, f.old_path, f.added, f.removed, f.binary, f.old_mode, f.new_mode)
           for f in result.files}
    assert got == {
        "a.txt": ("modified", None, 2, 1, False, "100644", "100644"),
        "b2.txt": ("renamed", "b.txt", 0, 0, False, "100644", "100644"),
        "gone.txt": ("deleted", None, 0, 1, False, "100644", None),
        "img.bin": ("modified", None, 0, 0, True, "100644", "100644"),
        "new.txt": ("added", None, 3, 0, False, None, "100644"),
        "run.sh": ("mode_changed", None, 0, 0, False, "100644", "100755"),
    }
    assert (result.added, result.removed, result.unsafe, result.base) == (5, 2, (), base)
    assert git(private_dir(ws), "rev-parse", "refs/agentdeck/result/t1") == result.commit
    assert ws.diff_result(repo, base, result.commit) == result


def test_capture_of_an_untouched_copy_is_empty(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    result = ws.capture("t1", repo, base, workdir)
    assert result.files == () and git(private_dir(ws), "rev-parse", f"{result.commit}^") == base


def test_patch_is_a_binary_safe_git_diff_optionally_per_file(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    (workdir / "img.bin").write_bytes(b"\0new binary")
    commit = ws.capture("t1", repo, base, workdir).commit
    full = ws.patch(repo, base, commit)
    assert "GIT binary patch" in full and "+agent" in full
    only_a = ws.patch(repo, base, commit, ["a.txt"])
    assert "a/a.txt" in only_a and "img.bin" not in only_a
    (Path(repo) / "p.diff").write_text(full)
    git(repo, "apply", "--check", "p.diff")


def test_capture_refuses_too_many_files_before_storing_anything(tmp_path: Path,
                                                               repo: Path) -> None:
    ws = Workspace(tmp_path / "home", max_files=5)
    base, workdir = run_agent(ws, repo)
    for i in range(6):
        (workdir / f"f{i}.txt").write_text(f"unique content {i}\n")
    with pytest.raises(UnsafeChange, match="more than 5 files"):
        ws.capture("t1", repo, base, workdir)
    blob = git(repo, "hash-object", str(workdir / "f0.txt"))
    assert subprocess.run(["git", "--git-dir", private_dir(ws), "cat-file", "-e", blob]).returncode
    assert "result" not in git(private_dir(ws), "for-each-ref")


def test_capture_refuses_too_many_bytes(tmp_path: Path, repo: Path) -> None:
    ws = Workspace(tmp_path / "home", max_bytes=1000)
    base, workdir = run_agent(ws, repo)
    (workdir / "big.txt").write_text("x" * 2000)
    with pytest.raises(UnsafeChange, match="more than 1000 bytes"):
        ws.capture("t1", repo, base, workdir)
    (workdir / "big.txt").write_text("x" * 900)
    assert [f.path for f in ws.capture("t1", repo, base, workdir).files] == ["big.txt"]


def test_capture_of_a_vanished_copy_says_so(ws: Workspace, repo: Path, tmp_path: Path) -> None:
    base = ws.snapshot("t1", repo)
    with pytest.raises(RepoError, match="no longer exists"):
        ws.capture("t1", repo, base, tmp_path / "nowhere")


# --- accept -----------------------------------------------------------------------------

def test_accept_on_an_unmoved_branch_commits_the_result(ws: Workspace, repo: Path) -> None:
    old = git(repo, "rev-parse", "HEAD")
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    (workdir / "new.txt").write_text("new\n")
    result = ws.capture("t1", repo, base, workdir)
    new = ws.accept("t1", repo, base, result.commit, "Agent: tidy a.txt").commit
    assert git(repo, "rev-parse", "HEAD") == new
    assert git(repo, "log", "-1", "--format=%P|%an <%ae>|%cn|%s") == (
        f"{old}|Ada User <ada@example.org>|Ada User|Agent: tidy a.txt")
    assert git(repo, "rev-parse", "HEAD^{tree}") == git(private_dir(ws), "rev-parse",
                                                        f"{result.commit}^{{tree}}")
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "new.txt").read_text() == "new\n"
    assert git(repo, "for-each-ref", "--format=%(refname)") == "refs/heads/main"
    assert not (repo / ".git" / "FETCH_HEAD").exists()
    assert "agentdeck: accept" in git(repo, "reflog", "-1")


def test_accept_without_any_identity_uses_agentdecks(ws: Workspace, repo: Path) -> None:
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    ws.accept("t1", repo, base, ws.capture("t1", repo, base, workdir).commit, "m")
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "agentdeck <agentdeck@localhost>"


def test_accept_merges_when_the_branch_moved(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir, line=2)
    commit = ws.capture("t1", repo, base, workdir).commit
    edit_a(repo, line=9, text="user")
    git(repo, "commit", "-qam", "user work")
    user_head = git(repo, "rev-parse", "HEAD")
    assert ws.behind(repo, base) == 1
    new = ws.accept("t1", repo, base, commit, "agent").commit
    assert git(repo, "rev-parse", f"{new}^") == user_head
    text = (repo / "a.txt").read_text()
    assert "agent\n" in text and "user\n" in text
    assert git(repo, "status", "--porcelain") == ""


def test_conflicting_accept_names_files_and_leaves_the_repo_untouched(ws: Workspace,
                                                                     repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir, line=3, text="agent")
    (workdir / "b.txt").write_text("agent\n")
    commit = ws.capture("t1", repo, base, workdir).commit
    edit_a(repo, line=3, text="user")
    (repo / "b.txt").write_text("user\n")
    git(repo, "commit", "-qam", "user work")
    before = fingerprint(repo)
    with pytest.raises(ConflictError, match="a.txt") as info:
        ws.accept("t1", repo, base, commit, "agent")
    assert info.value.files == ["a.txt", "b.txt"]
    assert fingerprint(repo) == before


def test_exclude_keeps_the_base_version(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    (workdir / "new.txt").write_text("new\n")
    os.rename(workdir / "b.txt", workdir / "b2.txt")
    (workdir / "gone.txt").unlink()
    commit = ws.capture("t1", repo, base, workdir).commit
    ws.accept("t1", repo, base, commit, "partial", exclude=["new.txt", "b2.txt", "gone.txt"])
    assert git(repo, "show", "--name-status", "--format=", "HEAD") == "M\ta.txt"
    assert not (repo / "new.txt").exists() and (repo / "b.txt").exists()


def test_exclude_must_name_changed_files_and_leave_something(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    commit = ws.capture("t1", repo, base, workdir).commit
    with pytest.raises(InvalidInput, match="b.txt"):
        ws.accept("t1", repo, base, commit, "m", exclude=["b.txt"])
    with pytest.raises(InvalidInput, match="nothing left"):
        ws.accept("t1", repo, base, commit, "m", exclude=["a.txt"])
    with pytest.raises(InvalidInput, match="message is empty"):
        ws.accept("t1", repo, base, commit, "  ")


def test_branch_mode_only_creates_a_branch(ws: Workspace, repo: Path) -> None:
    (repo / "b.txt").write_text("user's uncommitted edit\n")
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    commit = ws.capture("t1", repo, base, workdir).commit
    head, status, files, _ = fingerprint(repo)
    index = (repo / ".git" / "index").read_bytes()
    made = ws.accept("t1", repo, base, commit, "as branch", branch=True)
    assert made.branch == "agentdeck/t1" and git(repo, "rev-parse", made.branch) == made.commit
    assert fingerprint(repo)[:3] == (head, status, files)
    assert (repo / ".git" / "index").read_bytes() == index
    assert git(repo, "log", "-1", "--format=%P %s", "agentdeck/t1") == f"{base} as branch"
    assert "agent" in git(repo, "show", "agentdeck/t1:a.txt")
    with pytest.raises(RepoError, match="already exists"):
        ws.accept("t1", repo, base, commit, "again", branch=True)


def test_dirty_tree_in_the_way_is_refused_without_changes(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    (workdir / "new.txt").write_text("agent's\n")
    commit = ws.capture("t1", repo, base, workdir).commit
    (repo / "a.txt").write_text("user's uncommitted edit\n")
    (repo / "new.txt").write_text("user's untracked file\n")
    (repo / "b.txt").write_text("unrelated edit\n")
    before = fingerprint(repo)
    with pytest.raises(RepoError, match=r": a\.txt, new\.txt\. Nothing was changed"):
        ws.accept("t1", repo, base, commit, "m")
    assert fingerprint(repo) == before


def test_unrelated_uncommitted_work_survives_accept(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    commit = ws.capture("t1", repo, base, workdir).commit
    (repo / "b.txt").write_text("user's edit\n")
    ws.accept("t1", repo, base, commit, "m")
    assert git(repo, "status", "--porcelain") == "M b.txt"
    assert "agent" in (repo / "a.txt").read_text()


def test_accept_of_work_on_uncommitted_changes_commits_only_the_agents_part(
        ws: Workspace, repo: Path) -> None:
    (repo / "b.txt").write_text("user's work in progress\n")
    base, workdir = run_agent(ws, repo, include_uncommitted=True)
    edit_a(workdir)
    commit = ws.capture("t1", repo, base, workdir).commit
    assert ws.accept("t1", repo, base, commit, "as branch", branch=True).branch == "agentdeck/t1"
    assert git(repo, "rev-parse", "agentdeck/t1^") == base  # the snapshot came along
    ws.accept("t1", repo, base, commit, "agent part")
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "a.txt"
    assert git(repo, "status", "--porcelain") == "M b.txt"


def test_odd_file_names_round_trip(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    names = ["sp ace/ü.txt", "tab\tand\nnewline.txt", "-dash.txt", "*.txt"]
    for name in names:
        (workdir / name).parent.mkdir(exist_ok=True)
        (workdir / name).write_text(name + "\n")
    result = ws.capture("t1", repo, base, workdir)
    assert sorted(f.path for f in result.files) == sorted(names)
    assert "ü.txt" in ws.patch(repo, base, result.commit, ["sp ace/ü.txt"])
    assert ws.patch(repo, base, result.commit, ["*.txt"]).count("diff --git") == 1
    # Control characters in a name are refused at accept (see engine.workspace.names).
    with pytest.raises(UnsafeChange, match=r"tab\\tand\\nnewline\.txt \(name contains control"):
        ws.accept("t1", repo, base, result.commit, "m", exclude=["*.txt"])
    ws.accept("t1", repo, base, result.commit, "m", exclude=["*.txt", "tab\tand\nnewline.txt"])
    assert (repo / "sp ace/ü.txt").exists() and (repo / "-dash.txt").exists()
    assert not (repo / "*.txt").exists() and not (repo / "tab\tand\nnewline.txt").exists()


def test_a_submodule_in_the_user_repo_does_not_get_in_the_way(ws: Workspace, repo: Path) -> None:
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/lib")
    git(repo, "commit", "-qm", "add a submodule entry")
    base, workdir = run_agent(ws, repo)
    assert (workdir / "vendor" / "lib").is_dir()
    edit_a(workdir)
    result = ws.capture("t1", repo, base, workdir)
    assert [f.path for f in result.files] == ["a.txt"]


def test_detached_head_is_refused(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    edit_a(workdir)
    commit = ws.capture("t1", repo, base, workdir).commit
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(RepoError, match="detached"):
        ws.accept("t1", repo, base, commit, "m")


def test_discard_removes_the_copy_and_private_refs(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    (workdir / "locked").mkdir()
    (workdir / "locked" / "f").write_text("x")
    (workdir / "locked").chmod(0o500)
    ws.capture("t1", repo, base, workdir)
    ws.discard("t1")
    assert not workdir.exists()
    assert git(private_dir(ws), "for-each-ref") == ""
    ws.discard("t1")  # idempotent


# --- an agent that tries to break out ---------------------------------------------------

def _plant_traps(workdir: Path, marker: Path) -> None:
    """Everything an agent could write that would run code if git trusted it."""
    touch = f"touch {marker}"
    hooks = workdir / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in ("pre-commit", "post-commit", "post-checkout", "reference-transaction",
                 "post-index-change", "pre-auto-gc", "post-merge"):
        (hooks / name).write_text(f"#!/bin/sh\n{touch}\n")
        (hooks / name).chmod(0o755)
    with open(workdir / ".git" / "config", "a") as config:
        config.write(f'[core]\n\thooksPath = {hooks}\n\tfsmonitor = "{touch}; false"\n'
                     f'[alias]\n\tadd = "!{touch}"\n'
                     f'[filter "evil"]\n\tclean = {touch}; cat\n\tsmudge = {touch}; cat\n'
                     f'[diff "evil"]\n\ttextconv = {touch}; cat\n\tcommand = {touch}\n'
                     f'[merge "evil"]\n\tdriver = {touch}\n')
    (workdir / ".gitattributes").write_text("* filter=evil diff=evil merge=evil\n")


def test_nothing_the_agent_wrote_runs_on_capture_or_accept(ws: Workspace, repo: Path,
                                                          tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    user_hooks = repo / ".git" / "hooks"
    for name in ("post-checkout", "reference-transaction", "post-index-change", "post-commit"):
        (user_hooks / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (user_hooks / name).chmod(0o755)
    base, workdir = run_agent(ws, repo)
    _plant_traps(workdir, marker)
    edit_a(workdir, line=2)
    result = ws.capture("t1", repo, base, workdir)
    ws.patch(repo, base, result.commit)
    edit_a(repo, line=9, text="user")  # the branch moved: accept has to merge
    subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "commit", "-qam", "user"],
                   cwd=repo, check=True)
    ws.accept("t1", repo, base, result.commit, "agent")
    assert ".gitattributes" in git(repo, "show", "--name-only", "--format=", "HEAD")
    assert not marker.exists()
    assert ".git" not in {Path(f.path).parts[0] for f in result.files}


def test_symlinks_out_of_the_repo_are_flagged_and_refused(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    os.symlink("/etc/passwd", workdir / "abs")
    os.symlink("../../outside", workdir / "docs" / "up")
    os.symlink("docs/../../x", workdir / "sneaky")
    os.symlink(".git/config", workdir / "into-git")
    os.symlink("docs/guide.md", workdir / "fine")
    edit_a(workdir)
    result = ws.capture("t1", repo, base, workdir)
    bad = ("abs", "docs/up", "into-git", "sneaky")
    assert result.unsafe == bad
    assert {f.path: f.unsafe for f in result.files}["fine"] is None
    before = fingerprint(repo)
    with pytest.raises(UnsafeChange, match="abs.*/etc/passwd") as info:
        ws.accept("t1", repo, base, result.commit, "m")
    assert all(name in str(info.value) for name in bad)
    assert fingerprint(repo) == before
    ws.accept("t1", repo, base, result.commit, "m", exclude=bad)
    assert os.readlink(repo / "fine") == "docs/guide.md" and not os.path.lexists(repo / "abs")


def test_nested_repository_is_flagged(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    nested = workdir / "vendor"
    nested.mkdir()
    git(nested, "init", "-q")
    (nested / "x").write_text("x")
    git(nested, "add", "x")
    git(nested, "-c", "user.name=n", "-c", "user.email=n@n", "commit", "-qm", "n")
    result = ws.capture("t1", repo, base, workdir)
    assert result.unsafe == ("vendor",)
    assert "gitlink" in (result.files[0].unsafe or "")


def test_files_written_outside_the_copy_are_not_captured(ws: Workspace, repo: Path) -> None:
    base, workdir = run_agent(ws, repo)
    (workdir / ".." / "x").write_text("escaped")
    (workdir / ".git" / "hooks" / "post-commit").parent.mkdir(exist_ok=True)
    (workdir / ".git" / "hooks" / "post-commit").write_text("#!/bin/sh\n")
    assert ws.capture("t1", repo, base, workdir).files == ()


def test_a_forged_tree_with_dotdot_or_dotgit_is_refused(ws: Workspace, repo: Path) -> None:
    """Even a tree planted straight into the private dir cannot write outside the repo."""
    base = ws.snapshot("t1", repo)
    private = private_dir(ws)
    blob = subprocess.run(["git", "--git-dir", private, "hash-object", "-w", "--stdin"],
                          input=b"payload", capture_output=True, check=True).stdout.decode().strip()
    leaf = _mktree(private, f"100644 blob {blob}\tx\n")
    root = _mktree(private, git(private, "ls-tree", base) + "\n"
                   + f"040000 tree {leaf}\t..\n040000 tree {leaf}\t.git\n")
    commit = git(private, "-c", "user.name=x", "-c", "user.email=x@x", "commit-tree", root,
                 "-p", base, "-m", "forged")
    result = ws.diff_result(repo, base, commit)
    assert result.unsafe == ("../x", ".git/x")
    before = fingerprint(repo)
    with pytest.raises(UnsafeChange, match=r"\.\./x"):
        ws.accept("t1", repo, base, commit, "m")
    assert fingerprint(repo) == before


def _mktree(git_dir: Path, listing: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "mktree"], input=listing.encode(),
                          capture_output=True, check=True).stdout.decode().strip()


@pytest.mark.parametrize("path, mode, target, reason", [
    ("a/b.txt", "100644", None, None),
    ("a/../b", "100644", None, "'..'"),
    (".GIT/config", "100644", None, ".git"),
    ("sub/.git./hooks/x", "100755", None, ".git"),
    ("/abs", "100644", None, "absolute"),
    ("l", "120000", "/etc/passwd", "absolute"),
    ("d/l", "120000", "../ok", None),
    ("d/l", "120000", "../../out", "outside"),
    ("l", "120000", "d/../.git/hooks", ".git"),
    ("vendor", "160000", None, "gitlink"),
])
def test_unsafe_reasons(path: str, mode: str, target: str | None, reason: str | None) -> None:
    from agentdeck.engine.workspace.changes import unsafe_reason

    got = unsafe_reason(path, mode, target)
    assert got is None if reason is None else reason in (got or "")
