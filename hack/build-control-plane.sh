#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from the Go wrapper modules into a cache directory
# outside the repo keyed by version, and prints that directory. A second run finds the binaries and builds
# nothing. Builds go to a temp dir under a lock and are moved into place, so concurrent runs share one build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

cache_root="${CONTROLLER_RINGS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/controller-rings}"
target="$cache_root/k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}"
binaries=(kube-apiserver kube-controller-manager etcd)

complete() {
  for binary in "${binaries[@]}"; do [ -x "$target/$binary" ] || return 1; done
}

if complete; then echo "$target"; exit 0; fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9
if complete; then echo "$target"; exit 0; fi

if ! command -v go >/dev/null; then
  echo "build-control-plane: the Go toolchain is needed to build the control plane (go not found on PATH)" >&2
  exit 1
fi

staging=$(mktemp -d "$cache_root/.build.XXXXXX")
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"
minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
-X k8s.io/component-base/version.gitTreeState=clean"

start=$(date +%s)
echo "build-control-plane: building Kubernetes $KUBERNETES_VERSION and etcd $ETCD_VERSION (cold: ~10-15 min)" >&2
(cd "$here/kube" && go build -trimpath -ldflags "$kube_ldflags" -o "$staging/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$staging/etcd" go.etcd.io/etcd/server/v3)
echo "build-control-plane: built in $(($(date +%s) - start)) s" >&2

rm -rf "$target"
mv "$staging" "$target"
trap - EXIT
echo "$target"
