"""Task distillation (Well-Read Students, Turc et al. 2019): a teacher finetuned on a GLUE task, a
pretrained compact student and the task's folder (+ unlabeled transfer examples) in; the student
trained on the teacher's temperature-scaled class distribution (its score, for STS-B) out,
evaluated on dev as finetuning is (metric lines, best checkpoint, results.json, submission files,
TensorBoard).

    python -m bert.distill --config configs/distill_sst2.yaml teacher=… init=… [key=value …]

The teacher runs in inference mode only (no dropout, no gradients). With cache_teacher (the
default) its outputs over the training + transfer set are computed once into teacher_logits.npy
(in teacher_cache, default output_dir: students of one teacher can share it), keyed by the
teacher's weights and the tokenized inputs (a changed teacher or set recomputes them), so the
student's epochs never run the teacher; cache_teacher=false runs it on every batch.
"""
# MindSpore (and bert.model, bert.train.loss, which import it) is imported inside the functions that use
# it: bad input is reported in one line before MindSpore loads.
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bert.atomic import temporary_sibling, write_text_atomic
from bert.model_dir import VOCAB_FILE, CheckpointError, assign_state
from bert.config import ConfigError
from bert.convert import read_any
from bert.data import DataError
from bert.glue.tasks import Examples, encode
from bert.glue.metrics import format_metrics
from bert.tokenization import read_vocab
from bert.glue.dataset import TaskData
from bert.train.checkpoints import resolve_init
from bert.train.classifier import Classification, outputs_of
from bert.train.cli import run_cli
from bert.train.config import DistillConfig
from bert.train.data import ArrayFeed
from bert.train.loop import open_run, train

CACHE_FILE, CACHE_KEY_FILE, CACHE_LOCK_FILE = "teacher_logits.npy", "teacher_logits.json", "teacher_logits.lock"


def main(argv=None) -> int:
    return run_cli(argv, "python -m bert.distill", __doc__, DistillConfig, distill,
                   "teacher=outputs/finetune/sst2-L12-H768/best init=outputs/pretrain/L4-H256/checkpoints")


def read_transfer(path: Path, task, tokenizer, max_length: int) -> dict[str, np.ndarray]:
    """Unlabeled examples, one per line (a pair task's two sentences tab-separated; blank lines
    skipped) → model input columns."""
    if not path.is_file():
        raise DataError(f"transfer data {path} does not exist")
    rows = [(number, line) for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if line.strip()]
    if not rows:
        raise DataError(f"transfer data {path} holds no examples")
    fields = [line.split("\t") for _, line in rows]
    width = 2 if task.is_pair else 1
    for (number, _), parts in zip(rows, fields):
        if len(parts) != width:
            raise DataError(f"{path}:{number}: expected {width} tab-separated field(s) for {task.name}, got {len(parts)}")
    examples = Examples([f[0] for f in fields], [f[1] for f in fields] if task.is_pair else None, None, None)
    return encode(tokenizer, examples, max_length)


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


