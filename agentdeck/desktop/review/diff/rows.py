"""Display rows of one file's diff: unified or side by side, with long context folded.

Rows are plain data, built from the file's hunks (parsed with `unidiff` when the file is
opened). The same pairing of removed/added lines drives the side-by-side layout and the
intra-line change marks in `agentdeck.desktop.review.diff.highlight`.
"""
from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

import unidiff

from agentdeck.desktop.review.diff.patch import FilePatch

TAB_WIDTH = 4
# (type " "/"-"/"+", old line number, new line number, text)
HunkLine = tuple[str, int | None, int | None, str]


class RowKind(enum.IntEnum):
    """What one display row shows."""

    HUNK = 0       # "@@ -1,3 +1,4 @@ def f():"
    CONTEXT = 1    # unchanged line, both sides
    REMOVED = 2    # unified view: a "-" line
    ADDED = 3      # unified view: a "+" line
    CHANGE = 4     # side-by-side view: removed left and/or added right
    COLLAPSED = 5  # "⋯ 42 unchanged lines", expands into ``hidden``
    NOTICE = 6     # "binary file changed (12 bytes)", "file mode 100644 → 100755"
    COMMENT = 7    # a reviewer's comment, under the last line it is on


@dataclass(slots=True)
class DiffRow:
    """One painted row. Line numbers are None on the side a row does not show; ``hunk``
    is the place (from 0) of the hunk the row belongs to, None for a file's notices."""

    kind: RowKind
    old_no: int | None = None
    new_no: int | None = None
    old_text: str = ""
    new_text: str = ""
    hidden: list["DiffRow"] = field(default_factory=list)
    hunk: int | None = None

    @property
    def text(self) -> str:
        """The row as plain text (what copying or a screen reader gets)."""
        if self.kind == RowKind.COLLAPSED:
            return f"⋯ {len(self.hidden)} unchanged lines"
        if self.kind in (RowKind.ADDED, RowKind.NOTICE, RowKind.HUNK, RowKind.COMMENT):
            return self.new_text
        return self.old_text if self.old_no is not None else self.new_text


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One file's hunks as lines: ``old_lines``/``new_lines`` map line numbers to text."""

    hunks: list[list[HunkLine]]
    headers: list[str]
    old_lines: dict[int, str]
    new_lines: dict[int, str]


def parse_file(fp: FilePatch) -> ParsedFile:
    """Parse the hunks of one file (tabs expanded, line ends dropped)."""
    hunks, headers = [], []
    old_lines: dict[int, str] = {}
    new_lines: dict[int, str] = {}
    if not fp.binary and "\n@@" in fp.text:
        for hunk in unidiff.PatchSet(fp.text)[0]:
            headers.append(f"@@ -{hunk.source_start},{hunk.source_length} "
                           f"+{hunk.target_start},{hunk.target_length} @@ {hunk.section_header}")
            lines = []
            for line in hunk:
                if line.line_type not in (" ", "-", "+"):
                    continue  # "\ No newline at end of file"
                text = line.value.rstrip("\r\n").expandtabs(TAB_WIDTH)
                lines.append((line.line_type, line.source_line_no, line.target_line_no, text))
                if line.source_line_no is not None:
                    old_lines[line.source_line_no] = text
                if line.target_line_no is not None:
                    new_lines[line.target_line_no] = text
            hunks.append(lines)
    return ParsedFile(hunks, headers, old_lines, new_lines)


def change_pairs(parsed: ParsedFile) -> list[tuple[int, int]]:
    """(old_no, new_no) of removed lines paired with the added lines that replace them."""
    pairs: list[tuple[int, int]] = []
    for hunk in parsed.hunks:
        for removed, added in _change_blocks(hunk):
            pairs.extend(zip((r[1] for r in removed), (a[2] for a in added)))
    return pairs


def build_rows(fp: FilePatch, parsed: ParsedFile, side_by_side: bool,
               context: int = 3) -> list[DiffRow]:
    """Rows for one file; an unchanged run is folded when it would hide > ``context`` lines."""
    rows = _notices(fp)
    for number, (header, hunk) in enumerate(zip(parsed.headers, parsed.hunks)):
        body = _split_rows(hunk) if side_by_side else _unified_rows(hunk)
        body = [DiffRow(RowKind.HUNK, new_text=header.rstrip()), *_fold_context(body, context)]
        for row in body:
            row.hunk = number
            for hidden in row.hidden:
                hidden.hunk = number
        rows.extend(body)
    return rows


