#!/bin/sh
# Build the Debian sid chroot holding Slurm 26.05 (the chart images' release), munge and
# MariaDB, which the real-Slurm harness (postrender/slurmroot.py) runs its daemons in.
# Bookworm ships Slurm 22.05, which lacks AutoDetect=nvidia; sid has 26.05.
#
# The chroot lands in ${SLINKY_SLURM_CACHE:-$HOME/.cache/slinky-pr/slurm}/sid-<key>, where
# <key> is the start of the SHA-256 of slurm-chroot.packages: it is built once and rebuilt
# only when that list changes (older ones are removed). --print prints the path and builds
# nothing. Needs root; debootstrap is installed with apt when missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
list="$here/slurm-chroot.packages"
cache="${SLINKY_SLURM_CACHE:-$HOME/.cache/slinky-pr/slurm}"
mirror="${SLINKY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
key=$(sha256sum <"$list" | cut -c1-16)
target="$cache/sid-$key"

if [ "${1:-}" = "--print" ]; then
  echo "$target"
  exit 0
fi
if [ -d "$target" ]; then
  echo "slurm chroot: cached at $target"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "slurm chroot: not root, not built (the real-Slurm tests will skip)" >&2
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
[ -d "$target" ] && exit 0   # built by a concurrent run while we waited

if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Others may hold dpkg's lock: wait for it (bounded) instead of failing.
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null
fi
PATH="$PATH:/usr/sbin:/sbin"

work="$cache/.build-$$"
rm -rf --one-file-system "$work"
trap 'rm -rf --one-file-system "$work"' EXIT
include=$(grep -v '^[[:space:]]*$' "$list" | paste -sd, -)
start=$(date +%s)
# A private mount namespace: the proc/sys mounts debootstrap makes in the target vanish
# with it, even when it is killed, so no mount is left under the cache.
if ! unshare --mount --propagation private \
  debootstrap --variant=minbase --include="$include" sid "$work" "$mirror" >"$cache/build.log" 2>&1; then
  tail -20 "$cache/build.log" >&2
  echo "slurm chroot: debootstrap failed (full log: $cache/build.log)" >&2
  exit 1
fi
rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/*_Packages
# Mount points of the harness: its work dir, and a per-run hosts file (no DNS here: an
# unanswered name lookup stalls slurmctld for minutes).
mkdir -p "$work/slinky"
: >"$work/etc/hosts"
cp "$list" "$work/slinky-packages"
for old in "$cache"/sid-*; do
  [ -d "$old" ] && rm -rf --one-file-system "$old"
done
mv "$work" "$target"
trap - EXIT
echo "slurm chroot: built $target in $(($(date +%s) - start)) s"