def load_teacher(cfg: DistillConfig, student_vocab: Path, num_labels: int):
    """(teacher classifier without dropout, its source, a digest of its weights)."""
    from bert.model import BertForSequenceClassification

    source = resolve_init(Path(cfg.teacher), "teacher")
    check_same_vocab(teacher_vocab(cfg, source), student_vocab)
    config, state = read_any(source)
    if not any(name.startswith("classifier.") for name in state):
        raise CheckpointError(f"teacher {source} has no classifier: distil from a model finetuned on the task "
                              f"(e.g. a finetuning run's best/)")
    config = dataclasses.replace(config, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(config, num_labels)
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


def cached_logits(folder: Path, key: dict, compute, write: bool) -> tuple[np.ndarray, bool]:
    """The cache's logits when its key matches `key`, else `compute()` (saved when `write`).
    The folder's lock is held from the look to the write, so students sharing a cache (a study's
    sizes) compute it once: the others wait, then read it. The key file is written last, so a
    cut-off write is never taken for a cache."""
    key_file, cache = folder / CACHE_KEY_FILE, folder / CACHE_FILE
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / CACHE_LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if key_file.is_file() and cache.is_file() and json.loads(key_file.read_text()) == key:
            return np.load(cache, allow_pickle=False), True
        logits = compute()
        if write:
            tmp = temporary_sibling(cache)
            with open(tmp, "wb") as f:
                np.save(f, logits, allow_pickle=False)
            os.replace(tmp, cache)
            write_text_atomic(key_file, json.dumps(key, indent=2) + "\n")
    return logits, False


class Distillation(Classification):
    """The student against the teacher's outputs over train.tsv + the transfer set (bert.train.loss.DistillationLoss)."""

    def __init__(self, cfg: DistillConfig, run, data: TaskData, bert_config):
        import mindspore as ms

        from bert.train.loss import DistillationLoss

        super().__init__(cfg, run, data, bert_config)
        task = data.task
        teacher, source, teacher_digest = load_teacher(cfg, data.vocab, task.num_labels)
        columns = {k: data.train[k] for k in ("input_ids", "token_type_ids", "attention_mask", "labels")}
        columns["label_weights"] = np.ones(len(columns["labels"]), np.float32)
        if cfg.transfer_data:
            extra = read_transfer(Path(cfg.transfer_data), task, data.tokenizer, cfg.max_length)
            n = len(extra["input_ids"])
            extra.update(labels=np.zeros(n, columns["labels"].dtype), label_weights=np.zeros(n, np.float32))
            columns = {k: np.concatenate([columns[k], extra[k]]) for k in columns}
        inputs = {k: columns[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
        teacher_forward = ms.jit(teacher.construct) if cfg.jit else teacher.construct
        teacher_dev = self.dev_metrics({name: outputs_of(teacher_forward, teacher, c, cfg.eval_batch_size)
                                        for name, c in data.dev.items()})
        self.teacher_score = next(iter(teacher_dev.values()))["score"]
        if cfg.cache_teacher:
            start = time.time()
            key = {"teacher": str(source), "teacher_sha256": teacher_digest, "inputs_sha256": inputs_digest(inputs),
                   "rows": len(columns["labels"]), "num_labels": task.num_labels}
            cache = Path(cfg.teacher_cache) if cfg.teacher_cache else run.output
            columns["teacher_outputs"], reused = cached_logits(
                cache, key, lambda: outputs_of(teacher_forward, teacher, inputs, cfg.eval_batch_size)
                .astype(np.float32), write=run.rank == 0)
            origin = (f"{'read from' if reused else f'computed in {time.time() - start:.1f} s into'} "
                      f"{cache / CACHE_FILE}")
            self.teacher = None
        else:
            origin = "computed live on every batch"
            teacher.set_train(False)
            self.teacher = teacher_forward
        self.teacher_source = source
        self.transfer_rows = len(columns["labels"]) - len(data.train["labels"])
        self.feed = ArrayFeed(columns, cfg.train_batch_size, cfg.accumulation_steps, run.rank, run.world, cfg.seed)
        self.loss_net = DistillationLoss(self.model, cfg.temperature, cfg.soft_weight, task.labels is None)
        self.name = (f"distilling into {bert_config.name} on {data.describe()} + {self.transfer_rows} transfer "
                     f"examples, temperature {cfg.temperature:g}, soft weight {cfg.soft_weight:g}")
        if run.rank == 0:
            print(f"teacher {source}: dev {format_metrics({task.metrics[0]: self.teacher_score})}"
                  f"{'' if len(task.metrics) == 1 else ' (score)'}; outputs {origin}", flush=True)

    def inputs(self, batch, counts, dropout):
        import mindspore as ms

        names = ("input_ids", "token_type_ids", "attention_mask", "labels", "label_weights")
        tensors = tuple(ms.Tensor(batch[name]) for name in names)
        teacher = (ms.Tensor(batch["teacher_outputs"]) if self.teacher is None else self.teacher(*tensors[:3]))
        return (*tensors, teacher, ms.Tensor(float(self.feed.global_batch), ms.float32), dropout)

    def train_metrics(self, sums, counts):
        return {"soft_loss": sums[0] / self.feed.global_batch, "hard_loss": sums[1] / self.feed.global_batch}

    def results(self):
        return {"teacher": str(self.teacher_source), "teacher_dev_score": self.teacher_score,
                "transfer_rows": self.transfer_rows}


def distill(cfg: DistillConfig, stop) -> int:
    resolve_init(Path(cfg.teacher), "teacher")  # before any heavy work
    if cfg.init:
        resolve_init(Path(cfg.init))
    bert_config = cfg.bert_config()
    data = TaskData.load(cfg, bert_config)
    run = open_run(cfg, bert_config)
    return train(cfg, Distillation(cfg, run, data, bert_config), run, stop)


if __name__ == "__main__":
    sys.exit(main())
