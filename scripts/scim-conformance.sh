#!/usr/bin/env bash
# Runs scim2-tester (pinned in scim-conformance.requirements.txt) against
# `scimgate emulate --profile rfc7644` and fails when fewer than MIN checks pass.
#   scripts/scim-conformance.sh [PATH_TO_SCIMGATE_BINARY]
# The venv is $SCIMGATE_VENV (default $HOME/.cache/scimgate-venv), created once and reused.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/scimgate}"
MIN="${SCIM_CONFORMANCE_MIN:-57}"
VENV="${SCIMGATE_VENV:-$HOME/.cache/scimgate-venv}"
[ -x "$BIN" ] || { echo "no scimgate binary at $BIN (cargo build first)" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  # Debian-like systems ship venv separately.
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    command -v apt-get >/dev/null && apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
fi
# Already satisfied pins need no network.
"$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/scim-conformance.requirements.txt

PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$(mktemp)"
# A small directory: the checker looks for what it created in the first page of a list.
"$BIN" emulate --profile rfc7644 --host 127.0.0.1 --port "$PORT" --users 5 --groups 2 \
  --limit 100000/60s --token conformance-token >"$LOG" 2>&1 &
EMU=$!
trap 'kill "$EMU" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/_emulator/health" >/dev/null 2>&1 && break
  kill -0 "$EMU" 2>/dev/null || { cat "$LOG" >&2; echo "the emulator exited" >&2; exit 1; }
  sleep 0.1
done

"$VENV/bin/python" scripts/scim-conformance.py "http://127.0.0.1:$PORT/scim/v2" conformance-token --min "$MIN"
