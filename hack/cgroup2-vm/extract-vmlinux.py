#!/usr/bin/env python3
"""Extract the uncompressed ELF vmlinux from a bzImage (vmlinuz).

Like the kernel's scripts/extract-vmlinux: find the first compressed stream
(xz, zstd-less fallback: gzip) whose payload is an ELF image and write it out.
usage: extract-vmlinux.py VMLINUZ OUT
"""
import lzma
import sys
import zlib

src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()


def try_xz(off):
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    return d.decompress(data[off:])


def try_lzma(off):
    d = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    return d.decompress(data[off:])


def try_gzip(off):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return d.decompress(data[off:])


for magic, fn in ((b"\xfd7zXZ\x00", try_xz), (b"\x1f\x8b\x08", try_gzip), (b"\x5d\x00\x00", try_lzma)):
    off = data.find(magic)
    while off != -1:
        try:
            out = fn(off)
            if out[:4] == b"\x7fELF":
                open(dst, "wb").write(out)
                sys.exit(0)
        except Exception:
            pass
        off = data.find(magic, off + 1)
sys.exit("no ELF image found in " + src)
