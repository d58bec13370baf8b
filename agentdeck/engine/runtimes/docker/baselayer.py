"""Base layers: a repo's tree at one commit, built once per endpoint into a tagged image.

Every task on that base starts from the image, so its container's writable layer holds
only what the agent changes (no copy of the tree per task). The image is the agent image
plus one layer: a container created from it, filled with one ``put_archive`` of the tree
(`agentdeck.engine.workspace.treetar`), committed. Its tag names the repo and commit
(``agentdeck-base/<repo>-<hash>:<commit12>-<image12>``) so that a cluster runtime can
later push it to a registry; its labels say what it holds, for `agentdeck gc`/`du`
(`list_base_images`, `remove_base_image`).
"""
from __future__ import annotations

import hashlib
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.base import TreeSource

#: ``<repo>@<commit>`` of the tree a base image holds.
BASE_LABEL = "agentdeck.base"
#: The id of the agent image the base was built on (a rebuilt agent image makes new bases).
FROM_LABEL = "agentdeck.base.from"
HOME_LABEL = "agentdeck.home"
WORKDIR = "/work"


@dataclass(frozen=True)
class BaseImage:
    """A base image found on an endpoint."""

    tag: str
    repo: str
    commit: str
    size: int      # bytes of its own layer (the tree), not the agent image under it
    created: str


def base_tag(repo: str, commit: str, image_id: str) -> str:
    """The tag of the base image of ``repo`` at ``commit`` on the agent image ``image_id``."""
    slug = re.sub(r"[^a-z0-9]+", "-", Path(repo).name.lower()).strip("-")[:40] or "repo"
    where = hashlib.sha256(repo.encode()).hexdigest()[:8]
    image = image_id.split(":")[-1][:12]
    return f"agentdeck-base/{slug}-{where}:{commit[:12]}-{image}"


class BaseLayers:
    """The base images of one data dir; blocking methods, call them from threads.

    Two tasks on one base that start together build it once: each (endpoint, tag) has a
    lock, and the second finds the image the first built.
    """

    def __init__(self, home: str, spool: Path | None = None) -> None:
        self._home = home
        self._spool = spool
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, endpoint: str, tag: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((endpoint, tag), threading.Lock())

    def ensure(self, client: Any, endpoint: str, tree: TreeSource, image: str) -> str:
        """The tag of ``tree``'s base image on this endpoint, built if missing.

        Raises:
            docker.errors.ImageNotFound: the agent image is missing.
            docker.errors.APIError: the daemon refused a step.
        """
        agent = client.images.get(image)
        tag = base_tag(tree.repo, tree.commit, agent.id)
        with self._lock(endpoint, tag):
            try:
                client.images.get(tag)
                return tag
            except docker.errors.ImageNotFound:
                pass
            self._build(client, tree, image, agent.id, tag)
        return tag

    def _build(self, client: Any, tree: TreeSource, image: str, image_id: str,
               tag: str) -> None:
        labels = {BASE_LABEL: f"{tree.repo}@{tree.commit}", FROM_LABEL: image_id,
                  HOME_LABEL: self._home}
        builder = client.containers.create(image=image, command=["true"], labels=labels,
                                           network_disabled=True)
        try:
            with tempfile.TemporaryFile(dir=self._spool) as tar:
                tree.write_tar(tar)
                tar.seek(0)
                if not builder.put_archive(WORKDIR, tar):
                    raise RuntimeUnavailable(f"Docker refused the tree of {tag}")
            repository, _, version = tag.rpartition(":")
            builder.commit(repository=repository, tag=version,
                           conf={"Labels": labels}, message=f"agentdeck base {tree.commit}")
        finally:
            builder.remove(force=True)


def list_base_images(client: Any, home: str | None = None) -> list[BaseImage]:
    """The base images on the daemon of ``client`` (of data dir ``home``, or all)."""
    filters = [BASE_LABEL] if home is None else [BASE_LABEL, f"{HOME_LABEL}={home}"]
    sizes = {image["Id"]: int(image.get("Size") or 0) for image in client.api.images()}
    found = []
    for image in client.api.images(filters={"label": filters}):
        labels = image.get("Labels") or {}
        repo, _, commit = labels.get(BASE_LABEL, "").rpartition("@")
        # Its own bytes: the agent image under it is shared by every base.
        size = int(image.get("Size") or 0) - sizes.get(labels.get(FROM_LABEL, ""), 0)
        for tag in image.get("RepoTags") or []:
            if tag.startswith("agentdeck-base/"):
                found.append(BaseImage(tag, repo, commit, size, str(image.get("Created", ""))))
    return found


def remove_base_image(client: Any, tag: str) -> bool:
    """Remove a base image; False if a container still uses it (it stays)."""
    try:
        client.images.remove(tag, noprune=False)
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            return False
        raise
    return True
