"""Turn an agent's working copy into a git tree without letting git look at it.

`git add` inside an agent-written tree would read that tree's git metadata: a nested
repository's config can name a clean filter (a command), a ``.git`` file can point git at
another repository of the user's. So the tree is walked here, no-follow, relative to
directory file descriptors; file contents are read through ``O_NOFOLLOW`` descriptors and
handed to ``git fast-import`` (which never sees a working tree); the tree is assembled with
``update-index --index-info`` in a temporary index and ``write-tree``, all in the private
git dir. Any folder holding an entry named like ``.git`` is a nested repository: it is
never entered and becomes a gitlink entry, which review shows as unsafe.

Ignore rules are those of the tree's own ``.gitignore`` files (as ``git add -A`` under the
engine's isolated config applied them): each one is copied, no-follow, into a private
shadow folder, and ``git check-ignore`` runs against that shadow, so git never opens a
file of the agent's (a FIFO named ``.gitignore`` would hang it).

A manifest written at prepare (stat data -> blob id of every checked-out file) lets capture
skip reading files whose stat did not change. Limits are checked from the walk, before any
object is written; hard links are read, counted and stored once.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentdeck.engine.errors import RepoError, UnsafeChange
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace import safefs
from agentdeck.engine.workspace.changes import _is_dotgit as is_dotgit
from agentdeck.engine.workspace.restat import IndexMismatch, checkout_stats
from agentdeck.engine.workspace.sparse import in_cone

_FILE, _EXEC, _SYMLINK, _GITLINK = "100644", "100755", "120000", "160000"
PATH_MAX = 4096  # no longer path can be opened by name on Linux, nor checked out by git
_CHUNK = 1 << 20
Key = tuple[int, int]  # (st_dev, st_ino): one file, however many hard links name it


@dataclass(frozen=True)
class BaseEntry:
    """One entry of the base tree: git mode, object id, blob size (-1 for a gitlink)."""

    mode: str
    sha: str
    size: int


@dataclass(frozen=True)
class BaseTree:
    """Every path of a commit's tree and every folder holding one."""

    files: dict[str, BaseEntry]
    dirs: frozenset[str]

    @classmethod
    def load(cls, git: Git, commit: str) -> "BaseTree":
        """List ``commit``'s tree recursively (one ``ls-tree -r -l``)."""
        files: dict[str, BaseEntry] = {}
        dirs: set[str] = set()
        for record in git.iter_z("ls-tree", "-r", "-z", "-l", "--full-tree", commit):
            meta, path = record.split("\t", 1)
            mode, _kind, sha, size = meta.split()
            files[path] = BaseEntry(mode, sha, -1 if size == "-" else int(size))
            parent = path.rpartition("/")[0]
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = parent.rpartition("/")[0]
        return cls(files, frozenset(dirs))


# --- the stat manifest -----------------------------------------------------------------

def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode]


