#!/bin/sh
# make dist: the one-folder PyInstaller build dist/agentdeck/ (executables agentdeck and
# agentdeck-gui, no Python needed on the target); prints its build time and size.
set -eu
PY="${1:-.venv/bin/python}"
GOAL_MB=250
start=$(date +%s)
rm -rf dist/agentdeck
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
    packaging/agentdeck.spec
size=$(du -sm dist/agentdeck | cut -f1)
echo "dist: dist/agentdeck built in $(($(date +%s) - start)) s: ${size} MB unpacked (goal: under ${GOAL_MB} MB)"
