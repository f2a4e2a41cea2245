"""Dense, exact GELU and the MLM output layer + cross-entropy, with hand-written backward passes.

The math is autodiff's; the kernels are cheaper ones. Profiled on MindSpore 2.10's CPU kernels
(L4-H256 pretraining step, bench/bench_pretrain_step.py):
- a MatMul with `transpose_a` on a wide operand (autodiff's dW = dY^T·X for a widening layer,
  or the [positions, vocab] decoder) runs at half the others' speed: weight gradients here put
  transpose_a on the narrower operand and transpose the small result;
- BiasAddGrad reads ~0.5 GB/s: bias gradients are a vector-matrix product (ones @ dout);
- the exact GELU's autodiff graph is ~12 elementwise kernels and Erf is slow (~4 ns/element): its
  derivative is written out, with Φ(x) kept from the forward;
- MLM cross-entropy over [positions, vocab] logits: broadcast elementwise ops over 20 M floats
  cost 20–70 ms each, so the loss gradient (softmax − one-hot) · dloss is never formed: the
  per-position factor is applied to the [positions, hidden] operands of the matmuls instead.
Only 2-D inputs; the cells taking parameters get them as arguments (custom-bprop cells own none),
cast by the caller to the compute dtype with an explicit Cast. Under mixed precision (amp O2) that
Cast's backward is what returns float32 gradients to the float32 parameters: MindSpore 2.10's
implicit cast of a float16 cell's parameters does not, in graph mode, when a bprop cell consumes
them (the gradients arrived in float16; tests/test_kernels.py).
"""
from __future__ import annotations

import math

import mindspore as ms
from mindspore import nn, ops

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

_matmul = ops.MatMul()
_matmul_nt = ops.MatMul(transpose_b=True)
_matmul_tn = ops.MatMul(transpose_a=True)
_scatter_add = ops.TensorScatterElements(axis=1, reduction="add")  # functional forms fail inside a bprop


def _t(x):
    return ops.transpose(x, (1, 0))


def _weight_grad(dout, x):
    """dout^T @ x ([out, in]) with transpose_a on the narrower operand only (then the small result
    transposed): transpose_a on the wider one is what makes autodiff's weight gradients slow."""
    if dout.shape[1] <= x.shape[1]:
        return _matmul_tn(dout, x)
    return _t(_matmul_tn(x, dout))


def _column_sums(x):
    """x.sum(0) for 2-D x as ones[1, N] @ x: a third of ReduceSum's time on the CPU."""
    return _matmul(ops.ones_like(x[:, :1]).reshape(1, -1), x).reshape(-1)


class _Linear(nn.Cell):
    """x @ weight^T + bias for x [N, in], weight [out, in] (nn.Dense's layout)."""

    def construct(self, x, weight, bias):
        return ops.bias_add(_matmul_nt(x, weight), bias)

    def bprop(self, x, weight, bias, out, dout):
        dout = dout.astype(x.dtype)  # mixed precision: the gradient may arrive in float32, x in float16
        return _matmul(dout, weight), _weight_grad(dout, x), _column_sums(dout)  # weight, bias: x's dtype (Dense)


class Dense(nn.Dense):
    """nn.Dense (same parameters, names and init) with the backward of `_Linear`; any leading dims."""

    def __init__(self, in_channels: int, out_channels: int, weight_init, bias_init="zeros"):
        super().__init__(in_channels, out_channels, weight_init=weight_init, bias_init=bias_init)
        self.linear = _Linear()

    def construct(self, x):
        y = self.linear(x.reshape(-1, x.shape[-1]), ops.cast(self.weight, x.dtype), ops.cast(self.bias, x.dtype))
        return y.reshape(x.shape[:-1] + (y.shape[-1],))


class _GeluWithCdf(nn.Cell):
    """x → (x·Φ(x), Φ(x)); backward Φ(x) + x·φ(x) from the kept Φ(x) (one Erf per layer, not two)."""

    def construct(self, x):
        cdf = 0.5 * (1.0 + ops.erf(x * _SQRT_HALF))
        return x * cdf, cdf

    def bprop(self, x, out, dout):
        pdf = ops.exp(x * x * -0.5) * _INV_SQRT_2PI
        return ((dout[0].astype(x.dtype) * (out[1] + x * pdf)),)


class GELU(nn.Cell):
    """BERT's exact GELU x·Φ(x), Φ the normal CDF (erf form), with a hand-written backward."""

    def __init__(self):
        super().__init__()
        self.fn = _GeluWithCdf()

    def construct(self, x):
        return self.fn(x)[0]


def output_logits(hidden, table, bias):
    """hidden [N, H] @ table [V, H]^T + bias [V]: the tied MLM decoder."""
    return ops.bias_add(_matmul_nt(hidden, table), bias)


class OutputNLL(nn.Cell):
    """hidden [N, H], table [V, H], bias [V], labels [N] → (nll [N] in float32, argmax id [N], log-probs [N, V]).

    logits = hidden @ table^T + bias; nll = −log softmax(logits)[label]. Differentiate only through
    nll: the backward ignores gradients arriving at the other two outputs (the log-probs are
    returned so that the backward can reuse them).
    """

    def construct(self, hidden, table, bias, labels):
        logits = output_logits(hidden, table, bias).astype(ms.float32)
        log_probs = ops.log_softmax(logits, -1)
        nll = -ops.gather_elements(log_probs, 1, labels.reshape(-1, 1)).reshape(-1)
        return nll, logits.argmax(-1).astype(labels.dtype), log_probs

    def bprop(self, hidden, table, bias, labels, out, dout):
        # in float32 like the forward's softmax (under mixed precision the inputs are float16),
        # each gradient returned in its input's dtype
        dnll = dout[0].reshape(-1, 1).astype(ms.float32)
        h, w = hidden.astype(ms.float32), table.astype(ms.float32)
        # softmax − one-hot, unscaled; the per-position factor dnll goes onto the [N, H] operands
        g = _scatter_add(ops.exp(out[2].astype(ms.float32)), labels.reshape(-1, 1), -ops.ones_like(dnll))
        dhidden = _matmul(g, w) * dnll
        dtable = _weight_grad(g, h * dnll)
        dbias = _matmul(_t(dnll), g).reshape(-1)
        return (dhidden.astype(hidden.dtype), dtable.astype(table.dtype), dbias.astype(bias.dtype),
                ops.zeros_like(labels))
