#!/usr/bin/env bash
# Start a local apt cache (Debian's apt-cacher-ng, port 3142) that every test
# host and sandbox host uses as its apt proxy, so a package is downloaded from
# the mirror once per machine instead of once per container.
# Test infrastructure only: roles know nothing of it. PAAS_APT_CACHE=off skips it.
#
# It runs with its own configuration (/var/lib/paas-apt-cache/conf) whose Debian
# backend is the mirror this machine's apt uses: with the stock, empty
# backends_debian, apt-cacher-ng answers "503 Host not found" here.
set -euo pipefail
PORT=3142
CONF=/var/lib/paas-apt-cache/conf

[ "${PAAS_APT_CACHE:-on}" = off ] && { echo "apt-cache: disabled (PAAS_APT_CACHE=off)"; exit 0; }

probe() {
  curl -fsS -o /dev/null -x "http://127.0.0.1:$PORT" "$MIRROR/dists/bookworm/InRelease" 2>/dev/null
}

# shellcheck source=lib/debian-mirror.sh
. "$(dirname "$0")/lib/debian-mirror.sh"
[ -n "$MIRROR" ] || { echo "apt-cache: no bookworm mirror found in /etc/apt; skipping the cache" >&2; exit 0; }

probe && exit 0

if [ ! -x /usr/sbin/apt-cacher-ng ]; then
  [ "$(id -u)" = 0 ] || { echo "apt-cache: apt-cacher-ng missing; as root: apt-get install apt-cacher-ng" >&2; exit 1; }
  echo "apt-cache: installing apt-cacher-ng from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apt-cacher-ng >/dev/null
fi
pkill -x apt-cacher-ng 2>/dev/null || true   # one started with the stock configuration

rm -rf "$CONF" && mkdir -p "$CONF"
cp -a /etc/apt-cacher-ng/. "$CONF/"
echo "$MIRROR/" > "$CONF/backends_debian"
install -d -o apt-cacher-ng -g apt-cacher-ng /run/apt-cacher-ng /var/cache/apt-cacher-ng /var/log/apt-cacher-ng
chown -R apt-cacher-ng:apt-cacher-ng "$CONF"

echo "apt-cache: starting apt-cacher-ng on port $PORT (backend $MIRROR)"
nohup runuser -u apt-cacher-ng -- /usr/sbin/apt-cacher-ng -c "$CONF" ForeGround=1 Port="$PORT" \
  >/var/log/apt-cacher-ng/console.log 2>&1 &
for _ in $(seq 1 20); do
  probe && { echo "apt-cache: ready"; exit 0; }
  sleep 0.5
done
echo "apt-cache: apt-cacher-ng does not serve $MIRROR; test hosts will use the mirror directly" >&2
pkill -x apt-cacher-ng 2>/dev/null || true
exit 0
