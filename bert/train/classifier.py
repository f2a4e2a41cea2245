"""The sentence-classification run shared by bert.finetune and bert.distill: a task (tokenized
GLUE-format splits, checkpoints, ranks) in; the train loop with dev evaluation, best checkpoint,
resume, SIGUSR2 save-and-exit, TensorBoard scalars under `<tag>/`, `results.json` and GLUE test
predictions out. The two stages differ only in their loss net and the extra inputs of a batch."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from bert.atomic import write_text_atomic
from bert.checkpoint import VOCAB_FILE, check_config_match, save_model_dir
from bert.config import BertConfig, ConfigError
from bert.data.sst2 import is_demo, load_split
from bert.tokenization import Tokenizer


def find_vocab(cfg) -> Path:
    """`vocab`, else the vocab.txt in or next to `init`."""
    if cfg.vocab:
        return Path(cfg.vocab)
    if cfg.init:
        for candidate in (Path(cfg.init) / VOCAB_FILE, Path(cfg.init).parent / VOCAB_FILE):
            if candidate.is_file():
                return candidate
    raise ConfigError("vocab is not set and no vocab.txt lies next to init: pass vocab=PATH")


@dataclasses.dataclass
class ClassifierTask:
    """Everything a classification run reads before its first step."""

    cfg: object
    bert_config: BertConfig
    vocab: Path
    tokenizer: Tokenizer
    train: tuple[np.ndarray, ...]  # input_ids, token_type_ids, attention_mask, labels
    dev: tuple[np.ndarray, ...]
    test: tuple[np.ndarray, ...] | None  # … and indices instead of labels
    dataset: str
    output: Path
    checkpoints: object
    latest: Path | None
    rank: int = 0
    world: int = 1

    @classmethod
    def load(cls, cfg) -> "ClassifierTask":
        """Check vocab and checkpoints, tokenize the splits, join the process group."""
        import mindspore as ms

        from bert.train import distributed
        from bert.train.checkpointing import CheckpointManager, check_writable, resolve_init, weights_only

        bert_config = cfg.bert_config()
        if cfg.init:
            resolve_init(Path(cfg.init))  # a missing init is named as such, not blamed on the vocab
        vocab = find_vocab(cfg)
        tokenizer = Tokenizer(vocab)
        if tokenizer.vocab_size != bert_config.vocab_size:
            raise ConfigError(f"vocab {vocab} has {tokenizer.vocab_size} tokens, the model vocab_size "
                              f"{bert_config.vocab_size}")
        data_dir = Path(cfg.data_dir)
        splits = [load_split(data_dir, split, tokenizer, cfg.max_length) for split in ("train", "dev")]
        test = load_split(data_dir, "test", tokenizer, cfg.max_length) if (data_dir / "test.tsv").is_file() else None
        output = Path(cfg.output_dir)
        checkpoints = CheckpointManager(output / "checkpoints", cfg.keep_checkpoints)
        check_writable(checkpoints.directory, 3 * 4 * bert_config.parameter_count())
        latest = checkpoints.latest()
        if latest is not None:
            check_config_match(bert_config, weights_only(latest)[0], f"checkpoint {latest}")
        rank, world = distributed.setup(cfg.device_target, cfg.precision, cfg.deterministic)
        if not cfg.jit:
            ms.set_context(mode=ms.PYNATIVE_MODE)
        ms.set_seed(cfg.seed)
        dataset = "generated demo set (not SST-2)" if is_demo(data_dir) else "SST-2"
        return cls(cfg, bert_config, vocab, tokenizer, *splits, test, dataset, output, checkpoints, latest, rank, world)


class Evaluator:
    """Dev accuracy and average cross-entropy of a classifier, dropout off, compiled once."""

    def __init__(self, model, jit: bool = True):
        import mindspore as ms

        from bert.train.loss import ClassificationLoss

        self.model = model
        self.loss_net = ClassificationLoss(model)
        self.forward = ms.jit(self.loss_net.construct) if jit else self.loss_net.construct

    def __call__(self, columns, batch_size: int) -> tuple[float, float]:
        import mindspore as ms

        n = len(columns[0])
        nll = correct = 0.0
        self.model.set_train(False)
        try:
            for start in range(0, n, batch_size):
                batch = tuple(ms.Tensor(c[start:start + batch_size]) for c in columns[:4])
                _, (nll_sum, right) = self.forward(*batch, ms.Tensor(1.0, ms.float32))
                nll += float(nll_sum.asnumpy())
                correct += float(right.asnumpy())
        finally:
            self.model.set_train(True)
        return correct / n, nll / n


def logits_of(model, columns, batch_size: int, jit: bool = True) -> np.ndarray:
    """A classifier's logits [N, num_labels] for (input_ids, token_type_ids, attention_mask), dropout off."""
    import mindspore as ms

    model.set_train(False)
    forward = ms.jit(model.construct) if jit else model.construct
    try:
        return np.concatenate([forward(*(ms.Tensor(c[s:s + batch_size]) for c in columns[:3])).asnumpy()
                               for s in range(0, len(columns[0]), batch_size)])
    finally:
        model.set_train(True)


