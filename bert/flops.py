"""Analytic FLOPs of a BERT training step, and what the step's time makes of them: achieved TFLOP/s
and, where the device's peak is known, MFU (model FLOPs utilisation).

Matmul FLOPs only, 2·m·n·k each — the accounting of Megatron-LM and PaLM's MFU: the elementwise work
(softmax, LayerNorm, GELU, dropout, the embedding sums) is a few per cent of it at these sizes and is
left out. Per sequence of S tokens, hidden H, intermediate I, L layers:

    encoder layer  Q, K, V, output projections 4·2·S·H·H · scores Q·Kᵀ 2·S·S·H · weights·V 2·S·S·H
                   · FFN 2·2·S·H·I
    pooler         2·H·H on [CLS]
    pretraining    MLM transform 2·P·H·H + tied decoder 2·P·H·V at the P gathered positions
                   (max_predictions_per_seq: the head runs on them, padding included) · NSP 2·H·2
    classifier     2·H·labels

A training step is 3 × the forward (the backward computes the gradients of both matmul operands).
"""
from __future__ import annotations

from bert.config import BertConfig

# Dense peak TFLOP/s per device and precision, from the vendors' datasheets (NVIDIA: SXM parts,
# without sparsity). fp32 is the plain FP32 rate: MindSpore 2.10 keeps TF32 off for matmuls
# (device_context.gpu.op_precision.matmul_allow_tf32 defaults to False; bert.device_settings).
# Ascend 910B: Huawei publishes no per-precision table; ~320 fp16 is the figure quoted for the
# 910B. Anything else: `peak_tflops=`.
PEAK_TFLOPS = {
    "A100": {"fp32": 19.5, "fp16": 312.0, "bf16": 312.0},
    "H100": {"fp32": 66.9, "fp16": 989.4, "bf16": 989.4},
    "H200": {"fp32": 66.9, "fp16": 989.4, "bf16": 989.4},
    "Ascend910B": {"fp16": 320.0, "bf16": 320.0},
}


def encoder_flops(config: BertConfig, seq_length: int) -> int:
    """Forward FLOPs of the embeddings → encoder → pooler for one sequence."""
    s, h, i = seq_length, config.hidden_size, config.intermediate_size
    layer = 4 * 2 * s * h * h + 2 * 2 * s * s * h + 2 * 2 * s * h * i
    return config.num_hidden_layers * layer + 2 * h * h


def pretraining_step_flops(config: BertConfig, seq_length: int, masked_positions: int, batch: int) -> int:
    """One MLM+NSP training step over `batch` sequences (forward + backward)."""
    h = config.hidden_size
    heads = 2 * masked_positions * h * h + 2 * masked_positions * h * config.vocab_size + 2 * h * 2
    return 3 * batch * (encoder_flops(config, seq_length) + heads)


def classifier_step_flops(config: BertConfig, seq_length: int, num_labels: int, batch: int) -> int:
    """One finetuning step over `batch` sequences (forward + backward)."""
    return 3 * batch * (encoder_flops(config, seq_length) + 2 * config.hidden_size * num_labels)


def peak_tflops(device_name: str, precision: str, override: float = 0.0) -> float | None:
    """The peak of `device_name` (matched by the table's names inside it, e.g. "NVIDIA A100-SXM4-80GB")
    at `precision`; `override` when positive; None when unknown."""
    if override > 0:
        return override
    for name, peaks in PEAK_TFLOPS.items():
        if name.lower() in device_name.replace(" ", "").lower():
            return peaks.get(precision)
    return None
