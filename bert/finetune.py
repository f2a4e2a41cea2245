"""SST-2 finetuning: a pretrained checkpoint (ours, Hugging Face or Google TF) + GLUE-format
SST-2 in; dev accuracy, the best checkpoint, `results.json`, GLUE test predictions
(`SST-2.tsv`) and TensorBoard scalars out.

    python -m bert.finetune --config configs/finetune_sst2.yaml [key=value …]

Resumable like pretraining: a run whose output_dir holds checkpoints/ continues from there.
"""
from __future__ import annotations

import sys
from pathlib import Path

from bert.train.cli import run_cli
from bert.train.config import FinetuneConfig


def main(argv=None) -> int:
    return run_cli(argv, "python -m bert.finetune", __doc__, FinetuneConfig, finetune,
                   "init=outputs/pretrain/…/checkpoints data_dir=data/SST-2 optim.learning_rate=5e-5")


def build_student(task):
    """The classifier, initialised from `init` unless a checkpoint of this run will be restored."""
    from bert.convert import load_pretrained
    from bert.model import BertForSequenceClassification
    from bert.train.checkpointing import resolve_init

    model = BertForSequenceClassification(task.bert_config, task.cfg.num_labels)
    if task.latest is None and task.cfg.init:
        source = resolve_init(Path(task.cfg.init))
        load_pretrained(model, source, missing_ok=("classifier.",), unexpected_ok=("cls.",))
        print(f"initialised encoder from {source}", flush=True)
    return model


def finetune(cfg: FinetuneConfig, stop) -> int:
    import mindspore as ms

    from bert.train.classifier import ClassifierTask, train_classifier
    from bert.train.data import ArrayFeed
    from bert.train.loss import ClassificationLoss
    from bert.train.step import make_train_step

    task = ClassifierTask.load(cfg)
    feed = ArrayFeed(task.train, cfg.train_batch_size, cfg.accumulation_steps, task.rank, task.world, cfg.seed)
    total_steps = cfg.epochs * feed.steps_per_epoch
    cfg.optim.warmup_steps = int(cfg.warmup_proportion * total_steps) or cfg.optim.warmup_steps
    model = build_student(task)
    step_cell = make_train_step(ClassificationLoss(model), model, cfg, task.world, total_steps)
    denominator = ms.Tensor(float(feed.global_batch), ms.float32)
    if task.rank == 0:
        print(f"finetuning {task.bert_config.name} on {task.dataset} ({len(task.train[0])} train, "
              f"{len(task.dev[0])} dev): {feed.global_batch} per step, {total_steps} steps; "
              f"TensorBoard: {Path(cfg.log_dir) / cfg.run / 'tb'}", flush=True)
    return train_classifier(task, stop, model, step_cell, feed,
                            lambda batch, dropout: (*(ms.Tensor(c) for c in batch), denominator, dropout),
                            "finetune")


if __name__ == "__main__":
    sys.exit(main())