def train_classifier(task: ClassifierTask, stop, model, step_cell, feed, make_inputs: Callable, tag: str,
                     extra_results: dict | None = None) -> int:
    """The train loop: `feed` yields (step, micro-batches), `make_inputs(micro_batch, dropout)`
    turns one and the model's dropout input into the loss net's tensors; dev evaluation at each
    epoch end (and every eval_steps), best checkpoint, checkpoints every save_steps, results at
    the end. Returns the exit code."""
    from bert.dropout import DropoutInputs
    from bert.train import distributed
    from bert.train.metrics import MetricsLogger

    cfg, rank, output = task.cfg, task.rank, task.output
    dropout = DropoutInputs(model, cfg.max_length, cfg.dropout_masks)
    total_steps = cfg.epochs * feed.steps_per_epoch
    global_step, best, history, log_window = 0, {"accuracy": -1.0, "step": 0}, [], []
    if task.latest is not None:
        state = task.checkpoints.restore(task.latest, step_cell, task.bert_config)
        global_step, best, history = state["step"], state["best"], state["history"]
        log_window = state.get("log_window", [])
        print(f"resumed from {task.latest} at step {global_step}", flush=True)
    evaluator = Evaluator(model, cfg.jit)
    logdir = Path(cfg.log_dir) / cfg.run / "tb"
    logger = MetricsLogger(logdir, rank, total_steps, global_step, cfg.to_dict(), log_window)

    def dev_eval():
        accuracy, avg_loss = evaluator(task.dev, cfg.eval_batch_size)
        if accuracy > best["accuracy"]:
            best.update(accuracy=accuracy, step=global_step)
            if rank == 0 and accuracy >= cfg.accuracy_threshold:
                save_model_dir(output / "best", task.bert_config,
                               {p.name: p.asnumpy() for p in model.get_parameters()}, task.vocab)
        history.append({"step": global_step, "accuracy": accuracy, "loss": avg_loss})
        logger.scalars(global_step, {f"{tag}/dev_accuracy": accuracy, f"{tag}/best_accuracy": best["accuracy"],
                                     f"{tag}/dev_loss": avg_loss})
        if rank == 0:
            print(f"Test ({task.dataset}, step {global_step}):\n"
                  f"Accuracy: {accuracy:.1%}, Best-Accuracy: {best['accuracy']:.1%}, Avg loss: {avg_loss:.6f}",
                  flush=True)

    def save():
        window = logger.drain()  # TensorBoard holds every logged step before the checkpoint counts
        if rank == 0:
            task.checkpoints.save(step_cell, task.bert_config, {"step": global_step, "best": best, "history": history,
                                                                "seed": cfg.seed, "log_window": window,
                                                                "config": cfg.to_dict()})

    stopping = False
    while global_step < total_steps and not stopping:
        epoch, in_epoch = divmod(global_step, feed.steps_per_epoch)
        for _, micro in feed.epoch(epoch, in_epoch):
            lr = float(step_cell.optimizer.learning_rate(step_cell.optimizer.global_step).asnumpy().reshape(-1)[0])
            start = time.time()
            keys = feed.dropout_keys(global_step)
            m = step_cell.step([make_inputs(b, dropout(k)) for b, k in zip(micro, keys)])
            global_step += 1
            stopping = distributed.agree_to_stop(bool(stop), task.world)
            logger.window.append({"loss": m["loss"], "time": time.time() - start})
            if global_step % cfg.log_interval == 0:
                loss, seconds = (np.mean([w[k] for w in logger.window]) for k in ("loss", "time"))
                logger.scalars(global_step, {f"{tag}/train_loss": loss, f"{tag}/lr": lr,
                                             "perf/samples_per_sec": feed.global_batch / seconds})
                if rank == 0:
                    print(f"step: {global_step}/{total_steps}, epoch: {epoch + 1}, loss: {loss:.6f}, lr: {lr:.3e}, "
                          f"samples/s: {feed.global_batch / seconds:.1f}", flush=True)
                logger.window = []
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
            print(f"received {who}: saved step {global_step}, exiting", flush=True)
        return 0
    if rank == 0:
        write_results(task, model, best, history, extra_results or {})
    return 0


def write_results(task: ClassifierTask, model, best: dict, history: list, extra: dict) -> None:
    """results.json, and SST-2.tsv predictions with the best weights (the last ones if none was kept)."""
    from bert.checkpoint import assign_state, read_model_dir

    cfg, output = task.cfg, task.output
    if (output / "best").is_dir():
        assign_state(model, read_model_dir(output / "best")[1], source="best checkpoint")
    if task.test is not None:
        predictions = logits_of(model, task.test, cfg.eval_batch_size, cfg.jit).argmax(-1)
        lines = ["index\tprediction"] + [f"{i}\t{p}" for i, p in zip(task.test[3], predictions)]
        write_text_atomic(output / "SST-2.tsv", "\n".join(lines) + "\n")
    results = {"dataset": task.dataset, "dev_accuracy": history[-1]["accuracy"], "best_accuracy": best["accuracy"],
               "best_step": best["step"], "dev_loss": history[-1]["loss"], "history": history,
               "best_checkpoint": str(output / "best") if (output / "best").is_dir() else None,
               "accuracy_threshold": cfg.accuracy_threshold, **extra, "config": cfg.to_dict()}
    write_text_atomic(output / "results.json", json.dumps(results, indent=2) + "\n")
    print(f"done ({task.dataset}): best dev accuracy {best['accuracy']:.1%} at step {best['step']}; "
          f"results in {output / 'results.json'}", flush=True)
