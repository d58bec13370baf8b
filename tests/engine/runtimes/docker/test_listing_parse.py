"""Parsing the container's listing of /work and walking it against a base tree."""
from __future__ import annotations

import pytest

from agentdeck.engine.runtimes.docker.changes import walk_changes
from agentdeck.engine.runtimes.docker.listing import STAMP, parse_listing



class Base:
    """The base tree ``a/old``, ``a/kept``, ``b/x``, ``f`` (nothing ignored)."""

    files = {"a/old", "a/kept", "b/x", "f"}
    dirs = {"a", "b"}

    def tracked(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def entries(self, folder: str) -> dict[str, bool]:
        names = {p[len(folder):]: p in self.dirs for p in self.files | self.dirs
                 if p.startswith(folder) and "/" not in p[len(folder):]}
        return names

    def ignored(self, folder: str, names: list[tuple[str, bool]]) -> set[str]:
        return set()


def listing(*records: tuple[str, float, str], key: int = 0) -> bytes:
    lines = [("f", 100.0, STAMP), ("d", 50.0, "/work"), *records]
    return b"".join(f"{kind} {ctime:.10f} 3 1:{key or n} {path}".encode() + b"\0"
                    for n, (kind, ctime, path) in enumerate(lines, 1))


def test_changed_new_and_removed_paths_come_from_ctimes_and_the_base():
    data = listing(("d", 150.0, "/work/a"), ("f", 100.0, "/work/a/kept"),  # same tick: changed
                   ("f", 150.0, "/work/a/new"), ("d", 50.0, "/work/b"),
                   ("f", 50.0, "/work/b/x"), ("d", 150.0, "/work/f"),  # a file made a folder
                   ("f", 50.0, "/work/f/y"))  # (new below a new folder, whatever its ctime)
    changes = walk_changes(parse_listing(data).lister(Base()), Base())
    assert sorted(changes.files) == ["a/kept", "a/new", "f/y"]
    assert sorted(changes.removed) == ["a/old", "f"]


def test_hard_links_are_named_once():
    parsed = parse_listing(listing(("f", 150.0, "/work/n"), ("f", 150.0, "/work/m"), key=7))
    assert parsed.links(["n", "m"]) == {"m": "n"}


@pytest.mark.parametrize("records", [
    [("f", 1.0, "/etc/passwd")],
    [("f", 1.0, "/work/../x")],
    [("f", 1.0, "/work/a//b")],
    [("d", 1.0, "/work/.git"), ("f", 1.0, "/work/.git/hooks")],
    [("f", 1.0, "/work/a/b")],                           # its folder not listed
    [("f", 1.0, "/work/a"), ("f", 1.0, "/work/a")],      # twice
])
def test_a_listing_naming_what_it_cannot_hold_is_refused(records):
    with pytest.raises(ValueError):
        parse_listing(listing(*records))


def test_a_truncated_listing_or_one_without_its_stamp_is_refused():
    with pytest.raises(ValueError, match="truncated"):
        parse_listing(listing()[:-1])
    with pytest.raises(ValueError, match="stamp"):
        parse_listing(b"d 1.0 0 1:1 /work\0")
    with pytest.raises(ValueError, match="malformed"):
        parse_listing(f"f 1.0 0 1:1 {STAMP}\0d x 0 1:1 /work\0".encode())
