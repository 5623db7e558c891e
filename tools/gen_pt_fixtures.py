#!/usr/bin/env python3
"""Generate the PyTorch .pt fixtures of tests/test_pt.c into tests/pt_fixtures/.

For every readable fixture NAME this writes
  NAME.pt                      torch.save(state_dict, ...) of a small model
  NAME.expected.safetensors    the same tensors, contiguous; float16/bfloat16 as float32
                               (exact), which the C reader must reproduce bit for bit
and for the refused ones only NAME.pt:
  whole_module.pt, whole_lstm.pt  torch.save(model): a pickled module, not a state_dict
  legacy.pt                       _use_new_zipfile_serialization=False (pre-1.6 format;
                                  its storage keys are object ids: it changes on every run)
  malicious_os_system.pt          a valid archive whose data.pkl calls os.system
  malicious_eval.pt               a state_dict with a value whose pickle calls builtins.eval

written_by_rnnrt.pt is not made here: tests/test_pt.c writes it with rnnrt_pt_write and
compares it byte for byte (RNNC_PT_REGEN=1 rewrites it). `--verify FILE` checks that
torch.load reads such a file with exactly the tensors the test writes (expected_written).

`--fuzz-seeds` refreshes the seed corpus of tests/fuzz/fuzz_pt.c in tests/fuzz/corpus/pt/:
some of the fixtures whole, and bare data.pkl pickles whose storages 0..3 have the sizes the
fuzz target provides (96, 48, 8 and 0 bytes).

Usage: /usr/bin/python3 tools/gen_pt_fixtures.py [--verify FILE | --fuzz-seeds]
"""
import io
import os
import struct
import sys
import zipfile

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from save_safetensors import save_file  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pt_fixtures")
PWNED = "/tmp/rnnc-pt-pwned"  # what the malicious pickles would create if ever run


class Net(nn.Module):
    """An LSTM and a linear head: the shape of model rnnc compiles."""

    def __init__(self, i=3, h=4, o=2):
        super().__init__()
        self.rnn = nn.LSTM(i, h)
        self.fc = nn.Linear(h, o)


class Seq2(nn.Module):
    """A nested module: keys like encoder.rnn.weight_ih_l0."""

    def __init__(self):
        super().__init__()
        self.encoder = Net(3, 4, 2)
        self.head = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))


class Evil:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch %s')" % PWNED,))


def out(name):
    return os.path.join(OUT_DIR, name)


def write_pair(name, sd, **save_kw):
    """NAME.pt by torch.save and NAME.expected.safetensors; checks torch.load agrees."""
    torch.save(sd, out(name + ".pt"), **save_kw)
    expected = {}
    for k, v in sd.items():
        v = v.detach()
        if v.dtype in (torch.float16, torch.bfloat16):
            v = v.float()
        expected[k] = v.contiguous()
    save_file(expected, out(name + ".expected.safetensors"))
    back = torch.load(out(name + ".pt"))
    assert list(back) == list(expected), name
    for k in back:
        a, b = back[k].detach(), sd[k].detach()
        assert a.dtype == b.dtype and a.shape == b.shape, (name, k)
        assert torch.equal(a.contiguous().view(-1).view(torch.uint8),
                           b.contiguous().view(-1).view(torch.uint8)), (name, k)


def specials(dtype):
    """Values whose bits are easy to get wrong in a conversion to float32."""
    if dtype == torch.float16:
        bits = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE01, 0x0001, 0x03FF,
                0x0400, 0x7BFF, 0x3C00, 0xBC00, 0x3555]
        return torch.tensor(bits, dtype=torch.int32).to(torch.int16).view(torch.float16)
    bits = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0xFFC1, 0x0001, 0x007F,
            0x0080, 0x7F7F, 0x3F80, 0xBF80, 0x3EAB]
    return torch.tensor(bits, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)


def views():
    """A state_dict of views: torch.save writes each whole storage plus offset and strides."""
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3.0
    m = base.view(4, 6)
    big = torch.arange(2 * 3 * 4 * 5, dtype=torch.float64).view(2, 3, 4, 5) / 7.0
    ints = torch.arange(10, dtype=torch.int64) * 1000003 - 5
    return {
        "transposed": m.t(),                   # strides (1, 6)
        "slice": m[1:3, 1::2],                 # offset 7, strides (6, 2)
        "column": m[:, 4],                     # offset 4, stride (6,)
        "row": m[3],                           # offset 18, contiguous
        "expanded": base[:3].expand(2, 3),     # stride (0, 1)
        "permuted": big.permute(3, 1, 0, 2),   # 4-D, float64, all strides shuffled
        "scalar": base[5],                     # 0-dim, offset 5
        "empty": base[:0].view(0, 3),
        "ints": ints[::3],                     # int64, stride 3
        "int32": torch.tensor([[1, -2], [2147483647, -2147483648]], dtype=torch.int32).t(),
    }


