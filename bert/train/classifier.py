"""What bert.finetune and bert.distill share: a GLUE task's folder read and tokenized (`TaskData`),
and the `Classification` task of the training loop — a BertForSequenceClassification (a score for
STS-B) evaluated on the dev set(s) by GLUE's metrics, the best checkpoint kept by the task's
score (`best/`, with the task's name and labels in task.json), `results.json` and GLUE's
submission files at the end (`<Task>.tsv`; for MNLI also `AX.tsv` when the diagnostic is found).
The two stages differ in their training columns and loss net."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from bert.atomic import write_text_atomic
from bert.model_dir import VOCAB_FILE, save_model_dir
from bert.config import BertConfig, ConfigError
from bert.data import glue
from bert.glue_metrics import format_metrics, task_metrics, task_score
from bert.tokenization import Tokenizer
from bert.train.loop import Run, Task

PERCENT = ("accuracy", "f1")  # metrics printed as percentages; the correlations as 3 decimals
TASK_FILE = "task.json"  # in best/: the task and its label names, for predicting with the model


def find_vocab(cfg) -> Path:
    """`vocab`, else the vocab.txt in or next to `init`."""
    if cfg.vocab:
        return Path(cfg.vocab)
    if cfg.init:
        for candidate in (Path(cfg.init) / VOCAB_FILE, Path(cfg.init).parent / VOCAB_FILE):
            if candidate.is_file():
                return candidate
    raise ConfigError("vocab is not set and no vocab.txt lies next to init: pass vocab=PATH")


def diagnostic_file(cfg) -> Path | None:
    """AX for an MNLI run: `diagnostic`, else GLUE's diagnostic/diagnostic.tsv next to the MNLI folder."""
    if cfg.diagnostic:
        return Path(cfg.diagnostic)
    default = Path(cfg.data_dir).parent / glue.DIAGNOSTIC_DIR / glue.DIAGNOSTIC.file
    return default if cfg.task == "MNLI" and default.is_file() else None


@dataclasses.dataclass
class TaskData:
    """A GLUE task's splits, tokenized: column name → array (labels on train/dev, index on test)."""

    task: glue.GlueTask
    vocab: Path
    tokenizer: Tokenizer
    train: dict[str, np.ndarray]
    dev: dict[str, dict[str, np.ndarray]]  # dev set name → columns
    test: dict[str, dict[str, np.ndarray]]  # submission stem → columns (the test files present)
    dataset: str  # "MRPC", or "generated demo set (not MRPC)"
    skipped: int  # malformed lines skipped (QQP)

    @classmethod
    def load(cls, cfg, bert_config: BertConfig) -> "TaskData":
        """Check the vocab against the model, read and tokenize every split; errors name file and line."""
        from bert.train.checkpoints import resolve_init

        task = glue.load_task(cfg.task)
        if cfg.init:
            resolve_init(Path(cfg.init))  # a missing init is named as such, not blamed on the vocab
        vocab = find_vocab(cfg)
        tokenizer = Tokenizer(vocab)
        if tokenizer.vocab_size != bert_config.vocab_size:
            raise ConfigError(f"vocab {vocab} has {tokenizer.vocab_size} tokens, the model vocab_size "
                              f"{bert_config.vocab_size}")
        data_dir, skipped = Path(cfg.data_dir), 0

        def read(layout: glue.Layout, path: Path) -> dict[str, np.ndarray]:
            nonlocal skipped
            examples = glue.read_examples(task, layout, path)
            skipped += examples.skipped
            return glue.encode(tokenizer, examples, cfg.max_length)

        train = read(task.train, data_dir / task.train.file)
        dev = {name: read(layout, data_dir / layout.file) for name, layout in task.dev.items()}
        tests = [(stem, layout, data_dir / layout.file) for stem, layout in task.test.items()]
        if cfg.diagnostic and task.name != "MNLI":
            raise ConfigError(f"diagnostic is for MNLI (AX is predicted by the MNLI model), not {task.name}")
        if diagnostic_file(cfg) is not None:
            tests.append((glue.DIAGNOSTIC_STEM, glue.DIAGNOSTIC, diagnostic_file(cfg)))
        test = {stem: read(layout, path) for stem, layout, path in tests
                if path.is_file() or stem == glue.DIAGNOSTIC_STEM}
        dataset = f"generated demo set (not {task.name})" if glue.is_demo(data_dir) else task.name
        return cls(task, vocab, tokenizer, train, dev, test, dataset, skipped)

    def describe(self) -> str:
        dev = ", ".join(f"{len(c['labels'])} {name}" for name, c in self.dev.items())
        skipped = f", {self.skipped} malformed lines skipped" if self.skipped else ""
        return f"{self.dataset} ({len(self.train['labels'])} train, {dev}{skipped})"


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

        from bert.convert import load_pretrained
        from bert.model import BertForSequenceClassification
        from bert.train.checkpoints import resolve_init

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
        from bert.flops import classifier_step_flops

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
        from bert.model_dir import assign_state, read_model_dir

        cfg, task, output = self.cfg, self.task, run.output
        best_dir = output / "best"
        if best_dir.is_dir():
            assign_state(self.model, read_model_dir(best_dir)[1], source="best checkpoint")
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
