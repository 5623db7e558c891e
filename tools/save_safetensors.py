#!/usr/bin/python3
"""Write a dict of tensors as a .safetensors file using only torch + stdlib.

rnnc reads the .pt files of torch.save(model.state_dict(), path) directly (rnnc run
--weights m.pt), so this converter is needed only to get a safetensors file, or for what
rnnc refuses to read because loading it means running its pickle code:

  - a whole pickled model, torch.save(model): converted here. The classes of your own code
    need not be importable: any class that cannot be found is replaced by a bare nn.Module,
    which is all state_dict() needs. Unpickling runs code from the file: convert only files
    you trust.
  - a TorchScript archive (torch.jit.save): loaded with torch.jit.load, its state_dict kept.
  - a training checkpoint, a dict holding the state_dict under "state_dict", "model" or
    "model_state_dict" (next to an optimizer's state): that state_dict is written.

File layout:
  8 bytes   little-endian u64 N (header length)
  N bytes   compact JSON header, padded with spaces so that (8 + N) % 8 == 0:
            {"__metadata__":{"format":"pt"},
             "name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]},...}
  ...       raw little-endian tensor data, concatenated in header order
            (offsets are relative to the start of this data section)
float16 and bfloat16 tensors are written as F32 (exactly: rnnc reads F32 and F64).

Usage as a command (Debian's python3-torch: /usr/bin/python3):
  tools/save_safetensors.py MODEL.pt OUT.safetensors
From Python: save_file(dict_of_tensors, path).
"""
import json
import pickle
import re
import struct
import sys
import types

import torch

DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.int32: "I32",
    torch.int64: "I64",
}


def _tensor_bytes(t):
    a = t.detach().cpu().contiguous().numpy()
    if sys.byteorder == "big":
        a = a.byteswap()
    return a.tobytes()


def save_file(tensors, path, metadata=None):
    """Write `tensors` (name -> torch.Tensor) to `path` in safetensors format."""
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: not a tensor ({type(t).__name__})")
        if t.dtype not in DTYPES:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hdr += b" " * (-len(hdr) % 8)  # 8 + N is then a multiple of 8
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for data in chunks:
            f.write(data)


def _load_with_stubs(path, **kw):
    """torch.load(path), standing a bare nn.Module in for every class (and a bare module for
    every module) that unpickling cannot find: the classes of the script that saved a whole
    model. The stand-ins are removed again afterwards."""
    added_attrs, added_mods = [], []
    try:
        for _ in range(1000):
            try:
                return torch.load(path, map_location="cpu", **kw)
            except ModuleNotFoundError as e:
                if not e.name or e.name in sys.modules:
                    raise
                parts = e.name.split(".")
                for i in range(1, len(parts) + 1):
                    name = ".".join(parts[:i])
                    if name not in sys.modules:
                        sys.modules[name] = types.ModuleType(name)
                        added_mods.append(name)
            except AttributeError as e:
                m = re.match(r"Can't get attribute '(\w+)' on <module '([^']+)'", str(e))
                if not m or m.group(2) not in sys.modules:
                    raise
                mod = sys.modules[m.group(2)]
                stub = type(m.group(1), (torch.nn.Module,), {"__module__": mod.__name__})
                setattr(mod, m.group(1), stub)
                added_attrs.append((mod, m.group(1)))
        raise ValueError("too many classes that cannot be imported")
    finally:
        for mod, name in added_attrs:
            delattr(mod, name)
        for name in added_mods:
            del sys.modules[name]


def load_state_dict(path):
    """The state_dict in `path`: a state_dict, a whole model, a TorchScript archive or a
    checkpoint holding one. Raises ValueError saying what the file holds otherwise."""
    kw = {}
    if "weights_only" in torch.load.__code__.co_varnames:
        kw["weights_only"] = False  # a whole model is pickled code: the caller trusts it
    obj = _load_with_stubs(path, **kw)
    if isinstance(obj, torch.nn.Module):  # a whole model, or TorchScript
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ValueError(f"expected a state_dict or a model, found {type(obj).__name__}")
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, torch.nn.Module):
                inner = inner.state_dict()
            if isinstance(inner, dict) and all(isinstance(v, torch.Tensor)
                                               for v in inner.values()):
                sys.stderr.write(f"{path}: a checkpoint; writing its '{key}'\n")
                return inner
        raise ValueError("a dict whose values are not all tensors and that holds no "
                         "state_dict under 'state_dict', 'model_state_dict' or 'model' "
                         f"(its keys: {', '.join(map(str, list(obj)[:10]))})")
    return obj


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: save_safetensors.py MODEL.pt OUT.safetensors\n")
        return 2
    try:
        sd = load_state_dict(argv[1])
    except (ValueError, RuntimeError, pickle.UnpicklingError, OSError) as e:
        sys.stderr.write(f"{argv[1]}: {e}\n")
        return 1
    tensors = {k: (v.float() if v.dtype in (torch.float16, torch.bfloat16) else v)
               for k, v in sd.items()}
    try:
        save_file(tensors, argv[2])
    except (TypeError, ValueError, OSError) as e:
        sys.stderr.write(f"{argv[2]}: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
