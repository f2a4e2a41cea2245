"""Task distillation (Well-Read Students, Turc et al. 2019): a teacher finetuned on the task, a
pretrained compact student and GLUE-format task data (+ unlabeled transfer sentences) in; the
student trained on the teacher's temperature-scaled class distribution out, evaluated on dev as
finetuning is (accuracy lines, best checkpoint, results.json, SST-2.tsv, TensorBoard `distill/`).

    python -m bert.distill --config configs/distill_sst2.yaml teacher=… init=… [key=value …]

The teacher runs in inference mode only (no dropout, no gradients). With cache_teacher (the
default) its logits over the transfer set are computed once into output_dir/teacher_logits.npy,
keyed by the teacher's weights and the tokenized inputs (a changed teacher or set recomputes
them), so the student's epochs never run the teacher; cache_teacher=false runs it on every batch.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bert.atomic import temporary_sibling, write_text_atomic
from bert.checkpoint import VOCAB_FILE, CheckpointError
from bert.config import ConfigError
from bert.data.extract import DataError
from bert.data.sst2 import encode
from bert.tokenization import read_vocab
from bert.train.cli import run_cli
from bert.train.config import DistillConfig

CACHE_FILE, CACHE_KEY_FILE = "teacher_logits.npy", "teacher_logits.json"


def main(argv=None) -> int:
    return run_cli(argv, "python -m bert.distill", __doc__, DistillConfig, distill,
                   "teacher=outputs/finetune/sst2-L12-H768/best init=outputs/pretrain/L4-H256/checkpoints")


def read_transfer(path: Path, tokenizer, max_length: int) -> tuple[np.ndarray, ...]:
    """Unlabeled sentences, one per line (blank lines skipped) → model input columns."""
    if not path.is_file():
        raise DataError(f"transfer data {path} does not exist")
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise DataError(f"transfer data {path} holds no sentences")
    return encode(tokenizer, texts, max_length)


def teacher_vocab(cfg: DistillConfig, source: Path) -> Path:
    if cfg.teacher_vocab:
        return Path(cfg.teacher_vocab)
    for folder in dict.fromkeys((source, source.parent, Path(cfg.teacher), Path(cfg.teacher).parent)):
        if (folder / VOCAB_FILE).is_file():
            return folder / VOCAB_FILE
    raise ConfigError(f"no {VOCAB_FILE} in or next to teacher {cfg.teacher}: pass teacher_vocab=PATH")


def check_same_vocab(teacher: Path, student: Path) -> None:
    """Teacher and student read the same token ids, so their vocabularies must be one."""
    t_tokens, s_tokens = read_vocab(teacher), read_vocab(student)
    if t_tokens == s_tokens:
        return
    first = next((i for i, (a, b) in enumerate(zip(t_tokens, s_tokens)) if a != b), min(len(t_tokens), len(s_tokens)))
    raise ConfigError(f"teacher vocab {teacher} ({len(t_tokens)} tokens) differs from the student vocab {student} "
                      f"({len(s_tokens)} tokens) from id {first} on: distillation needs one vocabulary — use a "
                      f"student pretrained with the teacher's vocab")


def load_teacher(cfg: DistillConfig, student_vocab: Path):
    """(teacher classifier without dropout, its source, a digest of its weights)."""
    from bert.checkpoint import assign_state
    from bert.convert import read_any
    from bert.model import BertForSequenceClassification
    from bert.train.checkpointing import resolve_init

    source = resolve_init(Path(cfg.teacher), "teacher")
    check_same_vocab(teacher_vocab(cfg, source), student_vocab)
    config, state = read_any(source)
    if not any(name.startswith("classifier.") for name in state):
        raise CheckpointError(f"teacher {source} has no classifier: distil from a model finetuned on the task "
                              f"(e.g. a finetuning run's best/)")
    config = dataclasses.replace(config, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(config, cfg.num_labels)
    assign_state(model, state, unexpected_ok=("cls.",), source=f"teacher {source}")
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(state[name]).tobytes())
    return model, source, digest.hexdigest()


def inputs_digest(columns) -> str:
    digest = hashlib.sha256()
    for column in columns:
        digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()


def cached_logits(output: Path, key: dict, compute, write: bool) -> tuple[np.ndarray, bool]:
    """The cache's logits when its key matches `key`, else `compute()` (saved when `write`);
    the key file is written last, so a cut-off write is never taken for a cache."""
    key_file, cache = output / CACHE_KEY_FILE, output / CACHE_FILE
    if key_file.is_file() and cache.is_file() and json.loads(key_file.read_text()) == key:
        return np.load(cache, allow_pickle=False), True
    logits = compute()
    if write:
        output.mkdir(parents=True, exist_ok=True)
        tmp = temporary_sibling(cache)
        with open(tmp, "wb") as f:
            np.save(f, logits, allow_pickle=False)
        os.replace(tmp, cache)
        write_text_atomic(key_file, json.dumps(key, indent=2) + "\n")
    return logits, False


def distill(cfg: DistillConfig, stop) -> int:
    import mindspore as ms

    from bert.finetune import build_student
    from bert.train.classifier import ClassifierTask, logits_of, train_classifier
    from bert.train.data import ArrayFeed
    from bert.train.checkpointing import resolve_init
    from bert.train.loss import DistillationLoss
    from bert.train.step import make_train_step

    resolve_init(Path(cfg.teacher), "teacher")  # before any heavy work
    task = ClassifierTask.load(cfg)
    teacher, source, teacher_digest = load_teacher(cfg, task.vocab)
    *inputs, labels = task.train
    label_weights = np.ones(len(labels), np.float32)
    if cfg.transfer_data:
        extra = read_transfer(Path(cfg.transfer_data), task.tokenizer, cfg.max_length)
        inputs = [np.concatenate([a, b]) for a, b in zip(inputs, extra)]
        labels = np.concatenate([labels, np.zeros(len(extra[0]), np.int32)])
        label_weights = np.concatenate([label_weights, np.zeros(len(extra[0]), np.float32)])
    rows = np.arange(len(labels), dtype=np.int32)
    columns = (*inputs, labels, label_weights, rows)

    teacher_dev = float((logits_of(teacher, task.dev, cfg.eval_batch_size, cfg.jit).argmax(-1) == task.dev[3]).mean())
    if cfg.cache_teacher:
        start = time.time()
        key = {"teacher": str(source), "teacher_sha256": teacher_digest, "inputs_sha256": inputs_digest(inputs),
               "rows": len(rows), "num_labels": cfg.num_labels}
        cache, reused = cached_logits(task.output, key, lambda: logits_of(teacher, inputs, cfg.eval_batch_size, cfg.jit),
                                      write=task.rank == 0)
        origin = f"{'read from' if reused else f'computed in {time.time() - start:.1f} s into'} " \
                 f"{task.output / CACHE_FILE}"
        del teacher

        def teacher_logits(batch):
            return ms.Tensor(cache[batch[-1]])  # the last column holds the rows' indices
    else:
        origin = "computed live on every batch"
        teacher.set_train(False)
        forward = ms.jit(teacher.construct) if cfg.jit else teacher.construct

        def teacher_logits(batch):
            return forward(*(ms.Tensor(c) for c in batch[:3]))

    feed = ArrayFeed(columns, cfg.train_batch_size, cfg.accumulation_steps, task.rank, task.world, cfg.seed)
    total_steps = cfg.epochs * feed.steps_per_epoch
    cfg.optim.warmup_steps = int(cfg.warmup_proportion * total_steps) or cfg.optim.warmup_steps
    model = build_student(task)
    loss_net = DistillationLoss(model, cfg.temperature, cfg.soft_weight)
    step_cell = make_train_step(loss_net, model, cfg, task.world, total_steps)
    denominator = ms.Tensor(float(feed.global_batch), ms.float32)
    if task.rank == 0:
        print(f"teacher {source}: dev accuracy {teacher_dev:.1%}; logits {origin}", flush=True)
        print(f"distilling into {task.bert_config.name} on {task.dataset} ({len(task.train[0])} labelled + "
              f"{len(rows) - len(task.train[0])} transfer sentences, {len(task.dev[0])} dev), temperature "
              f"{cfg.temperature:g}, soft weight {cfg.soft_weight:g}: {feed.global_batch} per step, {total_steps} "
              f"steps; TensorBoard: {Path(cfg.log_dir) / cfg.run / 'tb'}", flush=True)

    def make_inputs(batch, dropout):
        return (*(ms.Tensor(c) for c in batch[:5]), teacher_logits(batch), denominator, dropout)

    return train_classifier(task, stop, model, step_cell, feed, make_inputs, "distill",
                            {"teacher": str(source), "teacher_dev_accuracy": teacher_dev,
                             "transfer_rows": int(len(rows) - len(task.train[0]))})


if __name__ == "__main__":
    sys.exit(main())
