#!/usr/bin/python3
# Writes the hand-made seeds (seed-*) of the QXL / VDI port fuzzer into
# tests/qtest/fuzz/qxl-corpus/; the other files there, named by their
# SHA-1, are what libFuzzer found, merged with -merge=1 (docs/fuzzing.rst).  The byte layout is what qxl_fuzz.c
# reads: a selector byte of 0 takes the sane value of a field, so a seed is a
# prefix that picks the operation and its kind, followed by bytes below 0xc0
# that keep the generated trees mostly well-formed.
import os
import random

OP_DRAW, OP_SURFACE, OP_UPDATE, OP_MESSAGE, OP_CURSOR = 0, 3, 4, 5, 6
OP_RAW_CMD, OP_IO, OP_RELEASE, OP_DOUBLE_FETCH, OP_MEMWRITE = 8, 9, 11, 12, 13
OP_VDI, OP_WAIT = 14, 16

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qxl-corpus")
os.makedirs(out, exist_ok=True)
rnd = random.Random(8)


def tail(n=400):
    return bytes(rnd.randrange(0xc0) for _ in range(n))


def preamble(flags=0, w=56, h=56):
    # flags, primary width/height (8 + byte), then every field sane
    return bytes([flags, w, h]) + bytes(12)


def seed(name, body):
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(body)


for t in range(15):
    # op, surface id (small, selector), type (small, selector),
    # effect OPAQUE (small, selector), then the tree
    draw = bytes([OP_DRAW, 0, 0, t, 0, 1, 0])
    seed("draw-%02d" % t, preamble() + draw + bytes(64) + tail())
    seed("draw-%02d-random" % t, preamble() + draw + tail())
    seed("draw-%02d-double-fetch" % t, preamble(flags=4) + draw + tail())
seed("surface-create", preamble() + bytes([OP_SURFACE, 0]) + bytes(40) +
     bytes([OP_DRAW, 2, 0, 1, 0, 1, 0]) + tail())
seed("surface-destroy", preamble() + bytes([OP_SURFACE, 0]) + bytes(40) +
     bytes([OP_SURFACE, 0, 0, 0xc0, 0]) + tail())
seed("update", preamble() + bytes([OP_UPDATE]) + bytes(20) + tail())
seed("message", preamble() + bytes([OP_MESSAGE, 0, 16]) + tail())
for t in range(4):
    seed("cursor-%d" % t, preamble() + bytes([OP_CURSOR, t, 0]) + bytes(40) +
         tail())
for port in range(24):
    seed("io-%02d" % port, preamble() + bytes([OP_IO, port]) + bytes(30) +
         tail())
seed("no-primary", preamble(flags=2) + tail())
seed("no-memslots", preamble(flags=1) + tail())
seed("release", preamble() + bytes([OP_DRAW] + [0] * 60) * 40 +
     bytes([OP_RELEASE, 1]) + tail(100))
seed("raw-cmd", preamble() + bytes([OP_DRAW] + [0] * 60) +
     bytes([OP_RAW_CMD, 0, 1, 0xf0, 0]) + tail())
seed("memwrite", preamble() + bytes([OP_MEMWRITE, 1, 0x40, 0, 8]) + tail())
# VDI port: connect, agent messages, raw packets, the output ring.
vdi = bytes([OP_VDI, 0, 0])
seed("vdi-messages", preamble() + vdi + bytes([OP_VDI, 2, 3]) + tail())
seed("vdi-raw", preamble() + vdi + bytes([OP_VDI, 4, 40]) + tail())
seed("vdi-output", preamble() + vdi + bytes([OP_VDI, 2, 0]) + bytes(60) +
     bytes([OP_WAIT, 100, OP_VDI, 5, 0]) + tail())
seed("vdi-reconnect", preamble() + vdi + bytes([OP_VDI, 2, 1]) + bytes(60) +
     vdi + bytes([OP_VDI, 1, 0]) + vdi + tail())
