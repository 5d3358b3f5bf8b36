"""Reader/writer of tinylm golden files (tests/goldens/*.bin).

Layout (little-endian): b"TLMG", u32 version=1, u32 count, then per entry:
u32 name_len, name (utf-8), u8 dtype (0=f32, 1=i32), u32 ndim, i64 dims[ndim], data.
The C++ reader is tests/golden_file.cc.
"""
import struct

import numpy as np


def write(path, entries):
    with open(path, "wb") as f:
        f.write(b"TLMG")
        f.write(struct.pack("<II", 1, len(entries)))
        for name, arr in entries.items():
            arr = np.ascontiguousarray(arr)
            if arr.dtype.kind == "f":
                arr, code = arr.astype("<f4"), 0
            else:
                arr, code = arr.astype("<i4"), 1
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb)
            f.write(struct.pack("<BI", code, arr.ndim))
            f.write(struct.pack("<%dq" % arr.ndim, *arr.shape))
            f.write(arr.tobytes())
