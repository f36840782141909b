#!/usr/bin/env bash
# Run Go tests as root inside a pure cgroup-v2 kernel: Debian's stock kernel
# booted under QEMU (TCG, no KVM needed) with a busybox initramfs. The test
# binaries are built static and shared with the guest over 9p.
#
#   hack/cgroup2-vm/run.sh [go packages...]     (default: ./pkg/cgroup/...)
#
# Environment: CTRLAB_VM_CACHE (default ~/.cache/ctrlab/vm) keeps the kernel
# and initramfs between runs; CTRLAB_VM_TIMEOUT (seconds, default 900);
# CTRLAB_VM_MEM (MiB, default 1024); CTRLAB_VM_CPUS (default 2);
# CTRLAB_VM_TESTFLAGS (extra flags for every test binary, e.g. -test.run=X);
# CTRLAB_VM_SCRIPT (a shell script run in the guest after the tests, from the
# share, with a static ./ctrlab built next to it; its output is printed).
# CTRLAB_VM_ARCH: amd64 (default, qemu-system-x86_64) or arm64 (Debian's
# linux-image-arm64 and busybox-static:arm64 under qemu-system-aarch64 -M virt;
# the arm64 debs come from apt with private lists in the cache, the machine's
# dpkg architectures are not touched; binaries are built with GOARCH=arm64).
# CTRLAB_VM_ENV: names of host environment variables exported into the guest.
# When test/e2e or pkg/grade (the labs' scripts call ctrlab) is among the
# packages, a static ctrlab for the guest is built into the share and
# CTRLAB_E2E_BINARY points the tests at it.
# Exits non-zero if any test binary failed or the VM did not report back.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${CTRLAB_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrlab/vm}
TIMEOUT=${CTRLAB_VM_TIMEOUT:-900}
MEM=${CTRLAB_VM_MEM:-1024}
CPUS=${CTRLAB_VM_CPUS:-2}
ARCH=${CTRLAB_VM_ARCH:-amd64}
case $ARCH in
  amd64) QEMU=qemu-system-x86_64 QEMU_PKG=qemu-system-x86 CONSOLE=ttyS0 ;;
  arm64) QEMU=qemu-system-aarch64 QEMU_PKG=qemu-system-arm CONSOLE=ttyAMA0 ;;
  *) echo "cgroup2-vm: CTRLAB_VM_ARCH=$ARCH: want amd64 or arm64" >&2; exit 2 ;;
