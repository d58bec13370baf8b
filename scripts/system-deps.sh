#!/bin/sh
# Debian packages agentdeck needs besides Python: the libraries Qt loads (also offscreen),
# bubblewrap (the local runtime's sandbox) and, with --test, what the test suite uses
# (git, btrfs-progs for the loop filesystem of the reflink copies' tests, busybox-static for
# the test image; a private D-Bus session bus, Xvfb and dunst for the desktop-notification
# test, busctl for dunstctl), with --dist what make deb and dist-test use.
# Installs only what is missing; needs root for that (prints the command otherwise).
set -u
PKGS="git bubblewrap libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libxcb-randr0 fonts-dejavu-core"
[ "${1:-}" = "--test" ] && PKGS="$PKGS btrfs-progs busybox-static dbus-daemon dbus-bin xvfb dunst systemd"
[ "${1:-}" = "--dist" ] && PKGS="$PKGS librsvg2-bin desktop-file-utils appstream mmdebstrap"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "system-deps: missing Debian packages:$missing — run: sudo apt-get install$missing" >&2
    exit 1
fi
echo "system-deps: installing$missing" >&2
apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
