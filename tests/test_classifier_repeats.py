"""bert.finetune and bert.distill with dropout 0.1 (the configs' default): the same command, killed
after a checkpoint and started again, gives the uninterrupted run's losses, dev results, final
weights and TensorBoard scalars bit for bit (the steps before the kill are a second run of the
command); two ranks with two accumulated micro-batches each give one process's losses with the
same global batch."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from bert import assets
from bert.glue.sst2_demo import write_demo
from conftest import REPO, kill_after_checkpoint, run_module, run_msrun, tensorboard_scalars

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)

STEPS = 16  # 1 epoch of 256 rows at 16 per step
STAGES = {"finetune": "finetune_sst2.yaml", "distill": "distill_sst2.yaml"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("sst2"), train=256, dev=64, test=16)


@pytest.fixture(scope="module")
def teacher(data, tmp_path_factory):
    """An L2-H128 finetuned here, with dropout, teaches the distillation runs."""
    out = tmp_path_factory.mktemp("teacher")
    run = run_module("bert.finetune", *args_for("finetune", data, out, None))
    assert run.returncode == 0, run.stderr[-3000:]
    return out / "best"


def args_for(stage, data, out, teacher, *extra):
    return ["--config", REPO / "configs" / STAGES[stage], "init=null", f"vocab={assets.uncased_vocab()}",
            f"data_dir={data}", "model.name=L2-H128", "max_length=64", "train_batch_size=16", "epochs=1",
            "log_interval=1", "save_steps=4", "optim.learning_rate=5e-4", f"output_dir={out}", f"log_dir={out}/logs",
            *([f"teacher={teacher}", "transfer_data=null", "temperature=2", "soft_weight=0.5"] if stage == "distill"
              else []), *extra]


def run_stage(stage, *args):
    run = run_module(f"bert.{stage}", *args)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.fixture(scope="module", params=list(STAGES))
def baseline(request, data, teacher, tmp_path_factory):
    stage = request.param
    out = tmp_path_factory.mktemp(f"{stage}-baseline")
    run_stage(stage, *args_for(stage, data, out, teacher))
    return stage, out


def scalars(stage, out):
    logdir = out / "logs" / out.name / "tb"
    return {**tensorboard_scalars(logdir, "train/"), **tensorboard_scalars(logdir, "eval/")}


def assert_same_run(stage, out, ref):
    """Every scalar (train loss, lr … each step, dev metrics and loss), results and final weights, bit for bit."""
    ours, theirs = scalars(stage, out), scalars(stage, ref)
    assert [step for step, _ in theirs["train/loss"]] == list(range(1, STEPS + 1))
    assert ours == theirs
    results = [json.loads((o / "results.json").read_text()) for o in (out, ref)]
    assert results[0]["history"] == results[1]["history"]
    weights = [load_file(str(o / "checkpoints" / f"step_{STEPS:08d}" / "model.safetensors")) for o in (out, ref)]
    assert sorted(weights[0]) == sorted(weights[1])
    for name in weights[1]:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=name)


def assert_same_losses(stage, out, ref, atol=1e-5):
    ours, theirs = scalars(stage, out), scalars(stage, ref)
    steps = [step for step, _ in theirs["train/loss"]]
    assert [step for step, _ in ours["train/loss"]] == steps == list(range(1, STEPS + 1))
    np.testing.assert_allclose([v for _, v in ours["train/loss"]],
                               [v for _, v in theirs["train/loss"]], atol=atol, rtol=0)


def test_the_same_command_killed_after_a_checkpoint_and_resumed_is_the_same_run_bit_for_bit(baseline, data, teacher,
                                                                                             tmp_path):
    stage, ref = baseline
    config = json.loads((ref / "checkpoints" / f"step_{STEPS:08d}" / "bert_config.json").read_text())
    assert config["hidden_dropout_prob"] == 0.1 and config["attention_probs_dropout_prob"] == 0.1  # the default
    kill_after_checkpoint(["-m", f"bert.{stage}", *args_for(stage, data, tmp_path, teacher)],
                          tmp_path / "checkpoints" / "step_00000004")
    stdout = run_stage(stage, *args_for(stage, data, tmp_path, teacher))
    assert "resumed from" in stdout
    assert_same_run(stage, tmp_path, ref)


def test_two_ranks_accumulating_two_micro_batches_equal_one_process_with_the_same_global_batch(baseline, data,
                                                                                               teacher, tmp_path):
    stage, ref = baseline
    log = run_msrun(f"bert.{stage}", *args_for(stage, data, tmp_path, teacher, "train_batch_size=4",
                                              "accumulation_steps=2"), log_dir=tmp_path / "msrun")
    assert "2 worker(s) × 4 × 2 = 16 per step" in log
    assert_same_losses(stage, tmp_path, ref)
