"""Training metrics: step results in, TensorBoard scalars (tensorboardX, rank 0 only) and one
console line per log interval out — the seed's fields plus accuracies, lr, scale, ETA."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class MetricsLogger:
    def __init__(self, logdir: Path | None, rank: int, total_steps: int, start_step: int, config: dict | None = None):
        self.rank, self.total_steps = rank, total_steps
        self.writer = None
        if logdir is not None and rank == 0:
            from tensorboardX import SummaryWriter

            # purge_step drops events a killed run logged after its last checkpoint
            self.writer = SummaryWriter(str(logdir), purge_step=start_step + 1 if start_step else None)
            if config is not None:
                self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", start_step)
        self.window: list[dict] = []
        self.last_time = time.time()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def train_step(self, step: int, m: dict, lr: float, step_time: float, global_batch: int, log_interval: int):
        """Record one step; every `log_interval` steps write scalars and print the line."""
        self.window.append({**m, "lr": lr, "time": step_time})
        if step % log_interval and step != self.total_steps:
            return
        n = len(self.window)
        avg = {k: sum(w[k] for w in self.window) / n for k in ("loss", "mlm_loss", "nsp_loss", "mlm_accuracy",
                                                             "nsp_accuracy", "grad_norm", "time")}
        last = self.window[-1]
        samples_per_sec = global_batch / avg["time"]
        self.scalars(step, {"train/loss": avg["loss"], "train/mlm_loss": avg["mlm_loss"],
                            "train/nsp_loss": avg["nsp_loss"], "train/mlm_accuracy": avg["mlm_accuracy"],
                            "train/nsp_accuracy": avg["nsp_accuracy"], "train/lr": last["lr"],
                            "train/grad_norm": avg["grad_norm"], "train/loss_scale": last["loss_scale"],
                            "train/skipped_steps": last["skipped_steps"],
                            "perf/samples_per_sec": samples_per_sec, "perf/step_time_ms": avg["time"] * 1000})
        eta = (self.total_steps - step) * avg["time"]
        print(f"step: {step}/{self.total_steps}, avg_time(ms): {avg['time'] * 1000:.2f}, rank_id: {self.rank}, "
              f"loss: {avg['loss']:.6f}, masked_lm_loss: {avg['mlm_loss']:.6f}, "
              f"next_sentence_loss: {avg['nsp_loss']:.6f}, mlm_acc: {avg['mlm_accuracy']:.4f}, "
              f"nsp_acc: {avg['nsp_accuracy']:.4f}, lr: {last['lr']:.3e}, grad_norm: {avg['grad_norm']:.3f}, "
              f"loss_scale: {last['loss_scale']:g}, skipped: {last['skipped_steps']}, "
              f"samples/s: {samples_per_sec:.1f}, eta: {eta / 60:.1f} min", flush=True)
        self.window = []

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def log_line(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
