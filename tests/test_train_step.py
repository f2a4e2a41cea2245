"""Optimizer, learning rate and the loss-scale logic of the train step, in process."""
import mindspore as ms
import numpy as np
import pytest

from bert.config import BertConfig
from bert.model import BertForPreTraining
from bert.train.optim import WarmupPolynomialDecayLR, build_optimizer, no_decay
from bert.train.config import OptimConfig
from bert.train.loss import PretrainingLoss
from bert.train.step import TrainStep, make_loss_scaler


def test_lr_warms_up_linearly_then_decays_polynomially_to_the_end_lr():
    cfg = OptimConfig(learning_rate=1e-3, end_learning_rate=1e-5, warmup_steps=10, power=2.0)
    schedule = WarmupPolynomialDecayLR(cfg, total_steps=100)
    lr = {s: float(schedule(ms.Tensor(s, ms.int32)).asnumpy()) for s in (0, 5, 10, 50, 100, 150)}
    decay = lambda s: (1e-3 - 1e-5) * (1 - s / 100) ** 2 + 1e-5  # noqa: E731
    assert lr[0] == 0 and lr[5] == pytest.approx(5e-4, rel=1e-5)
    for s in (10, 50, 100):
        assert lr[s] == pytest.approx(decay(s), rel=1e-5)
    assert lr[150] == pytest.approx(1e-5, rel=1e-5)  # held at the end value


@pytest.mark.parametrize("name, cls", [("adamw", ms.nn.AdamWeightDecay), ("lamb", ms.nn.Lamb)])
def test_optimizers_are_mindsporess_with_no_decay_on_layernorm_and_bias(name, cls):
    model = BertForPreTraining(BertConfig.from_name("tiny", vocab_size=100))
    optimizer = build_optimizer(model.trainable_params(), OptimConfig(optimizer=name, weight_decay=0.01), 100)
    assert isinstance(optimizer, cls)
    decays = {p.name: float(wd.asnumpy()) for p, wd in zip(optimizer.parameters, optimizer.weight_decay)}
    assert no_decay("bert.encoder.layer.0.output.LayerNorm.gamma") and no_decay("cls.predictions.bias")
    assert not no_decay("bert.encoder.layer.0.output.dense.weight")
    assert decays["bert.encoder.layer.0.output.dense.weight"] == pytest.approx(0.01)
    assert all((decays[n] == 0.0) == no_decay(n) for n in decays) and len(decays) == len(model.trainable_params())
    moments = [p for p in optimizer.get_parameters() if p.name.startswith(("adam_m", "lamb_m"))]
    assert moments and all(not p.asnumpy().any() for p in moments)  # zeros, not the seed's ones


def tiny_batch(seed=0, batch=4, seq=16, preds=3, vocab=100):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (batch, seq)).astype(np.int32)
    cols = (ids, np.zeros((batch, seq), np.int32), np.ones((batch, seq), np.int32),  # ids, segments, mask
            rng.integers(1, seq, (batch, preds)).astype(np.int32), rng.integers(5, vocab, (batch, preds)).astype(np.int32),
            np.ones((batch, preds), np.float32), rng.integers(0, 2, (batch, 1)).astype(np.int32))
    return tuple(ms.Tensor(c) for c in cols) + (ms.Tensor(batch * preds + 1e-5, ms.float32),
                                                  ms.Tensor(float(batch), ms.float32))


