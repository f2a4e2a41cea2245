"""Finetuning grid: Google's compact-model search (batch × learning rate) in, one run per cell out,
and their results.json files in, a summary table (markdown + JSON) naming the best cell out.

    python -m bert.grid summarize outputs/finetune/grid
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bert.atomic import write_text_atomic

BATCH_SIZES = (8, 16, 32, 64, 128)
LEARNING_RATES = (3e-4, 1e-4, 5e-5, 3e-5)


def cell_name(batch_size: int, learning_rate: float) -> str:
    return f"bs{batch_size}_lr{learning_rate:g}"


def cells(batch_sizes=BATCH_SIZES, learning_rates=LEARNING_RATES) -> list[tuple[int, float]]:
    return [(b, lr) for b in batch_sizes for lr in learning_rates]


def summarize(grid_dir: str | Path) -> dict:
    """Read every cell's results.json; write grid_summary.{json,md}; return the summary."""
    grid_dir = Path(grid_dir)
    rows = []
    for results in sorted(grid_dir.glob("*/results.json")):
        data = json.loads(results.read_text())
        cfg = data["config"]
        rows.append({"cell": results.parent.name, "train_batch_size": cfg["train_batch_size"],
                     "learning_rate": cfg["optim"]["learning_rate"], "best_score": data["best_score"],
                     "best_step": data["best_step"], "dev_score": data["dev_score"], "dataset": data["dataset"],
                     "metric": data["metrics"][0] if len(data["metrics"]) == 1 else "score"})
    if not rows:
        raise FileNotFoundError(f"no */results.json under {grid_dir}")
    rows.sort(key=lambda r: -r["best_score"])
    summary = {"best": rows[0], "cells": rows}
    best = rows[0]
    lines = [f"# Finetuning grid: {grid_dir} ({best['dataset']})", "",
             f"| batch | lr | best dev {best['metric']} | at step | final dev {best['metric']} |",
             "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['train_batch_size']} | {r['learning_rate']:g} | {r['best_score']:.4f} | {r['best_step']} "
              f"| {r['dev_score']:.4f} |" for r in rows]
    lines += ["", f"Best: batch {best['train_batch_size']}, lr {best['learning_rate']:g} → "
                  f"{best['best_score']:.4f} ({best['cell']})"]
    write_text_atomic(grid_dir / "grid_summary.json", json.dumps(summary, indent=2) + "\n")
    write_text_atomic(grid_dir / "grid_summary.md", "\n".join(lines) + "\n")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.grid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("summarize", help="write grid_summary.{md,json}").add_argument("grid_dir")
    args = parser.parse_args(argv)
    try:
        summary = summarize(args.grid_dir)
    except (FileNotFoundError, KeyError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(Path(args.grid_dir, "grid_summary.md").read_text(), end="")
    return 0 if summary else 2


if __name__ == "__main__":
    sys.exit(main())
