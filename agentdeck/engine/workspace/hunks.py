"""A task's change as reviewable units: the hunks of each modified text file, and one
whole-file unit for everything else; selectors ``PATH`` / ``PATH#N`` choose among them.

Hunks are numbered from 1 per file, in the order ``git diff`` prints them. A binary file,
an added or deleted file, a rename, a mode or type change is one unit (``PATH`` or
``PATH#1``): splitting those would leave a result git itself never produces.

The hunks are cut from git's own patch (``git diff --patch-with-raw -z``, limited to the
files that have hunks, so the raw records give each section's exact path in order) and
parsed with `unidiff`. unidiff keeps every body line as git wrote it (decoded with
``surrogateescape``, so bytes that are not UTF-8 come back unchanged) but rewrites
headers such as ``@@ -10 +10 @@`` as ``-10,1 +10,1``; headers are therefore always built
from the numbers, which is also what a partial patch needs (`partial_patch`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import unidiff

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.names import escape_name
from agentdeck.engine.workspace.types import DiffResult, FileChange

_NO_DRIVERS = ("--no-ext-diff", "--no-textconv", "--no-color")


@dataclass(frozen=True)
class Hunk:
    """One hunk of a modified text file.

    Attributes:
        number: Its place in the file's diff, from 1 (``PATH#number``).
        old_start: First line on the base side (as in the ``@@`` header).
        old_count: Lines on the base side.
        new_start: First line on the result side.
        new_count: Lines on the result side.
        section: The text git shows after the header (the enclosing function), or "".
        added: ``+`` lines.
        removed: ``-`` lines.
        body: The hunk's lines after its header, byte for byte as git printed them.
    """

    number: int
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str
    added: int
    removed: int
    body: bytes

    @property
    def header(self) -> str:
        """``@@ -a,b +c,d @@ section``."""
        return _header(self, self.new_start) + (f" {self.section}" if self.section else "")


@dataclass(frozen=True)
class FileHunks:
    """One changed file and its units.

    Attributes:
        change: The file as `diff_result` describes it.
        header: Its ``diff --git`` header lines up to the first hunk (b"" for a
            whole-file unit).
        hunks: Its hunks; empty when the whole file is one unit.
    """

    change: FileChange
    header: bytes = b""
    hunks: tuple[Hunk, ...] = ()

    @property
    def units(self) -> int:
        """How many units the file has (its hunks, or 1)."""
        return len(self.hunks) or 1

    def spec(self, number: int) -> str:
        """The selector of unit ``number``: ``PATH#N``."""
        return f"{self.change.path}#{number}"


#: Which units of which files are included: path -> unit numbers (files left out are absent).
Chosen = dict[str, tuple[int, ...]]


def has_hunks(change: FileChange) -> bool:
    """Whether ``change`` is split into hunks (a text file modified in place)."""
    return (change.status == "modified" and not change.binary
            and change.old_mode == change.new_mode)


def file_hunks(git: Git, diff: DiffResult) -> list[FileHunks]:
    """Every file of ``diff`` with its units, in ``diff``'s order (one ``git diff``)."""
    split = [f.path for f in diff.files if has_hunks(f)]
    parsed = _parse(git, diff.base, diff.commit, split) if split else {}
    return [FileHunks(f, *parsed[f.path]) if f.path in parsed else FileHunks(f)
            for f in diff.files]


def whole_files(diff: DiffResult) -> list[FileHunks]:
    """``diff``'s files, each as a single unit: enough to resolve selectors that name
    paths only, without reading the patch."""
    return [FileHunks(f) for f in diff.files]


def needs_hunks(diff: DiffResult, selectors: Sequence[str]) -> bool:
    """Whether a selector names something other than a path of ``diff`` (a ``#N``)."""
    paths = {p for f in diff.files for p in (f.path, f.old_path) if p}
    return any(s not in paths for s in selectors)


def choose(files: Sequence[FileHunks], only: Sequence[str] = (),
           exclude: Sequence[str] = ()) -> Chosen:
    """The units ``only`` names (all when it is empty) less those ``exclude`` names.

    Raises:
        InvalidInput: a selector names a path that is not in the diff or a unit number
            the file does not have; nothing is chosen then.
    """
    by_path = {p: f for f in files for p in (f.change.path, f.change.old_path) if p}
    wanted = [resolve(by_path, s) for s in only]
    dropped = [resolve(by_path, s) for s in exclude]
    chosen: dict[str, list[int]] = {}
    for file in files:
        units = range(1, file.units + 1)
        if only:
            units = [n for n in units if _named(file, n, wanted)]
        kept = [n for n in units if not _named(file, n, dropped)]
        if kept:
            chosen[file.change.path] = kept
    return {path: tuple(units) for path, units in chosen.items()}


