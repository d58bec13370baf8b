#!/bin/sh
# Install the agent CLIs agentdeck drives (Claude Code, Codex, Gemini CLI) at the versions
# its adapters were checked against, for `make test` and for users of the local runtime.
#
# Best effort: exits 0 when they are already there or when npm cannot install them (the
# tests that need a CLI then skip and say why). Aider (`pip install aider-chat`) is left
# to the user: it is large and the tests read its output without running it.
set -u

CLAUDE_VERSION="${AGENTDECK_CLAUDE_VERSION:-2.1.331}"
CODEX_VERSION="${AGENTDECK_CODEX_VERSION:-0.169.0}"
GEMINI_VERSION="${AGENTDECK_GEMINI_VERSION:-0.61.0}"

say() { echo "install-agent-clis: $*" >&2; }

has_version() {  # has_version PROGRAM VERSION: the program answers --version with VERSION
    command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"
}

wanted=""
has_version claude "$CLAUDE_VERSION" || wanted="$wanted @anthropic-ai/claude-code@$CLAUDE_VERSION"
has_version codex "$CODEX_VERSION" || wanted="$wanted @openai/codex@$CODEX_VERSION"
has_version gemini "$GEMINI_VERSION" || wanted="$wanted @google/gemini-cli@$GEMINI_VERSION"

if [ -z "$wanted" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    say "npm is missing; install Node.js 20+ and npm to get:$wanted"
    exit 0
fi
say "installing:$wanted"
# shellcheck disable=SC2086  # one word per package
if ! npm install -g --no-audit --no-fund $wanted >/dev/null 2>&1; then
    say "npm could not install$wanted (offline?); the tests that need them will skip"
fi
exit 0