def train_step(scaler, seed=1):
    ms.set_seed(seed)
    config = BertConfig.from_name("tiny", vocab_size=100, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForPreTraining(config)
    optimizer = build_optimizer(model.trainable_params(), OptimConfig(learning_rate=1e-3, warmup_steps=0), 10)
    step = TrainStep(PretrainingLoss(model), optimizer, scaler, grad_clip_norm=1.0)
    step.set_train(True)
    return model, step


@pytest.mark.slow  # trains for more than a few seconds
def test_an_overflowing_step_is_skipped_counted_and_halves_the_dynamic_scale():
    model, step = train_step(make_loss_scaler("dynamic", 2.0 ** 16))
    bias = model.cls.predictions.bias
    clean = bias.asnumpy().copy()
    poisoned = clean.copy()
    poisoned[7] = np.inf  # an injected overflow: the output logits, loss and gradients go inf/NaN
    bias.set_data(ms.Tensor(poisoned))
    before = {p.name: p.asnumpy().copy() for p in model.get_parameters()}
    result = step.step([tiny_batch()])
    assert not result["finite"] and result["skipped_steps"] == 1 and result["loss_scale"] == 2.0 ** 16
    assert float(step.scaler.scale_value.asnumpy()) == 2.0 ** 15
    assert all(np.array_equal(p.asnumpy(), before[p.name]) for p in model.get_parameters())
    assert int(step.optimizer.global_step.asnumpy().reshape(-1)[0]) == 0  # the LR schedule does not advance

    ms.ops.assign(bias, ms.Tensor(clean))  # in place: the compiled step keeps using this buffer
    result = step.step([tiny_batch()])
    assert result["finite"] and result["skipped_steps"] == 1
    assert any(not np.array_equal(p.asnumpy(), before[p.name]) for p in model.get_parameters())


@pytest.mark.slow  # trains for more than a few seconds
def test_a_scaled_step_equals_an_unscaled_one():
    model_a, step_a = train_step(make_loss_scaler("static", 1.0))
    model_b, step_b = train_step(make_loss_scaler("dynamic", 1024.0))
    for k in range(3):
        a, b = step_a.step([tiny_batch(k)]), step_b.step([tiny_batch(k)])
        loss_a, loss_b = (r["totals"][0] / r["loss_scale"] for r in (a, b))
        assert loss_a == pytest.approx(loss_b, abs=1e-6) and a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-5)
    for pa, pb in zip(model_a.get_parameters(), model_b.get_parameters()):
        np.testing.assert_allclose(pa.asnumpy(), pb.asnumpy(), atol=1e-6)


def test_clip_by_global_norm_scales_all_gradients_together():
    from bert.train.optim import clip_by_global_norm, global_norm

    grads = (ms.Tensor(np.full((3, 4), 2.0, np.float32)), ms.Tensor(np.full(5, -1.0, np.float32)))
    norm = global_norm(grads)
    assert float(norm.asnumpy()) == pytest.approx(np.sqrt(12 * 4 + 5))
    clipped = clip_by_global_norm(grads, norm, 1.0)
    assert float(global_norm(clipped).asnumpy()) == pytest.approx(1.0, rel=1e-6)
    assert float(clipped[0].asnumpy()[0, 0]) / float(clipped[1].asnumpy()[0]) == pytest.approx(-2.0)
    small = clip_by_global_norm(grads, norm, 100.0)
    np.testing.assert_array_equal(small[0].asnumpy(), grads[0].asnumpy())


@pytest.mark.slow  # compiles two models
def test_weights_copied_in_place_reach_a_compiled_graph_which_set_data_does_not():
    """Why a rollback (bert.train.loop) and finetuning's best weights (bert.train.classifier) load with
    assign_state(in_place=True): set_data gives a Parameter new memory, and a graph compiled before
    keeps computing with the old (MindSpore 2.10, measured here)."""
    from bert.model import BertForSequenceClassification
    from bert.model_dir import assign_state

    config = BertConfig.from_name("L2-H128", vocab_size=100)
    ids = ms.Tensor(np.arange(16, dtype=np.int32).reshape(2, 8))
    models = [BertForSequenceClassification(config) for _ in range(3)]
    other = {p.name: p.asnumpy() * 0.5 + 0.01 for p in models[2].get_parameters()}
    assign_state(models[2], other)
    for model in models:
        model.set_train(False)
    expected = models[2](ids).asnumpy()  # PyNative, from the new weights
    outputs = []
    for model, in_place in ((models[0], True), (models[1], False)):
        forward = ms.jit(model.construct)
        before = forward(ids).asnumpy()
        assign_state(model, other, in_place=in_place)
        outputs.append((before, forward(ids).asnumpy()))
    (_, copied), (before, replaced) = outputs
    np.testing.assert_allclose(copied, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(replaced, before)  # set_data: the compiled graph saw nothing
