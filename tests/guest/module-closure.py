#!/usr/bin/python3
"""Copy kernel modules and everything they depend on (from modules.dep).

    module-closure.py MODULES_DIR DEST_DIR MODULE...

MODULES_DIR is an unpacked /lib/modules/<version> with modules.dep (run
depmod -b first); DEST_DIR receives the same layout.  Used by
scripts/build-guest.sh and scripts/build-agent-guest.sh.
"""
import os
import shutil
import sys

mdir, dst, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
deps, byname = {}, {}
for line in open(os.path.join(mdir, "modules.dep")):
    path, rest = line.rstrip("\n").split(":", 1)
    deps[path] = rest.split()
    byname[os.path.basename(path).split(".ko")[0].replace("-", "_")] = path
todo = []
for w in wanted:
    if w not in byname:
        sys.exit("module-closure: module %s not in this kernel" % w)
    todo.append(byname[w])
need = set()
while todo:
    p = todo.pop()
    if p not in need:
        need.add(p)
        todo.extend(deps[p])
for p in sorted(need):
    os.makedirs(os.path.join(dst, os.path.dirname(p)), exist_ok=True)
    shutil.copy(os.path.join(mdir, p), os.path.join(dst, p))
for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
    if os.path.exists(os.path.join(mdir, f)):
        shutil.copy(os.path.join(mdir, f), os.path.join(dst, f))
