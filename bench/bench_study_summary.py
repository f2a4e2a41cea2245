"""What the 24-size study's summary job costs as the study grows: `bert.study summarize` over
synthetic study folders of 1, 6 and 24 sizes (every GLUE task × Google's 20-cell grid + one
distillation cell per task, each cell a results.json in the layout the runs write), time and peak
memory of each, and the time per cell against the 1-size study in the same invocation.

    python bench/bench_study_summary.py [--sizes 1,6,24] [--json out.json]

The folders are written to a temporary directory; nothing trains.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bert import study
from bert.glue import grid
from bert.glue import tasks as glue


def results(task: str, rng: random.Random) -> dict:
    """A cell's results.json as bert.finetune / bert.distill write it (random scores, no predictions)."""
    spec = glue.TASKS[task]
    dev = {name: {**{m: rng.random() for m in spec.metrics}, "score": rng.random()} for name in spec.dev}
    return {"task": task, "dataset": "synthetic", "metrics": spec.metrics, "dev": dev, "dev_score": rng.random(),
            "best_score": rng.random(), "best_step": 1, "best_dev": dev, "history": [], "best_checkpoint": None,
            "predictions": [], "teacher_dev_score": rng.random()}


def make_study(root: Path, sizes: list[str]) -> int:
    """A finished study folder of `sizes`; returns its number of cells."""
    rng, tasks = random.Random(0), list(glue.TASKS)
    grids = {"finetune": grid.plan(tasks, grid.BATCH_SIZES, grid.LEARNING_RATES), "distill": grid.plan(tasks, [32], [1e-4])}
    cells = 0
    for size in sizes:
        for kind, plan in grids.items():
            folder = study.grid_root(root, kind, size)
            folder.mkdir(parents=True)
            (folder / grid.PLAN).write_text(json.dumps(plan))
            for cell in plan["cells"]:
                grid.cell_dir(folder, cell).mkdir(parents=True)
                (grid.cell_dir(folder, cell) / "results.json").write_text(json.dumps(results(cell["task"], rng)))
                cells += 1
        study.pretrain_dir(root, size).mkdir(parents=True)
        (study.pretrain_dir(root, size) / "results.json").write_text(json.dumps({"step": 10}))
    (root / study.PLAN).write_text(json.dumps({
        "sizes": sizes, "tasks": tasks, "batch_sizes": list(grid.BATCH_SIZES),
        "learning_rates": list(grid.LEARNING_RATES), "pretrain_steps": {s: 10 for s in sizes}}))
    return cells


def measure(root: Path) -> dict:
    """Wall time and peak RSS of `python -m bert.study summarize root`, a process of its own."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", "import resource, sys; from bert.study import main; code = main("
                          "['summarize', sys.argv[1]]); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
                          "file=sys.stderr); sys.exit(code)", str(root)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(run.stderr)
    return {"seconds": elapsed, "peak_mb": int(run.stderr.split()[-1]) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,6,24", help="study sizes to measure (the first is the reference)")
    parser.add_argument("--json", type=Path, help="write the results here as well")
    args = parser.parse_args()
    counts = [int(n) for n in args.sizes.split(",")]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            root = Path(tmp) / f"study{n}"
            cells = make_study(root, list(study.SIZES[:n]))
            result = {"sizes": n, "cells": cells, **measure(root)}
            out.append(result)
    reference = out[0]["seconds"] / out[0]["cells"]
    print("sizes\tcells\tseconds\tpeak MB\tms per cell\tper cell vs the first")
    for r in out:
        print(f"{r['sizes']}\t{r['cells']}\t{r['seconds']:.2f}\t{r['peak_mb']:.0f}\t{1000 * r['seconds'] / r['cells']:.3f}"
              f"\t{r['seconds'] / r['cells'] / reference:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"results": out}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