def legacy_like_zip(path, pkl):
    """A zip laid out like torch.save's (stored, one top folder) around the pickle `pkl`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("archive/data.pkl", pkl), ("archive/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def generate():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(1234)
    net = Net()
    sd = net.state_dict()
    write_pair("lstm_f32", sd)
    write_pair("lstm_f64", Net().double().state_dict())
    for dt, name in ((torch.float16, "lstm_f16"), (torch.bfloat16, "lstm_bf16")):
        d = Net().to(dt).state_dict()
        d["special"] = specials(dt)
        write_pair(name, d)
    write_pair("views", views())
    write_pair("nested", Seq2().state_dict())
    write_pair("dataparallel", nn.DataParallel(Net()).state_dict())
    write_pair("proto4", Net().state_dict(), pickle_protocol=4)
    # keep_vars=True: nn.Parameter values, pickled through torch._utils._rebuild_parameter
    write_pair("params", {k: v for k, v in Net().state_dict(keep_vars=True).items()})

    torch.save(Net(2, 3, 1), out("whole_module.pt"))
    torch.save(nn.LSTM(2, 3), out("whole_lstm.pt"))
    torch.save(Net(2, 3, 1).state_dict(), out("legacy.pt"), _use_new_zipfile_serialization=False)
    cmd = ("touch " + PWNED).encode()
    pkl = (b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(cmd)) + cmd +
           b"q\x01\x85q\x02Rq\x03.")
    legacy_like_zip(out("malicious_os_system.pt"), pkl)
    torch.save({"w": torch.ones(2), "x": Evil()}, out("malicious_eval.pt"))


def expected_written():
    """The tensors tests/test_pt.c writes into written_by_rnnrt.pt (same formulas)."""
    def f32_bits(bits):
        return torch.tensor(bits, dtype=torch.int64).to(torch.int32).view(torch.float32)

    w = torch.tensor([((i * 37) % 101 - 50) / 8.0 for i in range(24)], dtype=torch.float32)
    fc = torch.tensor([((i * 53) % 97 - 48) / 16.0 / 3.0 for i in range(16)], dtype=torch.float64)
    cube = torch.tensor([i * 0.1 for i in range(24)], dtype=torch.float64)
    return {
        "rnn.weight_ih_l0": w.view(8, 3),
        "rnn.bias_ih_l0": f32_bits([0x00000000, 0x80000000, 0x7F800000, 0xFF800000,
                                    0x7FC00000, 0x00000001, 0x7F7FFFFF, 0xBFC00000]),
        "fc.weight": fc.view(2, 8),
        "step": torch.tensor(1234567890123, dtype=torch.int64),
        "counts": torch.tensor([-1, 0, 2147483647], dtype=torch.int32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
        "cube": cube.view(2, 3, 4, 1),
    }


def verify(path):
    """torch.load(path) must give expected_written() exactly (names, order, dtypes, bits)."""
    want = expected_written()
    loads = [("torch.load", lambda: torch.load(path))]
    if "weights_only" in torch.load.__code__.co_varnames:
        loads.append(("torch.load(weights_only=True)",
                      lambda: torch.load(path, weights_only=True)))
    for how, load in loads:
        got = load()
        if list(got) != list(want):
            sys.exit(f"{path}: {how}: keys {list(got)} != {list(want)}")
        for k, w in want.items():
            g = got[k]
            if g.dtype != w.dtype or g.shape != w.shape:
                sys.exit(f"{path}: {how}: {k}: {g.dtype} {tuple(g.shape)} != "
                         f"{w.dtype} {tuple(w.shape)}")
            if g.numel() and not torch.equal(g.contiguous().view(-1).view(torch.uint8),
                                             w.contiguous().view(-1).view(torch.uint8)):
                sys.exit(f"{path}: {how}: {k}: values differ")
            if not g.is_contiguous():
                sys.exit(f"{path}: {how}: {k}: not contiguous")
        print(f"{path}: {how}: {len(got)} tensors, bit-equal")


def fuzz_seeds():
    seeds = os.path.join(os.path.dirname(OUT_DIR), "fuzz", "corpus", "pt")
    os.makedirs(seeds, exist_ok=True)
    for name in ("lstm_f16", "views", "proto4", "whole_lstm", "malicious_os_system"):
        with open(out(name + ".pt"), "rb") as f, open(os.path.join(seeds, name + ".pt"),
                                                       "wb") as g:
            g.write(f.read())
    f32 = torch.arange(24, dtype=torch.float32)
    f64 = torch.arange(6, dtype=torch.float64)
    f16 = torch.arange(4, dtype=torch.float16)
    e = torch.zeros(0)
    dicts = {
        "pkl_plain": {"a": f32.view(4, 6), "b": f64.view(2, 3)[:, ::2], "c": f16, "d": e},
        "pkl_views": {"t": f32.view(2, 3, 4).permute(2, 0, 1), "s": f64[1:5], "x": f16[1:3],
                      "e": e.view(0, 2), "z": f32[3]},
        "pkl_expand": {"a": f32[:2].expand(3, 2), "b": f64.view(6, 1).expand(6, 4),
                       "c": f16[::2], "d": e},
    }
    for name, d in dicts.items():
        for proto in (2, 4):
            buf = io.BytesIO()
            torch.save(d, buf, pickle_protocol=proto)
            with zipfile.ZipFile(buf) as z:
                pkl = z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])
            with open(os.path.join(seeds, "%s_p%d.pkl" % (name, proto)), "wb") as g:
                g.write(pkl)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        verify(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--fuzz-seeds":
        fuzz_seeds()
    elif len(sys.argv) == 1:
        generate()
    else:
        sys.exit(__doc__)
