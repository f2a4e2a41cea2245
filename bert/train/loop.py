"""The one training loop of pretraining, finetuning and distillation. A stage is a `Task`:

    run = open_run(cfg, bert_config)                # checkpoints checked, process group joined: before any model
    task = Finetuning(cfg, run, data, bert_config)  # data, model (fresh or from init), loss net, how to evaluate
    return train(cfg, task, run, stop)

`train` builds the step, resumes if output_dir holds a checkpoint, then per step: run it, sum what
the ranks need in one collective, log, evaluate, save, stop. Exact resume: the checkpoint holds
weights, optimizer and loss-scale state, the step (the data cursor and dropout masks follow from
it), the open log window and the task's state (e.g. the best dev score). SIGUSR2/SIGTERM on any
rank: every rank saves at the same step and leaves (exit 0; requeueing is the launcher's call).
"""
# MindSpore (and bert.train.distributed, bert.dropout, bert.train.step, which import it) is imported
# inside the functions that use it: the stage modules import this one and report bad input before it loads.
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from bert.config import BertConfig
from bert.device import device_name
from bert.flops import peak_tflops
from bert.model_dir import CheckpointError, check_config_match
from bert.train.checkpoints import CheckpointManager, check_writable, weights_only
from bert.train.cli import BAD_INPUT, NOT_LEARNING, RESTARTS_ENV
from bert.train.metrics import MetricsLogger
from bert.train.watchdog import StepWatchdog, block_read_for_tests


@dataclasses.dataclass
class Run:
    """Where a run stands before its model exists."""

    rank: int
    world: int
    checkpoints: CheckpointManager
    latest: Path | None  # the checkpoint to resume from; None: a fresh run
    output: Path  # output_dir


def open_run(cfg, bert_config: BertConfig) -> Run:
    """Select the device and join the process group, check that output_dir takes checkpoints and that
    one found there is this model's (before any heavy work), seed MindSpore."""
    import mindspore as ms

    from bert.train import distributed

    rank, world = distributed.setup(cfg)
    checkpoints = CheckpointManager(Path(cfg.output_dir) / "checkpoints", cfg.keep_checkpoints)
    check_writable(checkpoints.directory, 3 * 4 * bert_config.parameter_count())  # fp32 weights + 2 moments
    latest = checkpoints.latest()
    if latest is not None:
        check_config_match(bert_config, weights_only(latest)[0], f"checkpoint {latest}")
    if not cfg.jit:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_seed(cfg.seed)
    return Run(rank, world, checkpoints, latest, Path(cfg.output_dir))


class Task:
    """What a stage plugs into the loop: bert.pretrain.Pretraining, bert.finetune.Finetuning,
    bert.distill.Distillation. Set the attributes; override what the stage needs."""

    name: str  # what the run does, for its first line: "finetuning L2-H128 on MRPC (3668 train, 408 dev)"
    bert_config: BertConfig
    model: object  # the nn.Cell whose weights the checkpoints hold
    loss_net: object  # (inputs…, dropout) → (loss, (metric sums…)), bert.train.loss
    feed: object  # bert.train.data.StepOrder: micro-batches of named columns per step

    def counts(self, micro_batches: list[dict]) -> list[float]:
        """Values of this rank's micro-batches that the loss needs summed over all ranks before the
        step (pretraining: the masked-token count, its MLM denominator)."""
        return []

    def inputs(self, batch: dict, counts: list[float], dropout) -> tuple:
        """One micro-batch (column name → array) + the global `counts` + the model's dropout input
        → the loss net's inputs."""
        raise NotImplementedError

    def train_metrics(self, sums: list[float], counts: list[float]) -> dict[str, float]:
        """The loss net's metric sums over the global batch → named step metrics (besides `loss`)."""
        return {}

    def step_flops(self, global_batch: int) -> int:
        """Model FLOPs of one optimizer step over `global_batch` examples (bert.flops); 0: not counted."""
        return 0

    def log_fields(self, step: int, avg: dict[str, float]) -> str:
        """The task's part of the log line, from the interval's averages."""
        return f"loss: {avg['loss']:.6f}"

    def evaluate(self, step: int, step_cell) -> dict[str, float]:
        """Evaluate (and print the result on rank 0) → TensorBoard scalars; {} when nothing to evaluate."""
        return {}

    def state(self) -> dict:
        """What the task keeps in a checkpoint's state.json besides the loop's fields."""
        return {}

    def restore(self, state: dict) -> None:
        """Take back `state()` from a resumed checkpoint."""

    def finish(self, step: int, run: Run) -> None:
        """After the last step (not after a stop request): results, predictions, the last line."""


