"""What bert.finetune and bert.distill share: the `Classification` task of the training loop — a
BertForSequenceClassification (a score for STS-B) evaluated on the dev set(s) by GLUE's metrics, the best checkpoint kept by the task's
score (`best/`, with the task's name and labels in task.json), `results.json` and GLUE's
submission files at the end (`<Task>.tsv`; for MNLI also `AX.tsv` when the diagnostic is found).
The two stages differ in their training columns and loss net."""
# MindSpore (and bert.model) is imported inside the functions that use it: bert.finetune, bert.distill
# and bert.predict import this module and report bad input before MindSpore loads.
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bert.atomic import write_text_atomic
from bert.config import BertConfig
from bert.convert import load_pretrained
from bert.flops import classifier_step_flops
from bert.glue import tasks as glue
from bert.glue.dataset import TaskData
from bert.glue.metrics import format_metrics, task_metrics, task_score
from bert.model_dir import assign_state, read_model_dir, save_model_dir
from bert.train.checkpoints import resolve_init
from bert.train.loop import Run, Task

PERCENT = ("accuracy", "f1")  # metrics printed as percentages; the correlations as 3 decimals
TASK_FILE = "task.json"  # in best/: the task and its label names, for predicting with the model


def outputs_of(forward, model, columns: dict[str, np.ndarray], batch_size: int) -> np.ndarray:
    """A classifier's outputs [N, num_labels] (logits, or the score for STS-B), dropout off. The
    last batch is padded to `batch_size`: one compiled shape serves every set."""
    import mindspore as ms

    n = len(columns["input_ids"])
    inputs = [columns[k] for k in ("input_ids", "token_type_ids", "attention_mask")]
    model.set_train(False)
    try:
        outputs = []
        for s in range(0, n, batch_size):
            batch = [np.resize(c[s:s + batch_size], (batch_size, c.shape[1])) for c in inputs]
            outputs.append(forward(*map(ms.Tensor, batch)).asnumpy()[:min(batch_size, n - s)])
        return np.concatenate(outputs).astype(np.float64)
    finally:
        model.set_train(True)


def predictions_of(task: glue.GlueTask, outputs: np.ndarray) -> np.ndarray:
    """Class ids, or the scores of a regression task."""
    return outputs[:, 0] if task.labels is None else outputs.argmax(-1)


def mean_loss(task: glue.GlueTask, outputs: np.ndarray, labels: np.ndarray) -> float:
    """Average cross-entropy (squared error for a regression task) of `outputs` against `labels`."""
    if task.labels is None:
        return float(np.mean((outputs[:, 0] - labels) ** 2))
    top = outputs.max(-1, keepdims=True)
    log_z = np.log(np.exp(outputs - top).sum(-1)) + top[:, 0]
    return float(np.mean(log_z - outputs[np.arange(len(labels)), labels]))


def format_value(metric: str, value: float) -> str:
    return f"{value:.1%}" if metric in PERCENT else f"{value:.3f}"


