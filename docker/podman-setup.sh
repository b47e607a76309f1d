#!/usr/bin/env bash
# One-time host set-up for building and running the images with podman as root (Debian 12).
#   sudo docker/podman-setup.sh
# Installs podman, runc, podman-compose and debootstrap from Debian, and configures podman for
# hosts without systemd (cgroupfs, file event log). On VMs whose container init may not set
# rlimits (no CAP_SYS_RESOURCE: runc fails with "error setting rlimit type 7/6: operation not
# permitted"), the runtime is a wrapper around runc that drops the spec's rlimits, so the
# containers inherit the host's limits.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc podman-compose debootstrap >/dev/null

cat > /usr/local/bin/runc-keep-rlimits <<'WRAP'
#!/bin/sh
# runc without the OCI spec's rlimits (see docker/podman-setup.sh): `create --bundle DIR`
# reads DIR/config.json, `exec --process FILE` reads FILE.
spec=""; prev=""
for arg in "$@"; do
  case "$prev" in --bundle) spec="$arg/config.json";; --process) spec="$arg";; esac
  case "$arg" in --bundle=*) spec="${arg#--bundle=}/config.json";; --process=*) spec="${arg#--process=}";; esac
  prev="$arg"
done
if [ -n "$spec" ] && [ -f "$spec" ]; then
  python3 -c 'import json, sys
p = sys.argv[1]; s = json.load(open(p)); s.pop("rlimits", None)
s.get("process", {}).pop("rlimits", None); json.dump(s, open(p, "w"))' "$spec"
fi
exec /usr/sbin/runc "$@"
WRAP
chmod +x /usr/local/bin/runc-keep-rlimits

mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<'CONF'
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc-keep-rlimits"
[engine.runtimes]
runc-keep-rlimits = ["/usr/local/bin/runc-keep-rlimits"]
CONF
podman info --format 'podman {{.Version.Version}}: {{.Store.GraphDriverName}} storage, {{.Host.CgroupManager}}, {{.Host.OCIRuntime.Name}}'
