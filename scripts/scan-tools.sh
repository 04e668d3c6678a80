#!/usr/bin/env bash
# Install the security scan's tools (playbooks/security-scan.yml): nmap,
# testssl.sh and Wapiti from Debian on this machine, and the scanner virtualenv .venv-scan
# (sslyze and the HTTP Observatory's scanner, requirements-scan.txt).
# Idempotent: what is there already is kept.
set -euo pipefail
VENV="${1:-.venv-scan}"
cd "$(dirname "$0")/.."

missing=()
command -v nmap >/dev/null || missing+=(nmap)
command -v testssl >/dev/null || missing+=(testssl.sh)
command -v wapiti >/dev/null || missing+=(wapiti)
# Wapiti asks for brotli (nginx sends it) but Debian's package does not depend on the decoder:
# without it every page reads as bytes with no links, and the crawl stops at the first page.
/usr/bin/python3 -c 'import brotli' 2>/dev/null || missing+=(python3-brotli)
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "scan-tools: missing ${missing[*]}; as root: apt-get install ${missing[*]}" >&2; exit 1; }
  echo "scan-tools: installing ${missing[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x "$VENV/bin/sslyze" ] || [ requirements-scan.txt -nt "$VENV/bin/sslyze" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  echo "scan-tools: installing requirements-scan.txt and httpobs into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-scan.txt
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps httpobs==0.9.3
  touch "$VENV/bin/sslyze"
fi
