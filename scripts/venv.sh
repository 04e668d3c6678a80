#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv from the pinned requirements.txt.
set -euo pipefail
VENV="${1:-.venv}"
cd "$(dirname "$0")/.."

if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "venv: python3-venv is missing; as root: apt-get install python3-venv" >&2; exit 1; }
  echo "venv: installing python3-venv from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
echo "venv: installing requirements.txt into $VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
echo "venv: installing requirements-deploy.txt (hash-pinned) into $VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-deploy.txt
touch "$VENV/bin/ansible-playbook"
