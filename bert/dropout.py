"""Counter-based dropout: each mask is a pure function of (seed, step, example, site, element).

The masks, exactly:
- example key k = `example_keys(seed, step, slot)`, slot = the example's place in the step's
  global batch (`bert.train.data.StepOrder.dropout_keys`): not its rank or micro-batch;
- site key s = lowbias32(k xor crc32(site name)); sites are the embeddings, each layer's
  attention probabilities, attention output and FFN output, and the classifier;
- word i = lowbias32((i · 0x9E3779B1 mod 2³²) xor s); its low and high 16 bits are the uniforms
  u of elements 2i and 2i + 1 (row-major over the example's part of the tensor);
- element kept when u < T = round((1 − p) · 2¹⁶), kept values scaled by 2¹⁶ / T: the keep
  probability is 1 − p to 1/65536 and E[output] = input exactly.
lowbias32 is C. Wellons' integer hash (bert.counter).

Two places compute the same masks: the host (`host_masks`, numpy) hands them to the model as a
tuple of bool arrays, one per site — the default on CPU, where MindSpore's integer kernels are
scalar loops (bench/bench_pretrain_step.py); or the model computes them in the graph from the
keys (`Dropout.keep`) — for GPU/Ascend, whose integer kernels are cheap. Nothing to save in a
checkpoint but the step. Without masks or keys (evaluation, inference) or outside training
mode a site passes its input through.
"""
from __future__ import annotations

import dataclasses
import math
import zlib

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from bert.counter import GOLDEN, M1, M2, mix32_np


def example_keys(seed: int, step: int, slots) -> np.ndarray:
    """uint32 keys for the examples at `slots` of global step `step` (0-based)."""
    run = mix32_np(mix32_np(seed & 0xFFFFFFFF) ^ np.uint32((seed >> 32) & 0xFFFFFFFF))
    at_step = mix32_np(run ^ mix32_np(step & 0xFFFFFFFF))
    return mix32_np(at_step ^ mix32_np(np.asarray(slots, np.int64).astype(np.uint32)))


def threshold(p: float) -> int:
    return round((1.0 - p) * 2 ** 16)


@dataclasses.dataclass(frozen=True)
class Site:
    name: str
    p: float
    shape: tuple[int, ...]  # one example's part of the tensor


def host_masks(keys: np.ndarray, sites: list[Site]) -> tuple[np.ndarray, ...]:
    """The keep masks (bool [B, *site.shape]) of every site for examples with `keys` [B]."""
    masks = []
    for site in sites:
        n = math.prod(site.shape)
        with np.errstate(over="ignore"):
            words = np.arange((n + 1) // 2, dtype=np.uint32) * np.uint32(GOLDEN)
        site_keys = mix32_np(np.asarray(keys, np.uint32) ^ np.uint32(zlib.crc32(site.name.encode())))
        uniforms = mix32_np(words[None, :] ^ site_keys[:, None]).astype("<u4").view("<u2")
        masks.append((uniforms[:, :n] < threshold(site.p)).reshape((len(keys),) + site.shape))
    return tuple(masks)


class Dropout(nn.Cell):
    """Dropout with probability `p` at the site `name`, whose input is [B, *shape] (None in
    `shape`: the sequence length). construct(x, dropout): `dropout` is the tuple of host masks
    (this site's at `self.index`, set by `number_sites`), the examples' keys [B] uint32, or None."""

    def __init__(self, p: float, name: str, shape: tuple):
        super().__init__()
        self.p, self.name, self.shape = p, name, shape
        self.index = -1
        self.scale = 2.0 ** 16 / threshold(p) if p > 0 else 1.0
        u32 = lambda v: ms.Tensor(v, ms.uint32)  # noqa: E731
        self.threshold, self.site = u32(threshold(p) if p > 0 else 0), u32(zlib.crc32(name.encode()))
        self.m1, self.m2, self.golden, self.low16 = u32(M1), u32(M2), u32(GOLDEN), u32(0xFFFF)
        self.s15, self.s16 = u32(15), u32(16)

    def _mix(self, x):
        x = ops.bitwise_xor(x, ops.bitwise_right_shift(x, self.s16)) * self.m1
        x = ops.bitwise_xor(x, ops.bitwise_right_shift(x, self.s15)) * self.m2
        return ops.bitwise_xor(x, ops.bitwise_right_shift(x, self.s16))

    def keep(self, shape, keys):
        """The keep mask [B, …] of `shape` for `keys` [B], in the graph."""
        n = 1
        for d in shape[1:]:
            n *= d
        half = (n + 1) // 2
        words = ops.arange(half, dtype=ms.int32).astype(ms.uint32) * self.golden
        h = self._mix(ops.bitwise_xor(words.reshape(1, -1), self._mix(ops.bitwise_xor(keys, self.site)).reshape(-1, 1)))
        uniforms = ops.stack([ops.bitwise_and(h, self.low16), ops.bitwise_right_shift(h, self.s16)], -1)
        return (uniforms.reshape(shape[0], 2 * half)[:, :n] < self.threshold).reshape(shape)

    def construct(self, x, dropout=None):
        if self.p == 0 or dropout is None or not self.training:
            return x
        keep = dropout[self.index] if isinstance(dropout, tuple) else self.keep(x.shape, dropout)
        return x * (keep.astype(x.dtype) * self.scale)


def number_sites(model: nn.Cell, seq_len: int) -> list[Site]:
    """The model's dropout sites (p > 0) in a fixed order, each cell told its index: the layout
    of `host_masks` for sequences of `seq_len`."""
    sites = []
    for _, cell in model.cells_and_names():
        if isinstance(cell, Dropout) and cell.p > 0:
            cell.index = len(sites)
            sites.append(Site(cell.name, cell.p, tuple(seq_len if d is None else d for d in cell.shape)))
    return sites


class DropoutInputs:
    """Examples' keys → what the model's `dropout` argument takes: the host masks (`where`
    "host") or the keys themselves ("device"); "auto" is host on CPU, device elsewhere."""

    def __init__(self, model: nn.Cell, seq_len: int, where: str = "auto"):
        if where == "auto":
            where = "host" if ms.get_context("device_target") == "CPU" else "device"
        self.where = where
        self.sites = number_sites(model, seq_len)

    def __call__(self, keys: np.ndarray):
        if not self.sites:
            return None
        if self.where == "device":
            return ms.Tensor(keys)
        # mutable: a graph input whose values change each step (a plain tuple is a compile-time constant)
        return ms.mutable(tuple(ms.from_numpy(m) for m in host_masks(keys, self.sites)))
