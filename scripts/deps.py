#!/usr/bin/env python3
"""The module import graph of a crate's src dir: `python3 scripts/deps.py runtime/src`.

Prints, for each top-level module, the modules it imports (`crate::x`) with the number of
files that do. Items the crate root re-exports from the engine count as imports of
`engine`: `crate::Engine` (and `impl Engine`) and the types of its methods; shown apart
are its settings (`engine-settings`: `EngineConfig`, `StorageDriver`, which a domain may
be handed, as `container::Ctx` is) and its error (`engine-error`: `crate::Error`,
`crate::Result`). Then the edges that run against the layering of ARCHITECTURE.md
(faces > engine > domains > process > bytes), the circles between two modules, and every
file below the engine that names the `Engine`.

Unit-test modules (`#[cfg(test)] mod tests { .. }` at the end of a file) are left out.
`deps.py DIR A B` lists the files behind the edge A -> B.
"""
import collections
import os
import re
import sys

root = sys.argv[1]
tops = [n[:-3] if n.endswith('.rs') else n for n in os.listdir(root) if n not in ('lib.rs', 'main.rs')]
# Crate-root re-exports from the engine module.
ENGINE = {'Engine', 'ImageSummary', 'DiskUsage', 'HostInfo', 'Info'}
SETTINGS = {'EngineConfig', 'StorageDriver'}
ERROR = {'Error', 'Result'}
SUB = {'engine-settings': 'engine', 'engine-error': 'engine'}
LAYERS = {
    'cli': 0,
    'engine': 1,
    'build': 2, 'compose': 2, 'registry': 2, 'container': 2, 'image': 2, 'network': 2, 'volume': 2,
    'settings': 2,
    'shim': 3, 'sandbox': 3, 'snapshot': 3, 'rootfs': 3,
    'layer': 4, 'fsutil': 4, 'digest': 4,
}
edges = collections.defaultdict(lambda: collections.defaultdict(set))
names_engine = collections.defaultdict(set)  # file -> how it names the Engine


def top_of(path):
    rel = os.path.relpath(path, root)
    return rel.split('/')[0].replace('.rs', '')


def brace_items(g):
    """The top-level items of a `{a, b::c, d::{e}}` group."""
    depth, cur, names = 0, '', []
    for ch in g[1:-1]:
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
        if depth == 0 and ch == ',':
            names.append(cur.strip())
            cur = ''
        else:
            cur += ch
    names.append(cur.strip())
    return [re.match(r'[A-Za-z_]+', n).group(0) for n in names if n and re.match(r'[A-Za-z_]+', n)]


for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'):
            continue
        p = os.path.join(dp, f)
        t = top_of(p)
        rel = os.path.relpath(p, root)
        s = open(p).read()
        s = re.sub(r'//[^\n]*', '', s)  # comments (and doc comments) are no imports
        # Unit tests (a `#[cfg(test)] mod` at the end of a file) are no part of the graph.
        m = re.search(r'#\[cfg\(test\)\]\s*mod\s+\w+\s*\{', s)
        if m:
            s = s[:m.start()]
        for m in re.finditer(r'crate::(\{[^;]*?\}|[A-Za-z_]+)', s):
            g = m.group(1)
            names = brace_items(g) if g.startswith('{') else [g]
            for n in names:
                if n in ENGINE:
                    d = 'engine'
                elif n in SETTINGS:
                    d = 'engine-settings'
                elif n in ERROR:
                    d = 'engine-error'
                elif n in tops:
                    d = n
                else:
                    continue
                if d != t and SUB.get(d) != t:
                    edges[t][d].add(rel)
                if n == 'Engine' and t != 'engine':
                    names_engine[rel].add('crate::Engine')
        for m in re.finditer(r'\bimpl\s+(crate::)?Engine\b', s):
            if t != 'engine':
                edges[t]['engine'].add(rel)
                names_engine[rel].add('impl Engine')

for t in sorted(edges):
    print(t, '->', ', '.join(f"{d}({len(v)})" for d, v in sorted(edges[t].items())))

if len(sys.argv) > 3:
    a, b = sys.argv[2], sys.argv[3]
    print(sorted(edges[a][b]))
    sys.exit(0)

print('\nupward edges (against faces > engine > domains > process > bytes):')
up = [(t, d) for t in edges for d in edges[t]
      if LAYERS.get(t) is not None and LAYERS.get(SUB.get(d, d)) is not None
      and LAYERS[SUB.get(d, d)] < LAYERS[t]]
for t, d in sorted(up):
    print(f'  {t} -> {d}: {", ".join(sorted(edges[t][d]))}')
if not up:
    print('  none')

print('\ncircles between two modules:')
circ = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges.get(b, {})})
for a, b in circ:
    print(f'  {a} <-> {b}')
if not circ:
    print('  none')

print('\nfiles below the engine that name the Engine:')
for f in sorted(names_engine):
    print(f'  {f}: {", ".join(sorted(names_engine[f]))}')
if not names_engine:
    print('  none')
