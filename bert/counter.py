"""Counter-based randomness: uint32 keys in, the same pseudo-random numbers out on any machine, in
any order, for any split of the work — what makes dropout masks (bert.dropout) and dynamic MLM
masks (bert.data.pretraining) pure functions of a run's position instead of a generator's state.
lowbias32 is C. Wellons' integer hash (xorshift-multiply, full avalanche)."""
from __future__ import annotations

import numpy as np

M1, M2, GOLDEN = 0x7FEB352D, 0x846CA68B, 0x9E3779B1  # lowbias32's multipliers; 2³²/φ


def mix32_np(x) -> np.ndarray:
    """lowbias32 of uint32 values (a new array)."""
    x = np.array(x, dtype=np.uint32)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint32(16)
        x *= np.uint32(M1)
        x ^= x >> np.uint32(15)
        x *= np.uint32(M2)
        x ^= x >> np.uint32(16)
    return x


def key(*parts: int) -> np.uint32:
    """One uint32 key from integers of any size (a seed, an epoch, a stream number), chained."""
    out = np.uint32(0)
    for part in parts:
        for word in (part & 0xFFFFFFFF, (part >> 32) & 0xFFFFFFFF):
            out = mix32_np(out ^ mix32_np(np.uint32(word)))
    return out


def words(base: np.uint32, rows, width: int) -> np.ndarray:
    """uint32 [len(rows), width]: element (r, i) = hash of (base, rows[r], i) — rows are any
    integers (e.g. a corpus row index), i the position."""
    row_keys = mix32_np(np.uint32(base) ^ mix32_np(np.asarray(rows, np.int64).astype(np.uint32)))
    with np.errstate(over="ignore"):
        columns = np.arange(width, dtype=np.uint32) * np.uint32(GOLDEN)
    return mix32_np(columns[None, :] ^ row_keys[:, None])


def uniforms(base: np.uint32, rows, width: int) -> np.ndarray:
    """float32 in [0, 1) of `words` (their top 24 bits)."""
    return (words(base, rows, width) >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
