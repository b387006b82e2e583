#!/usr/bin/env bash
# Builds the end-to-end stack from Go modules at pinned versions (README "End-to-end"):
# helm4, helm3, kube-apiserver, kubectl, etcd, slurm-operator, slurm-operator-webhook (the
# default operator pin) and slurm-operator-VERSION, slurm-operator-webhook-VERSION (each of
# SLURM_OPERATOR_REPLACED_VERSIONS), umoci, crane, into
# ${SLINKY_E2E_CACHE:-$HOME/.cache/slinky-pr/e2e}/bin. Each binary has a stamp holding its
# pin; a binary whose stamp matches is not rebuilt, so a rebuild with nothing changed takes
# seconds. Usage: tools/e2e/build.sh [name...]   (default: all)
set -euo pipefail
# Command substitutions ($(module_dir ...), $(replaced_operator_module ...)) stop on errors too.
shopt -s inherit_errexit
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
CACHE="${SLINKY_E2E_CACHE:-$HOME/.cache/slinky-pr/e2e}"
BIN="$CACHE/bin" STAMPS="$CACHE/stamps" SRC="$CACHE/src"
mkdir -p "$BIN" "$STAMPS" "$SRC"
# Two cores shared with others: bound the compile parallelism; -trimpath keeps cache
# paths out of the binaries.
export GOFLAGS="-trimpath -p=${SLINKY_E2E_JOBS:-2}" CGO_ENABLED=0 GOTOOLCHAIN=local
GOV="$(go env GOVERSION)"

# build NAME PIN CMD...: run CMD unless bin/NAME exists and its stamp equals PIN.
build() {
  local name="$1" pin="$2 $GOV"; shift 2
  if [[ -x "$BIN/$name" && -f "$STAMPS/$name" && "$(cat "$STAMPS/$name")" == "$pin" ]]; then
    echo "e2e build: $name up to date ($pin)"
    return
  fi
  echo "e2e build: $name ($pin)"
  local t0=$SECONDS
  rm -f "$STAMPS/$name"
  "$@"
  echo "$pin" >"$STAMPS/$name"
  echo "e2e build: $name built in $((SECONDS - t0)) s"
}

# go install PKG@VERSION into a scratch GOBIN, then rename to bin/NAME (modules without
# replace directives: Helm, the operator).
install_as() {
  local name="$1" pkg="$2" ldflags="$3" tmp
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install -ldflags "$ldflags" "$pkg"
  mv "$tmp/$(basename "${pkg%@*}")" "$BIN/$name"
  rmdir "$tmp"
}

module_dir() {
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

# The default operator is built inside its own module (from the module cache, read-only; its
# go.sum pins every dependency): `go install ...@version` would also ask the proxy for
# the module's version list, which the proxy refuses for this module (403).
# umoci is built the same way: its go.mod has a replace directive, which `go install` refuses.
module_build() {
  local name="$1" module="$2" pkg="$3" dir
  dir="$(module_dir "$module")"
  (cd "$dir" && go build -ldflags "-s -w" -o "$BIN/$name" "$pkg")
}

# The other operator pins need a slurm-client the proxy refuses (versions.env): a writable
# copy of the operator module with slurm-client replaced, made once (.ready marks it done).
replaced_operator_module() {
  local version="$1" dir="$SRC/slurm-operator-$1-client-$SLURM_CLIENT_REPLACEMENT"
  if [[ -f "$dir/.ready" ]]; then echo "$dir"; return; fi
  rm -rf "$dir" && mkdir -p "$SRC"
  cp -r "$(module_dir "$SLURM_OPERATOR_MODULE@$version")" "$dir"
  chmod -R u+w "$dir"
  (cd "$dir" && go mod edit \
    -replace "github.com/SlinkyProject/slurm-client=github.com/SlinkyProject/slurm-client@$SLURM_CLIENT_REPLACEMENT" \
    && GOFLAGS="$GOFLAGS -mod=mod" go list -deps ./cmd/manager ./cmd/webhook >/dev/null)
  touch "$dir/.ready"
  echo "$dir"
}

replaced_operator_build() {
  local version="$1" name="$2" pkg="$3" dir
  dir="$(replaced_operator_module "$version")"
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build -ldflags "-s -w" -o "$BIN/$name" "$pkg")
}

