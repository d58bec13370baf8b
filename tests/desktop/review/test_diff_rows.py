"""Display rows (unified / side by side / folded) and tokens of real git diffs."""
from __future__ import annotations

import subprocess
from pathlib import Path

from pygments.token import Keyword, Name, String

from agentdeck.desktop.review.diff.highlight import changed_stretches, highlight_file, lexer_for, tokenize_lines
from agentdeck.desktop.review.diff.patch import split_patch
from agentdeck.desktop.review.diff.rows import RowKind, build_rows, change_pairs, parse_file

OLD = "a\nb\nc\nd\ne\n"
NEW = "a\nB1\nB2\nc\ne\nf\n"


def _one_file(git_diff, before: str, after: str, name: str = "f.txt"):
    fp = split_patch(git_diff({name: before}, {name: after}))[0]
    return fp, parse_file(fp)


def test_side_by_side_pairs_removed_with_added_lines(git_diff) -> None:
    fp, parsed = _one_file(git_diff, OLD, NEW)
    rows = [(r.kind, r.old_no, r.old_text, r.new_no, r.new_text)
            for r in build_rows(fp, parsed, side_by_side=True)]
    assert rows == [
        (RowKind.HUNK, None, "", None, "@@ -1,5 +1,6 @@"),
        (RowKind.CONTEXT, 1, "a", 1, "a"),
        (RowKind.CHANGE, 2, "b", 2, "B1"),       # b replaced by B1 ...
        (RowKind.CHANGE, None, "", 3, "B2"),     # ... and B2 has no partner
        (RowKind.CONTEXT, 3, "c", 4, "c"),
        (RowKind.CHANGE, 4, "d", None, ""),      # d deleted, nothing on the right
        (RowKind.CONTEXT, 5, "e", 5, "e"),
        (RowKind.CHANGE, None, "", 6, "f"),
    ]
    assert change_pairs(parsed) == [(2, 2)]


def test_unified_rows_keep_patch_order(git_diff) -> None:
    fp, parsed = _one_file(git_diff, OLD, NEW)
    rows = [(r.kind, r.old_no, r.new_no, r.text) for r in build_rows(fp, parsed, False)][1:]
    assert rows == [
        (RowKind.CONTEXT, 1, 1, "a"), (RowKind.REMOVED, 2, None, "b"),
        (RowKind.ADDED, None, 2, "B1"), (RowKind.ADDED, None, 3, "B2"),
        (RowKind.CONTEXT, 3, 4, "c"), (RowKind.REMOVED, 4, None, "d"),
        (RowKind.CONTEXT, 5, 5, "e"), (RowKind.ADDED, None, 6, "f"),
    ]


def test_long_unchanged_runs_fold_into_one_row(tmp_path: Path) -> None:
    before = "".join(f"line {i}\n" for i in range(1, 61))
    after = before.replace("line 5\n", "line five\n").replace("line 55\n", "line 55!\n")
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "a.txt").write_text(before)
    (repo / "b.txt").write_text(after)
    # -U100 keeps the 49 lines between the two changes inside one hunk.
    patch = subprocess.run(["git", "diff", "--no-index", "-U100", "a.txt", "b.txt"], cwd=repo,
                           capture_output=True, text=True).stdout
    fp = split_patch(patch)[0]
    rows = build_rows(fp, parse_file(fp), side_by_side=False, context=3)
    folded = [r for r in rows if r.kind == RowKind.COLLAPSED]
    # Before the first change: 4 lines, 1 hidden is not worth a fold (needs > 3).
    # Between the changes: 49 lines, 3 kept each side; after the last: 5, 3 kept.
    assert [len(r.hidden) for r in folded] == [43]
    assert folded[0].text == "⋯ 43 unchanged lines"
    assert [r.old_no for r in folded[0].hidden] == list(range(9, 52))
    shown = [r.old_no for r in rows if r.kind == RowKind.CONTEXT]
    assert shown == [1, 2, 3, 4, 6, 7, 8, 52, 53, 54, 56, 57, 58, 59, 60]


def test_binary_mode_and_rename_become_notices(git_diff) -> None:
    patch = git_diff({"x.bin": bytes(range(200)), "s.sh": "echo\n", "a.txt": "same\n" * 5},
                     {"x.bin": bytes(range(100))}, modes={"s.sh": 0o755},
                     renames={"a.txt": "b.txt"})
    notices = {fp.path: [r.text for r in build_rows(fp, parse_file(fp), False)]
               for fp in split_patch(patch)}
    assert notices == {"x.bin": ["binary file changed (100 bytes)"],
                       "s.sh": ["file mode 100644 → 100755"],
                       "b.txt": ["renamed from a.txt"]}


def test_tabs_are_expanded_and_line_ends_dropped(git_diff) -> None:
    fp, parsed = _one_file(git_diff, "x\r\n", "\ty\r\n")
    assert parsed.new_lines == {1: "    y"}
    assert parsed.old_lines == {1: "x"}


def test_changed_stretches_mark_whole_words() -> None:
    old, new = changed_stretches("total = price * count", "total = cost * count")
    assert [("total = price * count"[a:b]) for a, b in old] == ["price"]
    assert [("total = cost * count"[a:b]) for a, b in new] == ["cost"]
    assert changed_stretches("alpha beta", "gamma delta") == ([], [])  # nothing in common


def test_tokens_follow_the_file_type_and_multiline_strings() -> None:
    lexer = lexer_for("pkg/module.py")
    lines = {10: "def run(x):", 11: '    s = """doc', 12: 'still doc"""', 14: "    return x"}
    tokens = tokenize_lines(lexer, lines)
    assert (0, 3, Keyword) in tokens[10]
    assert any(ttype in Name.Function for _, _, ttype in tokens[10])
    assert all(ttype in String for _, _, ttype in tokens[12])  # inside the """ string
    assert (4, 10, Keyword) in tokens[14]
    assert lexer_for("README.unknownext") is None
    assert tokenize_lines(None, lines) == {}


def test_highlight_file_gives_tokens_and_marks_per_side(git_diff) -> None:
    fp, parsed = _one_file(git_diff, "def f():\n    return old_name\n",
                           "def f():\n    return new_name\n", name="m.py")
    found = highlight_file("key", fp.path, parsed)
    assert found.key == "key"
    assert (0, 3, Keyword) in found.old_tokens[1] and (0, 3, Keyword) in found.new_tokens[1]
    assert [parsed.new_lines[2][a:b] for a, b in found.new_marks[2]] == ["new_name"]
    assert [parsed.old_lines[2][a:b] for a, b in found.old_marks[2]] == ["old_name"]


def test_a_first_pass_covers_only_the_first_lines_of_each_side(git_diff) -> None:
    before = "".join(f"x{i} = {i}\n" for i in range(300))
    after = before.replace("x5 = 5", "x5 = 50").replace("x250 = 250", "x250 = 0")
    fp, parsed = _one_file(git_diff, before, after, name="big.py")
    quick = highlight_file("k", fp.path, parsed, first=3)
    assert not quick.complete
    assert sorted(quick.new_tokens) == sorted(parsed.new_lines)[:3]
    assert list(quick.new_marks) == []  # line 6 is past the first three
    full = highlight_file("k", fp.path, parsed)
    assert full.complete and sorted(full.new_tokens) == sorted(parsed.new_lines)
    assert sorted(full.new_marks) == [6, 251]
