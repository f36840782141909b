#!/usr/bin/env bash
# Installs the Debian packages ctrlab's tests and harnesses use. Idempotent:
# runs apt-get only when something is missing.
set -euo pipefail
pkgs=(busybox-static cpio kmod qemu-system-x86 qemu-system-arm qemu-user-static skopeo umoci runc crun
      docker-registry jq socat iproute2 iptables util-linux tmux libxml2-utils vagrant)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "go not found (expected /usr/local/go/bin/go)"; exit 1; }
go version
