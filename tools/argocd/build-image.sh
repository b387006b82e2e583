#!/usr/bin/env bash
# Builds the Argo CD sidecar image (docs/argocd/README.md) without a container engine:
#   build/argocd-slinky-pr-<version>.oci.tar   an OCI image archive, tag <version>
# A minimal Debian root filesystem (debootstrap, packages of rootfs.packages), a wheel of
# this checkout installed with its runtime dependencies (wheels from PyPI, or PIP_INDEX_URL)
# into /opt/slinky-pr, the pinned Helm 3 (tools/e2e), user 999 with HOME=/home/argocd and
# docs/argocd/plugin.yaml where Argo CD's argocd-cmp-server reads it; packed by umoci.
#
# Caches, in ${SLINKY_ARGOCD_CACHE:-$HOME/.cache/slinky-pr/argocd}: the Debian root
# filesystem, keyed by its package list, and the archive, keyed by its inputs (sources,
# plugin.yaml, the helm binary, the umoci pin, this script): rebuilt only when one of them
# changed, in any clone.
# Needs root (debootstrap, chroot, files owned by uid 999); without root it says so and
# builds nothing. Usage: tools/argocd/build-image.sh [--print]   (--print: the archive path)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tools/argocd"
# shellcheck source=../e2e/versions.env
source "$ROOT/tools/e2e/versions.env"
E2E_BIN="${SLINKY_E2E_CACHE:-$HOME/.cache/slinky-pr/e2e}/bin"
CACHE="${SLINKY_ARGOCD_CACHE:-$HOME/.cache/slinky-pr/argocd}"
MIRROR="${SLINKY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PYTHON="${PYTHON:-python3}"
SUITE=trixie   # Debian 13: Python 3.13
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/postrender/__init__.py")"
OUT="$ROOT/build/argocd-slinky-pr-$VERSION.oci.tar"
# What the wheel is built from.
SOURCES=(pyproject.toml README.md postrender schemas)
# The image's PATH: the venv's commands first, then Debian's.
IMAGE_PATH=/opt/slinky-pr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if [[ "${1:-}" == "--print" ]]; then
  echo "$OUT"
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "argocd image: not root, not built (its tests will skip; debootstrap, chroot and" \
    "files owned by uid 999 need root)" >&2
  exit 0
fi

# The two Go tools first (a no-op when up to date): the image holds this very helm binary.
"$ROOT/tools/e2e/build.sh" helm3 umoci
list="$HERE/rootfs.packages"
rootfs_key="$( (echo "$SUITE"; cat "$list") | sha256sum | cut -c1-16)"
inputs_key="$(
  cd "$ROOT"
  echo "$rootfs_key $UMOCI_VERSION $(sha256sum <"$E2E_BIN/helm3")"
  find "${SOURCES[@]}" docs/argocd/plugin.yaml tools/argocd/build-image.sh -type f \
    ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
)"
inputs_key="$(sha256sum <<<"$inputs_key" | cut -c1-16)"
if [[ -f "$OUT" && "$(cat "$OUT.inputs" 2>/dev/null)" == "$inputs_key" ]]; then
  echo "argocd image: up to date ($OUT)"
  exit 0
fi
# Another clone (CI's, say) built these very inputs: copy its archive.
cached="$CACHE/argocd-slinky-pr-$VERSION-$inputs_key.oci.tar"
publish() {
  mkdir -p "$ROOT/build"
  cp "$cached" "$OUT.partial"
  mv "$OUT.partial" "$OUT"
  echo "$inputs_key" >"$OUT.inputs"
}
if [[ -f "$cached" ]]; then
  publish
  echo "argocd image: up to date, from the cache ($OUT)"
  exit 0
fi

t0=$SECONDS
umoci="$E2E_BIN/umoci"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [[ -f "$cached" ]]; then  # built by the run that held the lock
  publish
  echo "argocd image: up to date, from the cache ($OUT)"
  exit 0
