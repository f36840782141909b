#!/usr/bin/env bash
# Registers (or removes) qemu-user binfmt_misc handlers for arm64 and arm so
# that foreign binaries run directly: the test binaries re-exec themselves
# through /proc/self/exe, and `ctrlab run` of an arm64 image execs arm64
# busybox. Uses Debian's qemu-user-static entries WITH the P flag (without
# it busybox loses argv[0]). Only entries named ctrlab-* are touched.
#   hack/binfmt.sh register | unregister
set -euo pipefail
D=/proc/sys/fs/binfmt_misc
mounted=0
if [ ! -e $D/register ]; then
  mount -t binfmt_misc binfmt_misc $D
  mounted=1
fi
case "${1:-}" in
register)
  if [ ! -e $D/ctrlab-aarch64 ] && [ ! -e $D/qemu-aarch64 ]; then
    printf '%s' ':ctrlab-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF' >$D/register
  fi
  if [ ! -e $D/ctrlab-arm ] && [ ! -e $D/qemu-arm ]; then
    printf '%s' ':ctrlab-arm:M::\x7f\x45\x4c\x46\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/libexec/qemu-binfmt/arm-binfmt-P:OPF' >$D/register
  fi
  ;;
unregister)
  for e in ctrlab-aarch64 ctrlab-arm; do [ -e $D/$e ] && echo -1 >$D/$e; done
  [ $mounted = 1 ] && umount $D || true
  ;;
*) echo "usage: $0 register|unregister" >&2; exit 2 ;;
esac
