"""The pretraining feed's rate and memory: sequences/s per CPU core of bert.train.data.PretrainingFeed
over a dynamic corpus (masks drawn in the feed) at seq 128 and 512, against the static corpus of the
same text (masks read from disk) in the same invocation; bytes per instance of both formats; and
what starting an epoch costs at a simulated 260 M rows — the block permutation against the numpy
permutation the feed used before (measured at --old-rows, it holds every row in memory).

    python bench/bench_feed.py [--steps 40] [--batch 256] [--copies 4] [--json out.json]

Corpora come from the enwiki sample shipped in gensim's wheel (copied --copies times, each copy its
own documents), made by bert.data.prepare into a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from bert import assets
from bert.data.config import DataConfig
from bert.data.pretraining import Vocab
from bert.tokenization import Tokenizer
from bert.train.data import StepOrder, PretrainingFeed, check_files, resolve_files


def make_corpora(work: Path, copies: int, seq: int, predictions: int) -> dict[str, Path]:
    """Text shards of the enwiki sample × copies, then a static and a dynamic corpus of them."""
    text = work / "text"
    if not text.is_dir():
        run([sys.executable, "-m", "bert.data.prepare", "--input", str(assets.enwiki_sample()), "--vocab",
             str(assets.uncased_vocab()), "--output", str(work / "once"), "--stages", "extract,sentences"])
        text.mkdir()
        for shard in sorted((work / "once" / "text").glob("*.txt")):
            for copy in range(copies):
                shutil.copy(shard, text / f"{shard.stem}_{copy}.txt")
    corpora = {}
    for masking in ("static", "dynamic"):
        out = work / f"{masking}-{seq}"
        run([sys.executable, "-m", "bert.data.examples", "--input", str(text), "--vocab", str(assets.uncased_vocab()),
             "--output", str(out), f"max_seq_length={seq}", f"max_predictions_per_seq={predictions}",
             f"masking={masking}", "dupe_factor=1"])
        corpora[masking] = out
    return corpora


def run(command: list[str]) -> None:
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(command[:4])} …: {proc.stderr.strip().splitlines()[-1]}")


def corpus_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.mindrecord*") if not p.name.endswith(".json"))


def feed_rate(folder: Path, seq: int, predictions: int, steps: int, batch: int) -> dict:
    """Sequences/s per CPU core (CPU time of this process, MindSpore's reader threads included)."""
    corpus = check_files(resolve_files(folder), seq, predictions, 30522)
    masks = None
    if corpus.masking == "dynamic":
        masks = (DataConfig(max_seq_length=seq, max_predictions_per_seq=predictions),
                 Vocab.from_tokenizer(Tokenizer(assets.uncased_vocab())))
    feed = PretrainingFeed(corpus, batch, 1, 0, 1, 12345, masks=masks)
    batches = feed.steps(0)
    next(batches)  # the pipeline started
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(steps):
        next(batches)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"rows": corpus.rows, "bytes": corpus_bytes(folder), "seq_per_cpu_s": steps * batch / cpu,
            "seq_per_s": steps * batch / wall}


def epoch_start(rows: int, world: int, batch: int, block: int) -> dict:
    """Time and traced memory until a rank has its first step's rows."""
    tracemalloc.start()
    start = time.perf_counter()
    order = StepOrder(rows, batch, 1, world - 1, world, 12345, block=block)
    first = order.rank_rows(order.order(1), range(0, 1))
    if not block:  # the feed before: the rank's whole epoch as a list, for MindDataset's sampler
        first = order.rank_indices(1).tolist()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": seconds, "peak_mb": peak / 2 ** 20, "first": len(first)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/bench_feed.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per run (default 40)")
    parser.add_argument("--batch", type=int, default=256, help="sequences per step (default 256)")
    parser.add_argument("--copies", type=int, default=4, help="copies of the enwiki sample (default 4)")
    parser.add_argument("--rows", type=int, default=260_000_000, help="simulated corpus rows (default 260 M)")
    parser.add_argument("--old-rows", type=int, default=26_000_000,
                        help="rows for the numpy permutation the feed used before (default 26 M)")
    parser.add_argument("--world", type=int, default=8, help="ranks of the simulated job (default 8)")
    parser.add_argument("--work", help="keep the corpora in this folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("GLOG_v", "3")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-feed-"))
    results = {"feed": {}, "epoch_start": {}}
    print(f"feed: {args.steps} steps × {args.batch} sequences after the first, 1 process, "
          f"{os.cpu_count()} CPUs; corpus: the enwiki sample × {args.copies}, dupe 1")
    print(f"{'seq':>4} {'corpus':<8} {'rows':>7} {'bytes/row':>9} {'seq/s/core':>10} {'seq/s':>8}")
    for seq, predictions in ((128, 20), (512, 80)):
        corpora = make_corpora(work, args.copies, seq, predictions)
        for masking, folder in corpora.items():
            r = feed_rate(folder, seq, predictions, args.steps, args.batch)
            results["feed"][f"{seq}-{masking}"] = r
            print(f"{seq:>4} {masking:<8} {r['rows']:>7} {r['bytes'] / r['rows']:>9.0f} {r['seq_per_cpu_s']:>10.0f} "
                  f"{r['seq_per_s']:>8.0f}")
        ratio = results["feed"][f"{seq}-dynamic"]["seq_per_cpu_s"] / results["feed"][f"{seq}-static"]["seq_per_cpu_s"]
        size = results["feed"][f"{seq}-static"]["bytes"] / results["feed"][f"{seq}-dynamic"]["bytes"]
        print(f"     dynamic ÷ static: {ratio:.2f}× the sequences per core; {size:.1f}× fewer bytes per row")
    print(f"\nepoch start of rank {args.world - 1} of {args.world}, global batch {args.batch}:")
    for name, rows, block in (("block permutation", args.rows, 16), ("numpy permutation (before)", args.old_rows, 0)):
        r = epoch_start(rows, args.world, args.batch, block)
        results["epoch_start"][name] = {"rows": rows, **r}
        print(f"  {name:<28} {rows:>12,} rows: {r['seconds']:8.3f} s, peak {r['peak_mb']:9.1f} MB traced")
    print(f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