def with_comments(rows: list[DiffRow], comments: dict[int, list[str]]) -> list[DiffRow]:
    """``rows`` with a COMMENT row under the row showing each commented new-side line
    (``comments``: last line -> texts); a line folded away gets its comment under the fold."""
    if not comments:
        return rows
    out: list[DiffRow] = []
    for row in rows:
        out.append(row)
        lines = [row.new_no] if row.kind != RowKind.COLLAPSED else [r.new_no for r in row.hidden]
        for line in lines:
            out.extend(DiffRow(RowKind.COMMENT, new_no=line, new_text=f"💬 {text}",
                               hunk=row.hunk)
                       for text in comments.get(line, []) if line is not None)
    return out


def _notices(fp: FilePatch) -> list[DiffRow]:
    notes = []
    if fp.binary:
        size = "" if fp.binary_size is None else f" ({fp.binary_size:,} bytes)"
        verb = {"added": "added", "deleted": "deleted"}.get(fp.status.value, "changed")
        notes.append(f"binary file {verb}{size}")
    if fp.old_mode and fp.new_mode:
        notes.append(f"file mode {fp.old_mode} → {fp.new_mode}")
    if fp.old_path and fp.old_path != fp.path:
        notes.append(f"renamed from {fp.old_path}")
    return [DiffRow(RowKind.NOTICE, new_text=note) for note in notes]


def _unified_rows(hunk: list[HunkLine]) -> list[DiffRow]:
    kinds = {" ": RowKind.CONTEXT, "-": RowKind.REMOVED, "+": RowKind.ADDED}
    rows = []
    for kind, old_no, new_no, text in hunk:
        row = DiffRow(kinds[kind], old_no, new_no)
        if kind != "+":
            row.old_text = text
        if kind != "-":
            row.new_text = text
        rows.append(row)
    return rows


def _split_rows(hunk: list[HunkLine]) -> list[DiffRow]:
    rows: list[DiffRow] = []
    i = 0
    while i < len(hunk):
        kind, old_no, new_no, text = hunk[i]
        if kind == " ":
            rows.append(DiffRow(RowKind.CONTEXT, old_no, new_no, text, text))
            i += 1
            continue
        removed, added = _change_block_at(hunk, i)
        for k in range(max(len(removed), len(added))):
            left = removed[k] if k < len(removed) else None
            right = added[k] if k < len(added) else None
            rows.append(DiffRow(
                RowKind.CHANGE,
                left[1] if left else None, right[2] if right else None,
                left[3] if left else "", right[3] if right else ""))
        i += len(removed) + len(added)
    return rows


def _change_blocks(hunk: list[HunkLine]) -> Iterator[tuple[list[HunkLine], list[HunkLine]]]:
    i = 0
    while i < len(hunk):
        if hunk[i][0] == " ":
            i += 1
            continue
        removed, added = _change_block_at(hunk, i)
        yield removed, added
        i += len(removed) + len(added)


def _change_block_at(hunk: list[HunkLine], start: int
                     ) -> tuple[list[HunkLine], list[HunkLine]]:
    """The run of "-" lines at ``start`` and the run of "+" lines right after it."""
    end = start
    while end < len(hunk) and hunk[end][0] == "-":
        end += 1
    stop = end
    while stop < len(hunk) and hunk[stop][0] == "+":
        stop += 1
    return hunk[start:end], hunk[end:stop]


def _fold_context(rows: list[DiffRow], context: int) -> list[DiffRow]:
    """Replace each long run of CONTEXT rows by its ends and one COLLAPSED row."""
    out: list[DiffRow] = []
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and rows[j].kind == RowKind.CONTEXT:
            j += 1
        if j == i:
            out.append(rows[i])
            i += 1
            continue
        keep_head = context if i > 0 else 0          # lines after the previous change
        keep_tail = context if j < len(rows) else 0  # lines before the next change
        run = rows[i:j]
        if len(run) > keep_head + keep_tail + context:
            out.extend(run[:keep_head])
            out.append(DiffRow(RowKind.COLLAPSED, hidden=run[keep_head:len(run) - keep_tail]))
            out.extend(run[len(run) - keep_tail:])
        else:
            out.extend(run)
        i = j
    return out
