"""TensorBoard scalars (tensorboardX, rank 0 only) of a training run: each step's metrics in,
their averages over a log interval out as `train/<name>` and `perf/…` points (samples/s, step
time, achieved TFLOP/s and MFU from bert.flops; the loop prints its line from the same averages),
plus whatever the evaluations report.

At a checkpoint `drain()` puts every event on disk and hands back the steps not logged yet (the
open window), which the checkpoint keeps: a resumed run purges what the lost run logged after the
checkpoint and logs the same steps with the same values, so TensorBoard holds each step once."""
# tensorboardX is imported where the writer opens (rank 0 only): the stages import this module through
# bert.train.loop and check their input before anything heavy loads.
from __future__ import annotations

import json
import logging
from pathlib import Path

LAST = ("lr", "loss_scale", "skipped_steps")  # logged as of the interval's last step; the rest averaged


class MetricsLogger:
    def __init__(self, logdir: Path | None, rank: int, start_step: int, config: dict | None = None,
                 window: list[dict] | None = None, step_flops: int = 0, peak_tflops: float | None = None):
        self.logdir = logdir if rank == 0 else None
        self.step_flops, self.peak_tflops = step_flops, peak_tflops  # a step's model FLOPs; all devices' peak
        self.writer, self.opened = None, 0
        if self.logdir is not None:
            # purge_step drops events a killed run logged after its last checkpoint
            self._open(start_step, purge_step=start_step + 1 if start_step else None)
            if config is not None:
                self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", start_step)
        self.window: list[dict] = list(window or [])  # steps since the last logged one (restored on resume)

    def _open(self, step: int, purge_step: int | None = None) -> None:
        """A new event file; its name sorts after the earlier ones: time, host, then this logger's count
        of files (a rollback reopens at an earlier step, maybe within the same second), then the step."""
        from tensorboardX import SummaryWriter

        # a non-finite loss is logged as it is; the loop reports such steps itself, in one line
        logging.getLogger("tensorboardX.x2num").setLevel(logging.ERROR)

        self.opened += 1
        self.writer = SummaryWriter(str(self.logdir), purge_step=purge_step,
                                    filename_suffix=f".{self.opened:04d}.{step:09d}")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.logdir is None:
            return
        if self.writer is None:
            self._open(step)
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def train_step(self, step: int, metrics: dict[str, float], global_batch: int, log: bool) -> dict | None:
        """Record one step's metrics (with its `time` in seconds); when `log`, write the window's
        averages and return them (+ `samples_per_sec`, `tflops` achieved, `mfu` when the peak is
        known), else None."""
        self.window.append(metrics)
        if not log:
            return None
        window, self.window = self.window, []
        avg = {k: (window[-1][k] if k in LAST else sum(w[k] for w in window) / len(window)) for k in window[-1]}
        avg["samples_per_sec"] = global_batch / avg["time"]
        avg["tflops"] = self.step_flops / avg["time"] / 1e12
        perf = {"perf/samples_per_sec": avg["samples_per_sec"], "perf/step_time_ms": avg["time"] * 1000,
                "perf/tflops": avg["tflops"]}
        if self.peak_tflops:
            avg["mfu"] = perf["perf/mfu"] = avg["tflops"] / self.peak_tflops
        self.scalars(step, {**{f"train/{k}": v for k, v in avg.items() if k in window[-1] and k != "time"}, **perf})
        return avg

    def rewind(self, step: int, window: list[dict]) -> None:
        """Back to a checkpoint's `step` and open `window` (a rollback): the events logged after it
        are purged, as on resume."""
        self.drain()
        self.window = list(window)
        if self.logdir is not None:
            self._open(step, purge_step=step + 1)

    def drain(self) -> list[dict]:
        """Put every event logged so far on disk and return the open window, for the checkpoint."""
        if self.writer is not None:  # tensorboardX's flush() skips events still queued; close() writes them
            self.writer.close()
            self.writer = None
        return list(self.window)
