#!/usr/bin/env bash
# Validates the committed openapi.json (the REST view's and the SCIM proxy's OpenAPI 3.1
# document; a test keeps it equal to the code's) with openapi-spec-validator, pinned in
# openapi-check.requirements.txt. The venv is $SCIMGATE_VENV (default
# $HOME/.cache/scimgate-venv), shared with scim-conformance.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${SCIMGATE_VENV:-$HOME/.cache/scimgate-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    command -v apt-get >/dev/null && apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/openapi-check.requirements.txt
"$VENV/bin/openapi-spec-validator" openapi.json
