"""GLUE's metrics in numpy: accuracy, F1, Matthews correlation, Pearson and Spearman correlation,
per task (`task_metrics`), the task's single GLUE number (`task_score`) and a one-line summary.

Degenerate inputs give 0.0 rather than NaN: Matthews when the gold or the predicted labels are all
one class (as sklearn), F1 without a positive prediction or gold label (as sklearn's default), and
Pearson/Spearman when either side is constant (where scipy returns NaN).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bert.glue.tasks import GlueTask


def _pair(pred, gold) -> tuple[np.ndarray, np.ndarray]:
    pred, gold = np.asarray(pred).ravel(), np.asarray(gold).ravel()
    if len(pred) != len(gold) or not len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} gold labels: need as many, at least one")
    return pred, gold


def accuracy(pred, gold) -> float:
    pred, gold = _pair(pred, gold)
    return float(np.mean(pred == gold))


def f1(pred, gold) -> float:
    """F1 of the positive class 1."""
    pred, gold = _pair(pred, gold)
    tp = np.sum((pred == 1) & (gold == 1))
    fp_fn = np.sum((pred == 1) != (gold == 1))
    return float(2 * tp / (2 * tp + fp_fn)) if tp + fp_fn else 0.0


def matthews(pred, gold) -> float:
    """Matthews correlation coefficient (sklearn's multiclass form; the usual one for two classes)."""
    pred, gold = _pair(pred, gold)
    classes, codes = np.unique(np.concatenate([gold, pred]), return_inverse=True)
    k, n = len(classes), len(gold)
    confusion = np.bincount(codes[:n] * k + codes[n:], minlength=k * k).reshape(k, k).astype(np.float64)
    gold_sum, pred_sum = confusion.sum(1), confusion.sum(0)
    cov_gp = np.trace(confusion) * n - gold_sum @ pred_sum
    cov_pp = n * n - pred_sum @ pred_sum
    cov_gg = n * n - gold_sum @ gold_sum
    return float(cov_gp / np.sqrt(cov_gg * cov_pp)) if cov_gg * cov_pp else 0.0


def pearson(pred, gold) -> float:
    """Pearson correlation; 0.0 when either side is constant."""
    pred, gold = _pair(pred, gold)
    x, y = pred - pred.mean(dtype=np.float64), gold - gold.mean(dtype=np.float64)
    denominator = np.sqrt((x @ x) * (y @ y))
    return float(np.clip((x @ y) / denominator, -1.0, 1.0)) if denominator else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank (scipy.stats.rankdata's default)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def spearman(pred, gold) -> float:
    """Spearman rank correlation (Pearson of the tie-averaged ranks); 0.0 when either side is constant."""
    pred, gold = _pair(pred, gold)
    return pearson(_ranks(pred), _ranks(gold))


METRICS = {"mcc": matthews, "f1": f1, "accuracy": accuracy, "pearson": pearson, "spearman": spearman}
_NAMES = {"mcc": "Matthews corr", "f1": "F1", "accuracy": "Accuracy", "pearson": "Pearson", "spearman": "Spearman"}


def task_metrics(task: GlueTask, predictions, gold) -> dict[str, float]:
    """task.metrics of class-id predictions (STS-B: scores) against the gold labels."""
    return {name: METRICS[name](predictions, gold) for name in task.metrics}


def task_score(task: GlueTask, metrics: dict[str, float]) -> float:
    """The task's GLUE number, on the metrics' 0–1 scale: the mean of its metrics."""
    return float(np.mean([metrics[name] for name in task.metrics]))


def format_metrics(metrics: dict[str, float]) -> str:
    """One line: "F1: 81.1%, Accuracy: 71.8%", "Matthews corr: 0.123", "Pearson: 0.754, Spearman: 0.733"."""
    return ", ".join(f"{_NAMES.get(k, k)}: {v:.1%}" if k in ("f1", "accuracy") else f"{_NAMES.get(k, k)}: {v:.3f}"
                     for k, v in metrics.items())