def train(cfg, task: Task, run: Run, stop) -> int:
    """Train `task` to cfg's last step, or until a stop request; returns the exit code."""
    from bert.dropout import DropoutInputs
    from bert.train.distributed import all_reduce_sum
    from bert.train.step import make_train_step

    feed = task.feed
    total_steps = cfg.total_steps or cfg.epochs * feed.steps_per_epoch
    step_cell = make_train_step(task.loss_net, task.model, cfg, run.world, total_steps)
    dropout = DropoutInputs(task.model, cfg.seq_length, cfg.dropout_masks)

    # -- resume from the newest checkpoint, or start at step 0
    step, window, skipped_batches, rollbacks = 0, [], 0, 0
    if run.latest is not None:
        state = run.checkpoints.restore(run.latest, step_cell, task.bert_config)
        step, window = state["step"], state["log_window"]
        skipped_batches, rollbacks = state.get("skipped_batches", 0), state.get("rollbacks", 0)
        task.restore(state)
        print(f"resumed from {run.latest} at step {step}", flush=True)
    logdir = Path(cfg.log_dir) / cfg.run / "tb"
    peak = peak_tflops(device_name(), cfg.precision, cfg.peak_tflops)
    logger = MetricsLogger(logdir, run.rank, step, cfg.to_dict(), window, task.step_flops(feed.global_batch),
                           peak * run.world if peak else None)
    if RESTARTS_ENV in os.environ:  # the launch path restarted this job's workers (bert.cluster.launch)
        logger.scalars(step, {"job/restarts": float(os.environ[RESTARTS_ENV])})
    watchdog = StepWatchdog(cfg.step_timeout)
    if run.rank == 0:
        window_s = ("off" if cfg.step_timeout == 0 else f"{cfg.step_timeout:g} s" if cfg.step_timeout
                    else "max(600 s, 20 × the median step)")
        print(f"{task.name}: {run.world} worker(s) × {cfg.train_batch_size} × "
              f"{cfg.accumulation_steps} = {feed.global_batch} per step, {feed.steps_per_epoch} steps/epoch, "
              f"{total_steps} steps; step watchdog: {window_s}; TensorBoard: {logdir}", flush=True)

    batches = feed.steps(step + skipped_batches)  # the data position: steps + batches skipped by rollbacks
    micro = next(batches)
    counts = all_reduce_sum(task.counts(micro), run.world)
    stopping, skipped_in_a_row = False, 0
    try:
        while step < total_steps and not stopping:
            # -- one optimizer step over this rank's micro-batches
            start, lr = time.time(), step_cell.learning_rate(step)
            keys = feed.dropout_keys(step)
            out = step_cell.step([task.inputs(b, counts, dropout(k)) for b, k in zip(micro, keys)])
            step += 1

            # -- one collective: this step's loss and metric sums, the stop flag (any rank's request stops
            #    every rank at this step: one leaving alone would block the others), the next step's counts
            step_counts = counts
            block_read_for_tests(run.rank, step)
            micro = next(batches) if step < total_steps else None
            local = [*out["totals"], float(bool(stop)), *(task.counts(micro) if micro else [0.0] * len(counts))]
            summed = all_reduce_sum(local, run.world)
            totals, stopping, counts = summed[:len(out["totals"])], summed[len(out["totals"])] > 0, \
                summed[len(out["totals"]) + 1:]

            # -- log
            metrics = {"loss": totals[0] / out["loss_scale"], **task.train_metrics(totals[1:], step_counts),
                       "lr": lr, "grad_norm": out["grad_norm"], "loss_scale": out["loss_scale"],
                       "skipped_steps": out["skipped_steps"], "time": time.time() - start}
            avg = logger.train_step(step, metrics, feed.global_batch, step % cfg.log_interval == 0 or step == total_steps)
            if avg is not None and run.rank == 0:
                mfu = f", mfu: {avg['mfu']:.1%}" if "mfu" in avg else ""
                print(f"step: {step}/{total_steps}, avg_time(ms): {avg['time'] * 1000:.2f}, rank_id: {run.rank}, "
                      f"{task.log_fields(step, avg)}, "
                      f"lr: {avg['lr']:.3e}, grad_norm: {avg['grad_norm']:.3f}, loss_scale: {avg['loss_scale']:g}, "
                      f"skipped: {avg['skipped_steps']}, samples/s: {avg['samples_per_sec']:.1f}, "
                      f"tflops: {avg['tflops']:.3f}{mfu}, "
                      f"eta: {(total_steps - step) * avg['time'] / 60:.1f} min", flush=True)

            watchdog.beat()  # a step came: the watchdog's window starts again

            # -- a run that keeps skipping non-finite steps is not learning: roll back to the last
            #    checkpoint past the batches since it (on_nonfinite=rollback, while tries remain), else
            #    stop, saving nothing. Every rank sees the same all-reduced gradient norm: all act here
            skipped_in_a_row = 0 if out["finite"] else skipped_in_a_row + 1
            if skipped_in_a_row and skipped_in_a_row >= cfg.skip_limit > 0:
                latest = run.checkpoints.latest()
                if cfg.on_nonfinite == "rollback" and rollbacks < cfg.max_rollbacks and latest is not None:
                    stuck_at, position = step, step + skipped_batches
                    state = run.checkpoints.restore(latest, step_cell, task.bert_config, in_place=True)
                    task.restore(state)
                    step, rollbacks = state["step"], rollbacks + 1
                    skipped_batches = position + cfg.rollback_skip_batches - step
                    logger.rewind(step, state["log_window"])
                    logger.scalars(step, {"faults/rollbacks": rollbacks})
                    if run.rank == 0:
                        print(f"rollback {rollbacks} of at most {cfg.max_rollbacks}: step {stuck_at} ended "
                              f"{skipped_in_a_row} non-finite steps in a row; reloaded {latest} (step {step}) and "
                              f"continue at data position {step + skipped_batches}, {skipped_batches} batches "
                              f"skipped in all", flush=True)
                    batches = feed.steps(step + skipped_batches)
                    micro = next(batches)
                    counts = all_reduce_sum(task.counts(micro), run.world)
                    skipped_in_a_row = 0
                    continue
                logger.drain()
                if run.rank == 0:
                    tried = f" after {rollbacks} rollback(s)" if cfg.on_nonfinite == "rollback" else ""
                    print(f"error: step {step}: the loss or gradient norm was not finite for {skipped_in_a_row} steps "
                          f"in a row (max_skipped_in_a_row={cfg.skip_limit}){tried}, so nothing was saved since; the "
                          f"last good checkpoint is {latest or 'none yet'}; usual causes: a learning rate too high "
                          f"for this model and batch, a bad batch of data, fp16 overflow", file=sys.stderr, flush=True)
                return NOT_LEARNING

            # -- evaluate at each epoch end, every eval_steps and at the last step
            if step % feed.steps_per_epoch == 0 or (cfg.eval_steps and step % cfg.eval_steps == 0) or step == total_steps:
                logger.scalars(step, task.evaluate(step, step_cell))

            # -- save every save_steps, at the last step and when stopping; never a step that was skipped.
            #    A failed save (a full disk) is every rank's one-line error: the previous checkpoint stands
            if (step % cfg.save_steps == 0 or step == total_steps or stopping) and not skipped_in_a_row:
                window = logger.drain()  # TensorBoard holds every logged step before the checkpoint counts
                failed = None
                if run.rank == 0:
                    epoch, in_epoch = divmod(step + skipped_batches, feed.steps_per_epoch)
                    try:
                        run.checkpoints.save(step_cell, task.bert_config, {
                            "step": step, "epoch": epoch, "step_in_epoch": in_epoch,
                            "samples_seen": step * feed.global_batch, "seed": cfg.seed, "world_size": run.world,
                            "log_window": window, "skipped_batches": skipped_batches, "rollbacks": rollbacks,
                            "config": cfg.to_dict(), **task.state()})
                    except CheckpointError as exc:
                        failed = exc
                if all_reduce_sum([float(failed is not None)], run.world)[0]:
                    if failed is not None:
                        print(f"error: {failed}", file=sys.stderr, flush=True)
                    return BAD_INPUT
    finally:
        watchdog.stop()
    logger.drain()

    # -- stop request: saved above, leave; else the task's results
    if stopping:
        if run.rank == 0:
            who = stop.signal_name or "a stop request on another rank"
            if skipped_in_a_row:
                print(f"received {who}: step {step} was a non-finite step, not saved; {run.checkpoints.latest()} "
                      f"stands, exiting", flush=True)
            else:
                print(f"received {who}: saved step {step} to {run.checkpoints.latest()}, exiting", flush=True)
        return 0
    if run.rank == 0:
        task.finish(step, run)
    return 0
