#!/usr/bin/env python3
"""Writes the fixed-point tables of templates/quant.c (sigmoid, tanh and exp in Q0.15).

Each table holds f(i / 32) for i = 0..256 (sigmoid, tanh) or exp(-i / 32), rounded to the
nearest multiple of 2^-15 (sigmoid and tanh capped at 32767); the generated code
interpolates linearly between entries. Run from the repository root after changing a
table's definition: python3 tools/gen_qtables.py rewrites the arrays in place (then
clang-format lays them out).
"""
import math
import re
import shutil
import subprocess

PATH = "templates/quant.c"
TABLES = {
    "q_sig_tab": lambda i: min(32767, round(32768 / (1 + math.exp(-i / 32)))),
    "q_tanh_tab": lambda i: min(32767, round(32768 * math.tanh(i / 32))),
    "q_exp_tab": lambda i: round(32768 * math.exp(-i / 32)),
}


def body(fn):
    vals = [fn(i) for i in range(257)]
    lines = []
    for k in range(0, len(vals), 12):
        lines.append("    " + ", ".join("%d" % v for v in vals[k:k + 12]) + ",")
    return "\n".join(lines) + "\n"


def main():
    text = open(PATH).read()
    for name, fn in TABLES.items():
        pat = re.compile(r"(%s\[257\] = \{\n)(.*?)(^\};)" % name, re.S | re.M)
        text, n = pat.subn(lambda m: m.group(1) + body(fn) + m.group(3), text)
        if n != 1:
            raise SystemExit("%s: table %s not found" % (PATH, name))
    open(PATH, "w").write(text)
    if shutil.which("clang-format"):  # the house style's packing of the values
        subprocess.run(["clang-format", "-i", PATH], check=True)


if __name__ == "__main__":
    main()
