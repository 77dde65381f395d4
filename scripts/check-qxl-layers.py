#!/usr/bin/python3
"""Check that the QXL device's files call each other one way only.

The layers are the file map at the top of hw/display/qxl.h: rows of file
names separated by lines of dashes, the top layer first.  A file may call
functions of files in its own row or in rows below it, never above, and
no two files may call each other (directly or in a cycle).  Every
hw/display/qxl*.c must be in the map.

Usage: scripts/check-qxl-layers.py [SOURCE_DIR]    (default: hw/display)
Prints each violation and exits 1 if there is one.
"""
import collections
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def read_layers(header):
    """[[file, ...], ...] from the file map comment, top row first."""
    rows, row, in_map = [], [], False
    for line in open(header):
        if not line.startswith(" *"):
            if in_map:
                break
            continue
        text = line[2:].strip()
        m = re.match(r"(qxl[\w-]*\.c)\s", text + " ")
        if m:
            in_map = True
            row.append(m.group(1))
        elif in_map and re.fullmatch(r"-{10,}", text):
            rows.append(row)
            row = []
        elif in_map and not text:
            break
    if row:
        rows.append(row)
    return rows


def definitions(path):
    """Names of the functions and objects @path exports."""
    src = open(path).read()
    names = set()
    # A definition starts at column 0 and is not static.
    for m in re.finditer(r"^(?!static\b)(?:const\s+)?[A-Za-z_][\w\s\*]*?"
                         r"\b([a-z_]\w*)\s*(\(|=\s*\{)", src, re.M):
        names.add(m.group(1))
    return names


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def main():
    srcdir = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(HERE, "..", "hw", "display")
    rows = read_layers(os.path.join(srcdir, "qxl.h"))
    level = {f: i for i, row in enumerate(rows) for f in row}
    files = sorted(f for f in os.listdir(srcdir)
                   if re.fullmatch(r"qxl[\w-]*\.c", f))
    errors = []
    for f in files:
        if f not in level:
            errors.append("%s is not in qxl.h's file map" % f)
    for f in level:
        if f not in files:
            errors.append("qxl.h's file map names %s, which does not exist" % f)

    owner = {}
    for f in files:
        for name in definitions(os.path.join(srcdir, f)):
            owner[name] = f
    calls = collections.defaultdict(set)
    for f in files:
        src = strip_comments(open(os.path.join(srcdir, f)).read())
        for word in set(re.findall(r"\b[a-z_]\w*\b", src)):
            callee = owner.get(word)
            if callee and callee != f:
                calls[f].add((callee, word))

    for f in files:
        for callee, name in sorted(calls[f]):
            if f in level and callee in level and level[callee] < level[f]:
                errors.append("%s (row %d) uses %s() of %s, a layer above "
                              "(row %d)" % (f, level[f] + 1, name, callee,
                                            level[callee] + 1))

    # No cycles, within a row either.
    graph = {f: {c for c, _ in calls[f]} for f in files}
    state = {}

    def visit(f, path):
        state[f] = 1
        for c in sorted(graph[f]):
            if state.get(c) == 1:
                cycle = path[path.index(c):] + [c]
                errors.append("cycle: " + " -> ".join(cycle))
            elif c not in state:
                visit(c, path + [c])
        state[f] = 2

    for f in files:
        if f not in state:
            visit(f, [f])

    for e in errors:
        print("check-qxl-layers: " + e)
    if not errors:
        print("check-qxl-layers: %d files in %d layers, every call goes down"
              % (len(files), len(rows)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
