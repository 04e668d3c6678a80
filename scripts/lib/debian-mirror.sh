# shellcheck shell=bash
# Sourced by scripts that need the Debian mirror this machine's own apt uses
# (never hard-coded). Sets MIRROR and SECURITY_MIRROR; DEBIAN_MIRROR and
# DEBIAN_SECURITY_MIRROR override the detection.
detect_debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && /bookworm( |$)/ && u !~ /security/ {print u; exit}' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  if [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
    [ -n "$uri" ] && { echo "$uri"; return; }
  fi
}
MIRROR="${DEBIAN_MIRROR:-$(detect_debian_mirror)}"
MIRROR="${MIRROR%/}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}"
