#!/bin/sh
# Make sure a Docker daemon answers on this machine, for `make test` and the docker tests.
#
# Exits 0 at once when `docker info` already works. Otherwise installs Debian's docker.io
# when dockerd is missing (needs root), starts dockerd in the background (it outlives this
# script; log in $AGENTDECK_DOCKERD_LOG) and waits up to 60 s for it to answer.
set -u

LOG="${AGENTDECK_DOCKERD_LOG:-/tmp/agentdeck-dockerd.log}"
WAIT_SECONDS="${AGENTDECK_DOCKERD_WAIT:-60}"

say() { echo "ensure-docker: $*" >&2; }

# The CLI negotiates the API version, but an explicit DOCKER_API_VERSION newer than the
# daemon (docker.io 20.10 speaks 1.41) would make every call fail: drop a stale one.
unset DOCKER_API_VERSION

answers() { docker info >/dev/null 2>&1; }

if answers; then
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
    say "DOCKER_HOST=$DOCKER_HOST does not answer; start that daemon (this script only starts a local one)."
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        say "dockerd is not installed and installing it needs root: run 'sudo apt-get install docker.io'."
        exit 1
    fi
    say "installing Debian's docker.io ..."
    if ! apt-get update >>"$LOG" 2>&1 \
        || ! DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io >>"$LOG" 2>&1; then
        say "apt-get install docker.io failed; see $LOG"
        exit 1
    fi
fi

if [ "$(id -u)" != 0 ]; then
    say "the Docker daemon is not running and starting it needs root: run 'sudo dockerd' or 'sudo systemctl start docker'."
    exit 1
fi

# Only the default daemon's pidfile counts: other dockerds (a test's second endpoint on a
# TCP port) may run too and must not stop us from starting the default one.
PIDFILE=/var/run/docker.pid
if ! { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }; then
    say "starting dockerd (log: $LOG) ..."
    # setsid + nohup: the daemon must survive the end of this script and of its session.
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi

waited=0
while [ "$waited" -lt "$WAIT_SECONDS" ]; do
    if answers; then
        exit 0
    fi
    sleep 1
    waited=$((waited + 1))
done

say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $LOG:"
tail -n 20 "$LOG" >&2
exit 1
