"""One optimizer step: micro-batches in, updated parameters + step metrics out — gradients
accumulated, summed across ranks, unscaled, checked for overflow, clipped, applied. The loss and
the loss net's metric sums come back as this rank's share: the loop sums them over ranks in its
one per-step collective (bert.train.loop)."""
from __future__ import annotations

import mindspore as ms
from mindspore import Parameter, ParameterTuple, amp, nn, ops

from bert.device_settings import mixed_precision
from bert.train.optim import build_optimizer, clip_by_global_norm, global_norm


def make_loss_scaler(kind: str, value: float):
    """"dynamic" → MindSpore's DynamicLossScaler (×2 every 1000 finite steps, ÷2 on overflow);
    "static" → a fixed scale (1.0 = none, what fp32 on CPU uses)."""
    if kind == "dynamic":
        return amp.DynamicLossScaler(scale_value=value, scale_factor=2, scale_window=1000)
    return amp.StaticLossScaler(scale_value=value)


class TrainStep(nn.Cell):
    """`accumulate(*batch)` for all but the last micro-batch of a step, `apply(*batch)` for the last."""

    def __init__(self, loss_net: nn.Cell, optimizer: nn.Optimizer, loss_scaler, grad_clip_norm: float,
                 accumulation: int = 1, world_size: int = 1, jit: bool = True, jit_level: str = "O0"):
        super().__init__(auto_prefix=False)
        self.loss_net = loss_net
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.scaler = loss_scaler
        # amp's loss scalers are not Cells: their state (scale, finite-step counter) is registered
        # here, under names of its own, so that checkpoints hold it and a resumed run goes on with it
        for field in ("scale_value", "counter"):
            state = getattr(loss_scaler, field, None)
            if isinstance(state, Parameter):
                state.name, state.requires_grad = f"loss_scale.{field}", False
                setattr(self, f"loss_scale_{field}", state)
        self.grad_clip_norm = grad_clip_norm
        self.accumulation = accumulation
        self.distributed = world_size > 1
        self.grad_fn = ms.value_and_grad(self._scaled_loss, None, self.weights, has_aux=True)
        self.grad_buffer = ParameterTuple(
            Parameter(ops.zeros(p.shape, ms.float32), name=f"grad_accum.{p.name}", requires_grad=False)
            for p in self.weights) if accumulation > 1 else None
        self.reducer = nn.DistributedGradReducer(self.weights, mean=False) if self.distributed else None
        self.skipped = Parameter(ms.Tensor(0, ms.int32), name="skipped_steps", requires_grad=False)
        compile_ = (lambda fn: ms.jit(fn, jit_level=jit_level)) if jit else (lambda fn: fn)
        self.accumulate = compile_(self._accumulate)
        self.apply = compile_(self._apply)
        self.forward = compile_(self.loss_net.construct)

    def _scaled_loss(self, *batch):
        loss, metrics = self.loss_net(*batch)
        return self.scaler.scale(loss), metrics

    def _accumulate(self, *batch):
        (scaled, metrics), grads = self.grad_fn(*batch)
        for buffer, grad in zip(self.grad_buffer, grads):
            ops.assign_add(buffer, grad.astype(ms.float32))
        return scaled, metrics

    def _apply(self, *batch):
        (scaled, metrics), grads = self.grad_fn(*batch)
        if self.accumulation > 1:
            grads = tuple(g + b.astype(g.dtype) for g, b in zip(grads, self.grad_buffer))
        if self.distributed:
            grads = self.reducer(grads)
        grads = self.scaler.unscale(grads)
        norm = global_norm(grads)
        finite = ops.isfinite(norm)  # any inf/NaN gradient makes the norm one (amp.all_finite: +5 % step time on CPU)
        grads = clip_by_global_norm(grads, norm, self.grad_clip_norm)
        if finite:
            self.optimizer(grads)
        else:
            ops.assign_add(self.skipped, ms.Tensor(1, ms.int32))
        scale = self.scaler.scale_value * 1.0  # the scale this step used, before adjusting
        self.scaler.adjust(finite)
        if self.accumulation > 1:
            for buffer in self.grad_buffer:
                ops.assign(buffer, ops.zeros_like(buffer))
        return scaled, metrics, norm, finite, scale

    def evaluate(self, *batch):
        """Loss and metrics without dropout or gradients."""
        self.loss_net.set_train(False)
        try:
            return self.forward(*batch)
        finally:
            self.loss_net.set_train(True)

    def learning_rate(self, step: int) -> float:
        """The schedule's learning rate at optimizer step `step` (0-based)."""
        return float(self.optimizer.learning_rate(ms.Tensor(step, ms.int32)).asnumpy().reshape(-1)[0])

    def step(self, micro_batches: list[tuple]) -> dict:
        """Run one optimizer step over this rank's micro-batches. Returns `totals`: the scaled loss
        and the loss net's metric sums, summed over this rank's micro-batches; and the step's state."""
        totals = None
        for k, batch in enumerate(micro_batches):
            last = k == len(micro_batches) - 1
            out = self.apply(*batch) if last else self.accumulate(*batch)
            scaled, metrics = out[0], out[1]
            values = ops.stack([scaled.astype(ms.float32), *[m.astype(ms.float32) for m in metrics]])
            totals = values if totals is None else totals + values
        norm, finite, scale = out[2], out[3], out[4]
        return {"totals": [float(x) for x in totals.asnumpy()], "grad_norm": float(norm.asnumpy()),
                "finite": bool(finite.asnumpy()), "loss_scale": float(scale.asnumpy()),
                "skipped_steps": int(self.skipped.asnumpy())}


def make_train_step(loss_net: nn.Cell, model: nn.Cell, cfg, world: int, total_steps: int) -> TrainStep:
    """The train step a run config asks for: mixed precision on GPU/Ascend (bert.device_settings:
    fp16/bf16, dynamic loss scale), fp32 without scaling otherwise; its optimizer and schedule."""
    mixed = cfg.precision != "fp32"
    mixed_precision(model, cfg.precision)
    optimizer = build_optimizer(model.trainable_params(), cfg.optim, total_steps)  # warmup: cfg.optim.warmup
    scaler = make_loss_scaler(cfg.loss_scale, cfg.loss_scale_value) if mixed else make_loss_scaler("static", 1.0)
    step = TrainStep(loss_net, optimizer, scaler, cfg.optim.grad_clip_norm, cfg.accumulation_steps, world, cfg.jit,
                     cfg.jit_level)
    step.set_train(True)
    return step
