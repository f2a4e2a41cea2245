"""Optimizer and learning rate: a model's parameters + OptimConfig in, MindSpore's
`nn.AdamWeightDecay` or `nn.Lamb` driven by linear warmup then polynomial decay out."""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops
from mindspore.nn.learning_rate_schedule import LearningRateSchedule

from bert.train.config import OptimConfig


class WarmupPolynomialDecayLR(LearningRateSchedule):
    """lr(step) = lr·step/warmup while step < warmup, then polynomial decay over all steps
    (Google's run_pretraining / MindSpore ModelZoo BERT), from MindSpore's own schedules."""

    def __init__(self, cfg: OptimConfig, total_steps: int):
        super().__init__()
        self.warmup_steps = cfg.warmup(total_steps)
        self.warmup = nn.WarmUpLR(cfg.learning_rate, max(1, self.warmup_steps))
        self.decay = nn.PolynomialDecayLR(cfg.learning_rate, cfg.end_learning_rate or 1e-12,
                                          max(1, total_steps), cfg.power)

    def construct(self, global_step):
        decayed = self.decay(global_step)
        if self.warmup_steps == 0:
            return decayed
        is_warmup = (global_step < self.warmup_steps).astype(ms.float32)
        return (1.0 - is_warmup) * decayed + is_warmup * self.warmup(global_step)


def no_decay(name: str) -> bool:
    """LayerNorm parameters and biases take no weight decay."""
    return "LayerNorm" in name or name.endswith(("bias", ".beta", ".gamma"))


def build_optimizer(params, cfg: OptimConfig, total_steps: int) -> nn.Optimizer:
    params = [p for p in params if p.requires_grad]
    groups = [{"params": [p for p in params if not no_decay(p.name)], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if no_decay(p.name)], "weight_decay": 0.0},
              {"order_params": params}]
    schedule = WarmupPolynomialDecayLR(cfg, total_steps)
    if cfg.optimizer == "lamb":
        return nn.Lamb(groups, learning_rate=schedule, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps)
    return nn.AdamWeightDecay(groups, learning_rate=schedule, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps)


def global_norm(grads) -> ms.Tensor:
    return ops.sqrt(ops.addn([ops.reduce_sum(ops.square(g.astype(ms.float32))) for g in grads]))


def clip_by_global_norm(grads, norm, max_norm: float):
    """Scale all gradients by max_norm / max(norm, max_norm) (Google's clip_by_global_norm)."""
    if max_norm <= 0:
        return grads
    scale = max_norm / ops.maximum(norm, max_norm)
    return tuple(g * scale.astype(g.dtype) for g in grads)
