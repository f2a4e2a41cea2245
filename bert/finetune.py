"""GLUE finetuning: a pretrained checkpoint (ours, Hugging Face or Google TF) + a GLUE task's folder
in; dev metrics (GLUE's, per task), the best checkpoint, `results.json`, GLUE submission files
(`<Task>.tsv`) and TensorBoard scalars out.

    python -m bert.finetune --config configs/finetune_sst2.yaml [key=value …]
    python -m bert.finetune --config configs/finetune_sst2.yaml task=MRPC data_dir=glue/MRPC init=…

Resumable like pretraining: a run whose output_dir holds checkpoints/ continues from there.
"""
# MindSpore (and bert.train.loss, which imports it) is imported inside the functions that use it: bad
# input is reported in one line before MindSpore loads.
from __future__ import annotations

import sys
from pathlib import Path

from bert.glue.dataset import TaskData
from bert.train.checkpoints import resolve_init
from bert.train.classifier import Classification
from bert.train.cli import run_cli
from bert.train.config import FinetuneConfig
from bert.train.data import ArrayFeed
from bert.train.loop import open_run, train

INPUTS = ("input_ids", "token_type_ids", "attention_mask", "labels")


class Finetuning(Classification):
    """Cross-entropy with the labels (squared error for STS-B)."""

    def __init__(self, cfg: FinetuneConfig, run, data: TaskData, bert_config):
        from bert.train.loss import ClassificationLoss

        super().__init__(cfg, run, data, bert_config)
        self.name = f"finetuning {bert_config.name} on {data.describe()}"
        self.feed = ArrayFeed(data.train, cfg.train_batch_size, cfg.accumulation_steps, run.rank, run.world, cfg.seed)
        self.loss_net = ClassificationLoss(self.model, regression=data.task.labels is None)

    def inputs(self, batch, counts, dropout):
        import mindspore as ms

        return (*(ms.Tensor(batch[name]) for name in INPUTS), ms.Tensor(float(self.feed.global_batch), ms.float32),
                dropout)


def main(argv=None) -> int:
    return run_cli(argv, "python -m bert.finetune", __doc__, FinetuneConfig, finetune,
                   "task=MRPC init=outputs/pretrain/…/checkpoints data_dir=data/glue/MRPC optim.learning_rate=5e-5")


def finetune(cfg: FinetuneConfig, stop) -> int:
    bert_config = cfg.bert_config()
    if cfg.init:
        resolve_init(Path(cfg.init))  # a missing init is named as such, not blamed on the vocab
    data = TaskData.load(cfg, bert_config)
    run = open_run(cfg, bert_config)
    return train(cfg, Finetuning(cfg, run, data, bert_config), run, stop)


if __name__ == "__main__":
    sys.exit(main())
