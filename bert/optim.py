"""Optimizer and learning rate: a model's parameters + OptimConfig in, MindSpore's
`nn.AdamWeightDecay` or `nn.Lamb` driven by linear warmup then polynomial decay out."""
from __future__ import annotations

import dataclasses

import mindspore as ms
from mindspore import nn, ops
from mindspore.nn.learning_rate_schedule import LearningRateSchedule

from bert.config import ConfigError

OPTIMIZERS = ("adamw", "lamb")


@dataclasses.dataclass
class OptimConfig:
    """Google's BERT recipe: AdamW (no bias correction), lr 1e-4, 10k warmup, linear decay to 0."""

    optimizer: str = "adamw"
    learning_rate: float = 1e-4
    end_learning_rate: float = 0.0
    warmup_steps: int = 10000
    power: float = 1.0
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-6
    grad_clip_norm: float = 1.0  # global norm; 0 switches clipping off

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.learning_rate <= 0 or self.end_learning_rate < 0 or self.end_learning_rate > self.learning_rate:
            raise ConfigError("learning_rate must be positive and end_learning_rate in [0, learning_rate]")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip_norm < 0:
            raise ConfigError("warmup_steps, weight_decay and grad_clip_norm must be >= 0")
        if not (0 < self.beta1 < 1 and 0 < self.beta2 < 1 and self.eps > 0):
            raise ConfigError("beta1/beta2 must be in (0, 1) and eps positive")


class WarmupPolynomialDecayLR(LearningRateSchedule):
    """lr(step) = lr·step/warmup while step < warmup, then polynomial decay over all steps
    (Google's run_pretraining / MindSpore ModelZoo BERT), from MindSpore's own schedules."""

    def __init__(self, cfg: OptimConfig, total_steps: int):
        super().__init__()
        self.warmup_steps = cfg.warmup_steps
        self.warmup = nn.WarmUpLR(cfg.learning_rate, max(1, cfg.warmup_steps))
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