def resolve(by_path: dict[str, FileHunks], selector: str) -> tuple[FileHunks, int | None]:
    """``(file, unit number)`` named by ``PATH`` (number ``None``: the whole file) or
    ``PATH#N``; a path holding ``#`` is taken as a path first."""
    if selector in by_path:
        return by_path[selector], None
    path, sep, number = selector.rpartition("#")
    if sep and path in by_path and number.isdigit():
        file = by_path[path]
        if 1 <= int(number) <= file.units:
            return file, int(number)
        units = f"{file.units} hunk{'s' * (file.units != 1)}"
        raise InvalidInput(f"{escape_name(selector)}: {escape_name(path)} has {units} in this "
                           f"diff (#1 to #{file.units}); see `agentdeck diff ID --hunks`")
    listed = ", ".join(escape_name(p) for p in sorted(by_path)[:20]) or "(no files)"
    raise InvalidInput(f"{escape_name(selector)} is not in this diff: name a changed file "
                       f"(PATH) or one of its hunks (PATH#N); the files: {listed}")


def _named(file: FileHunks, number: int, picks: list[tuple[FileHunks, int | None]]) -> bool:
    return any(f is file and n in (None, number) for f, n in picks)


def partial_patch(file: FileHunks, numbers: Sequence[int]) -> bytes:
    """A patch of ``file`` holding only hunks ``numbers``, their result-side starts moved
    by what the left-out hunks before them added or removed (as ``git add -p`` does),
    so ``git apply`` finds each at its exact place."""
    out = [file.header]
    shift = 0
    for hunk in file.hunks:
        if hunk.number not in numbers:
            shift += hunk.new_count - hunk.old_count
            continue
        line = _header(hunk, hunk.new_start - shift)
        out += [(line + (f" {hunk.section}" if hunk.section else "")).encode(
            "utf-8", "surrogateescape") + b"\n", hunk.body]
    return b"".join(out)


def _header(hunk: Hunk, new_start: int) -> str:
    return f"@@ -{hunk.old_start},{hunk.old_count} +{new_start},{hunk.new_count} @@"


def _parse(git: Git, base: str, commit: str,
           paths: list[str]) -> dict[str, tuple[bytes, tuple[Hunk, ...]]]:
    out = git.with_env(GIT_LITERAL_PATHSPECS="1").run(
        "diff", "--patch-with-raw", "-z", "--no-renames", *_NO_DRIVERS, base, commit,
        "--", *paths).stdout
    order, patch = _raw_paths(out)
    sections = _sections(patch)
    if len(sections) != len(order):
        raise AssertionError(f"git diff printed {len(sections)} sections for {len(order)} files")
    return {path: _file(section) for path, section in zip(order, sections)}


def _raw_paths(out: bytes) -> tuple[list[str], bytes]:
    """The paths of the raw records ``-z`` puts first, and the patch after them."""
    paths, pos = [], 0
    while out.startswith(b":", pos):
        header_end = out.index(b"\0", pos)
        path_end = out.index(b"\0", header_end + 1)
        paths.append(out[header_end + 1:path_end].decode("utf-8", "surrogateescape"))
        pos = path_end + 1
    return paths, out[pos + 1:]  # a NUL separates the raw part from the patch


def _sections(patch: bytes) -> list[bytes]:
    """The patch cut at each ``diff --git`` line (no hunk line can start so)."""
    starts = [0] if patch.startswith(b"diff --git ") else []
    at = patch.find(b"\ndiff --git ")
    while at >= 0:
        starts.append(at + 1)
        at = patch.find(b"\ndiff --git ", at + 1)
    return [patch[a:b] for a, b in zip(starts, starts[1:] + [len(patch)])]


def _file(section: bytes) -> tuple[bytes, tuple[Hunk, ...]]:
    at = section.find(b"\n@@ -") + 1
    # The header goes to unidiff as plain names: git's quoting of odd paths is not its job.
    text = ("--- a/f\n+++ b/f\n" + section[at:].decode("utf-8", "surrogateescape"))
    hunks = tuple(_hunk(number, parsed) for number, parsed
                  in enumerate(unidiff.PatchSet(text)[0], start=1))
    return section[:at], hunks


def _hunk(number: int, parsed: unidiff.Hunk) -> Hunk:
    body = "".join(str(line) for line in parsed)
    return Hunk(number=number, old_start=parsed.source_start, old_count=parsed.source_length,
                new_start=parsed.target_start, new_count=parsed.target_length,
                section=parsed.section_header, added=parsed.added, removed=parsed.removed,
                body=body.encode("utf-8", "surrogateescape"))
