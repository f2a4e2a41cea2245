"""MLM+NSP pretraining: MindRecord shards + a config in, checkpoints and TensorBoard logs out.

    python -m bert.pretrain --config configs/pretrain.yaml [key=value …]
    msrun --worker_num=2 --local_worker_num=2 --join=True -m bert.pretrain --config …   (data parallel)

A run whose output_dir already holds a checkpoint resumes from it (weights, optimizer moments,
step, LR schedule, loss scale, data cursor). SIGUSR2/SIGTERM: save at the next step boundary and
exit 0 (whether the job is then requeued is the launcher's call: jobs/launch.py).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from bert.checkpoint import check_config_match
from bert.convert import load_pretrained
from bert.train.cli import run_cli
from bert.train.config import PretrainConfig
from bert.train.data import PretrainingFeed, check_files, resolve_files


def build(cfg: PretrainConfig, world: int, total_steps: int):
    """Model, optimizer and train step for this config."""
    import mindspore as ms

    from bert.model import BertForPreTraining
    from bert.train.loss import PretrainingLoss
    from bert.train.step import make_train_step

    ms.set_seed(cfg.seed)
    model = BertForPreTraining(cfg.bert_config())
    step = make_train_step(PretrainingLoss(model), model, cfg, world, total_steps)
    return model, step.optimizer, step


def to_inputs(micro_batches, global_batch: int, world: int, dropout=None):
    """numpy micro-batches → tensors + the global denominators of Google's losses (+ each
    micro-batch's `dropout` input when training: `bert.dropout.DropoutInputs`)."""
    import mindspore as ms

    from bert.train.distributed import all_reduce_sum

    masked = all_reduce_sum([float(sum(b[5].sum() for b in micro_batches))], world)[0]
    extra = (ms.Tensor(masked + 1e-5, ms.float32), ms.Tensor(float(global_batch), ms.float32))
    dropout = [(d,) for d in dropout] if dropout is not None else [()] * len(micro_batches)
    return [tuple(ms.Tensor(c) for c in batch) + extra + d for batch, d in zip(micro_batches, dropout)], masked


def evaluate(step_cell, files, cfg: PretrainConfig, rank: int, world: int, num_rows: int) -> dict:
    """MLM/NSP loss and accuracy on the held-out shards (first eval_batches global batches)."""
    from bert.train.distributed import all_reduce_sum

    feed = PretrainingFeed(files, cfg.train_batch_size, 1, rank, world, cfg.seed, num_rows, shuffle=False)
    sums = np.zeros(6)
    for k, (_, micro) in enumerate(feed.epoch(0)):
        if k >= cfg.eval_batches:
            break
        batch = to_inputs(micro, feed.global_batch, world)[0][0]
        _, (mlm_sum, nsp_sum, mlm_correct, nsp_correct) = step_cell.evaluate(*batch)
        sums += [float(x.asnumpy()) for x in (mlm_sum, nsp_sum, mlm_correct, nsp_correct)] + [
            float(micro[0][5].sum()), feed.batch_size]
    sums = np.array(all_reduce_sum(list(sums), world))
    masked, examples = max(sums[4], 1e-5), max(sums[5], 1)
    return {"eval/mlm_loss": sums[0] / masked, "eval/nsp_loss": sums[1] / examples,
            "eval/loss": sums[0] / masked + sums[1] / examples,
            "eval/mlm_accuracy": sums[2] / masked, "eval/nsp_accuracy": sums[3] / examples}


def main(argv=None) -> int:
    return run_cli(argv, "python -m bert.pretrain", __doc__, PretrainConfig, train,
                   "data=data/wiki/examples model.name=L2-H128 optim.learning_rate=5e-4")


