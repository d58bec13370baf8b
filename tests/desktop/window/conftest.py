"""A real notification daemon (dunst) on a private D-Bus session bus, on its own Xvfb display."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TOOLS = ("Xvfb", "dbus-daemon", "dbus-send", "dunst", "dunstctl", "busctl")  # busctl: dunstctl uses it


@dataclass
class NotificationDaemon:
    """dunst on a session bus of its own; ``env`` reaches it."""

    env: dict[str, str]

    def received(self) -> list[dict[str, str]]:
        """Every notification dunst got so far: appname, summary, body, timeout (µs; 0 is
        "until dismissed", what dunst does with critical ones), icon_path."""
        subprocess.run(["dunstctl", "close-all"], env=self.env, check=True, timeout=10)
        out = subprocess.run(["dunstctl", "history"], env=self.env, check=True, timeout=10,
                             capture_output=True, text=True).stdout
        return [{key: str(item[key]["data"]) for key in ("appname", "summary", "body", "timeout", "icon_path")}
                for item in json.loads(out)["data"][0]]


def _require_tools() -> None:
    """Skip without the tools, but fail under CI (``CI=true``), where they must be there."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        why = f"missing {', '.join(missing)} (scripts/system-deps.sh --test installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI needs the notification daemon test)")
        pytest.skip(why)


def _start_xvfb(procs: list[subprocess.Popen[bytes]]) -> str:
    """Start Xvfb on a free display; return it once the server accepts clients."""
    read_end, write_end = os.pipe()
    procs.append(subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()  # Xvfb writes it once it is ready
    assert number, "Xvfb did not start"
    return f":{number}"


def _start_bus(procs: list[subprocess.Popen[bytes]], tmp: Path) -> str:
    """A session bus without service activation (nothing starts behind the test's back)."""
    config = tmp / "bus.conf"
    config.write_text(
        '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"'
        ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">'
        f"<busconfig><type>session</type><listen>unix:dir={tmp}</listen>"
        "<policy context='default'><allow send_destination='*' eavesdrop='true'/>"
        "<allow eavesdrop='true'/><allow own='*'/></policy></busconfig>")
    bus = subprocess.Popen(["dbus-daemon", "--config-file", str(config), "--nofork",
                            "--print-address"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(bus)
    assert bus.stdout is not None
    return bus.stdout.readline().decode().strip()


def _wait_for_daemon(env: dict[str, str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        owned = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
             "string:org.freedesktop.Notifications"], env=env, capture_output=True, text=True)
        if "boolean true" in owned.stdout:
            return
        time.sleep(0.1)
    raise AssertionError("dunst did not take org.freedesktop.Notifications")


@pytest.fixture
def notification_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotificationDaemon]:
    """dunst on a private session bus; this process's D-Bus clients talk to it."""
    _require_tools()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        display = _start_xvfb(procs)
        address = _start_bus(procs, tmp_path)
        env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": address}
        procs.append(subprocess.Popen(["dunst", "-config", os.devnull], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_daemon(env)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield NotificationDaemon(env)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
