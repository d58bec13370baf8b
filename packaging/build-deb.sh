#!/bin/sh
# make deb: dist/agentdeck_VERSION_ARCH.deb from the one-folder build dist/agentdeck/ — the
# program in /opt/agentdeck with links in /usr/bin, a .desktop entry, the icon set (the
# SVG and PNGs rendered from it) and AppStream metainfo, both validated first.
set -eu
APP_ID=io.github.agentdeck.AgentDeck
BUNDLE=dist/agentdeck
ICON=agentdeck/resources/icons/app.svg
ROOT=build/deb/root
# What the bundle does not carry (PyInstaller bundles the other libraries; make dist-test
# checks with ldd in a bare Debian that nothing is missing): GL and EGL through glvnd,
# libdrm, libxcb and Wayland, the data files the bundled fontconfig and xkbcommon read, a
# font; the engine runs git and bubblewrap.
DEPENDS="libc6 (>= 2.36), libgl1, libegl1, libdrm2, libxcb1, libwayland-client0, libwayland-cursor0,
 libwayland-egl1, fontconfig-config, fonts-dejavu-core | fonts-liberation2 | fonts-freefont-ttf,
 xkb-data, git, bubblewrap"

version=$("$BUNDLE/agentdeck" --version | cut -d' ' -f2)
arch=$(dpkg --print-architecture)
released=$(git log -1 --format=%cs 2>/dev/null || date -u +%F)
deb="dist/agentdeck_${version}_${arch}.deb"
share="$ROOT/usr/share"

rm -rf build/deb
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$share/applications" "$share/metainfo"
cp -a "$BUNDLE" "$ROOT/opt/agentdeck"
ln -s /opt/agentdeck/agentdeck "$ROOT/usr/bin/agentdeck"
ln -s /opt/agentdeck/agentdeck-gui "$ROOT/usr/bin/agentdeck-gui"
cp packaging/$APP_ID.desktop "$share/applications/"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$released/" packaging/$APP_ID.metainfo.xml \
    > "$share/metainfo/$APP_ID.metainfo.xml"
mkdir -p "$share/icons/hicolor/scalable/apps"
cp "$ICON" "$share/icons/hicolor/scalable/apps/$APP_ID.svg"
for size in 16 22 24 32 48 64 128 256 512; do
    mkdir -p "$share/icons/hicolor/${size}x${size}/apps"
    rsvg-convert -w $size -h $size "$ICON" -o "$share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
done
desktop-file-validate "$share/applications/$APP_ID.desktop"
appstreamcli validate --no-net "$share/metainfo/$APP_ID.metainfo.xml"

chmod -R u=rwX,go=rX "$ROOT"
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: agentdeck
Version: $version
Architecture: $arch
Maintainer: The agentdeck developers <agentdeck@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
Depends: $DEPENDS
Suggests: docker.io
Section: devel
Priority: optional
Description: Supervise many AI coding agents in parallel
 A desktop dashboard (agentdeck-gui) and command line (agentdeck) that queue tasks for
 coding agents (Claude Code, Codex, Aider, Gemini, a built-in agent, shell commands), run
 each isolated in a Docker container or a bubblewrap sandbox, show their logs live and let
 you review and accept each diff.
CONTROL
dpkg-deb --root-owner-group -Zzstd --build "$ROOT" "$deb" >/dev/null
echo "deb: $deb ($(du -m "$deb" | cut -f1) MB)"
