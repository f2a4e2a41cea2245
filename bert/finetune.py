"""SST-2 finetuning: a pretrained checkpoint (ours, Hugging Face or Google TF) + GLUE-format
SST-2 in; dev accuracy, the best checkpoint, `results.json`, GLUE test predictions
(`SST-2.tsv`) and TensorBoard scalars out.

    python -m bert.finetune --config configs/finetune_sst2.yaml [key=value …]

Resumable like pretraining: a run whose output_dir holds checkpoints/ continues from there.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from bert.atomic import write_text_atomic
from bert.checkpoint import VOCAB_FILE, check_config_match, save_model_dir
from bert.config import ConfigError
from bert.data.sst2 import is_demo, load_split
from bert.tokenization import Tokenizer
from bert.train.cli import run_cli
from bert.train.config import FinetuneConfig


def find_vocab(cfg: FinetuneConfig) -> Path:
    if cfg.vocab:
        return Path(cfg.vocab)
    if cfg.init:
        for candidate in (Path(cfg.init) / VOCAB_FILE, Path(cfg.init).parent / VOCAB_FILE):
            if candidate.is_file():
                return candidate
    raise ConfigError("vocab is not set and no vocab.txt lies next to init: pass vocab=PATH")


def evaluate(step_cell, columns, batch_size: int) -> tuple[float, float]:
    """(accuracy, average loss) over a whole labelled split."""
    import mindspore as ms

    n = len(columns[0])
    nll = correct = 0.0
    for start in range(0, n, batch_size):
        batch = tuple(ms.Tensor(c[start:start + batch_size]) for c in columns)
        _, (nll_sum, right) = step_cell.evaluate(*batch, ms.Tensor(1.0, ms.float32))
        nll += float(nll_sum.asnumpy())
        correct += float(right.asnumpy())
    return correct / n, nll / n


def predict(model, columns, batch_size: int) -> np.ndarray:
    import mindspore as ms

    model.set_train(False)
    forward = ms.jit(model.construct)
    out = [forward(*(ms.Tensor(c[s:s + batch_size]) for c in columns)).asnumpy().argmax(-1)
           for s in range(0, len(columns[0]), batch_size)]
    model.set_train(True)
    return np.concatenate(out)


def main(argv=None) -> int:
    return run_cli(argv, "python -m bert.finetune", __doc__, FinetuneConfig, finetune,
                   "init=outputs/pretrain/…/checkpoints data_dir=data/SST-2 optim.learning_rate=5e-5")


def finetune(cfg: FinetuneConfig, stop) -> int:
    import mindspore as ms

    from bert.convert import load_pretrained
    from bert.model import BertForSequenceClassification
    from bert.train import distributed
    from bert.train.checkpointing import CheckpointManager, resolve_init, weights_only
    from bert.train.data import ArrayFeed
    from bert.train.loss import ClassificationLoss
    from bert.train.metrics import MetricsLogger
    from bert.train.step import make_train_step

    bert_config = cfg.bert_config()
    vocab = find_vocab(cfg)
    tokenizer = Tokenizer(vocab)
    if tokenizer.vocab_size != bert_config.vocab_size:
        raise ConfigError(f"vocab {vocab} has {tokenizer.vocab_size} tokens, the model vocab_size "
                          f"{bert_config.vocab_size}")
    data_dir = Path(cfg.data_dir)
    train_cols = load_split(data_dir, "train", tokenizer, cfg.max_length)
    dev_cols = load_split(data_dir, "dev", tokenizer, cfg.max_length)
    test_cols = load_split(data_dir, "test", tokenizer, cfg.max_length) if (data_dir / "test.tsv").is_file() else None
    dataset = "generated demo set (not SST-2)" if is_demo(data_dir) else "SST-2"
    output = Path(cfg.output_dir)
    checkpoints = CheckpointManager(output / "checkpoints", cfg.keep_checkpoints)
    latest = checkpoints.latest()
    if latest is not None:
        check_config_match(bert_config, weights_only(latest)[0], f"checkpoint {latest}")

    rank, world = distributed.setup(cfg.device_target)
    if not cfg.jit:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_seed(cfg.seed)
    feed = ArrayFeed(train_cols, cfg.train_batch_size, cfg.accumulation_steps, rank, world, cfg.seed)
    total_steps = cfg.epochs * feed.steps_per_epoch
    cfg.optim.warmup_steps = int(cfg.warmup_proportion * total_steps) or cfg.optim.warmup_steps
    model = BertForSequenceClassification(bert_config, cfg.num_labels)
    step_cell = make_train_step(ClassificationLoss(model), model, cfg, world, total_steps)

    global_step, best, history = 0, {"accuracy": -1.0, "step": 0}, []
    if latest is not None:
        state = checkpoints.restore(latest, step_cell, bert_config)
        global_step, best, history = state["step"], state["best"], state["history"]
        print(f"resumed from {latest} at step {global_step}", flush=True)
    elif cfg.init:
        source = resolve_init(Path(cfg.init))
        load_pretrained(model, source, missing_ok=("classifier.",), unexpected_ok=("cls.",))
        print(f"initialised encoder from {source}", flush=True)

    logdir = Path(cfg.log_dir) / cfg.run / "tb"
    logger = MetricsLogger(logdir, rank, total_steps, global_step, cfg.to_dict())
    if rank == 0:
        print(f"finetuning {bert_config.name} on {dataset} ({len(train_cols[0])} train, {len(dev_cols[0])} dev): "
              f"{feed.global_batch} per step, {total_steps} steps; TensorBoard: {logdir}", flush=True)

    def dev_eval():
        accuracy, avg_loss = evaluate(step_cell, dev_cols, cfg.eval_batch_size)
        if accuracy > best["accuracy"]:
            best.update(accuracy=accuracy, step=global_step)
            if rank == 0 and accuracy >= cfg.accuracy_threshold:
                save_model_dir(output / "best", bert_config, {p.name: p.asnumpy() for p in model.get_parameters()},
                               vocab)
        history.append({"step": global_step, "accuracy": accuracy, "loss": avg_loss})
        logger.scalars(global_step, {"finetune/dev_accuracy": accuracy, "finetune/best_accuracy": best["accuracy"],
                                     "finetune/dev_loss": avg_loss})
        if rank == 0:
            print(f"Test ({dataset}, step {global_step}):\n"
                  f"Accuracy: {accuracy:.1%}, Best-Accuracy: {best['accuracy']:.1%}, Avg loss: {avg_loss:.6f}",
                  flush=True)

    def save():
        if rank == 0:
            checkpoints.save(step_cell, bert_config, {"step": global_step, "best": best, "history": history,
                                                      "seed": cfg.seed, "config": cfg.to_dict()})

    window = []
    stopping = False
    while global_step < total_steps and not stopping:
        epoch, in_epoch = divmod(global_step, feed.steps_per_epoch)
        for _, micro in feed.epoch(epoch, in_epoch):
            lr = float(step_cell.optimizer.learning_rate(step_cell.optimizer.global_step).asnumpy().reshape(-1)[0])
            start = time.time()
            denominator = ms.Tensor(float(feed.global_batch), ms.float32)
            m = step_cell.step([tuple(ms.Tensor(c) for c in b) + (denominator,) for b in micro])
            global_step += 1
            stopping = distributed.agree_to_stop(bool(stop), world)
            window.append((m["loss"], time.time() - start))
            if global_step % cfg.log_interval == 0:
                loss, seconds = np.mean(window, axis=0)
                logger.scalars(global_step, {"finetune/train_loss": loss, "finetune/lr": lr,
                                             "perf/samples_per_sec": feed.global_batch / seconds})
                if rank == 0:
                    print(f"step: {global_step}/{total_steps}, epoch: {epoch + 1}, loss: {loss:.6f}, lr: {lr:.3e}, "
                          f"samples/s: {feed.global_batch / seconds:.1f}", flush=True)
                window = []
            epoch_end = global_step % feed.steps_per_epoch == 0
            if epoch_end or (cfg.eval_steps and global_step % cfg.eval_steps == 0):
                dev_eval()
            if global_step % cfg.save_steps == 0 or epoch_end or stopping:
                save()
            if stopping:
                break
    logger.close()
    if stopping:
        if rank == 0:
            who = stop.signal_name or "a stop request on another rank"
            print(f"received {who}: saved step {global_step}, exiting to be requeued", flush=True)
        return 0
    if rank == 0:
        write_results(cfg, output, model, test_cols, dataset, best, history)
    return 0


def write_results(cfg, output: Path, model, test_cols, dataset: str, best: dict, history: list) -> None:
    """results.json, and SST-2.tsv predictions with the best weights (the last ones if none was kept)."""
    from bert.checkpoint import assign_state, read_model_dir

    if (output / "best").is_dir():
        assign_state(model, read_model_dir(output / "best")[1], source="best checkpoint")
    if test_cols is not None:
        predictions = predict(model, test_cols[:3], cfg.eval_batch_size)
        lines = ["index\tprediction"] + [f"{i}\t{p}" for i, p in zip(test_cols[3], predictions)]
        write_text_atomic(output / "SST-2.tsv", "\n".join(lines) + "\n")
    results = {"dataset": dataset, "dev_accuracy": history[-1]["accuracy"], "best_accuracy": best["accuracy"],
               "best_step": best["step"], "dev_loss": history[-1]["loss"], "history": history,
               "best_checkpoint": str(output / "best") if (output / "best").is_dir() else None,
               "accuracy_threshold": cfg.accuracy_threshold, "config": cfg.to_dict()}
    write_text_atomic(output / "results.json", json.dumps(results, indent=2) + "\n")
    print(f"done ({dataset}): best dev accuracy {best['accuracy']:.1%} at step {best['step']}; "
          f"results in {output / 'results.json'}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
