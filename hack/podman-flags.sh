# Sourced by the image scripts: the flags podman needs on this machine kind to run a container (a build's RUN
# steps included). runc, since podman's default crun fails on this kernel's hybrid cgroups; explicit ulimits,
# since runc fails to set podman's defaults: open files up to this shell's hard limit (runc may not raise it),
# and processes well below it (runc was refused even this shell's own hard limit).
# shellcheck shell=bash
podman_run_flags=(--runtime runc --network host
  --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
