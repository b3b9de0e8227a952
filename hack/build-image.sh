#!/usr/bin/env bash
# Builds the image (deploy/image/Containerfile) on the local base images (hack/build-base-image.sh) as
# localhost/controller-rings:dev, or $IMAGE, and prints its name. Podman's layer cache makes a build without
# changes take seconds; the image a build replaces is removed when nothing uses it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
image=${IMAGE:-localhost/controller-rings:dev}

bash "$root/hack/install-container-tools.sh"
{ read -r base; read -r build_base; } < <(bash "$root/hack/build-base-image.sh")
previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)

# shellcheck source=podman-flags.sh
. "$root/hack/podman-flags.sh"
# The host's network (in podman_run_flags) is npm ci's.
podman build "${podman_run_flags[@]}" --quiet \
  --build-arg "BASE=$base" --build-arg "BUILD_BASE=$build_base" \
  --file "$root/deploy/image/Containerfile" --tag "$image" "$root" >/dev/null

current=$(podman image inspect --format '{{.Id}}' "$image")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  podman image rm "$previous" >/dev/null 2>&1 || true
fi
echo "$image"
