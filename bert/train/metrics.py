"""Training metrics: step results in, TensorBoard scalars (tensorboardX, rank 0 only) and one
console line per log interval out — the seed's fields plus accuracies, lr, scale, ETA.

At a checkpoint `drain()` puts every event on disk and hands back the steps not logged yet (the
open window), which the checkpoint keeps: a resumed run purges what the lost run logged after the
checkpoint and logs the same steps with the same values, so TensorBoard holds each step once."""
from __future__ import annotations

import json
from pathlib import Path


class MetricsLogger:
    def __init__(self, logdir: Path | None, rank: int, total_steps: int, start_step: int, config: dict | None = None,
                 window: list[dict] | None = None):
        self.rank, self.total_steps = rank, total_steps
        self.logdir = logdir if rank == 0 else None
        self.writer = None
        if self.logdir is not None:
            # purge_step drops events a killed run logged after its last checkpoint
            self._open(start_step, purge_step=start_step + 1 if start_step else None)
            if config is not None:
                self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", start_step)
        self.window: list[dict] = list(window or [])  # steps since the last logged one (restored on resume)

    def _open(self, step: int, purge_step: int | None = None) -> None:
        """A new event file; its name sorts after the earlier ones (time, host, then the step)."""
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(str(self.logdir), purge_step=purge_step, filename_suffix=f".{step:09d}")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.logdir is None:
            return
        if self.writer is None:
            self._open(step)
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def drain(self) -> list[dict]:
        """Put every event logged so far on disk and return the open window, for the checkpoint."""
        if self.writer is not None:  # tensorboardX's flush() skips events still queued; close() writes them
            self.writer.close()
            self.writer = None
        return list(self.window)

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
        self.drain()

