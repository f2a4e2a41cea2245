"""bert.flops against a count made here from the model itself (every 2-D weight's matmul, applied to
the rows it sees, plus the attention products), and the TFLOP/s and MFU the training log reports."""
import re

import pytest

from bert.config import BertConfig
from bert.flops import PEAK_TFLOPS, classifier_step_flops, peak_tflops, pretraining_step_flops
from conftest import REPO, run_module, tensorboard_scalars


def counted_from_the_model(model, config, seq, batch, masked=None):
    """3 × forward matmul FLOPs: each weight [out, in] as 2·rows·in·out over the rows it is applied to."""
    forward = 0
    for name, param in model.parameters_and_names():
        if len(param.shape) != 2:
            continue
        out_dim, in_dim = param.shape
        if name.startswith("bert.encoder."):
            rows = batch * seq
        elif name.startswith(("bert.pooler.", "cls.seq_relationship.", "classifier.")):
            rows = batch  # the [CLS] vector
        elif name.startswith("cls.predictions.transform.") or name == "bert.embeddings.word_embeddings.embedding_table":
            rows = batch * masked if masked is not None else 0  # the MLM head; the table is its tied decoder
        else:
            rows = 0  # position / token-type tables: lookups
        forward += 2 * rows * in_dim * out_dim
    forward += config.num_hidden_layers * 2 * (2 * batch * seq * seq * config.hidden_size)  # Q·Kᵀ and weights·V
    return 3 * forward


@pytest.mark.parametrize("name, seq, masked", [("L2-H128", 64, 10), ("L4-H256", 128, 20)])
def test_flops_equal_a_count_from_the_model(name, seq, masked):
    from bert.model import BertForPreTraining, BertForSequenceClassification

    config = BertConfig.from_name(name, vocab_size=30522)
    assert pretraining_step_flops(config, seq, masked, 32) == \
        counted_from_the_model(BertForPreTraining(config), config, seq, 32, masked)
    assert classifier_step_flops(config, seq, 3, 16) == \
        counted_from_the_model(BertForSequenceClassification(config, 3), config, seq, 16)


def test_known_flops_of_l4_h256():
    # by hand: per token per layer 24·H² + 4·S·H, ×3 for the step (see bert.flops)
    config = BertConfig.from_name("L4-H256", vocab_size=30522)
    per_sequence = 4 * (24 * 128 * 256 ** 2 + 4 * 128 ** 2 * 256) + 2 * 256 ** 2 \
        + 20 * (2 * 256 ** 2 + 2 * 256 * 30522) + 4 * 256
    assert pretraining_step_flops(config, 128, 20, 1) == 3 * per_sequence == 3_563_142_144  # 3.56 GFLOP per sequence


def test_peaks_by_device_name_and_override():
    assert peak_tflops("NVIDIA A100-SXM4-80GB", "bf16") == PEAK_TFLOPS["A100"]["bf16"] == 312.0
    assert peak_tflops("NVIDIA H100 80GB HBM3", "fp16") == 989.4
    assert peak_tflops("Ascend910B2", "fp16") == 320.0
    assert peak_tflops("CPU", "fp32") is None and peak_tflops("Tesla T4", "fp16") is None
    assert peak_tflops("CPU", "fp32", override=2.5) == 2.5


def test_the_log_line_and_tensorboard_report_tflops_and_mfu(wiki_8k, tmp_path):
    run = run_module("bert.pretrain", "--config", REPO / "configs" / "pretrain.yaml", f"data={wiki_8k['examples']}",
                     f"vocab={wiki_8k['vocab']}", "model.name=L2-H128", "max_seq_length=64",
                     "max_predictions_per_seq=10", "total_steps=2", "train_batch_size=8", "log_interval=1",
                     "peak_tflops=0.5", f"output_dir={tmp_path}", f"log_dir={tmp_path}/logs")
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("step: ")]
    config = BertConfig.from_name("L2-H128", vocab_size=sum(1 for _ in open(wiki_8k["vocab"])))
    flops = pretraining_step_flops(config, 64, 10, 8)
    for line in lines:
        ms = float(re.search(r"avg_time\(ms\): ([\d.]+)", line)[1])
        tflops = float(re.search(r"tflops: ([\d.]+)", line)[1])
        mfu = float(re.search(r"mfu: ([\d.]+)%", line)[1])
        assert tflops == pytest.approx(flops / (ms / 1000) / 1e12, abs=6e-4)  # printed to 3 decimals
        assert mfu == pytest.approx(100 * tflops / 0.5, abs=0.2)
    scalars = tensorboard_scalars(tmp_path / "logs" / tmp_path.name / "tb", "perf/")
    assert [s for s, _ in scalars["perf/tflops"]] == [1, 2]
    assert scalars["perf/mfu"][1][1] == pytest.approx(scalars["perf/tflops"][1][1] / 0.5, rel=1e-6)
