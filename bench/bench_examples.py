"""Throughput (instances/s) and peak RSS of the `examples` stage vs pure-Python Google create_pretraining_data.

    python bench/bench_examples.py [--dupe-factor 2] [--copies 4] [--repeat 1] [--text DIR] [--work DIR] [--profile]

Text: the enwiki sample's sentence shards (made once with `python -m bert.data.prepare ... --stages
extract,sentences` into /tmp/bench-data, reused when present). Parameters as Google's defaults:
max_seq_length 128, max_predictions_per_seq 20, masked_lm_prob 0.15, short_seq_prob 0.1, seed
12345, dupe_factor from the flag. Each run is a separate child process; its wall time, CPU time
and peak RSS (largest single process of the run, from os.wait4) are per run:

  reference    bench/google_reference.py: one process, all documents in memory, features counted
               and dropped (no TFRecord writing)
  imports only a child that only imports what ours imports (bert.data.examples, numpy,
               tokenizers, MindSpore's C++ MindRecord module): the floor every run of ours starts from
  ours w=1     bert.data.examples.examples_stage(workers=1), MindRecord written to a temp folder
  ours 1 shard the same on the first shard alone: a process per shard (a Slurm array task per shard)
  ours w=1 Nx-files  the same on the text N times over, each shard as N files (--copies): many
               shards per process, as on a real corpus (hundreds of 1 MB shards per worker); the
               difference to `ours w=1` is the steady-state cost of further shards, once-per-process
               costs (start-up, imports, vocab) left out
  ours w=2 Nx-files  the same with workers=2 (scaling)
  ours 2x ...  workers=1 on the text twice over: each shard as two files (2x-files: how a bigger
               corpus looks to the stage) and each shard's content doubled (2x-content: bigger shards)

Wall seconds are timed in the child from before its imports; CPU seconds are the whole process
tree's (os.wait4), interpreter start-up included, for both sides. The per-core ratio
is also printed net of the imports-only run (the reference imports nothing comparable: Google's
script would import TensorFlow for its TFRecord writer, which this port leaves out).
--repeat N runs each measurement N times and keeps the run with the least CPU time (for a busy
machine). Instance counts differ between reference and ours (ours draws random next segments within a
shard, with per-shard seeds), so compare instances/s, not seconds. --profile adds a phase
breakdown of ours on one shard (tokenization / algorithm / features / MindRecord) and the top
cProfile entries. Not a test: numbers depend on the machine and on what else runs on it.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PARAMS = dict(max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15, short_seq_prob=0.1,
              random_seed=12345)


def config(dupe_factor: int):
    from bert.data.config import DataConfig

    cfg = DataConfig(dupe_factor=dupe_factor, **PARAMS)
    cfg.validate()
    return cfg


def shard_files(text: Path) -> list[Path]:
    """A text shard, or the shards of a folder."""
    text = Path(text)
    return [text] if text.is_file() else sorted(p for p in text.glob("*.txt") if p.is_file())


# ------------------------------------------------------------------------------------- child side


def child(spec: dict) -> dict:
    """One measured run, inside its own process; returns what the parent prints."""
    from bert import assets

    vocab = assets.uncased_vocab()
    text = Path(spec["text"])
    start_cpu, start = time.process_time(), time.perf_counter()
    if spec["kind"] == "baseline":  # what ours holds before any text: its imports
        from bert.data.examples import examples_stage  # noqa: F401
        from bert.data.mindrecord_writer import mindrecord_binding

        mindrecord_binding()

        stats = {"instances": 0, "tokens": 0}
    elif spec["kind"] == "reference":
        import google_reference

        stats = google_reference.run(shard_files(text), vocab, do_lower_case=True,
                                     dupe_factor=spec["dupe_factor"], **PARAMS)
    else:
        from bert.data.examples import examples_stage

        out = Path(spec["out"])
        examples_stage(text, vocab, out, config(spec["dupe_factor"]), workers=spec["workers"])
        stats = json.loads((out / "manifest.json").read_text())["totals"]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "main_cpu_s": time.process_time() - start_cpu, "stats": stats,
            "self_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


# ------------------------------------------------------------------------------------ parent side


def measure(name: str, spec: dict) -> dict:
    """Run `spec` in a fresh interpreter; wall/CPU/peak RSS of that process tree from os.wait4."""
    env = {**os.environ, "GLOG_v": os.environ.get("GLOG_v", "3")}
    if "out" in spec:  # a repeated run starts from nothing, not from complete shards
        shutil.rmtree(spec["out"], ignore_errors=True)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)], cwd=ROOT, env=env,
                                stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of the child and its waited-for children
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise RuntimeError(f"{name} failed (exit {code}):\n{stderr[-4000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    files = shard_files(Path(spec["text"]))
    result.update(name=name, files=len(files), mb=sum(p.stat().st_size for p in files) / 1e6,
                  cpu_s=usage.ru_utime + usage.ru_stime, rss_mb=usage.ru_maxrss / 1024)
    return result


def ensure_text(text: Path) -> Path:
    """The enwiki sample's sentence shards (prepare's extract,sentences stages), made once."""
    if shard_files(text):
        return text
    from bert import assets

    output = text.parent
    print(f"making {text} with bert.data.prepare (extract,sentences) ...", flush=True)
    subprocess.run([sys.executable, "-m", "bert.data.prepare", "--input", str(assets.enwiki_sample()),
                    "--vocab", str(assets.uncased_vocab()), "--output", str(output),
                    "--stages", "extract,sentences"], cwd=ROOT, check=True,
                   env={**os.environ, "GLOG_v": os.environ.get("GLOG_v", "3")})
    if not shard_files(text):
        raise SystemExit(f"error: prepare wrote no text shards into {text}")
    return text


def repeated(text: Path, work: Path, copies: int, mode: str) -> Path:
    """The text `copies` times over: every shard as that many files ("files") or with its content
    that many times ("content")."""
    target = work / f"text-{copies}x-{mode}"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for shard in shard_files(text):
        content = shard.read_text(encoding="utf-8")
        if mode == "files":
            for k in range(copies):
                (target / f"{shard.stem}_{k}{shard.suffix}").write_text(content, encoding="utf-8")
        else:
            (target / shard.name).write_text("\n\n".join([content.rstrip("\n")] * copies) + "\n", encoding="utf-8")
    return target


def print_table(rows: list[dict]) -> None:
    head = (f"{'run':<20} {'files':>5} {'text MB':>7} {'seconds':>8} {'CPU s':>7} {'instances':>9} "
            f"{'inst/s':>8} {'inst/CPU-s':>10} {'peak RSS MB':>11} {'tokens':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        n = r["stats"]["instances"]
        if not n:
            print(f"{r['name']:<20} {'-':>5} {'-':>7} {r['seconds']:>8.2f} {r['cpu_s']:>7.2f} {'-':>9} {'-':>8} "
                  f"{'-':>10} {r['rss_mb']:>11.0f} {'-':>9}")
            continue
        print(f"{r['name']:<20} {r['files']:>5} {r['mb']:>7.2f} {r['seconds']:>8.2f} {r['cpu_s']:>7.2f} {n:>9} "
              f"{n / r['seconds']:>8.0f} {n / r['cpu_s']:>10.0f} {r['rss_mb']:>11.0f} {r['stats']['tokens']:>9}")


def files_speedup(files: int, workers: int) -> float:
    """Best wall speedup of whole-shard parallelism: equal shards, rounds of `workers`."""
    return files / -(-files // workers)


def rate(r: dict, per: str = "seconds") -> float:
    return r["stats"]["instances"] / r[per]


def marginal_rate(more: dict, less: dict) -> float:
    """Instances per CPU second of what `more` did beyond `less`."""
    return (more["stats"]["instances"] - less["stats"]["instances"]) / (more["cpu_s"] - less["cpu_s"])


# ---------------------------------------------------------------------------------------- profile


def profile(text: Path, work: Path, dupe_factor: int, top: int) -> None:
    """Where ours spends its time on one shard: phases timed without a profiler, then cProfile."""
    import cProfile
    import pstats

    import numpy as np

    from bert import assets
    from bert.data.examples import WRITE_BATCH, read_documents, write_examples_shard
    from bert.data.mindrecord_writer import mindrecord_binding, write_shard
    from bert.data.pretraining import Vocab, dupe_passes, features, shard_seed
    from bert.tokenization import Tokenizer

    shard = shard_files(text)[0]
    vocab_file, cfg = assets.uncased_vocab(), config(dupe_factor)
    print(f"\nprofile of ours, workers=1, on {shard.name} ({shard.stat().st_size / 1e6:.2f} MB), dupe_factor {dupe_factor}")
    phases = {}
    t = time.perf_counter()
    mindrecord_binding()
    phases["load MindSpore's C++ MindRecord module (once per process)"] = time.perf_counter() - t
    t = time.perf_counter()
    tokenizer = Tokenizer(vocab_file, lowercase=cfg.do_lower_case)
    vocab = Vocab.from_tokenizer(tokenizer)
    phases["Tokenizer + Vocab construction"] = time.perf_counter() - t
    t = time.perf_counter()
    docs = read_documents(shard, tokenizer)
    phases["read_documents (tokenization, Tokenizer.ids_flat)"] = time.perf_counter() - t
    t = time.perf_counter()
    seed = shard_seed(cfg.random_seed, shard.name)
    passes = list(dupe_passes(docs, cfg, seed))
    phases["dupe_passes (packing + truncation, Google's algorithm)"] = time.perf_counter() - t
    t = time.perf_counter()
    masks = np.random.default_rng([seed, 1])
    batches = [features(docs.tokens, spans[s:s + WRITE_BATCH], cfg, vocab, masks)
               for spans in passes for s in range(0, len(spans), WRITE_BATCH)]
    phases["features (masking + numpy columns)"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = write_shard(work / "profile" / "phases.mindrecord", batches)
    phases["write_shard (MindRecord writer + index)"] = time.perf_counter() - t
    total = sum(phases.values())
    print(f"phases (no profiler; {rows} instances, {len(docs)} documents):")
    for name, sec in phases.items():
        print(f"  {name:<58} {sec:7.3f} s  {100 * sec / total:5.1f} %")
    print(f"  {'total':<58} {total:7.3f} s")

    out = work / "profile" / (shard.stem + ".mindrecord")
    prof = cProfile.Profile()
    prof.enable()
    write_examples_shard(shard, out, vocab_file, cfg)
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"\ncProfile of write_examples_shard (profiler overhead inflates pure-Python code), top {top} by tottime:")
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    print(f"  {'tottime':>8} {'cumtime':>8} {'calls':>9}  function")
    for (filename, line, func), (_, calls, tottime, cumtime, _) in entries:
        where = f"{Path(filename).name}:{line}" if line else filename
        print(f"  {tottime:8.3f} {cumtime:8.3f} {calls:>9}  {func} ({where})")


# ------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dupe-factor", type=int, default=2, help="dupe passes over the text (default 2)")
    parser.add_argument("--copies", type=int, default=4, help="copies of each shard for the many-shard runs (default 4)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement, the least CPU time kept (default 1)")
    parser.add_argument("--text", type=Path, default=Path("/tmp/bench-data/text"),
                        help="sentence shards; made from the enwiki sample when missing (default /tmp/bench-data/text)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for doubled text and MindRecord outputs (default: a temp folder, removed)")
    parser.add_argument("--skip-reference", action="store_true", help="only run ours")
    parser.add_argument("--profile", action="store_true", help="also profile ours on one shard")
    parser.add_argument("--top", type=int, default=15, help="cProfile entries to print with --profile")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.dupe_factor < 1 or args.copies < 2 or args.repeat < 1:
        parser.error("--dupe-factor and --repeat must be at least 1, --copies at least 2")

    text = ensure_text(args.text)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-examples-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        base = dict(dupe_factor=args.dupe_factor)
        runs = []
        if not args.skip_reference:
            runs.append(("reference (Google)", dict(base, kind="reference", text=str(text))))
        many = repeated(text, work, args.copies, "files")
        runs += [
            ("ours imports only", dict(base, kind="baseline", text=str(text))),
            ("ours w=1", dict(base, kind="ours", workers=1, text=str(text), out=str(work / "out-w1"))),
            ("ours 1 shard", dict(base, kind="ours", workers=1, text=str(shard_files(text)[0]), out=str(work / "out-1"))),
            (f"ours w=1 {args.copies}x-files", dict(base, kind="ours", workers=1, text=str(many), out=str(work / "out-many-w1"))),
            (f"ours w=2 {args.copies}x-files", dict(base, kind="ours", workers=2, text=str(many), out=str(work / "out-many-w2"))),
            ("ours w=1 2x-files", dict(base, kind="ours", workers=1, text=str(repeated(text, work, 2, "files")),
                                       out=str(work / "out-2x-files"))),
            ("ours w=1 2x-content", dict(base, kind="ours", workers=1, text=str(repeated(text, work, 2, "content")),
                                         out=str(work / "out-2x-content"))),
        ]
        print(f"examples stage vs Google's algorithm: {text}, dupe_factor {args.dupe_factor}, "
              + ", ".join(f"{k} {v}" for k, v in PARAMS.items()) + f"; {os.cpu_count()} CPUs"
              + (f"; fastest of {args.repeat} runs each" if args.repeat > 1 else ""))
        rows = {}
        for name, spec in runs:
            print(f"  running {name} ...", file=sys.stderr, flush=True)
            rows[name] = min((measure(name, spec) for _ in range(args.repeat)), key=lambda r: r["cpu_s"])
        print_table(list(rows.values()))
        w1, many1, many2 = rows["ours w=1"], rows[f"ours w=1 {args.copies}x-files"], rows[f"ours w=2 {args.copies}x-files"]
        print()
        if "reference (Google)" in rows:
            ref = rows["reference (Google)"]
            print(f"ours(w=1) / reference, instances per wall second: {rate(w1) / rate(ref):6.2f}x")
            print(f"ours(w=1) / reference, instances per CPU second:  {rate(w1, 'cpu_s') / rate(ref, 'cpu_s'):6.2f}x"
                  f"  (per core, one process for {w1['files']} shards; CPU s / wall s: ours {w1['cpu_s'] / w1['seconds']:.2f}, "
                  f"reference {ref['cpu_s'] / ref['seconds']:.2f})")
            fixed = rows["ours imports only"]["cpu_s"]
            print(f"  the same net of the imports-only run's {fixed:.2f} CPU s (once per process, not per instance): "
                  f"{w1['stats']['instances'] / (w1['cpu_s'] - fixed) / rate(ref, 'cpu_s'):6.2f}x")
            one = rows["ours 1 shard"]
            print(f"  one shard per process (a Slurm array task per shard), per CPU second:{rate(one, 'cpu_s') / rate(ref, 'cpu_s'):6.2f}x")
            print(f"  steady state, many shards per process ({many1['name']} minus w=1: "
                  f"{marginal_rate(many1, w1):.0f} instances per CPU s):{marginal_rate(many1, w1) / rate(ref, 'cpu_s'):6.2f}x")
        print(f"ours(w=2) / ours(w=1), {args.copies}x-files, instances per wall second: {rate(many2) / rate(many1):6.2f}x"
              f"  (at most {files_speedup(many1['files'], 2):.2f}x with {many1['files']} shards on 2 workers)")
        base_mb = rows["ours imports only"]["rss_mb"]
        for mode in ("files", "content"):
            r = rows[f"ours w=1 2x-{mode}"]
            print(f"RSS(2x-{mode}) / RSS(1x), ours w=1:{' ' * (8 - len(mode))}          {r['rss_mb'] / w1['rss_mb']:6.2f}x"
                  f"  ({r['rss_mb']:.0f} / {w1['rss_mb']:.0f} MB; above the {base_mb:.0f} MB of imports: "
                  f"{(r['rss_mb'] - base_mb) / max(w1['rss_mb'] - base_mb, 1e-9):.2f}x)")
        print("peak RSS = largest single process of the run (w=2: the two workers and the parent; their sum is "
              f"about {many2['self_rss_mb'] + 2 * many2['children_rss_mb']:.0f} MB)")
        if args.profile:
            profile(text, work, args.dupe_factor, args.top)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
