#!/usr/bin/env bash
# Make sure a Docker engine answers. On these machines there is no systemd on
# the host, so the engine from Debian's docker.io package is started by hand.
# Idempotent: does nothing when `docker info` already works.
set -euo pipefail

die() { echo "docker-engine: $*" >&2; exit 1; }

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "the Docker engine is missing; as root: apt-get install docker.io debootstrap"
  echo "docker-engine: installing docker.io and debootstrap from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq docker.io debootstrap >/dev/null || die "apt-get install docker.io failed"
fi

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl start docker || die "systemctl start docker failed (see journalctl -u docker)"
else
  echo "docker-engine: starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 30); do
  docker info >/dev/null 2>&1 && { echo "docker-engine: ready"; exit 0; }
  sleep 1
done
die "the Docker engine did not answer within 30 s; last lines of /var/log/dockerd.log:
$(tail -n 20 /var/log/dockerd.log 2>/dev/null)"
