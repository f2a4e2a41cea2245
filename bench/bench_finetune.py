"""SST-2 finetuning throughput: examples/s of the train step and of evaluation for a model size
and max_length grid (default L4-H256 × 64, 128), through the project's own code path
(BertForSequenceClassification + ClassificationLoss + make_train_step, graph mode).

    python bench/bench_finetune.py [--model L4-H256] [--lengths 64,128] [--batch 32] [--steps 20]

Prints one row per length and the ratios 128/64 and eval/train, measured in this one process.
Not a test: numbers depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def batch(rng, size: int, length: int, vocab: int):
    import mindspore as ms

    ids = rng.integers(1000, vocab, (size, length)).astype(np.int32)
    mask = np.ones((size, length), np.int32)
    for row, n in enumerate(rng.integers(length // 3, length + 1, size)):
        ids[row, n:], mask[row, n:] = 0, 0
    labels = rng.integers(0, 2, size).astype(np.int32)
    return tuple(ms.Tensor(x) for x in (ids, np.zeros_like(ids), mask, labels))


def measure(model_name: str, length: int, batch_size: int, steps: int, warmup: int) -> dict:
    import mindspore as ms

    from bert.model import BertForSequenceClassification
    from bert.train.config import FinetuneConfig
    from bert.train.loss import ClassificationLoss
    from bert.train.step import make_train_step

    cfg = FinetuneConfig(model={"name": model_name}, train_batch_size=batch_size, max_length=length)
    model = BertForSequenceClassification(cfg.bert_config())
    step = make_train_step(ClassificationLoss(model), model, cfg, world=1, total_steps=steps + warmup)
    rng = np.random.default_rng(0)
    data = [batch(rng, batch_size, length, cfg.bert_config().vocab_size) for _ in range(4)]
    denominator = ms.Tensor(float(batch_size), ms.float32)
    train, evaluate = [], []
    for k in range(warmup + steps):
        start = time.perf_counter()
        step.step([data[k % 4] + (denominator,)])
        train.append(time.perf_counter() - start)
    for k in range(warmup + steps):
        start = time.perf_counter()
        _, (loss_sum,) = step.evaluate(*data[k % 4], denominator)
        loss_sum.asnumpy()
        evaluate.append(time.perf_counter() - start)
    train_s, eval_s = statistics.median(train[warmup:]), statistics.median(evaluate[warmup:])
    return {"length": length, "train_ms": train_s * 1e3, "train_eps": batch_size / train_s,
            "eval_ms": eval_s * 1e3, "eval_eps": batch_size / eval_s}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="L4-H256")
    parser.add_argument("--lengths", default="64,128")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [measure(args.model, int(n), args.batch, args.steps, args.warmup) for n in args.lengths.split(",")]
    print(f"{args.model}, batch {args.batch}, median of {args.steps} steps (graph mode, fp32, this machine)")
    print(f"{'max_length':>10} {'train ms':>9} {'train ex/s':>11} {'eval ms':>8} {'eval ex/s':>10} {'eval/train':>10}")
    for r in rows:
        print(f"{r['length']:>10} {r['train_ms']:>9.1f} {r['train_eps']:>11.1f} {r['eval_ms']:>8.1f} "
              f"{r['eval_eps']:>10.1f} {r['eval_eps'] / r['train_eps']:>10.2f}")
    if len(rows) > 1:
        print(f"train ex/s ratio {rows[-1]['length']}/{rows[0]['length']}: {rows[-1]['train_eps'] / rows[0]['train_eps']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
