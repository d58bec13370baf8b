#!/bin/sh
# Build the full agent image (agentdeck-agent:latest) offline for `make test`, so the test
# of real Claude Code in a container runs. About 2 minutes the first time; kept after that
# while its recipe (packages, CLI pins) is unchanged.
#
# Best effort: exits 0 when the build cannot be done (no mmdebstrap and no root, a
# mirror that does not answer); the test that needs the image then skips and says why.
set -u
AGENTDECK="${1:-.venv/bin/agentdeck}"
LOG="${AGENTDECK_IMAGE_LOG:-/tmp/agentdeck-image-build.log}"

say() { echo "build-agent-image: $*" >&2; }

if ! command -v mmdebstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        say "mmdebstrap is missing (sudo apt-get install mmdebstrap); the agent-image test will skip"
        exit 0
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >>"$LOG" 2>&1 \
        || { apt-get update -qq >>"$LOG" 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >>"$LOG" 2>&1; } \
        || { say "could not install mmdebstrap (see $LOG); the agent-image test will skip"; exit 0; }
fi
if ! "$AGENTDECK" image build --offline --if-missing >>"$LOG" 2>&1; then
    say "the offline build failed (see $LOG); the agent-image test will skip"
    tail -n 5 "$LOG" >&2
fi
exit 0
