"""Counter-based dropout: each mask is a pure function of (seed, step, example, site, element).

The host gives every example of a step a 32-bit key, `example_keys(seed, step, slots)`, from its
slot in the step's global batch (`bert.train.data.StepOrder.slots`), so an example's masks do not
depend on the rank or micro-batch that holds it. A `Dropout` site (the embeddings, each layer's
attention probabilities, attention output and FFN output, the classifier) mixes the keys with a
hash of its name; element i of an example is kept when lowbias32((i·φ) xor site key) <
keep_prob · 2³², and kept values are scaled by 1 / keep_prob: standard dropout's statistics.

lowbias32 is C. Wellons' integer hash (xorshift-multiply, full avalanche). Only uint32 integer
ops: the same masks on CPU, GPU and Ascend, nothing to save in a checkpoint but the step, and on
the CPU cheaper than nn.Dropout (bench/bench_pretrain_step.py). Without keys (evaluation,
inference) or outside training mode a site passes its input through.
"""
from __future__ import annotations

import zlib

import mindspore as ms
import numpy as np
from mindspore import nn, ops

_M1, _M2, _GOLDEN = 0x7FEB352D, 0x846CA68B, 0x9E3779B1  # lowbias32's multipliers; 2³²/φ


def mix32_np(x) -> np.ndarray:
    """lowbias32 over uint32 numpy values (the host side and the reference for tests)."""
    x = np.asarray(x, dtype=np.uint32).copy()
    x ^= x >> np.uint32(16)
    x *= np.uint32(_M1)
    x ^= x >> np.uint32(15)
    x *= np.uint32(_M2)
    x ^= x >> np.uint32(16)
    return x


def example_keys(seed: int, step: int, slots: np.ndarray) -> np.ndarray:
    """uint32 keys [len(slots)] for the examples at `slots` of global step `step` (0-based)."""
    with np.errstate(over="ignore"):
        run = mix32_np(mix32_np(seed & 0xFFFFFFFF) ^ np.uint32((seed >> 32) & 0xFFFFFFFF))
        at_step = mix32_np(run ^ mix32_np(step & 0xFFFFFFFF))
        return mix32_np(at_step ^ mix32_np(np.asarray(slots, np.uint64).astype(np.uint32)))


def site_id(name: str) -> int:
    return zlib.crc32(name.encode())


def _u32(value: int) -> ms.Tensor:
    return ms.Tensor(value, ms.uint32)


class Dropout(nn.Cell):
    """Dropout with probability `p` at the site `name`; construct(x [B, …], keys [B] uint32 or None)."""

    def __init__(self, p: float, name: str):
        super().__init__()
        self.p = p
        self.scale = 1.0 / (1.0 - p)
        self.threshold = _u32(min(int(round((1.0 - p) * 2 ** 32)), 2 ** 32 - 1))
        self.site = _u32(site_id(name))
        self.m1, self.m2, self.golden = _u32(_M1), _u32(_M2), _u32(_GOLDEN)
        self.s15, self.s16 = _u32(15), _u32(16)

    def _mix(self, x):
        x = ops.bitwise_xor(x, ops.bitwise_right_shift(x, self.s16)) * self.m1
        x = ops.bitwise_xor(x, ops.bitwise_right_shift(x, self.s15)) * self.m2
        return ops.bitwise_xor(x, ops.bitwise_right_shift(x, self.s16))

    def keep(self, shape, keys):
        """The keep mask [B, …] of `shape` for `keys` [B]."""
        n = 1
        for d in shape[1:]:
            n *= d
        element = (ops.arange(n, dtype=ms.int32).astype(ms.uint32) * self.golden).reshape((1,) + tuple(shape[1:]))
        site_keys = self._mix(ops.bitwise_xor(keys, self.site)).reshape((-1,) + (1,) * (len(shape) - 1))
        return self._mix(ops.bitwise_xor(element, site_keys)) < self.threshold

    def construct(self, x, keys=None):
        if self.p == 0 or keys is None or not self.training:
            return x
        return ops.select(self.keep(x.shape, keys), x * self.scale, ops.zeros_like(x))
