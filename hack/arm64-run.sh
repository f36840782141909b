#!/usr/bin/env bash
# Runs the arm64 `ctrlab run` e2e test (TestRunArm64) under qemu-user:
# registers binfmt_misc for aarch64 (with the P flag), fetches Debian's
# busybox-static:arm64 into a temp dir (adding the arm64 dpkg architecture
# only for the download), runs the test, and undoes all of it.
set -u
cd "$(dirname "$0")/.."
work=$(mktemp -d)
added=0
cleanup() {
  hack/binfmt.sh unregister || true
  [ $added = 1 ] && dpkg --remove-architecture arm64 || true
  rm -rf "$work"
}
trap cleanup EXIT
hack/binfmt.sh register
if [ -z "${CTRLAB_TEST_BUSYBOX_ARM64:-}" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64 && [ "$(dpkg --print-architecture)" != arm64 ]; then
    dpkg --add-architecture arm64 && added=1
  fi
  apt-get update -qq >/dev/null 2>&1 || echo "arm64-run: apt-get update reported errors; trying the download anyway" >&2
  (cd "$work" && chmod 777 . && apt-get download -qq busybox-static:arm64) || { echo "arm64-run: cannot download busybox-static:arm64" >&2; exit 1; }
  dpkg-deb -x "$work"/busybox-static_*_arm64.deb "$work/x"
  export CTRLAB_TEST_BUSYBOX_ARM64="$work/x/bin/busybox"
fi
start=$(date +%s)
${GO:-go} test -count=1 -v -timeout 20m -run 'TestRunArm64' ./test/e2e/
rc=$?
echo "arm64-run: $(( $(date +%s) - start )) s"
exit $rc
