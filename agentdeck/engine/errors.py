"""Errors a user should see in plain words, kept apart from bugs.

Anything raised as an `AgentdeckError` is expected (bad input, a conflict, a daemon that
is down) and is shown as its message; every other exception is a bug.
"""


class AgentdeckError(Exception):
    """An expected failure with a message meant for the user."""


class IllegalTransition(AgentdeckError):
    """A task or review state change that the state machine forbids."""


class NotFound(AgentdeckError):
    """No task / batch / profile with that id or name."""


class InvalidInput(AgentdeckError):
    """The user gave something unusable: empty prompt, bad time, unknown option."""


class RepoError(AgentdeckError):
    """The repository is missing, not a git repo, or in a state we cannot work with."""


class ConflictError(AgentdeckError):
    """Accepting would conflict with the user's branch; ``files`` lists the conflicts."""

    def __init__(self, message: str, files: list[str] | None = None) -> None:
        super().__init__(message)
        self.files = files or []


class UnsafeChange(AgentdeckError):
    """The agent's change contains something we refuse to apply (symlink out, .git, ..)."""


class OverLimit(UnsafeChange):
    """The agent's change is over a collect limit: nothing came back, and its sandbox is
    kept so that it can be collected again with a higher limit."""


class BatchError(InvalidInput):
    """A malformed batch file; the message names the line and the reason."""


class RuntimeUnavailable(AgentdeckError):
    """The runtime cannot run tasks now (Docker daemon down, image missing, ...)."""


class LeaseHeld(AgentdeckError):
    """Another engine process already drives the queue."""


class StoreError(AgentdeckError):
    """The database cannot be used: locked, corrupt, read-only, disk full (``kind``).

    The message names the database file (``path``) and what to do about it.
    """

    def __init__(self, message: str, kind: str, path: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.path = path


class LeaseLost(AgentdeckError):
    """Another engine process took the queue lease: this one's driving writes are refused."""


class KeyringUnavailable(AgentdeckError):
    """No usable system keyring (or it refused): keys must be set as environment variables."""
