#!/usr/bin/env python3
"""`perf script` output -> folded stacks (OUT.folded) -> a plain SVG flame graph (OUT), with
no dependencies beyond Python. Frames under a pixel wide are left out.

    perf record -F 2000 -g --call-graph dwarf,16384 -o perf.data target/release/policywatch … check
    perf script -i perf.data > perf.txt
    bench/flamegraph.py perf.txt OUT.svg "title"
"""
import sys, re, html
from collections import defaultdict

def collapse(path):
    stacks = defaultdict(int)
    frames, comm = [], None
    def flush():
        if comm is not None and frames:
            stacks[";".join([comm] + frames[::-1])] += 1
    for line in open(path, errors="replace"):
        if not line.strip():
            flush(); frames, comm = [], None; continue
        if not line.startswith((" ", "\t")):
            comm = line.split()[0]; frames = []; continue
        parts = line.strip().split(None, 1)
        if len(parts) < 2: continue
        sym = re.sub(r"\+0x[0-9a-f]+$", "", parts[1].split(" (")[0])
        sym = re.sub(r"<[^<>]*(<[^<>]*>[^<>]*)*>", "<>", sym)  # drop generic parameters
        frames.append(sym)
    flush()
    return stacks

def build(stacks):
    root = {"n": 0, "c": {}}
    for st, n in stacks.items():
        node = root; node["n"] += n
        for f in st.split(";"):
            node = node["c"].setdefault(f, {"n": 0, "c": {}}); node["n"] += n
    return root

def svg(root, title, width=1600, row=16):
    total = root["n"]; out = []; maxdepth = [0]
    def walk(node, name, x, depth):
        w = node["n"] / total * width
        if w < 1.0: return
        maxdepth[0] = max(maxdepth[0], depth)
        h = abs(hash(name)) % 60
        color = f"rgb({205 + h % 50},{80 + h},{40})"
        label = html.escape(name)
        pct = node["n"] * 100 / total
        keep = max(0, int(w / 7) - 2)
        text = label if len(name) <= keep else html.escape(name[:keep]) + "…"
        out.append((depth, f'<g><title>{label} ({pct:.2f}%)</title><rect x="{x:.1f}" y="@Y{depth}@" width="{w:.1f}" height="{row-1}" fill="{color}"/>'
                    f'<text x="{x+2:.1f}" y="@T{depth}@" font-size="11" font-family="monospace">{text if w > 20 else ""}</text></g>'))
        cx = x
        for cname, child in sorted(node["c"].items()):
            walk(child, cname, cx, depth + 1); cx += child["n"] / total * width
    walk(root, "all", 0, 0)
    height = (maxdepth[0] + 3) * row
    body = []
    for depth, s in out:
        y = height - (depth + 1) * row
        body.append(s.replace(f"@Y{depth}@", str(y)).replace(f"@T{depth}@", str(y + row - 4)))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<text x="4" y="14" font-size="13" font-family="sans-serif">{html.escape(title)}</text>'
            + "".join(body) + "</svg>\n")

stacks = collapse(sys.argv[1])
with open(sys.argv[2] + ".folded", "w") as f:
    for st, n in sorted(stacks.items()):
        f.write(f"{st} {n}\n")
open(sys.argv[2], "w").write(svg(build(stacks), sys.argv[3]))
