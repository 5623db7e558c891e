#!/usr/bin/env python3
"""Write a dict of tensors as a .safetensors file using only torch + stdlib.

File layout:
  8 bytes   little-endian u64 N (header length)
  N bytes   compact JSON header, padded with spaces so that (8 + N) % 8 == 0:
            {"__metadata__":{"format":"pt"},
             "name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]},...}
  ...       raw little-endian tensor data, concatenated in header order
            (offsets are relative to the start of this data section)

Usage as a CLI:
  python3 tools/save_safetensors.py MODEL.pt OUT.safetensors
where MODEL.pt is a torch.save'd state_dict or nn.Module.
"""
import json
import struct
import sys

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


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: save_safetensors.py MODEL.pt OUT.safetensors\n")
        return 2
    obj = torch.load(argv[1], map_location="cpu")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        sys.stderr.write(f"{argv[1]}: expected a state_dict or nn.Module\n")
        return 1
    save_file(dict(obj), argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