class Classification(Task):
    """A GLUE task's classifier in the training loop; subclasses set `name`, `feed`, `loss_net` and `inputs`."""

    def __init__(self, cfg, run: Run, data: TaskData, bert_config: BertConfig):
        import mindspore as ms

        from bert.model import BertForSequenceClassification

        self.cfg, self.run, self.data, self.task = cfg, run, data, data.task
        self.bert_config = bert_config
        self.model = BertForSequenceClassification(bert_config, data.task.num_labels)
        if run.latest is None and cfg.init:
            source = resolve_init(Path(cfg.init))
            load_pretrained(self.model, source, missing_ok=("classifier.",), unexpected_ok=("cls.",))
            print(f"initialised encoder from {source}", flush=True)
        self.forward = ms.jit(self.model.construct) if cfg.jit else self.model.construct
        self.best = {"score": float("-inf"), "step": 0}
        self.history: list[dict] = []

    def step_flops(self, global_batch):
        """The model's FLOPs (a live distillation teacher's forward is not counted)."""
        return classifier_step_flops(self.bert_config, self.cfg.max_length, self.task.num_labels, global_batch)

    def log_fields(self, step, avg):
        return f"epoch: {(step - 1) // self.feed.steps_per_epoch + 1}, loss: {avg['loss']:.6f}"

    def dev_metrics(self, outputs_by_set: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
        """Dev set name → GLUE's metrics + the task score + the average loss."""
        out = {}
        for name, outputs in outputs_by_set.items():
            labels = self.data.dev[name]["labels"]
            metrics = task_metrics(self.task, predictions_of(self.task, outputs), labels)
            out[name] = {**metrics, "score": task_score(self.task, metrics),
                         "loss": mean_loss(self.task, outputs, labels)}
        return out

    def evaluate(self, step, step_cell):
        cfg, task = self.cfg, self.task
        results = self.dev_metrics({name: outputs_of(self.forward, self.model, columns, cfg.eval_batch_size)
                                    for name, columns in self.data.dev.items()})
        first = next(iter(results.values()))  # MNLI: the best model is picked on dev_matched
        if first["score"] > self.best["score"]:
            self.best = {"score": first["score"], "step": step, "metrics": results}
            if self.run.rank == 0 and first["score"] >= cfg.accuracy_threshold:
                save_model_dir(self.run.output / "best", self.bert_config,
                               {p.name: p.asnumpy() for p in self.model.get_parameters()}, self.data.vocab,
                               {TASK_FILE: json.dumps({"task": task.name, "labels": task.labels}, indent=2) + "\n"})
        self.history.append({"step": step, **results})
        several = len(results) > 1
        scalars = {"eval/best_score": self.best["score"]}
        for name, metrics in results.items():
            prefix = f"{name.removeprefix('dev_')}_" if several else ""
            scalars.update({f"eval/{prefix}{k}": v for k, v in metrics.items()})
        if self.run.rank == 0:
            parts = "; ".join((f"{name.removeprefix('dev_')} " if several else "") +
                              format_metrics({k: m[k] for k in task.metrics}) for name, m in results.items())
            print(f"Test ({self.data.dataset}, step {step}):\n{parts}, Best-{self.best_text()}, "
                  f"Avg loss: {first['loss']:.6f}", flush=True)
        return scalars

    def state(self):
        return {"best": self.best, "history": self.history}

    def restore(self, state):
        self.best, self.history = state["best"], state["history"]

    def results(self) -> dict:
        """What results.json holds besides the common fields."""
        return {}

    def finish(self, step, run):
        """results.json, and GLUE submission files predicted with the best weights (the last ones if none was kept)."""
        cfg, task, output = self.cfg, self.task, run.output
        best_dir = output / "best"
        if best_dir.is_dir():
            # in place: self.forward, compiled by the evaluations, would not see set_data's new memory
            assign_state(self.model, read_model_dir(best_dir)[1], source="best checkpoint", in_place=True)
        for stem, columns in self.data.test.items():
            outputs = outputs_of(self.forward, self.model, columns, cfg.eval_batch_size)
            write_text_atomic(output / f"{stem}.tsv",
                              glue.submission(task, columns["index"], predictions_of(task, outputs)))
        last = self.history[-1]
        results = {"task": task.name, "dataset": self.data.dataset, "metrics": task.metrics,
                   "dev": {k: v for k, v in last.items() if k != "step"},
                   "dev_score": last[next(iter(self.data.dev))]["score"],
                   "best_score": self.best["score"], "best_step": self.best["step"],
                   "best_dev": self.best.get("metrics"), "history": self.history,
                   "best_checkpoint": str(best_dir) if best_dir.is_dir() else None,
                   "predictions": sorted(f"{stem}.tsv" for stem in self.data.test),
                   "accuracy_threshold": cfg.accuracy_threshold, **self.results(), "config": cfg.to_dict()}
        write_text_atomic(output / "results.json", json.dumps(results, indent=2) + "\n")
        print(f"done ({self.data.dataset}): best dev {self.best_text()} at step {self.best['step']}; "
              f"results in {output / 'results.json'}", flush=True)

    def best_text(self) -> str:
        """"Accuracy: 97.5%" (the metric of a one-metric task) or "score: 76.4%" (the mean of several)."""
        metrics = self.task.metrics
        if len(metrics) == 1:
            return format_metrics({metrics[0]: self.best["score"]})
        return f"score: {format_value(metrics[0], self.best['score'])}"
