#!/usr/bin/env bash
# Regenerates the Go wrapper modules hack/kube, hack/etcd and hack/promtool from hack/versions.env.
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging paths, which only
# count in the main module; the wrapper replaces each with the matching published v0.<minor>.<patch>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

staging_version="v0.${KUBERNETES_VERSION#v1.}"

cd "$here/kube"
rm -f go.mod go.sum
go mod init github.com/controller-rings/controller-rings/hack/kube >/dev/null 2>&1
go mod edit -go=1.26.0
kube_gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
for module in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$kube_gomod"); do
  go mod edit -replace="$module=$module@$staging_version"
done
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION"
go mod tidy

cd "$here/etcd"
rm -f go.mod go.sum
go mod init github.com/controller-rings/controller-rings/hack/etcd >/dev/null 2>&1
go mod edit -go=1.26.0
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod tidy

cd "$here/promtool"
rm -f go.mod go.sum
go mod init github.com/controller-rings/controller-rings/hack/promtool >/dev/null 2>&1
go mod edit -go=1.26.0
go get -tool "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
go mod tidy
