"""The per-device run settings (bert.device_settings) as far as a CPU runs them: the mixed-precision
policy on the real train step (fp16 runs on this CPU; bf16 does not), what each device accepts and
the memory cap. The launcher's timeouts: tests/test_launch_path.py."""
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from bert.device import DeviceError
from bert.device_settings import check_precision, mixed_precision
from bert.model import BertForPreTraining, LayerNorm
from bert.train.config import OptimConfig, PretrainConfig
from bert.train.loss import PretrainingLoss
from bert.train.step import make_train_step
from tests.test_train_step import tiny_batch

TINY = {"name": "tiny", "vocab_size": 100, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def make_step(precision: str, jit: bool = True, **fields):
    """The real train step (make_train_step) of a tiny model. Half precision is configured for a
    GPU, the device that takes it; no device is selected, so it runs on this CPU."""
    cfg = PretrainConfig(model=TINY, device_target="CPU" if precision == "fp32" else "GPU", precision=precision,
                         jit=jit, total_steps=10, optim=OptimConfig(learning_rate=1e-3, warmup_steps=0),
                         **fields)
    cfg.validate()
    ms.set_seed(1)
    model = BertForPreTraining(cfg.bert_config())
    return model, make_train_step(PretrainingLoss(model), model, cfg, 1, cfg.total_steps)


def run_steps(precision: str, jit: bool, steps: int = 3):
    model, step = make_step(precision, jit)
    before = {p.name: p.asnumpy().copy() for p in model.get_parameters()}
    results = [step.step([tiny_batch(k)]) for k in range(steps)]
    updates = {p.name: p.asnumpy() - before[p.name] for p in model.get_parameters()}
    return model, results, updates


@pytest.fixture(scope="module")
def fp32_run():
    return run_steps("fp32", jit=True)


@pytest.mark.slow  # trains for more than a few seconds
@pytest.mark.parametrize("jit", [True, False])
def test_fp16_train_step_follows_fp32(fp32_run, jit):
    """Graph mode and PyNative: the fp16 step builds, runs with the dynamic loss
    scale, keeps float32 parameters and follows the fp32 run. Before the explicit casts in
    bert.kernels the compiled step failed to build: float32 parameters got float16 gradients."""
    _, ref, ref_updates = fp32_run
    model, got, updates = run_steps("fp16", jit)
    for a, b in zip(got, ref, strict=True):
        assert a["finite"] and a["loss_scale"] == 2.0 ** 16 and a["skipped_steps"] == 0
        assert a["totals"][0] / a["loss_scale"] == pytest.approx(b["totals"][0], rel=1e-3)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-2)
    assert all(p.dtype == ms.float32 for p in model.get_parameters())
    # Adam moves every weight by ~lr whatever its gradient's size, so where fp16 rounding flips a tiny
    # gradient's sign single weights differ by up to 2·lr; the updates as a whole must agree
    update, ref_update = (np.concatenate([u[n].ravel() for n in sorted(u)]) for u in (updates, ref_updates))
    assert np.linalg.norm(update - ref_update) < 0.05 * np.linalg.norm(ref_update)


@pytest.mark.slow  # trains for more than a few seconds
def test_a_resumed_fp16_run_goes_on_with_the_saved_loss_scale(tmp_path):
    """Checkpointed after 3 steps and restored into a fresh step, an fp16 run gives the uninterrupted
    run's losses, loss scales and weights. Its initial scale 2^18 overflows float16 twice (those
    steps are skipped and halve it): a resume that lost the scaler's state would start at 2^18 again."""
    from bert.train.checkpoints import CheckpointManager

    def fields(result):
        return result["totals"][0] / result["loss_scale"], result["loss_scale"], result["finite"], result["skipped_steps"]

    model, step = make_step("fp16", loss_scale_value=2.0 ** 18)
    whole = []
    for k in range(6):
        if k == 3:  # a save reads the state and changes nothing
            saved = CheckpointManager(tmp_path).save(step, model.config, {"step": 3})
        whole.append(fields(step.step([tiny_batch(k)])))
    assert [w[1:3] for w in whole[:3]] == [(2.0 ** 18, False), (2.0 ** 17, False), (2.0 ** 16, True)]
    weights = {p.name: p.asnumpy() for p in model.get_parameters()}

    model, resumed = make_step("fp16", loss_scale_value=2.0 ** 18)
    CheckpointManager(tmp_path).restore(saved, resumed, model.config)
    assert [fields(resumed.step([tiny_batch(k)])) for k in range(3, 6)] == whole[3:]
    for p in model.get_parameters():
        np.testing.assert_array_equal(p.asnumpy(), weights[p.name], err_msg=p.name)


