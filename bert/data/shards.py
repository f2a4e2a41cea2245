"""Shard bookkeeping shared by the stages: which shards this task owns, completion markers,
parallel execution over shards, and the per-directory manifest written last."""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable

from tqdm import tqdm

from bert.atomic import write_text_atomic

MANIFEST = "manifest.json"


def array_defaults() -> tuple[int, int]:
    """(shard_index, num_shards) from a Slurm array task, else (0, 1)."""
    index = os.environ.get("SLURM_ARRAY_TASK_ID")
    count = os.environ.get("SLURM_ARRAY_TASK_COUNT")
    if index is None or count is None:
        return 0, 1
    return int(index) - int(os.environ.get("SLURM_ARRAY_TASK_MIN", "0")), int(count)


def owned(items: list, shard_index: int, num_shards: int) -> list:
    """Round-robin slice of `items` that task `shard_index` of `num_shards` handles."""
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in [0, {num_shards})")
    return items[shard_index::num_shards]


def stats_path(output: Path) -> Path:
    """The completion marker of one output shard: written after the shard itself."""
    return output.with_name(output.name + ".json")


def is_complete(output: Path) -> bool:
    return stats_path(output).is_file() and output.exists()


def write_stats(output: Path, stats: dict) -> None:
    write_text_atomic(stats_path(output), json.dumps(stats, sort_keys=True) + "\n")


def read_stats(output: Path) -> dict:
    return json.loads(stats_path(output).read_text(encoding="utf-8"))


def run_parallel(fn: Callable, jobs: Iterable[tuple], workers: int, desc: str) -> list:
    """Run fn(*job) for each job, in `workers` spawned processes (1: in this process), with tqdm."""
    jobs = list(jobs)
    bar = dict(total=len(jobs), desc=desc, unit="shard", file=sys.stderr, disable=None)
    if workers <= 1 or len(jobs) <= 1:
        return [fn(*job) for job in tqdm(jobs, **bar)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        return [f.result() for f in tqdm(futures, **bar)]


def write_manifest(directory: Path, outputs: list[Path], params: dict) -> dict | None:
    """When every expected shard is complete, write `manifest.json` (totals + per shard); else None."""
    if not all(is_complete(p) for p in outputs):
        return None
    shards = {p.name: read_stats(p) for p in sorted(outputs)}
    totals: dict = {}
    for stats in shards.values():
        for key, value in stats.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    manifest = {"params": params, "totals": totals, "shards": shards}
    write_text_atomic(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