esac
MODULES="virtio_pci 9pnet_virtio 9p overlay veth bridge nfnetlink xfrm_user nf_tables nft_chain_nat nft_masq nft_compat ip_tables iptable_nat iptable_filter xt_MASQUERADE xt_conntrack"
start=$(date +%s.%N)
log() { printf 'cgroup2-vm: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# 1. Host tools (a fresh machine gets them from apt).
missing=()
command -v $QEMU >/dev/null || missing+=($QEMU_PKG)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v depmod >/dev/null || [ -x /sbin/depmod ] || missing+=(kmod)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ldd /bin/busybox >/dev/null 2>&1; then
  log "/bin/busybox is dynamically linked: install busybox-static"; exit 1
fi
DEPMOD=$(command -v depmod || echo /sbin/depmod)

# 2. Debian's stock kernel, downloaded (not installed) into the cache.
mkdir -p "$CACHE/debs"
cd "$CACHE/debs"
APT=(apt-get)
if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
  # Foreign debs without `dpkg --add-architecture`: apt with its own lists
  # and cache for that one architecture, kept under $CACHE/apt-$ARCH.
  A=$CACHE/apt-$ARCH
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
  APT=(apt-get -o "APT::Architecture=$ARCH" -o APT::Sandbox::User=root -o "APT::Architectures::=$ARCH"
       -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache")
  if ! ls "$A/lists/"*_Packages* >/dev/null 2>&1; then
    log "apt-get update for $ARCH (private lists in $A)"
    as_root "${APT[@]}" update -qq
  fi
fi
chmod 0777 . 2>/dev/null || true   # apt-get download drops to the _apt user
apt_download() { "${APT[@]}" download "$@" >/dev/null 2>&1 || { as_root "${APT[@]}" update -qq; "${APT[@]}" download "$@" >/dev/null; }; }
if ! ls linux-image-"$ARCH"_*.deb >/dev/null 2>&1; then
  log "downloading linux-image-$ARCH"
  apt_download "linux-image-$ARCH"
fi
meta=$(ls linux-image-"$ARCH"_*.deb | sort -V | tail -1)
kpkg=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*' | head -1)
KV=${kpkg#linux-image-}
if ! ls "${kpkg}"_*.deb >/dev/null 2>&1; then
  log "downloading $kpkg"
  apt_download "$kpkg"
fi
BUSYBOX=/bin/busybox
if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
  if ! ls busybox-static_*_"$ARCH".deb >/dev/null 2>&1; then
    log "downloading busybox-static:$ARCH"
    apt_download busybox-static
  fi
  BUSYBOX=$CACHE/busybox-$ARCH/bin/busybox
  if [ ! -x "$BUSYBOX" ]; then
    rm -rf "$CACHE/busybox-$ARCH"
    dpkg-deb -x "$(ls busybox-static_*_"$ARCH".deb | sort -V | tail -1)" "$CACHE/busybox-$ARCH"
  fi
fi
KROOT=$CACHE/kernel-$KV
if [ ! -f "$KROOT/.done" ]; then
  log "extracting $kpkg"
  rm -rf "$KROOT"; mkdir -p "$KROOT"
  dpkg-deb -x "$(ls "${kpkg}"_*.deb | head -1)" "$KROOT"
  "$DEPMOD" -b "$KROOT" "$KV"   # the deb ships no modules.dep
  touch "$KROOT/.done"
fi
KERNEL=$KROOT/boot/vmlinuz-$KV
if [ "$ARCH" = arm64 ]; then
  # arm64's vmlinuz is the raw Image (Debian 12), or a gzipped one: qemu
  # -kernel wants the Image.
  if [ "$(head -c2 "$KERNEL" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
    [ -f "$KROOT/Image" ] || { zcat "$KERNEL" >"$KROOT/Image.tmp" && mv "$KROOT/Image.tmp" "$KROOT/Image"; }
    KERNEL=$KROOT/Image
  fi
elif [ ! -f "$KROOT/vmlinux" ] && command -v python3 >/dev/null; then
  # Boot the uncompressed ELF via PVH: about twice as fast as vmlinuz.
  python3 "$HERE/extract-vmlinux.py" "$KERNEL" "$KROOT/vmlinux.tmp" && mv "$KROOT/vmlinux.tmp" "$KROOT/vmlinux" || log "could not extract vmlinux; booting vmlinuz"
fi
[ "$ARCH" = amd64 ] && [ -f "$KROOT/vmlinux" ] && KERNEL=$KROOT/vmlinux

# 3. A busybox initramfs with the modules the tests need.
sum=$( (cat "$HERE/init"; echo "$MODULES"; sha256sum "$BUSYBOX") | sha256sum | cut -c1-12)
INITRD=$CACHE/initrd-$KV-$sum.cpio.gz
if [ ! -f "$INITRD" ]; then
  log "building initramfs"
  R=$(mktemp -d "$CACHE/initramfs.XXXXXX")
  mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt/host,etc,root,lib/modules/$KV}
  cp "$BUSYBOX" "$R/bin/busybox"
  # The applet list: from the guest's busybox if it runs here (natively or
  # via qemu-user), else from the host's (same Debian version).
  applets=$("$BUSYBOX" --list 2>/dev/null || true)
  [ -n "$applets" ] || [ "$ARCH" != arm64 ] || applets=$(qemu-aarch64-static "$BUSYBOX" --list 2>/dev/null || true)
  [ -n "$applets" ] || applets=$(/bin/busybox --list)
  for a in $applets; do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
  MD=$KROOT/lib/modules/$KV
  for m in $MODULES; do
    line=$(grep -E "/$m\.ko(\.[a-z]+)?:" "$MD/modules.dep" || true)
    [ -n "$line" ] || continue   # built in, or not in this kernel
    for f in ${line%%:*} ${line#*:}; do
      mkdir -p "$R/lib/modules/$KV/$(dirname "$f")"; cp "$MD/$f" "$R/lib/modules/$KV/$f"
    done
  done
  cp "$MD"/modules.{dep,alias,builtin,order,symbols} "$R/lib/modules/$KV/" 2>/dev/null || true
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$R/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
  cp "$HERE/init" "$R/init"; chmod +x "$R/init"
  (cd "$R" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"; rm -rf "$R"
fi

# 4. Static test binaries (and their testdata) into a fresh 9p share.
SHARE=$(mktemp -d "$CACHE/share.XXXXXX")
chmod 0755 "$SHARE"   # tests re-exec themselves as uid 65534 too
trap 'rm -rf "$SHARE"' EXIT
[ $# -gt 0 ] || set -- ./pkg/cgroup/...
cd "$REPO"
mapfile -t pkgs < <(go list "$@")
export GOARCH=$ARCH CGO_ENABLED=0
need_ctrlab=0
[ -z "${CTRLAB_VM_SCRIPT:-}" ] || need_ctrlab=1
for p in "${pkgs[@]}"; do case $p in */test/e2e | */pkg/grade) need_ctrlab=1 ;; esac; done
{
  # Selected host environment, single-quoted for the guest's sh.
  for v in ${CTRLAB_VM_ENV:-}; do
    [ -n "${!v+x}" ] || continue
    val=${!v}; printf "export %s='%s'\n" "$v" "${val//\'/\'\\\'\'}"
  done
  [ $need_ctrlab = 0 ] || echo 'export CTRLAB_E2E_BINARY=/mnt/host/ctrlab'
  echo 'echo "ctrlab-vm: $(uname -m), $(nproc) cpus"'
  echo 'cd /mnt/host'
  echo 'for d in t*/; do d=${d%/}; [ -x "$d/pkg.test" ] || continue'
  echo '  echo "=== $(cat $d/name)"'
  echo '  (cd "$d" && ./pkg.test -test.v -test.count=1 -test.timeout=10m '"${CTRLAB_VM_TESTFLAGS:-}"' >out.txt 2>&1; echo $? >rc)'
  echo '  echo "=== $(cat $d/name): exit $(cat $d/rc)"'
  echo 'done'
  echo '[ -f extra.sh ] && { echo "=== extra script"; (PATH=/mnt/host:$PATH sh extra.sh >extra.out 2>&1; echo $? >extra.rc); }'
  echo 'echo done >/mnt/host/finished'
} >"$SHARE/guest.sh"
i=0
for p in "${pkgs[@]}"; do
  i=$((i + 1)); d=$SHARE/t$(printf %03d $i)
  mkdir -p "$d"; echo "$p" >"$d/name"
  go test -c -o "$d/pkg.test" "$p" >/dev/null
  if [ ! -f "$d/pkg.test" ]; then rm -rf "$d"; continue; fi   # no test files
  dir=$(go list -f '{{.Dir}}' "$p")
  [ -d "$dir/testdata" ] && cp -r "$dir/testdata" "$d/"
done
[ -z "${CTRLAB_VM_SCRIPT:-}" ] || cp "$CTRLAB_VM_SCRIPT" "$SHARE/extra.sh"
[ $need_ctrlab = 0 ] || go build -o "$SHARE/ctrlab" ./cmd/ctrlab
built=$(date +%s.%N)

# 5. Boot, run, power off.
MACHINE=()
if [ "$ARCH" = arm64 ]; then
  MACHINE=(-M virt -cpu "${CTRLAB_VM_CPU:-max}")
elif [ -f /usr/share/qemu/qboot.rom ]; then
  MACHINE=(-bios /usr/share/qemu/qboot.rom)
fi
log "booting $KV under $QEMU TCG ($CPUS cpus, ${MEM} MiB) for ${#pkgs[@]} package(s)"
set +e
timeout "$TIMEOUT" "$QEMU" -accel tcg -smp "$CPUS" -m "$MEM" "${MACHINE[@]}" \
  -nographic -serial stdio -monitor none -no-reboot \
  -kernel "$KERNEL" -initrd "$INITRD" -append "console=$CONSOLE quiet panic=-1" \
  -virtfs "local,path=$SHARE,mount_tag=host0,security_model=none,id=host0" \
  </dev/null >"$SHARE/console.log" 2>&1
qrc=$?
set -e
end=$(date +%s.%N)

# 6. Report.
fail=0
for d in "$SHARE"/t*/; do
  [ -f "$d/pkg.test" ] || continue
  name=$(cat "$d/name")
  echo "=== $name (in the cgroup-v2 VM, $ARCH)"
  cat "$d/out.txt" 2>/dev/null || echo "(no output)"
  rc=$(cat "$d/rc" 2>/dev/null || echo missing)
  if [ "$rc" != 0 ]; then echo "--- FAIL: $name (exit $rc)"; fail=1; fi
done
if [ -f "$SHARE/extra.sh" ]; then
  echo "=== extra script (exit $(cat "$SHARE/extra.rc" 2>/dev/null || echo missing))"; cat "$SHARE/extra.out" 2>/dev/null
fi
if [ ! -f "$SHARE/finished" ]; then
  echo "--- the VM did not finish (qemu exit $qrc); console:"; cat "$SHARE/console.log"; fail=1
fi
awk -v s="$start" -v b="$built" -v e="$end" 'BEGIN { printf "cgroup2-vm: build %.1fs, boot+tests %.1fs, total %.1fs\n", b-s, e-b, e-s }' >&2
exit $fail