@dataclass
class Manifest:
    """Stat data -> blob id of files whose content is known, and when it was written.

    A file whose ctime or mtime is not older than the manifest itself may have changed in
    the same clock tick it was recorded ("racily clean", as git calls it): it is re-read.
    """

    files: dict[str, tuple[list[int], str]] = field(default_factory=dict)
    stamp: int = 0

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        """The manifest at ``path``; an empty one when missing or unreadable."""
        try:
            stamp = os.stat(path).st_mtime_ns
            raw = json.loads(path.read_bytes())
            files = {name: (key, sha) for name, (key, sha) in raw["files"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return cls()
        return cls(files, stamp)

    def known_sha(self, path: str, st: os.stat_result) -> str | None:
        """The blob id of ``path`` if its stat is exactly as recorded (and not racy)."""
        hit = self.files.get(path)
        if hit is None or hit[0] != _stat_key(st):
            return None
        if st.st_mtime_ns >= self.stamp or st.st_ctime_ns >= self.stamp:
            return None
        return hit[1]

    def save(self, path: Path) -> None:
        """Write atomically; the file's mtime becomes the new stamp."""
        # Names that are not UTF-8 hold lone surrogates (os.fsdecode); JSON's ASCII
        # escapes (\udcXX) carry them through unchanged.
        data = {"files": self.files}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


def record_checkout(git: Git, commit: str, workdir: Path, manifest: Path,
                    index: Path | None = None) -> None:
    """Write the manifest of a fresh checkout of ``commit`` in ``workdir``.

    From ``index``, the one git wrote while checking out (its stat data and blob ids:
    no second listing of the tree, a second or more saved on 50 000 files), else, or
    when that index is not one `checkout_stats` reads, from the tree's listing. Only
    called right after the checkout, before any agent ran there, so plain paths are
    safe to stat at this point.
    """
    if index is not None:
        try:
            record_stats(checkout_stats(index, workdir, hash_len=len(commit) // 2), manifest)
            return
        except IndexMismatch:
            pass
    files = {}
    for path, entry in BaseTree.load(git, commit).files.items():
        if entry.mode not in (_FILE, _EXEC):
            continue
        try:
            st = os.lstat(workdir / path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == entry.size:
            files[path] = (st, entry.sha)
    record_stats(files, manifest)


def record_stats(files: dict[str, tuple[os.stat_result, str]], manifest: Path) -> None:
    """Write the manifest of a fresh copy from each file's stat and blob id (known to
    hold that blob: just checked out or cloned, before any agent ran there)."""
    Manifest({path: (_stat_key(st), sha) for path, (st, sha) in files.items()}).save(manifest)


# --- ignore rules ----------------------------------------------------------------------

class IgnoreRules:
    """``git check-ignore`` over a shadow tree holding only copies of ``.gitignore`` files.

    Use as a context manager; `add_rules` before asking about the folder's entries.
    """

    def __init__(self, git_dir: Path) -> None:
        self._shadow = tempfile.TemporaryDirectory(prefix="ignore-", dir=git_dir)
        self._root = Path(self._shadow.name)
        self._git = Git(git_dir=git_dir, work_tree=self._root, cwd=self._root)
        self._proc: subprocess.Popen[bytes] | None = None
        self._err = tempfile.TemporaryFile()

    def __enter__(self) -> "IgnoreRules":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.close()
            self._proc.wait()
            self._proc.stdout.close()
        self._err.close()
        self._shadow.cleanup()

    def add_rules(self, folder: str, content: bytes) -> None:
        """Make ``folder/.gitignore`` (``folder`` ends with ``/`` or is empty) say ``content``."""
        target = self._root / folder
        target.mkdir(parents=True, exist_ok=True)
        (target / ".gitignore").write_bytes(content)

    def ignored(self, folder: str, names: list[tuple[str, bool]]) -> set[str]:
        """Which of the entries ``(name, is_folder)`` of ``folder`` the rules exclude."""
        if not names:
            return set()
        for name, is_dir in names:
            if is_dir:  # check-ignore takes a folder's type from the (shadow) tree
                (self._root / folder / name).mkdir(parents=True, exist_ok=True)
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        request = b"".join(os.fsencode(folder + name) + b"\0" for name, _ in names)
        # Written by a thread: git answers as it reads, and both pipes could fill up.
        writer = threading.Thread(target=self._write, args=(proc, request), daemon=True)
        writer.start()
        fields = _read_records(proc.stdout, 4 * len(names))
        writer.join()
        return {name for (name, _), pattern in zip(names, fields[2::4])
                if pattern and not pattern.startswith(b"!")}

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], data: bytes) -> None:
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.flush()

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            argv = self._git.argv(["check-ignore", "--stdin", "-z", "-v", "-n", "--no-index"])
            self._proc = subprocess.Popen(argv, cwd=self._root, env=self._git._env(),
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=self._err)
        return self._proc


def _read_records(stream: "subprocess.IO[bytes]", count: int) -> list[bytes]:
    records: list[bytes] = []
    pending = b""
    while len(records) < count:
        chunk = stream.read1(1 << 16)
        if not chunk:
            raise RepoError("git check-ignore stopped answering while capturing the change")
        *done, pending = (pending + chunk).split(b"\0")
        records += done
    return records


# --- the walk --------------------------------------------------------------------------

def holds_repo(entries: Iterable[os.DirEntry[str]]) -> bool:
    """True when git would take the folder holding ``entries`` for a repository: it has
    an entry named like ``.git`` (any case, trailing dots or spaces, as Windows and macOS
    read it), or is itself a git dir (``HEAD``, ``objects``, ``refs``), which git run in
    it would use as a bare repository with its config."""
    names = {e.name.lower() for e in entries}
    return any(is_dotgit(name) for name in names) or {"head", "objects", "refs"} <= names


def blob_sha(data: bytes, algo: str) -> str:
    """The git object id of a blob holding ``data``."""
    return hashlib.new(algo, b"blob %d\0" % len(data) + data).hexdigest()


def fake_gitlink(path: str, algo: str) -> str:
    """A stable, made-up commit id for a nested repository agentdeck never looks into."""
    return hashlib.new(algo, b"agentdeck: nested repository " + os.fsencode(path)).hexdigest()


@dataclass
class _ToWrite:
    stat: os.stat_result
    path: str  # one of its names, to open it by


class TreeWalk:
    """One no-follow walk of a working copy, classifying each entry against the base.

    After `run`, ``entries`` maps every path to ``(mode, sha)``; a sha is ``None`` while
    its content still has to be written (``to_write`` holds those files, one per inode;
    ``link_blobs`` the symlink targets to write).
    """

    def __init__(self, base: BaseTree, manifest: Manifest, rules: IgnoreRules, algo: str,
                 max_files: int, max_bytes: int, cone: Sequence[str] = ()) -> None:
        self.base, self.manifest, self.rules, self.algo = base, manifest, rules, algo
        self.cone = cone
        self.max_files, self.max_bytes = max_files, max_bytes
        self.entries: dict[str, tuple[str, str | None]] = {}
        self.key_of: dict[str, Key] = {}  # regular files only
        self.stats: dict[Key, os.stat_result] = {}
        self.hashed: dict[Key, str] = {}
        self.to_write: dict[Key, _ToWrite] = {}
        self.link_blobs: dict[str, bytes] = {}
        self.changed = 0
        self.new_bytes = 0

    def run(self, root_fd: int) -> None:
        """Walk the tree under ``root_fd`` (its top-level ``.git`` left out), then check
        the limits with the deletions counted.

        Raises:
            UnsafeChange: a limit is exceeded, or a path is longer than `PATH_MAX`.
        """
        safefs.walk(root_fd, self._scan)
        self._keep_outside_cone()
        self.changed += sum(1 for path in self.base.files if path not in self.entries)
        self._check_limits()

    def _keep_outside_cone(self) -> None:
        """Base entries a sparse copy never checked out stay as they are (unless the
        agent put something of its own at that path or at a folder above it)."""
        for path, entry in self.base.files.items():
            if path in self.entries or in_cone(path, self.cone):
                continue
            parts = path.split("/")
            if any("/".join(parts[:n]) in self.entries for n in range(1, len(parts))):
                continue
            self.entries[path] = (entry.mode, entry.sha)

    def _scan(self, fd: int, prefix: str, listing: list[os.DirEntry[str]]) -> list[str]:
        """Record the entries of one folder and return its sub-folders to walk (none
        when the folder is a repository of its own, recorded as one gitlink)."""
        folder = prefix.rstrip("/")
        if prefix and (folder in self.base.files or holds_repo(listing)):
            self._gitlink(folder, listing)
            return []
        gitignore = next((e for e in listing if e.name == ".gitignore"), None)
        if gitignore is not None and gitignore.is_file(follow_symlinks=False):
            self.rules.add_rules(prefix, self._read_rules(fd, gitignore))
        untracked = [(e.name, e.is_dir(follow_symlinks=False)) for e in listing
                     if not (prefix == "" and e.name == ".git")
                     and prefix + e.name not in self.base.files
                     and prefix + e.name not in self.base.dirs]
        skip = self.rules.ignored(prefix, untracked)
        if not prefix:
            skip.add(".git")
        dirs = []
        for entry in listing:
            if entry.name in skip:
                continue
            path = prefix + entry.name
            if len(os.fsencode(path)) > PATH_MAX:
                raise UnsafeChange(f"the agent made a path longer than {PATH_MAX} bytes "
                                   f"({path[:80]!r}...); nothing was recorded")
            if entry.is_dir(follow_symlinks=False):
                dirs.append(entry.name)
            elif entry.is_symlink():
                self._symlink(path, os.readlink(os.fsencode(entry.name), dir_fd=fd))
            elif entry.is_file(follow_symlinks=False):
                self._file(fd, entry.name, path, entry.stat(follow_symlinks=False))
            # FIFOs, sockets and devices are not content git can hold: left out, like add -A.
        self._check_limits()
        return dirs

    def _read_rules(self, fd: int, entry: os.DirEntry[str]) -> bytes:
        size = entry.stat(follow_symlinks=False).st_size
        if size > self.max_bytes:
            raise UnsafeChange(f"a .gitignore of {size} bytes is over the max_bytes limit; "
                               "nothing was recorded")
        with safefs.opened(safefs.open_file(entry.name, fd)) as file_fd:
            return safefs.read_all(file_fd, size)

    def _record(self, path: str, mode: str, sha: str | None) -> None:
        self.entries[path] = (mode, sha)
        base = self.base.files.get(path)
        if sha is None or base is None or (base.mode, base.sha) != (mode, sha):
            self.changed += 1

    def _gitlink(self, path: str, listing: list[os.DirEntry[str]]) -> None:
        base = self.base.files.get(path)
        # An untouched submodule path is the empty folder prepare made: keep its entry.
        untouched = base is not None and base.mode == _GITLINK and not listing
        self._record(path, _GITLINK, base.sha if untouched and base else
                     fake_gitlink(path, self.algo))

    def _symlink(self, path: str, target: bytes) -> None:
        sha = blob_sha(target, self.algo)
        base = self.base.files.get(path)
        if base is None or base.sha != sha:
            if sha not in self.link_blobs:
                self.new_bytes += len(target)
            self.link_blobs[sha] = target
        self._record(path, _SYMLINK, sha)

    def _file(self, fd: int, name: str, path: str, st: os.stat_result) -> None:
        mode = _EXEC if st.st_mode & stat.S_IXUSR else _FILE
        key = (st.st_dev, st.st_ino)
        self.key_of[path] = key
        self.stats.setdefault(key, st)
        sha = self.hashed.get(key)
        if sha is None and key not in self.to_write:
            sha = self.manifest.known_sha(path, st)
            base = self.base.files.get(path)
            if sha is None and base is not None and base.size == st.st_size:
                sha = self._hash(fd, name, st)  # same size as before: read to tell
                if sha != base.sha:
                    self._must_write(key, st, path)
            elif sha is None:
                self._must_write(key, st, path)
            if sha is not None:
                self.hashed[key] = sha
        self._record(path, mode, sha)

    def _must_write(self, key: Key, st: os.stat_result, path: str) -> None:
        self.to_write[key] = _ToWrite(st, path)
        self.new_bytes += st.st_size

    def _hash(self, fd: int, name: str, st: os.stat_result) -> str:
        with safefs.opened(safefs.open_file(name, fd)) as file_fd:
            check_same_file(file_fd, st, name)
            digest = hashlib.new(self.algo, b"blob %d\0" % st.st_size)
            for chunk in read_chunks(file_fd, st.st_size):
                digest.update(chunk)
            return digest.hexdigest()

    def _check_limits(self) -> None:
        if self.changed > self.max_files:
            raise UnsafeChange(
                f"the agent changed more than {self.max_files} files (the limit); nothing "
                "was recorded: check the task's working copy or raise max_files")
        if self.new_bytes > self.max_bytes:
            raise UnsafeChange(
                f"the agent's change adds more than {_size(self.max_bytes)} (the limit; "
                f"{self.changed} files so far); nothing was recorded")


def check_same_file(fd: int, st: os.stat_result, name: str) -> None:
    """Refuse a file that is not the one the walk saw (replaced or rewritten since)."""
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
            st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
        raise RepoError(f"{name!r} changed while the agent's change was being recorded; "
                        "retry once the agent has really stopped")


def read_chunks(fd: int, size: int) -> Iterable[bytes]:
    """Yield exactly ``size`` bytes of ``fd`` in chunks; refuse a file that changed size."""
    left = size
    while left:
        chunk = os.read(fd, min(left, _CHUNK))
        if not chunk:
            raise RepoError("a file shrank while the agent's change was being recorded")
        left -= len(chunk)
        yield chunk
    if os.read(fd, 1):
        raise RepoError("a file grew while the agent's change was being recorded")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


# --- writing objects -------------------------------------------------------------------

def write_blobs(git: Git, root_fd: int, walk: TreeWalk, tmp: Path) -> dict[Key, str]:
    """Store the content of every file the walk could not match, with one
    ``git fast-import`` (blob commands only); return each inode's blob id."""
    if not walk.to_write and not walk.link_blobs:
        return {}
    marks = tmp / "marks"
    argv = git.argv(["fast-import", "--quiet", f"--export-marks={marks}"])
    keys = sorted(walk.to_write, key=lambda k: walk.to_write[k].path)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=git._env(), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        try:
            for mark, target in enumerate(walk.link_blobs.values(), start=1):
                proc.stdin.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(target), target))
            first = len(walk.link_blobs) + 1
            _stream_files(proc.stdin, root_fd, [walk.to_write[k] for k in keys], first)
            proc.stdin.close()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.wait():
            err.seek(0)
            raise RepoError(f"git fast-import failed: {err.read().decode(errors='replace')}")
    ids = dict(line.split() for line in marks.read_text().splitlines())
    return {key: ids[f":{first + i}"] for i, key in enumerate(keys)}


def _stream_files(out: "subprocess.IO[bytes]", root_fd: int, files: list[_ToWrite],
                  first_mark: int) -> None:
    folder_fd, folder = -1, None
    try:
        for mark, item in enumerate(files, start=first_mark):
            parent, _, name = item.path.rpartition("/")
            if parent != folder:  # sorted by path: each folder is opened once
                if folder_fd >= 0:
                    os.close(folder_fd)
                folder_fd, folder = -1, parent
                folder_fd = safefs.open_parts(root_fd, parent.split("/") if parent else [])
            with safefs.opened(safefs.open_file(name, folder_fd)) as fd:
                check_same_file(fd, item.stat, item.path)
                out.write(b"blob\nmark :%d\ndata %d\n" % (mark, item.stat.st_size))
                for chunk in read_chunks(fd, item.stat.st_size):
                    out.write(chunk)
                out.write(b"\n")
    finally:
        if folder_fd >= 0:
            os.close(folder_fd)


def write_tree(git: Git, entries: dict[str, tuple[str, str]], tmp: Path) -> str:
    """The tree object holding exactly ``entries`` (path -> mode, object id)."""
    listing = b"".join(
        b"%s %s\t%s\0" % (mode.encode(), sha.encode(), os.fsencode(path))
        for path, (mode, sha) in sorted(entries.items(), key=lambda kv: os.fsencode(kv[0])))
    index = git.with_env(GIT_INDEX_FILE=tmp / "index")
    index.run("update-index", "-z", "--index-info", input=listing)
    return index.out("write-tree")


def capture_tree(private: Git, base: str, workdir: Path, manifest_path: Path, *,
                 max_files: int, max_bytes: int, cone: Sequence[str] = ()) -> str:
    """Build the tree of ``workdir`` in ``private`` and return its id.

    With ``cone`` (a sparse copy's paths), base files outside it are kept as in the base.

    Nothing is written to the object store unless the limits hold; the manifest is
    brought up to date afterwards so the next capture (a follow-up) reads even less.

    Raises:
        UnsafeChange: over ``max_files`` changed paths or ``max_bytes`` of new content.
        RepoError: the working copy is not a folder, or changed during the capture.
    """
    assert private.git_dir is not None
    algo = "sha1" if len(base) == 40 else "sha256"
    manifest = Manifest.load(manifest_path)
    with tempfile.TemporaryDirectory(prefix="capture-", dir=private.git_dir) as tmp, \
            IgnoreRules(private.git_dir) as rules:
        try:
            root_fd = safefs.open_dir(os.fspath(workdir))
        except (OSError, safefs.UnsafePath) as exc:
            raise RepoError(f"cannot open the working copy {workdir}: {exc}") from exc
        with safefs.opened(root_fd):
            walk = TreeWalk(BaseTree.load(private, base), manifest, rules, algo,
                            max_files, max_bytes, cone)
            try:
                walk.run(root_fd)
                written = write_blobs(private, root_fd, walk, Path(tmp))
            except safefs.UnsafePath as exc:
                raise RepoError(f"the working copy changed while being recorded: {exc}") from exc
        entries = _resolve(walk, written)
        tree = write_tree(private, entries, Path(tmp))
    _remember(walk, written).save(manifest_path)
    return tree


def _resolve(walk: TreeWalk, written: dict[Key, str]) -> dict[str, tuple[str, str]]:
    """Fill in the blob ids fast-import gave to the files that had none yet."""
    return {path: (mode, sha if sha is not None else written[walk.key_of[path]])
            for path, (mode, sha) in walk.entries.items()}


def _remember(walk: TreeWalk, written: dict[Key, str]) -> Manifest:
    """The manifest of every regular file as the walk saw it."""
    files = {}
    for path, key in walk.key_of.items():
        sha = walk.hashed.get(key) or written.get(key)
        if sha is not None:
            files[path] = (_stat_key(walk.stats[key]), sha)
    return Manifest(files)