fi
# Each long step runs in a process group of its own, in the background, so that a signal
# reaches this script at once: it stops the step's whole group by its PID, then exits
# through the EXIT traps, which remove the partial work.
STEP=""
step() {
  setsid "$@" &
  STEP=$!
  local rc=0
  wait "$STEP" || rc=$?
  STEP=""
  return "$rc"
}
stop_step() {
  if [[ -n "$STEP" ]]; then
    kill -TERM -- "-$STEP" 2>/dev/null || true
    wait "$STEP" 2>/dev/null || true
  fi
}
trap 'stop_step; exit 130' INT
trap 'stop_step; exit 143' TERM
trap 'stop_step; exit 129' HUP
rm -rf --one-file-system "$CACHE"/.image-* "$CACHE"/.rootfs-* "$CACHE"/*.partial  # a killed run's

# --- the Debian root filesystem, once per package list --------------------------------
base="$CACHE/rootfs-$SUITE-$rootfs_key"
if [[ ! -d "$base" ]]; then
  if ! command -v debootstrap >/dev/null 2>&1 && [[ ! -x /usr/sbin/debootstrap ]]; then
    export DEBIAN_FRONTEND=noninteractive
    # Others may hold dpkg's lock: wait for it (bounded) instead of failing.
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null
  fi
  PATH="$PATH:/usr/sbin:/sbin"
  partial="$CACHE/.rootfs-$$"
  rm -rf --one-file-system "$partial"
  trap 'rm -rf --one-file-system "$partial"' EXIT
  include="$(grep -v '^[[:space:]]*$' "$list" | paste -sd, -)"
  t1=$SECONDS
  # A private mount namespace: debootstrap's proc/sys mounts vanish with it, even if killed.
  if ! step unshare --mount --propagation private debootstrap --variant=minbase \
    --include="$include" "$SUITE" "$partial" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
    tail -20 "$CACHE/debootstrap.log" >&2
    echo "argocd image: debootstrap failed (full log: $CACHE/debootstrap.log)" >&2
    exit 1
  fi
  # Nothing in the image installs packages: no package lists, archives or docs.
  rm -rf "$partial"/var/cache/apt/archives/*.deb "$partial"/var/lib/apt/lists/* \
    "$partial"/usr/share/doc/* "$partial"/usr/share/man/* "$partial"/var/log/*
  for old in "$CACHE"/rootfs-*; do
    [[ -d "$old" ]] && rm -rf --one-file-system "$old"
  done
  mv "$partial" "$base"
  trap - EXIT
  echo "argocd image: Debian $SUITE root filesystem built in $((SECONDS - t1)) s ($base)"
fi

# --- the image's file system: a copy of the cached one, plus slinky-pr, helm, user 999 --
work="$(mktemp -d "$CACHE/.image-XXXXXX")"
trap 'rm -rf --one-file-system "$work"' EXIT
rootfs="$work/rootfs"
step cp -a "$base" "$rootfs"
# A clean environment: nothing of the host's (PIP_* settings, say) reaches the image's tools.
IN_ROOT=(chroot "$rootfs" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin)
in_root() {
  "${IN_ROOT[@]}" "$@"
}

# The wheel, from a copy holding only its sources (nothing else of the checkout leaks in).
mkdir "$work/src"
(cd "$ROOT" && tar --exclude=__pycache__ -cf - "${SOURCES[@]}") | tar -C "$work/src" -xf -
step "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps \
  --wheel-dir "$rootfs/tmp/wheels" "$work/src"
# Its dependencies as binary wheels for the image's Python and C library (not the host's).
pyver="$(in_root python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
# pip takes each platform tag literally: list every manylinux glibc 2.17 up to the image's.
glibc_minor="$(in_root python3 -c 'import os; print(os.confstr("CS_GNU_LIBC_VERSION").split(".")[1])')"
platforms=()
for minor in $(seq 17 "$glibc_minor"); do platforms+=(--platform "manylinux_2_${minor}_$(uname -m)"); done
step "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
  --python-version "$pyver" --implementation cp "${platforms[@]}" \
  --dest "$rootfs/tmp/wheels" "$rootfs"/tmp/wheels/slinky_pr-*.whl
in_root python3 -m venv /opt/slinky-pr
step "${IN_ROOT[@]}" /opt/slinky-pr/bin/pip install --quiet --disable-pip-version-check --no-index \
  --no-cache-dir --find-links /tmp/wheels slinky-pr
rm -rf "$rootfs/tmp/wheels"
in_root /opt/slinky-pr/bin/slinky-pr --version

install -m 0755 "$E2E_BIN/helm3" "$rootfs/usr/local/bin/helm"
# Argo CD runs the sidecar as 999; Helm keeps caches and repositories under a writable $HOME.
in_root useradd --system --uid 999 --user-group --shell /bin/bash --create-home --home-dir /home/argocd argocd
install -d -o 999 -g 999 "$rootfs/home/argocd/cmp-server" "$rootfs/home/argocd/cmp-server/config"
install -m 0644 "$ROOT/docs/argocd/plugin.yaml" "$rootfs/home/argocd/cmp-server/config/plugin.yaml"

# --- packed as one layer; Argo CD mounts argocd-cmp-server and runs it ---------------
layout="$work/layout"
"$umoci" init --layout "$layout"
"$umoci" new --image "$layout:$VERSION"
step "$umoci" insert --image "$layout:$VERSION" "$rootfs" /
"$umoci" config --image "$layout:$VERSION" --config.user 999 \
  --config.env HOME=/home/argocd --config.env "PATH=$IMAGE_PATH" \
  --config.entrypoint /var/run/argocd/argocd-cmp-server --config.workingdir /home/argocd \
  --history.created_by "tools/argocd/build-image.sh"
"$umoci" gc --layout "$layout"
rm -f "$CACHE"/argocd-slinky-pr-*.oci.tar
step tar -C "$layout" --sort=name -cf "$cached.partial" oci-layout index.json blobs
mv "$cached.partial" "$cached"
publish
echo "argocd image: built $OUT ($(du -h "$OUT" | cut -f1)) in $((SECONDS - t0)) s"
