#!/usr/bin/env bash
# Installs what the image build and the image's end-to-end test need, with apt-get, where missing: podman (which
# builds with its built-in buildah), runc (its runtime here: podman's default crun fails on hybrid cgroups) and
# mmdebstrap (hack/build-base-image.sh makes the base image from Debian packages; no registry is reachable).
# Quiet and quick when everything is there. Runs as root (no sudo), on Debian.
set -euo pipefail

declare -A commands=([podman]=podman [runc]=runc [mmdebstrap]=mmdebstrap)
missing=()
for command in "${!commands[@]}"; do
  command -v "$command" >/dev/null || missing+=("${commands[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-container-tools: ${missing[*]} missing; install them as root with apt-get (Debian 12)" >&2
  exit 1
fi
echo "install-container-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Without recommends: no rootless helpers (slirp4netns, fuse-overlayfs, uidmap), which runs as root with the host
# network do not use.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
