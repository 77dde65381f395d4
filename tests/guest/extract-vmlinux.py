#!/usr/bin/python3
"""Extract the uncompressed ELF vmlinux from a Linux bzImage.

Usage: extract-vmlinux.py BZIMAGE OUT

Looks for a compressed stream (xz, zstd, gzip) in the image, decompresses it
and keeps the first result that is an ELF file.
"""
import gzip
import lzma
import subprocess
import sys
import zlib

MAGICS = [
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x1f\x8b\x08", "gzip"),
]


def try_decompress(data, kind):
    try:
        if kind == "xz":
            return lzma.LZMADecompressor().decompress(data)
        if kind == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
        if kind == "zstd":
            r = subprocess.run(["zstd", "-dc"], input=data, capture_output=True)
            return r.stdout
    except (lzma.LZMAError, zlib.error, OSError):
        return None
    return None


def main():
    image = open(sys.argv[1], "rb").read()
    for magic, kind in MAGICS:
        pos = image.find(magic)
        while pos >= 0:
            out = try_decompress(image[pos:], kind)
            if out and out[:4] == b"\x7fELF":
                open(sys.argv[2], "wb").write(out)
                return 0
            pos = image.find(magic, pos + 1)
    sys.exit("extract-vmlinux: no compressed ELF found in " + sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
