"""`diagnose` against the real Docker daemon: version and storage driver, images present,
missing or built from an older recipe, the egress guard."""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid

import pytest

from agentdeck.engine.api import Status, diagnose
from agentdeck.engine.runtimes.docker.images import RECIPE_LABEL, TEST_IMAGE, busybox_rootfs_tar
from tests.engine.doctorkit import bin_dir, make_home


def _checks(report):
    return {c.name: c for c in report.checks}


def _profiles(image: str, runtime: str = "docker", extra: str = "") -> str:
    return f'[profiles.shell]\nimage = "{image}"\nruntime = "{runtime}"\n{extra}'


@pytest.fixture
def old_image(docker_client):
    """An image labelled with a recipe that is not the current one."""
    repository, tag = f"agentdeck-doctor-{uuid.uuid4().hex[:8]}", "latest"
    docker_client.api.import_image_from_data(
        busybox_rootfs_tar(), repository=repository, tag=tag,
        changes=[f"LABEL {RECIPE_LABEL}=0000000000000000"])
    yield f"{repository}:{tag}"
    docker_client.images.remove(f"{repository}:{tag}", force=True)


def test_the_daemon_is_reported_with_its_version_and_storage_driver(docker_client, tmp_path):
    home = make_home(tmp_path / "home", profiles=_profiles(TEST_IMAGE))
    report = asyncio.run(diagnose(home))
    info = docker_client.info()
    endpoint = _checks(report)["endpoint local"]
    assert endpoint.status == Status.OK
    assert f"Docker {info['ServerVersion']}" in endpoint.detail
    assert f"storage driver {info['Driver']}" in endpoint.detail
    image = _checks(report)[f"image {TEST_IMAGE} on local"]
    assert image.status == Status.OK and "not tracked" in image.detail
    assert report.needs["profiles"] == {"shell": "docker"}
    assert report.ok, [c for c in report.checks if c.status == Status.FAIL]


def test_a_missing_image_a_profile_needs_fails_with_the_build_command(docker_client, tmp_path):
    missing = f"agentdeck-doctor-missing-{uuid.uuid4().hex[:8]}:latest"
    report = asyncio.run(diagnose(make_home(tmp_path / "home", profiles=_profiles(missing))))
    image = _checks(report)[f"image {missing} on local"]
    assert (image.status, image.detail) == (Status.FAIL, "missing")
    assert "agentdeck image build --offline" in image.fix
    assert not report.ok


def test_an_image_from_an_older_recipe_warns_to_rebuild(docker_client, old_image, tmp_path):
    report = asyncio.run(diagnose(make_home(tmp_path / "home", profiles=_profiles(old_image))))
    image = _checks(report)[f"image {old_image} on local"]
    assert image.status == Status.WARN and "older recipe" in image.detail
    assert "rebuild" in image.fix


def test_the_egress_guard_fails_only_for_a_docker_profile_with_an_allowlist(docker_client,
                                                                            tmp_path):
    """A PATH without iptables: the guard's rules cannot be installed."""
    path = bin_dir(tmp_path / "bin", "sh", "bwrap")
    egress = 'network = true\noptions = { egress = ["example.org:443"] }\n'
    needed = asyncio.run(diagnose(make_home(tmp_path / "a", profiles=_profiles(TEST_IMAGE,
                                                                                extra=egress)),
                                  path=path))
    guard = _checks(needed)["egress guard"]
    assert (guard.status, guard.detail) == (Status.FAIL, "iptables is not installed")
    assert "docs/egress.md" in guard.fix
    unneeded = asyncio.run(diagnose(make_home(tmp_path / "b", profiles=_profiles(TEST_IMAGE)),
                                    path=path))
    assert _checks(unneeded)["egress guard"].status == Status.WARN


def test_the_egress_guard_is_installable_as_root_with_iptables(docker_client, tmp_path):
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        pytest.skip("needs root and iptables")
    report = asyncio.run(diagnose(make_home(tmp_path / "home", profiles=_profiles(TEST_IMAGE))))
    assert _checks(report)["egress guard"].status == Status.OK
