#!/usr/bin/env bash
# Runs "$@" with the services ctrlab's tests need: a local registry on
# 127.0.0.1:5000 (hack/registry.sh) holding the busybox test images built from
# Debian's busybox-static for amd64, arm64 and armhf (hack/testimages), with
# CTRLAB_TEST_REGISTRY exported. Stops the registry afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export CTRLAB_REGISTRY_ADDR=${CTRLAB_REGISTRY_ADDR:-127.0.0.1:5000}
work=$(mktemp -d /tmp/ctrlab-testenv.XXXXXX)
added_arch=()
cleanup() {
  hack/registry.sh stop >/dev/null 2>&1 || true
  for a in "${added_arch[@]}"; do dpkg --remove-architecture "$a" 2>/dev/null || true; done
  [ ${#added_arch[@]} -eq 0 ] || apt-get update -qq >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Debian's busybox-static for the three architectures (amd64 = armhf naming).
fetch_busybox() {
  local need_update=0
  for a in arm64 armhf; do
    if [ "$(dpkg --print-architecture)" != "$a" ] && ! dpkg --print-foreign-architectures | grep -qx "$a"; then
      dpkg --add-architecture "$a"; added_arch+=("$a"); need_update=1
    fi
  done
  [ $need_update -eq 0 ] || apt-get update -qq || echo "test-env: apt-get update reported errors; trying the download anyway" >&2
  (cd "$work" && apt-get download -qq busybox-static:amd64 busybox-static:arm64 busybox-static:armhf)
  for a in amd64 arm64 armhf; do
    mkdir -p "$work/$a" && dpkg-deb -x "$work"/busybox-static_*_"$a".deb "$work/$a"
  done
}

if [ "$(id -u)" = 0 ] && command -v docker-registry >/dev/null && command -v apt-get >/dev/null; then
  fetch_busybox
  hack/registry.sh start
  go run ./hack/testimages -push "$CTRLAB_REGISTRY_ADDR" \
    -busybox amd64="$work/amd64/bin/busybox" -busybox arm64="$work/arm64/bin/busybox" \
    -busybox arm/v7="$work/armhf/bin/busybox"
  export CTRLAB_TEST_REGISTRY=$CTRLAB_REGISTRY_ADDR
else
  echo "test-env: no root, docker-registry or apt: registry tests will skip" >&2
fi
"$@"