def train(cfg: PretrainConfig, stop) -> int:
    import mindspore as ms

    from bert.dropout import DropoutInputs
    from bert.train import distributed
    from bert.train.checkpointing import CheckpointManager, check_writable, resolve_init, weights_only
    from bert.train.metrics import MetricsLogger

    bert_config = cfg.bert_config()
    files = resolve_files(cfg.data)
    num_rows = check_files(files, cfg.max_seq_length, cfg.max_predictions_per_seq, bert_config.vocab_size)
    eval_files = resolve_files(cfg.eval_data) if cfg.eval_data else None
    eval_rows = (check_files(eval_files, cfg.max_seq_length, cfg.max_predictions_per_seq, bert_config.vocab_size)
                 if eval_files else 0)
    rank, world = distributed.setup(cfg.device_target, cfg.precision, cfg.deterministic)
    checkpoints = CheckpointManager(Path(cfg.output_dir) / "checkpoints", cfg.keep_checkpoints)
    check_writable(checkpoints.directory, 3 * 4 * bert_config.parameter_count())  # fp32 weights + 2 moments
    latest = checkpoints.latest()
    if latest is not None:  # fail on another model's checkpoint before any heavy work
        check_config_match(bert_config, weights_only(latest)[0], f"checkpoint {latest}")
    init = resolve_init(Path(cfg.init)) if cfg.init and latest is None else None

    if not cfg.jit:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    feed = PretrainingFeed(files, cfg.train_batch_size, cfg.accumulation_steps, rank, world, cfg.seed, num_rows)
    total_steps = cfg.total_steps or cfg.epochs * feed.steps_per_epoch
    model, optimizer, step_cell = build(cfg, world, total_steps)
    dropout = DropoutInputs(model, cfg.max_seq_length, cfg.dropout_masks)

    global_step, log_window = 0, []
    if latest is not None:
        state = checkpoints.restore(latest, step_cell, bert_config)
        global_step, log_window = state["step"], state.get("log_window", [])
        print(f"resumed from {latest} at step {global_step}", flush=True)
    elif init is not None:
        left = load_pretrained(model, init, missing_ok=("cls.",))
        print(f"initialised weights from {init}" + (f" ({len(left)} head tensors fresh)" if left else ""),
              flush=True)

    logdir = Path(cfg.log_dir) / cfg.run / "tb"
    logger = MetricsLogger(logdir, rank, total_steps, global_step, cfg.to_dict(), log_window)
    if rank == 0:
        print(f"pretraining {bert_config.name} on {num_rows} examples: {world} worker(s) × "
              f"{cfg.train_batch_size} × {cfg.accumulation_steps} = {feed.global_batch} per step, "
              f"{feed.steps_per_epoch} steps/epoch, {total_steps} steps; TensorBoard: {logdir}", flush=True)

    def save():
        window = logger.drain()  # TensorBoard holds every logged step before the checkpoint counts
        if rank == 0:
            epoch, in_epoch = divmod(global_step, feed.steps_per_epoch)
            checkpoints.save(step_cell, bert_config, {
                "step": global_step, "epoch": epoch, "step_in_epoch": in_epoch,
                "samples_seen": global_step * feed.global_batch, "seed": cfg.seed,
                "world_size": world, "log_window": window, "config": cfg.to_dict()})

    stopping = False
    while global_step < total_steps and not stopping:
        epoch, in_epoch = divmod(global_step, feed.steps_per_epoch)
        for _, micro in feed.epoch(epoch, in_epoch):
            lr = float(optimizer.learning_rate(optimizer.global_step).asnumpy().reshape(-1)[0])
            start = time.time()
            inputs, masked = to_inputs(micro, feed.global_batch, world,
                                       [dropout(keys) for keys in feed.dropout_keys(global_step)])
            m = step_cell.step(inputs)
            global_step += 1
            stopping = distributed.agree_to_stop(bool(stop), world)
            mlm_sum, nsp_sum, mlm_correct, nsp_correct = m["sums"]
            logger.train_step(global_step, {**m, "mlm_loss": mlm_sum / max(masked, 1e-5),
                                            "nsp_loss": nsp_sum / feed.global_batch,
                                            "mlm_accuracy": mlm_correct / max(masked, 1e-5),
                                            "nsp_accuracy": nsp_correct / feed.global_batch},
                              lr, time.time() - start, feed.global_batch, cfg.log_interval)
            if eval_files and cfg.eval_steps and global_step % cfg.eval_steps == 0:
                logger.scalars(global_step, evaluate(step_cell, eval_files, cfg, rank, world, eval_rows))
            if global_step % cfg.save_steps == 0 or global_step == total_steps or stopping:
                save()
            if global_step >= total_steps or stopping:
                break
    if stopping:
        if rank == 0:
            who = stop.signal_name or "a stop request on another rank"
            print(f"received {who}: saved step {global_step} to {checkpoints.latest()}, exiting",
                  flush=True)
        logger.close()
        return 0
    if eval_files and not cfg.eval_steps:
        results = evaluate(step_cell, eval_files, cfg, rank, world, eval_rows)
        logger.scalars(global_step, results)
        if rank == 0:
            print("eval: " + ", ".join(f"{k.split('/')[1]}: {v:.4f}" for k, v in results.items()), flush=True)
    logger.close()
    if rank == 0:
        print(f"done: step {global_step}, checkpoint {checkpoints.latest()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
