"""The hand-written backward passes of bert/kernels.py give autodiff's gradients, layer by layer and
for the whole pretraining loss, in graph mode and PyNative."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

from bert.config import BertConfig
from bert.kernels import GELU, Dense, OutputNLL
from bert.model import BertForPreTraining
from bert.train.loss import PretrainingLoss, token_nll

RNG = np.random.default_rng(0)


def tensor(*shape, scale=1.0):
    return ms.Tensor((RNG.standard_normal(shape) * scale).astype(np.float32))


class Fn(nn.Cell):
    """A function of tensors as a Cell (MindSpore's graph mode parses no inline lambdas)."""

    def __init__(self, fn, layer=None):
        super().__init__()
        self.fn, self.layer = fn, layer or nn.Identity()

    def construct(self, *xs):
        return self.fn(self.layer, *xs)


class Probed(nn.Cell):
    def __init__(self, fn, probe):
        super().__init__()
        self.fn, self.probe = fn, probe

    def construct(self, *xs):
        return (self.fn(*xs) * self.probe).sum()


def grads(fn, inputs, mode):
    """Gradients of sum(fn(*inputs) * fixed random weights) w.r.t. every input."""
    probe = ms.Tensor(np.random.default_rng(1).standard_normal(fn(*inputs).shape).astype(np.float32))
    grad = ms.grad(Probed(fn, probe), grad_position=tuple(range(len(inputs))))
    return [g.asnumpy() for g in (ms.jit(grad) if mode == "graph" else grad)(*inputs)]


def linear_of(layer, x, w, b):
    return layer.linear(x.reshape(-1, w.shape[1]), w, b)


def plain_linear(_, x, w, b):
    return ops.bias_add(ops.matmul(x.reshape(-1, w.shape[1]), ops.transpose(w, (1, 0))), b)


def erf_gelu(_, v):
    return v * 0.5 * (1.0 + ops.erf(v / np.sqrt(2.0)))


def logits_of(h, t, b):
    return ops.bias_add(ops.matmul(h, ops.transpose(t, (1, 0))), b)


def fused_nll(layer, h, t, b, labels):
    return layer(h, t, b, labels)[0]


def plain_nll(_, h, t, b, labels):
    return token_nll(logits_of(h, t, b), labels)


def assert_close(ours, reference, tolerance):
    for a, b in zip(ours, reference, strict=True):
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= tolerance * max(1.0, np.abs(b).max()), np.abs(a - b).max()


@pytest.mark.parametrize("mode", ["graph", "pynative"])
@pytest.mark.parametrize("n_in, n_out", [(24, 40), (40, 24)])  # both branches of the weight gradient
def test_dense_gradients_equal_nn_dense(n_in, n_out, mode):
    ours = Dense(n_in, n_out, weight_init="normal", bias_init="normal")
    reference = nn.Dense(n_in, n_out)
    reference.weight.set_data(ours.weight.value())
    reference.bias.set_data(ours.bias.value())
    x = tensor(3, 5, n_in)
    assert_close([ours(x).asnumpy()], [reference(x).asnumpy()], 1e-6)
    args = (x, ours.weight.value(), ours.bias.value())
    assert_close(grads(Fn(linear_of, ours), args, mode), grads(Fn(plain_linear), args, mode), 1e-5)


@pytest.mark.parametrize("mode", ["graph", "pynative"])
def test_gelu_is_the_exact_erf_gelu_with_its_derivative(mode):
    x = tensor(64, 48, scale=3.0)
    expected = ops.gelu(x, approximate="none").asnumpy()
    assert np.abs(GELU()(x).asnumpy() - expected).max() < 1e-6
    assert_close(grads(GELU(), (x,), mode), grads(Fn(erf_gelu), (x,), mode), 1e-5)


@pytest.mark.parametrize("mode", ["graph", "pynative"])
def test_output_nll_equals_cross_entropy_of_the_logits_with_its_gradients(mode):
    n, hidden, vocab = 12, 16, 50
    h, table, bias = tensor(n, hidden), tensor(vocab, hidden), tensor(vocab, scale=0.1)
    labels = ms.Tensor(RNG.integers(0, vocab, n).astype(np.int32))
    nll, predicted, _ = OutputNLL()(h, table, bias, labels)
    expected = token_nll(logits_of(h, table, bias), labels).asnumpy()
    assert np.abs(nll.asnumpy() - expected).max() < 1e-5
    np.testing.assert_array_equal(predicted.asnumpy(), logits_of(h, table, bias).asnumpy().argmax(-1))
    args = (h, table, bias, labels)
    ours, reference = grads(Fn(fused_nll, OutputNLL()), args, mode), grads(Fn(plain_nll), args, mode)
    assert_close(ours[:3], reference[:3], 1e-5)


class LogitsPathLoss(nn.Cell):
    """The pretraining loss computed the plain way: full MLM logits from the model, autodiff everywhere."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model

    def construct(self, input_ids, segment_ids, input_mask, positions, mlm_ids, mlm_weights, nsp_labels, mlm_den,
                  nsp_den):
        mlm_logits, nsp_logits = self.model(input_ids, segment_ids, input_mask, positions)
        mlm = (token_nll(mlm_logits.reshape(-1, mlm_logits.shape[-1]), mlm_ids.reshape(-1))
               * mlm_weights.reshape(-1)).sum()
        return mlm / mlm_den + token_nll(nsp_logits, nsp_labels.reshape(-1)).sum() / nsp_den


def test_pretraining_loss_and_gradients_equal_the_plain_logits_path():
    config = BertConfig.from_name("tiny", vocab_size=120, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForPreTraining(config)
    batch, seq, preds = 4, 16, 3
    weights = np.ones((batch, preds), np.float32)
    weights[1, 2] = 0.0  # a padded prediction slot
    cols = (RNG.integers(5, 120, (batch, seq)), np.zeros((batch, seq)), np.ones((batch, seq)),  # ids, segments, mask
            RNG.integers(1, seq, (batch, preds)), RNG.integers(5, 120, (batch, preds)))
    inputs = [ms.Tensor(c.astype(np.int32)) for c in cols] + [
        ms.Tensor(weights), ms.Tensor(RNG.integers(0, 2, (batch, 1)).astype(np.int32)),
        ms.Tensor(weights.sum(), ms.float32), ms.Tensor(float(batch), ms.float32)]
    params = model.trainable_params()
    ours = ms.jit(ms.value_and_grad(PretrainingLoss(model), None, params, has_aux=True))(*inputs)
    plain = ms.jit(ms.value_and_grad(LogitsPathLoss(model), None, params))(*inputs)
    assert abs(float(ours[0][0].asnumpy()) - float(plain[0].asnumpy())) < 1e-5
    for p, a, b in zip(params, ours[1], plain[1], strict=True):
        assert np.abs(a.asnumpy() - b.asnumpy()).max() < 1e-6 + 1e-5 * np.abs(b.asnumpy()).max(), p.name


@pytest.mark.slow  # trains for more than a few seconds
@pytest.mark.parametrize("compiled", [True, False])
def test_mixed_precision_o2_gradients_are_finite_and_close_to_float32(compiled):
    """The GPU/Ascend path as far as a CPU runs it: under mixed precision the layers get float16 inputs,
    each hand-written backward must hand back gradients of its inputs' dtype, and the float32
    parameters float32 gradients."""
    from bert.device_settings import mixed_precision

    config = BertConfig.from_name("tiny", vocab_size=120, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    batch, seq, preds = 4, 16, 3
    cols = (RNG.integers(5, 120, (batch, seq)), np.zeros((batch, seq)), np.ones((batch, seq)),  # ids, segments, mask
            RNG.integers(1, seq, (batch, preds)), RNG.integers(5, 120, (batch, preds)))
    inputs = [ms.Tensor(c.astype(np.int32)) for c in cols] + [
        ms.Tensor(np.ones((batch, preds), np.float32)), ms.Tensor(RNG.integers(0, 2, (batch, 1)).astype(np.int32)),
        ms.Tensor(float(batch * preds), ms.float32), ms.Tensor(float(batch), ms.float32)]
    results = []
    for mixed in (False, True):
        ms.set_seed(3)
        model = BertForPreTraining(config)
        if mixed:
            mixed_precision(model, "fp16")
        params = model.trainable_params()
        grad_fn = ms.value_and_grad(PretrainingLoss(model), None, params, has_aux=True)
        (loss, _), grads = (ms.jit(grad_fn) if compiled else grad_fn)(*inputs)  # PyNative: float32 douts arrive
        assert all(g.dtype == p.dtype == ms.float32 for p, g in zip(params, grads))  # float16 ones broke global_norm
        results.append((float(loss.asnumpy()), [g.astype(ms.float32).asnumpy() for g in grads]))
    (loss32, grads32), (loss16, grads16) = results
    assert abs(loss16 - loss32) < 2e-2 * abs(loss32)
    for a, b in zip(grads16, grads32, strict=True):
        assert np.isfinite(a).all()
        assert np.abs(a - b).max() <= 2e-2 * max(np.abs(b).max(), 1e-3)
