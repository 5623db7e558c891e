#!/usr/bin/env python3
"""pf_next.py IN.c OUT.c — bench/bounds.sh's "pf" variant: a unit `rnnc SPEC -o` wrote for
blocked float layers too small for plan.h's pf_next (under 6 MiB of panels a step), given
what tile.c emits for the larger ones: each fused tile of 16 units asks for a line of the
next units' panel into L2 for each row it reads. Timing only: the same code the generator
writes, so that the threshold's cost below 6 MiB can be measured on any shape."""
import re
import sys

src = open(sys.argv[1]).read()
out = []
for part in re.split(r"(?=RNNC_TILE static void )", src):
    if re.match(r"RNNC_TILE static void \w+_t\d+_16\(", part) and \
            "const real *wpx, const real *const *xs)" in part:
        part = part.replace("const real *wpx, const real *const *xs)",
                            "const real *wpx, const real *const *xs, const real *pfx, "
                            "const real *pfh)", 1)
        part = re.sub(r"( *)(const real \*wk = wpx \+ \(long\)k \* 64;\n)",
                      r"\1\2\1RNNC_PREFETCH_L2(pfx + (long)k * 16);\n", part)
        part = re.sub(r"( *)(const real \*wk = wp \+ \(long\)k \* 64;\n)",
                      r"\1\2\1RNNC_PREFETCH_L2(pfh + (long)k * 16);\n", part)
    out.append(part)
src = "".join(out)


def driver(block):
    m = re.search(r"const int u0 = s & 1 \? (\d+) - v : v;\n( *)const real \*wp = wt \+ (\d+) "
                  r"\+ \(long\)u0 \* (\d+); /\* this units' panel \*/\n", block)
    if not m:
        return block
    last, ind, ih_end, hg = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
    ig = int(re.search(r"wt \+ \(long\)u0 \* (\d+), fuse \? xs : 0\)", block).group(1))
    HU, I, Hr = last + 16, ig // 4, hg // 4
    block = block.replace(m.group(0), m.group(0) + (
        "%sconst long un = v + 16 < %d ? (s & 1 ? %d - v : v + 16) : u0;\n"
        "%sconst long na = %d, nb = %d; /* lines of the panel's two parts */\n"
        "%sconst real *pfx0 = wt + un * %d, *pfh0 = wt + %d + un * %d;\n"
        % (ind, HU, HU - 32, ind, ig, hg, ind, ig, ih_end, hg)), 1)
    i = block.index("if (!fuse && s + 1 < T)")
    j = block.rindex("\n", 0, i) + 1
    ind2 = block[j:i]
    block = block[:j] + (
        "%sconst long la = (long)r * na / nt, lb = (long)r * nb / nt;\n"
        "%sconst real *pfx = pfx0 + (la < na - %d ? la : na - %d) * 16;\n"
        "%sconst real *pfh = pfh0 + (lb < nb - %d ? lb : nb - %d) * 16;\n"
        % (ind2, ind2, I, I, ind2, Hr, Hr)) + block[j:]
    return block.replace("fuse ? xs : 0); break;", "fuse ? xs : 0, pfx, pfh); break;")


chunks = re.split(r"(?=    /\* the recurrence: per step)", src)
res = chunks[0] + "".join(driver(c) for c in chunks[1:])
if res == open(sys.argv[1]).read():
    sys.exit("pf_next.py: no fused tiles of 16 units without the prefetch in " + sys.argv[1])
open(sys.argv[2], "w").write(res)