def test_mixed_precision_keeps_layernorm_softmax_and_the_losses_in_float32():
    model = mixed_precision(BertForPreTraining(PretrainConfig(model=TINY).bert_config()), "fp16")
    kinds = {}
    for _, cell in model.cells_and_names():
        kind = ("layernorm" if isinstance(cell, LayerNorm) else "softmax" if isinstance(cell, nn.Softmax)
                else "dense" if isinstance(cell, nn.Dense) else None)
        if kind:
            kinds.setdefault(kind, set()).add(str(cell.mixed_precision_type))
    assert kinds == {"layernorm": {"MixedPrecisionType.FP32"}, "softmax": {"MixedPrecisionType.FP32"},
                     "dense": {"MixedPrecisionType.FP16"}}
    ms.set_context(mode=ms.PYNATIVE_MODE)
    loss, metrics = PretrainingLoss(model)(*tiny_batch())
    assert loss.dtype == ms.float32 and all(m.dtype == ms.float32 for m in metrics)
    assert all(p.dtype == ms.float32 for p in model.get_parameters())


def test_fp32_leaves_the_model_alone():
    model = BertForPreTraining(PretrainConfig(model=TINY).bert_config())
    assert mixed_precision(model, "fp32") is model
    assert {c.mixed_precision_type for _, c in model.cells_and_names()} == {None}


@pytest.mark.parametrize("device, precision, problem", [
    ("CPU", "fp16", "precision fp16 needs GPU or Ascend, and this run's device is CPU; use precision=fp32"),
    ("CPU", "bf16", "precision bf16 needs GPU or Ascend, and this run's device is CPU; use precision=fp32"),
    ("GPU", "bf16", "precision bf16 does not run on GPU (MindSpore has bf16 kernels on Ascend only); use one of fp32, fp16"),
    ("GPU", "fp16", None), ("Ascend", "bf16", None), ("Ascend", "fp16", None), ("CPU", "fp32", None),
])
def test_each_device_takes_its_precisions(device, precision, problem):
    from bert.config import ConfigError

    cfg = PretrainConfig(device_target=device, precision=precision)
    if problem is None:
        cfg.validate()
    else:
        with pytest.raises(ConfigError) as err:  # DeviceError: a ConfigError, one line and exit 2 in a stage
            cfg.validate()
        assert str(err.value) == problem
        with pytest.raises(DeviceError, match=problem.split(";")[0].replace("(", r"\(").replace(")", r"\)")):
            check_precision(device, precision)


def test_max_device_memory_caps_mindspores_pool():
    """Applied through mindspore.runtime.set_memory, which refuses a second setting (checked in a
    fresh process: the memory pool is configured once per process)."""
    code = ("import mindspore as ms\n"
            "from bert.train.config import PretrainConfig\n"
            "from bert.device_settings import apply\n"
            "ms.set_device('CPU')\n"
            "apply('CPU', PretrainConfig(max_device_memory='2.5GB'))\n"
            "try:\n"
            "    ms.runtime.set_memory(max_size='3GB')\n"
            "except RuntimeError as exc:\n"
            "    print('refused:', exc)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "refused: The 'set_memory' can not be set repeatedly." in run.stdout


@pytest.mark.parametrize("value, ok", [("30GB", True), ("2.5GB", True), ("", True), ("30", False),
                                       ("30 GB", False), ("0GB", False), ("30MB", False)])
def test_max_device_memory_is_checked_with_the_config(value, ok):
    from bert.config import ConfigError

    cfg = PretrainConfig(max_device_memory=value)
    if ok:
        cfg.validate()
    else:
        with pytest.raises(ConfigError, match="is not a size like '30GB'"):
            cfg.validate()
