#!/usr/bin/env bash
# Installs triage into .venv and starts the service on the bundled default model.
# Usage: bash scripts/start.sh   (then open http://127.0.0.1:8000/)
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .

# A secret key made once for this checkout and kept in the instance folder
# (never committed). Production sets TRIAGE_SECRET_KEY itself.
mkdir -p instance
if [ -z "${TRIAGE_SECRET_KEY:-}" ]; then
  if [ ! -s instance/secret_key ]; then
    (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > instance/secret_key)
  fi
  TRIAGE_SECRET_KEY="$(cat instance/secret_key)"
  export TRIAGE_SECRET_KEY
fi

# The first agent account, printed once, so that the page can be used at once.
.venv/bin/triage users ensure-admin

exec .venv/bin/triage serve "$@"
