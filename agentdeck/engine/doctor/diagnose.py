"""`diagnose`: run every group of checks, in threads, into one `Report`."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agentdeck.engine.config.paths import data_dir_path
from agentdeck.engine.doctor.agent_checks import check_clis
from agentdeck.engine.doctor.checks import Check, Report, Status
from agentdeck.engine.doctor.docker_checks import check_docker
from agentdeck.engine.doctor.host_checks import check_egress_guard, check_keyring, check_sandbox
from agentdeck.engine.doctor.needs import read_needs
from agentdeck.engine.doctor.store_checks import check_data_dir, check_database

__all__ = ["Check", "Report", "Status", "diagnose"]


async def diagnose(home: Path | str | None = None, *, path: str | None = None) -> Report:
    """Check everything agentdeck needs here; changes nothing (the database is only read).

    Args:
        home: The data dir (default: ``AGENTDECK_HOME`` or the platform's), not created.
        path: Where to look for programs (default: ``$PATH``).
    """
    home = Path(home) if home else data_dir_path()
    return await asyncio.to_thread(_run, home.expanduser().absolute(), path)


def _run(home: Path, path: str | None) -> Report:
    with ThreadPoolExecutor(4, thread_name_prefix="agentdeck-doctor") as pool:
        data = pool.submit(check_data_dir, home)
        keys = pool.submit(check_keyring)
        store = check_database(home)
        needs, profiles = read_needs(home, store.settings, store.active_agents)
        docker = check_docker(list(store.settings.get("docker_endpoints") or []),
                              needs.images(), needs.docker_required)
        local = needs.on("local", docker.usable)
        sandbox = pool.submit(check_sandbox, path, any(p.sandbox == "bwrap" for p in local))
        guard = pool.submit(check_egress_guard, path, needs.egress_on_docker(docker.usable))
        clis = check_clis(needs.cli_profiles(), {p.name for p in local}, path)
        checks: list[Check] = [*data.result(), *store.checks, profiles, *docker.checks,
                               guard.result(), *sandbox.result(), *clis, keys.result()]
    return Report(tuple(checks), needs.to_dict(docker.usable))
