#!/usr/bin/env bash
# Build the Debian 12 (bookworm) systemd + sshd image that every test host and
# sandbox host runs. Offline-friendly: debootstrap from the machine's own Debian
# mirror, then `docker import` (no registry needed).
#
#   scripts/build-test-image.sh            # build if absent
#   TEST_IMAGE=registry.example/debian12-systemd:latest scripts/build-test-image.sh
#                                           # use a stock image instead (pulled, not built)
#   DEBIAN_MIRROR=http://mirror.example/debian scripts/build-test-image.sh
#   scripts/build-test-image.sh --name     # print the image's name only
#   FORCE=1 scripts/build-test-image.sh    # rebuild even if present
set -euo pipefail

# The image's name and tag are written once, in .config/test-host.yml; the tag
# changes whenever this script changes what goes into the image, so a machine
# that still has the previous image builds the new one.
DEFAULT_IMAGE=$(sed -n "s/^test_host_image:.* or '\([^']*\)'.*/\1/p" "$(dirname "$0")/../.config/test-host.yml")
[ -n "$DEFAULT_IMAGE" ] || { echo "build-test-image: cannot read test_host_image from .config/test-host.yml" >&2; exit 1; }
IMAGE="${TEST_IMAGE:-$DEFAULT_IMAGE}"
if [ "${1:-}" = --name ]; then echo "$IMAGE"; exit 0; fi

die() { echo "build-test-image: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (run scripts/docker-engine.sh first)"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "build-test-image: $IMAGE already present, skipping build"
  exit 0
fi

if [ "$IMAGE" != "$DEFAULT_IMAGE" ]; then
  # A user-named stock image: it must already provide systemd, sshd, python3, python3-apt, sudo.
  echo "build-test-image: using stock image $IMAGE"
  docker pull "$IMAGE"
  exit 0
fi

# The mirror the machine's own apt uses (never hard-coded); DEBIAN_MIRROR and
# DEBIAN_SECURITY_MIRROR override it.
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
[ -n "$MIRROR" ] || die "cannot find a bookworm mirror in /etc/apt; set DEBIAN_MIRROR"

command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

ROOTFS=$(mktemp -d /var/tmp/paas-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT

echo "build-test-image: debootstrap bookworm from $MIRROR"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,procps,ca-certificates,openssh-server,locales \
  bookworm "$ROOTFS" "$MIRROR" >/dev/null

# Patched packages: updates and security suites next to main.
cat > "$ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
SOURCES

# Every container gets its own SSH host keys at first boot, never the image's.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
cat > "$ROOTFS/etc/systemd/system/ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/ssh-hostkeys.service "$ROOTFS/etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service"

# No dpkg speed-ups (force-unsafe-io, predownloaded archives): measured with
# benchmarks/test_image_apt.py, they save nothing here (docs/benchmarks.md).

# A container has no consoles or kernel filesystems to manage.
for unit in getty.target console-getty.service systemd-remount-fs.service \
            sys-kernel-debug.mount sys-kernel-tracing.mount systemd-firstboot.service; do
  ln -sf /dev/null "$ROOTFS/etc/systemd/system/$unit"
done
: > "$ROOTFS/etc/machine-id"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
# No package lists in the image: mark them as ancient so the first apt run refreshes them.
touch -d @0 "$ROOTFS"/var/lib/apt/lists

tar -C "$ROOTFS" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  - "$IMAGE" >/dev/null
echo "build-test-image: built $IMAGE"