# Kubernetes replaces its staging modules with ./staging paths, which `go install @version`
# refuses; a wrapper module requires k8s.io/kubernetes and points each staging module at
# its published v0.x twin. etcd is built from the same module graph (the server version
# Kubernetes itself requires), kubectl too.
kube_module() {
  local dir="$SRC/kube-$KUBERNETES_VERSION" kdir staging
  if [[ -f "$dir/.ready" ]]; then echo "$dir"; return; fi
  rm -rf "$dir" && mkdir -p "$dir"
  kdir="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  staging="v0.${KUBERNETES_VERSION#v1.}"
  {
    echo "module slinky-pr.invalid/e2e-kube"
    echo
    grep -E '^(go|godebug) ' "$kdir/go.mod"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\t\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$kdir/go.mod"
    echo ")"
  } >"$dir/go.mod"
  (cd "$dir" && go mod download k8s.io/kubernetes >&2 && GOFLAGS="$GOFLAGS -mod=mod" go list -deps \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3 >/dev/null)
  touch "$dir/.ready"
  echo "$dir"
}

kube_build() {
  local name="$1" pkg="$2" ldflags="$3" dir
  dir="$(kube_module)"
  (cd "$dir" && go build -ldflags "$ldflags" -o "$BIN/$name" "$pkg")
}

kube_ldflags() {
  local v="$KUBERNETES_VERSION" major minor
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  local f=""
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    f+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "-s -w$f"
}

TARGETS=("$@")
want() { [[ ${#TARGETS[@]} -eq 0 || " ${TARGETS[*]} " == *" $1 "* ]]; }
t_all=$SECONDS

if want helm4; then
  build helm4 "helm.sh/helm/v4@$HELM4_VERSION" install_as helm4 \
    "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION" "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION"
fi
# Helm 3 takes the Kubernetes version `helm template` assumes from ldflags (as its Makefile
# does, from its client-go); without them it assumes v1.20 and charts needing more fail.
helm3_ldflags() {
  local mod minor f="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION"
  mod="$(go mod download -json "helm.sh/helm/v3@$HELM3_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  minor="$(sed -n 's/^\tk8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$mod")"
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    f+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
  done
  echo "$f"
}

if want helm3; then
  build helm3 "helm.sh/helm/v3@$HELM3_VERSION k8s-ldflags" install_as helm3 \
    "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION" "$(helm3_ldflags)"
fi
if want etcd; then
  build etcd "go.etcd.io/etcd/server/v3 via k8s.io/kubernetes@$KUBERNETES_VERSION" \
    kube_build etcd go.etcd.io/etcd/server/v3 "-s -w"
fi
if want kube-apiserver; then
  build kube-apiserver "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    kube_build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$(kube_ldflags)"
fi
if want kubectl; then
  build kubectl "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    kube_build kubectl k8s.io/kubernetes/cmd/kubectl "$(kube_ldflags)"
fi
if want slurm-operator; then
  build slurm-operator "$SLURM_OPERATOR_MODULE@$SLURM_OPERATOR_VERSION" module_build slurm-operator \
    "$SLURM_OPERATOR_MODULE@$SLURM_OPERATOR_VERSION" ./cmd/manager
fi
if want slurm-operator-webhook; then
  build slurm-operator-webhook "$SLURM_OPERATOR_MODULE@$SLURM_OPERATOR_VERSION" \
    module_build slurm-operator-webhook "$SLURM_OPERATOR_MODULE@$SLURM_OPERATOR_VERSION" ./cmd/webhook
fi
# umoci packs and unpacks the Argo CD sidecar image (tools/argocd/build-image.sh).
if want umoci; then
  build umoci "$UMOCI_MODULE@$UMOCI_VERSION" module_build umoci "$UMOCI_MODULE@$UMOCI_VERSION" ./cmd/umoci
fi
# crane: a registry and a client, to push that image as a user would (tests/e2e).
if want crane; then
  build crane "github.com/google/go-containerregistry@$CRANE_VERSION" install_as crane \
    "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" "-s -w"
fi
for version in ${SLURM_OPERATOR_REPLACED_VERSIONS//,/ }; do
  pin="$SLURM_OPERATOR_MODULE@$version slurm-client=>$SLURM_CLIENT_REPLACEMENT"
  if want "slurm-operator-$version"; then
    build "slurm-operator-$version" "$pin" \
      replaced_operator_build "$version" "slurm-operator-$version" ./cmd/manager
  fi
  if want "slurm-operator-webhook-$version"; then
    build "slurm-operator-webhook-$version" "$pin" \
      replaced_operator_build "$version" "slurm-operator-webhook-$version" ./cmd/webhook
  fi
done
echo "e2e build: done in $((SECONDS - t_all)) s"
