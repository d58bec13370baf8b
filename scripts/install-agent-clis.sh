#!/bin/sh
# Install the agent CLIs agentdeck drives (Claude Code, Codex, Gemini CLI from npm; Aider
# from PyPI into a venv of its own) at the versions its adapters were checked against, for
# `make test` and for users of the local runtime. What is there at the right version stays.
#
# Aider pins its dependencies exactly, so it gets its own venv (about 690 MB, a few
# minutes the first time) under $AGENTDECK_AGENTS_DIR (default /opt/agentdeck-agents as
# root, else ~/.local/share/agentdeck-agents), linked as `aider` into $AGENTDECK_BIN_DIR
# (default /usr/local/bin as root, else ~/.local/bin).
#
# Outside CI it is best effort: it exits 0 when something cannot be installed (no npm,
# no Python 3.10-3.12, registry unreachable) and says so; the tests that need that CLI then
# fail under CI and skip elsewhere. Under CI (CI=true) such a failure exits 1.
set -u

CLAUDE_VERSION="${AGENTDECK_CLAUDE_VERSION:-2.1.331}"
CODEX_VERSION="${AGENTDECK_CODEX_VERSION:-0.169.0}"
GEMINI_VERSION="${AGENTDECK_GEMINI_VERSION:-0.61.0}"
AIDER_VERSION="${AGENTDECK_AIDER_VERSION:-0.86.2}"
if [ "$(id -u)" = 0 ]; then
    AGENTS_DIR="${AGENTDECK_AGENTS_DIR:-/opt/agentdeck-agents}"
    BIN_DIR="${AGENTDECK_BIN_DIR:-/usr/local/bin}"
else
    AGENTS_DIR="${AGENTDECK_AGENTS_DIR:-$HOME/.local/share/agentdeck-agents}"
    BIN_DIR="${AGENTDECK_BIN_DIR:-$HOME/.local/bin}"
fi

LOG="${AGENTDECK_AIDER_LOG:-/tmp/agentdeck-aider-install.log}"

say() { echo "install-agent-clis: $*" >&2; }
failed=""

has_version() {  # has_version PROGRAM VERSION: the program answers --version with VERSION
    command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"
}

install_npm_clis() {
    wanted=""
    has_version claude "$CLAUDE_VERSION" \
        || wanted="$wanted @anthropic-ai/claude-code@$CLAUDE_VERSION"
    has_version codex "$CODEX_VERSION" || wanted="$wanted @openai/codex@$CODEX_VERSION"
    has_version gemini "$GEMINI_VERSION" \
        || wanted="$wanted @google/gemini-cli@$GEMINI_VERSION"
    [ -z "$wanted" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        say "npm is missing; install Node.js 20+ and npm to get:$wanted"
        failed="$failed$wanted"
        return 0
    fi
    say "installing:$wanted"
    # shellcheck disable=SC2086  # one word per package
    if ! npm install -g --no-audit --no-fund $wanted >/dev/null 2>&1; then
        say "npm could not install$wanted (offline?)"
        failed="$failed$wanted"
    fi
}

SUPPORTED='import sys, venv, ensurepip; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))'

aider_python() {  # the first Python that Aider supports (3.10-3.12) and that makes venvs
    for py in python3.12 python3.11 python3.10 python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        "$py" -c "$SUPPORTED" 2>/dev/null && { command -v "$py"; return 0; }
    done
    return 1
}

install_aider() {
    has_version aider "$AIDER_VERSION" && return 0  # on PATH already, wherever it lives
    venv="$AGENTS_DIR/aider"
    if ! "$venv/bin/aider" --version 2>/dev/null | grep -q "$AIDER_VERSION"; then
        if ! py="$(aider_python)"; then
            say "no Python 3.10-3.12 with venv to install Aider into (apt-get install python3-venv)"
            failed="$failed aider-chat==$AIDER_VERSION"
            return 0
        fi
        say "installing aider-chat==$AIDER_VERSION into $venv (about 690 MB, a few minutes)"
        start=$(date +%s)
        rm -rf "$venv"
        if ! { "$py" -m venv "$venv" \
               && "$venv/bin/pip" install --quiet --no-cache-dir "aider-chat==$AIDER_VERSION"; } \
               >"$LOG" 2>&1
        then
            say "pip could not install aider-chat==$AIDER_VERSION (offline?), see $LOG:"
            tail -n 5 "$LOG" >&2
            rm -rf "$venv"
            failed="$failed aider-chat==$AIDER_VERSION"
            return 0
        fi
        say "installed Aider in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)"
    fi
    mkdir -p "$BIN_DIR" && ln -sf "$venv/bin/aider" "$BIN_DIR/aider"
}

install_npm_clis
install_aider
if [ -n "$failed" ]; then
    if [ "${CI:-}" = true ]; then
        say "not installed:$failed — CI needs every agent CLI"
        exit 1
    fi
    say "not installed:$failed; the tests that need them will skip"
fi
exit 0
