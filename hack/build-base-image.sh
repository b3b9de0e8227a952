#!/usr/bin/env bash
# Builds the local base images that hack/build-image.sh builds the image on, since no registry is reachable
# here to pull docker.io/library/node or distroless from, and prints their names, the run-time base first:
#   localhost/controller-rings-base:node-<v>            Debian 12 (mmdebstrap's essential variant, with
#                                                       ca-certificates and libstdc++6) and the Node.js binary of
#                                                       the npm `node` package, as /usr/local/bin/node
#   localhost/controller-rings-base:node-<v>-npm-<v>-ca-<hash>
#                                                       the same with npm (the build stage runs npm ci): the npm
#                                                       that runs this script, so nothing is downloaded; and this
#                                                       machine's CA bundle, which npm trusts (NODE_EXTRA_CA_CERTS),
#                                                       since its way to the registry may be through a TLS proxy
#                                                       with a CA of its own. The image itself gets neither.
# An image that exists is kept: a run builds only what a new Node.js, npm or CA bundle needs (~50 s cold).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node="$root/node_modules/node/bin/node"
[ -x "$node" ] || { echo "build-base-image: $node is missing: run npm ci" >&2; exit 1; }
node_version=$("$node" --version)
npm_version=$(npm --version)
npm_dir="$(npm root -g)/npm"
debian=localhost/controller-rings-debian:bookworm
runtime=localhost/controller-rings-base:node-$node_version
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
build=$runtime-npm-$npm_version-ca-$(sha256sum "$ca_bundle" | cut -c1-8)
# shellcheck source=podman-flags.sh
. "$root/hack/podman-flags.sh"
podman_build=(podman build "${podman_run_flags[@]}" --quiet)

cache_root="${CONTROLLER_RINGS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/controller-rings}"
mkdir -p "$cache_root"
exec 9>"$cache_root/.base-image.lock"
flock 9

work=$(mktemp -d "${TMPDIR:-/tmp}/base-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! podman image exists "$debian"; then
  echo "build-base-image: building $debian with mmdebstrap" >&2
  # Docs, man pages and translations are left out: nothing in a container reads them.
  mmdebstrap --quiet --variant=essential --include=ca-certificates,libstdc++6 \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$work/rootfs.tar" >&2
  podman import --quiet "$work/rootfs.tar" "$debian" >/dev/null
  rm "$work/rootfs.tar"
fi

if ! podman image exists "$runtime"; then
  echo "build-base-image: building $runtime" >&2
  cp "$node" "$work/node"
  cat >"$work/Containerfile" <<EOF
FROM $debian
COPY node /usr/local/bin/node
CMD ["node"]
EOF
  "${podman_build[@]}" --tag "$runtime" "$work" >/dev/null
fi

if ! podman image exists "$build"; then
  echo "build-base-image: building $build" >&2
  # Laid out as in the official Node.js images: npm on PATH through a symlink to its CLI.
  mkdir -p "$work/npm/usr/local/lib/node_modules" "$work/npm/usr/local/bin"
  cp -r "$npm_dir" "$work/npm/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/npm/usr/local/bin/npm"
  cp "$ca_bundle" "$work/npm/ca-certificates.crt"
  cat >"$work/npm/Containerfile" <<EOF
FROM $runtime
COPY usr /usr
COPY ca-certificates.crt /etc/ssl/certs/build-ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/build-ca-certificates.crt
EOF
  "${podman_build[@]}" --tag "$build" "$work/npm" >/dev/null
fi

echo "$runtime"
echo "$build"
