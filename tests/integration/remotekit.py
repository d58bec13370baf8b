"""Helpers for the remote-daemon path of the changes-only collect, on the local daemon.

`RemoteView` is a real container as a remote daemon shows it: its writable layer is no
folder of this machine (no ``GraphDriver``), so collect uses the container's listing or
the changes API; it counts the changes API's calls. `find_image` is the busybox test
image with this machine's GNU ``find`` in /usr/bin (the agent image has its own), so the
wrapper can write its listing.
"""
from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import docker.errors

from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.runtimes.docker.listing import LISTING

FIND_IMAGE = "agentdeck-test-find:latest"
_LABEL = "agentdeck.test.find"


class RemoteView:
    """``container`` without its writable layer; ``listing=False`` hides its listing too
    (as a container started before the wrapper existed)."""

    def __init__(self, container: Any, listing: bool = True) -> None:
        self._container, self._listing = container, listing
        self.diff_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: v for k, v in self._container.attrs.items() if k != "GraphDriver"}

    def diff(self) -> Any:
        self.diff_calls += 1
        return self._container.diff()

    def get_archive(self, path: str, *args: Any, **kwargs: Any) -> Any:
        if path == LISTING and not self._listing:
            raise docker.errors.NotFound(f"{path} hidden")
        return self._container.get_archive(path, *args, **kwargs)


def find_image(client: Any) -> str:
    """The test image plus /usr/bin/find and its libraries (built once per find binary)."""
    files = [Path("/usr/bin/find"), *_libraries(Path("/usr/bin/find"))]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:16]
    try:
        if (client.images.get(FIND_IMAGE).labels or {}).get(_LABEL) == digest:
            return FIND_IMAGE
    except docker.errors.ImageNotFound:
        pass
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in files:
            tar.add(path.resolve(), arcname=str(path).lstrip("/"))
    builder = client.containers.create(TEST_IMAGE, command=["true"])
    try:
        builder.put_archive("/", out.getvalue())
        repository, _, tag = FIND_IMAGE.partition(":")
        builder.commit(repository=repository, tag=tag, conf={"Labels": {_LABEL: digest}})
    finally:
        builder.remove(force=True)
    return FIND_IMAGE


def _libraries(binary: Path) -> list[Path]:
    lines = subprocess.run(["ldd", str(binary)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    return [Path(word) for line in lines for word in line.split() if word.startswith("/")]
