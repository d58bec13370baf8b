"""Splitting real git patches into files: status, counts, binary sizes, odd paths."""
from __future__ import annotations

from agentdeck.desktop.review.diff.patch import FileStatus, split_patch

PY = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(20))


def _by_path(patch: str):
    return {fp.path: fp for fp in split_patch(patch)}


def test_every_kind_of_change_gets_its_status_and_counts(git_diff) -> None:
    blob_old, blob_new = bytes(range(256)) * 3, bytes(range(255, -1, -1)) * 5
    before = {"mod.py": PY, "gone.txt": "a\nb\n", "old_name.py": PY, "data.bin": blob_old,
              "run.sh": "echo hi\n"}
    after = {"mod.py": PY.replace("return x + 3", "return x * 3") + "# end\n",
             "gone.txt": None, "new.md": "# Title\n\ntext\n", "data.bin": blob_new}
    files = _by_path(git_diff(before, after, modes={"run.sh": 0o755},
                              renames={"old_name.py": "new_name.py"}))

    assert set(files) == {"mod.py", "gone.txt", "new_name.py", "new.md", "data.bin", "run.sh"}
    mod = files["mod.py"]
    assert (mod.status, mod.added, mod.removed) == (FileStatus.MODIFIED, 2, 1)
    gone = files["gone.txt"]
    assert (gone.status, gone.added, gone.removed, gone.old_path) == \
        (FileStatus.DELETED, 0, 2, "gone.txt")
    moved = files["new_name.py"]
    assert (moved.status, moved.old_path, moved.added, moved.removed) == \
        (FileStatus.RENAMED, "old_name.py", 0, 0)
    new = files["new.md"]
    assert (new.status, new.old_path, new.added, new.new_mode) == \
        (FileStatus.ADDED, "", 3, "100644")
    binary = files["data.bin"]
    assert (binary.status, binary.binary, binary.binary_size) == \
        (FileStatus.BINARY, True, len(blob_new))
    mode = files["run.sh"]
    assert (mode.status, mode.old_mode, mode.new_mode, mode.added) == \
        (FileStatus.MODE, "100644", "100755", 0)


def test_deleted_binary_reports_the_old_size_and_added_binary_the_new(git_diff) -> None:
    files = _by_path(git_diff({"a.png": b"\x89PNG" + bytes(300)},
                              {"a.png": None, "b.png": b"\x00\x01" * 70}))
    assert (files["a.png"].status, files["a.png"].binary_size) == (FileStatus.DELETED, 304)
    assert (files["b.png"].status, files["b.png"].binary_size) == (FileStatus.ADDED, 140)


def test_edited_rename_counts_its_lines(git_diff) -> None:
    after = {"lib/util.py": PY.replace("return x + 5", "return x - 5")}
    files = split_patch(git_diff({"util.py": PY}, after, renames={"util.py": "lib/util.py"}))
    assert [(f.path, f.old_path, f.status, f.added, f.removed) for f in files] == \
        [("lib/util.py", "util.py", FileStatus.RENAMED, 1, 1)]


def test_paths_with_spaces_and_unicode_survive_git_quoting(git_diff) -> None:
    files = split_patch(git_diff({"my dir/é t.txt": "1\n", "plain.txt": "x\n"},
                                 {"my dir/é t.txt": "2\n", "plain.txt": None}))
    assert [f.path for f in files] == ["my dir/é t.txt", "plain.txt"]
    assert files[0].added == files[0].removed == 1


def test_lines_that_look_like_headers_are_counted_as_changes(git_diff) -> None:
    files = split_patch(git_diff({"notes.txt": "-- a\n++ b\nkeep\n"},
                                 {"notes.txt": "--- c\n+++ d\nkeep\n"}))
    assert (files[0].added, files[0].removed) == (2, 2)


def test_each_file_keeps_exactly_its_own_text() -> None:
    patch = ("diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
             "diff --git a/y b/y\nindex 1..2 100644\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-c\n+d\n")
    files = split_patch(patch)
    assert "".join(f.text for f in files) == patch
    assert files[1].text.startswith("diff --git a/y b/y")


def test_empty_patch_has_no_files() -> None:
    assert split_patch("") == []
