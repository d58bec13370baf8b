"""The commit accept makes is the user's own: their identity, their signing, their hooks
only when they ask for them.

A plain ``git commit`` signs when ``commit.gpgSign`` is set and runs the commit hooks.
``commit-tree`` (what accept uses) does neither by itself, so signing is asked for
explicitly, through the user's git in their repo (their ``gpg.program``, ``gpg.format``,
``user.signingKey`` apply). Hooks stay off by default: a pre-commit hook that runs the
tests runs the agent's code on this machine; with ``run_hooks`` the commit is made by the
user's own ``git commit``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agentdeck.engine.errors import RepoError
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.names import escape_name
from agentdeck.engine.workspace.repo import ENGINE_IDENTITY, UserRepo

# The hooks a plain `git commit` runs.
COMMIT_HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit")


def user_identity(repo: UserRepo) -> dict[str, str]:
    """Author and committer for the user's commit: their env/config, else agentdeck's."""
    def setting(env: str, key: str, fallback: str) -> str:
        return os.environ.get(env) or (repo.config.get(key) or "").strip() or fallback

    name = setting("GIT_AUTHOR_NAME", "user.name", ENGINE_IDENTITY["GIT_AUTHOR_NAME"])
    email = setting("GIT_AUTHOR_EMAIL", "user.email", ENGINE_IDENTITY["GIT_AUTHOR_EMAIL"])
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME") or name,
            "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL") or email}


def user_commit(repo: UserRepo, private: Git, tree: str, parent: str, message: str) -> str:
    """Commit ``tree`` on ``parent`` as the user would, signed when their config says so.

    The object goes to the private dir (the user's store gets it with the rest at
    transfer), so a refusal after this leaves their repo untouched.

    Raises:
        RepoError: signing failed (the message says so and that nothing changed).
    """
    assert private.git_dir is not None
    git = repo.git.with_env(**user_identity(repo),
                            GIT_OBJECT_DIRECTORY=private.git_dir / "objects")
    if not _signs(repo):
        return git.out("commit-tree", tree, "-p", parent, "-m", message)
    try:
        return git.out("commit-tree", "-S", tree, "-p", parent, "-m", message)
    except RepoError as exc:
        raise RepoError(f"signing the commit failed (commit.gpgSign is set in your git "
                        f"config): {exc}. Nothing was changed.") from None


def _signs(repo: UserRepo) -> bool:
    return repo.config.flag("commit.gpgsign")


def hooks_dir(repo: UserRepo) -> Path:
    """Where the user's git looks for hooks (``core.hooksPath`` or ``.git/hooks``)."""
    # Our own `-c core.hooksPath=/dev/null` is the "command" scope: skipped.
    folder = repo.config.path("core.hookspath", skip_scope="command")
    return repo.root / folder if folder else repo.common_dir / "hooks"


def skipped_hooks_note(repo: UserRepo) -> tuple[str, ...]:
    """The note for an accept without hooks, when the user has commit hooks."""
    folder = hooks_dir(repo)
    names = [n for n in COMMIT_HOOKS if (folder / n).is_file() and os.access(folder / n, os.X_OK)]
    if not names:
        return ()
    return (f"hooks not run: {', '.join(names)} (with the agent's files checked out they "
            "would run its code on this machine; accept with --run-hooks to run them)",)


def commit_with_hooks(repo: UserRepo, private: Git, tree: str, message: str) -> str:
    """Commit ``tree`` on HEAD with the user's own ``git commit``: their hooks and their
    signing run. The work tree must already hold ``tree``'s files.

    A throwaway index holding exactly ``tree`` is committed, so changes the user staged
    before stay staged and out of this commit (as with ``git commit <paths>``).

    Returns:
        The new HEAD.

    Raises:
        RepoError: a hook refused (its last words in the message) or git failed.
    """
    assert private.git_dir is not None
    with tempfile.TemporaryDirectory(dir=private.git_dir, prefix="commit-") as tmp:
        git = repo.git.with_config("core.splitIndex=false", f"core.hooksPath={hooks_dir(repo)}")
        git = git.with_env(GIT_INDEX_FILE=Path(tmp) / "index", **user_identity(repo))
        git.run("read-tree", tree)
        proc = git.run("commit", "-q", "-F", "-", input=message.encode(), ok=range(256))
    if proc.returncode:
        said = [line for line in proc.stderr.decode(errors="replace").splitlines() if line]
        last = escape_name(said[-1][:300]) if said else f"exit {proc.returncode}"
        raise RepoError(f"git commit refused the commit (a hook failed?): {last}")
    return repo.head()
