#!/bin/sh
# make dist-test: install the newest dist/agentdeck_*.deb into a bare Debian (a rootfs made
# by mmdebstrap, which resolves the package's Depends from the mirror, then docker import:
# no registry) that has no Python, and run the program there (packaging/dist-check.sh).
set -eu
IMAGE=agentdeck-dist-test:latest
LOG="${AGENTDECK_DIST_LOG:-/tmp/agentdeck-dist-test.log}"
start=$(date +%s)
deb=$(ls -t dist/agentdeck_*.deb | head -n 1)
tmp=$(mktemp -d)
# The image is made anew each run: none is left behind (nor an untagged old one).
trap 'rm -rf "$tmp"; docker rmi -f "$IMAGE" >/dev/null 2>&1 || true' EXIT

echo "dist-test: a bare Debian with $deb installed (log: $LOG) ..."
if ! mmdebstrap --variant=apt '--aptopt=Apt::Install-Recommends "false"' \
        --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
        --include="$(realpath "$deb")" bookworm "$tmp/rootfs.tar" >"$LOG" 2>&1; then
    tail -n 20 "$LOG" >&2
    exit 1
fi
docker import "$tmp/rootfs.tar" "$IMAGE" >/dev/null
# Docker's seccomp profile forbids the user namespaces bubblewrap makes on a desktop, and its
# masked /proc paths the fresh /proc it mounts.
docker run --rm --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined -e LANG=C.UTF-8 \
    -v "$PWD/packaging/dist-check.sh:/dist-check.sh:ro" "$IMAGE" sh /dist-check.sh
echo "dist-test: passed in $(($(date +%s) - start)) s"
