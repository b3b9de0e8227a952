#!/usr/bin/env bash
# Builds promtool (Prometheus's rule checker and unit-test runner) from the Go wrapper module hack/promtool into
# the control plane's cache root, keyed by version, and prints the binary's path. A second run finds it and
# builds nothing. The build goes to a temp dir under a lock and is moved into place, so concurrent runs share
# one build. The tests of config/monitoring/ (cdk8s/monitoring*.test.ts) run it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

cache_root="${CONTROLLER_RINGS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/controller-rings}"
target="$cache_root/promtool-${PROMETHEUS_VERSION}"
binary="$target/promtool"

if [ -x "$binary" ]; then echo "$binary"; exit 0; fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.promtool.lock"
flock 9
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi

if ! command -v go >/dev/null; then
  echo "build-promtool: the Go toolchain is needed to build promtool (go not found on PATH)" >&2
  exit 1
fi

staging=$(mktemp -d "$cache_root/.promtool.XXXXXX")
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"
# promtool --version prints the release the module version stands for (v0.316.0 is Prometheus 3.16.0), stamped
# as Prometheus's own release build does (prometheus/common's version package).
release=${PROMETHEUS_VERSION#v0.}
minor=${release%%.*}
release="$((minor / 100)).$((minor % 100)).${release#*.}"
version_ldflags="-s -w -X github.com/prometheus/common/version.Version=$release \
-X github.com/prometheus/common/version.Branch=HEAD"

start=$(date +%s)
echo "build-promtool: building promtool of Prometheus $PROMETHEUS_VERSION (cold: ~3-6 min)" >&2
# remove_all_sd leaves out Prometheus's service discovery plugins (AWS, Azure, Kubernetes...), which only
# `promtool check config` and `promtool sd` use, not the rule commands the tests run: 54 MB instead of 88, and
# 3.6 instead of 8.7 CPU minutes of a cold build.
(cd "$here/promtool" && go build -trimpath -tags remove_all_sd -ldflags "$version_ldflags" \
  -o "$staging/promtool" github.com/prometheus/prometheus/cmd/promtool)
echo "build-promtool: built in $(($(date +%s) - start)) s" >&2

rm -rf "$target"
mv "$staging" "$target"
trap - EXIT
echo "$binary"
