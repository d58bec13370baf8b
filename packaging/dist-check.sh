#!/bin/sh
# Run by make dist-test inside a bare Debian with the .deb installed: the program must work
# there with no Python — its libraries all found, the command line, shell tasks on the local
# runtime (the supervisor and the egress forwarder run from the frozen executable), the GUI
# self-test offscreen.
set -eu
say() { echo "dist-check: $*"; }
if command -v python3 >/dev/null || command -v python >/dev/null; then
    say "this root has a Python: it proves nothing about the frozen build"; exit 1
fi
missing=$(find /opt/agentdeck -name '*.so*' -type f -print0 \
    | LD_LIBRARY_PATH=/opt/agentdeck/_internal xargs -0 ldd 2>/dev/null \
    | grep 'not found' | sort -u || true)
[ -z "$missing" ] || { say "libraries the package does not bring in:"; echo "$missing"; exit 1; }
say "no Python here; every library of the bundle resolves"

export AGENTDECK_HOME=/tmp/agentdeck-home
agentdeck --version
agentdeck agents >/dev/null && say "agentdeck agents: the profiles load"
git init -q /tmp/repo
git -C /tmp/repo -c user.name=t -c user.email=t@example.org commit -q --allow-empty -m init
task=$(agentdeck submit --json --agent shell --runtime local /tmp/repo 'echo frozen > frozen.txt' \
    | sed 's/.*"id": *"\([^"]*\)".*/\1/')
agentdeck run >/dev/null
agentdeck diff "$task" | grep -q '^+frozen$' \
    || { say "the shell task left no diff"; agentdeck logs "$task"; exit 1; }
say "a shell task ran on the local runtime (bubblewrap) and left its diff"
# Egress-limited: the forwarder in the sandbox relays to the engine's proxy, which answers
# 502 for the allowed 127.0.0.1:9 (nothing listens there).
cat > "$AGENTDECK_HOME/agents.toml" <<'TOML'
[profiles.web]
kind = "shell"
command = ["sh", "-c", "{prompt}"]
network = true
options = { egress = ["127.0.0.1:9"] }
TOML
task=$(agentdeck submit --json --agent web --runtime local /tmp/repo 'git ls-remote http://127.0.0.1:9/x' \
    | sed 's/.*"id": *"\([^"]*\)".*/\1/')
agentdeck run >/dev/null
agentdeck logs "$task" | grep -q 'returned error: 502' \
    || { say "the egress-limited task did not reach the proxy"; agentdeck logs "$task"; exit 1; }
say "an egress-limited task reached the egress proxy through the forwarder"
QT_QPA_PLATFORM=offscreen agentdeck-gui --self-test
say "agentdeck-gui --self-test passed"
