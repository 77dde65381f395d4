"""make bench: our QEMU and stock QEMU 10.0 side by side (scripts/bench.py).

Modules: common (statistics, alternation, the table), ring (P3, qtest),
vm (P1 idle, P2 frames, P4 boot, memory, migration: real guest and client),
plot (the PNG of the README).
"""
