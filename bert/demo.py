"""The README's main job: the whole chain on the shipped enwiki sample, locally, into one folder —
dump → wikiextractor → sentences → WordPiece vocab → MindRecord → pretraining → SST-2-format finetuning.

Small on purpose (2 CPU cores, ~10 minutes): an 8k vocab built from the sample, L2-H128, a few
hundred pretraining steps, and the generated demo sentiment set in SST-2 layout (labelled as
such in every output) unless `--sst2 DIR` points at real GLUE SST-2.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bert import assets

REPO = Path(__file__).resolve().parents[1]


def stage(title: str, command: list) -> None:
    print(f"\n=== {title}\n$ {' '.join(map(str, command))}", flush=True)
    start = time.time()
    result = subprocess.run([str(c) for c in command], cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"error: stage '{title}' failed with exit code {result.returncode}")
    print(f"--- {title}: {time.time() - start:.0f} s", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="outputs/demo", help="folder for everything the demo writes")
    parser.add_argument("--sst2", help="real GLUE SST-2 folder (default: the generated demo set)")
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    args = parser.parse_args(argv)
    out = Path(args.output).resolve()
    py = sys.executable
    start = time.time()
    stage("data: extract + sentences", [py, "-m", "bert.data.prepare", "--input", assets.enwiki_sample(),
                                        "--vocab", assets.uncased_vocab(), "--output", out / "data",
                                        "--stages", "extract,sentences", "shard_bytes=600000"])
    stage("vocab: WordPiece on the extracted text", [py, "tools/build_vocab.py", "--input", out / "data" / "text",
                                                     "--output", out / "vocab.txt", "--vocab-size", "8000"])
    vocab_size = len((out / "vocab.txt").read_text(encoding="utf-8").splitlines())
    stage("data: MLM+NSP examples", [py, "-m", "bert.data.prepare", "--input", out / "data" / "text",
                                     "--vocab", out / "vocab.txt", "--output", out / "data", "dupe_factor=2"])
    stage("pretrain: L2-H128", [py, "-m", "bert.pretrain", "--config", "configs/pretrain.yaml",
                                f"data={out / 'data' / 'examples'}", "model.name=L2-H128",
                                f"model.vocab_size={vocab_size}", f"total_steps={args.pretrain_steps}",
                                "optim.learning_rate=1e-3", f"optim.warmup_steps={args.pretrain_steps // 10}",
                                "save_steps=100", "log_interval=25", f"output_dir={out / 'pretrain'}",
                                f"log_dir={out / 'logs'}", "run_name=demo-pretrain"])
    sst2 = Path(args.sst2) if args.sst2 else out / "sst2-demo"
    if not args.sst2:
        stage("SST-2 layout: generated demo set", [py, "tools/download_sst2.py", "--demo", "--output", sst2])
    stage("finetune: SST-2 layout", [py, "-m", "bert.finetune", "--config", "configs/finetune_sst2.yaml",
                                     f"init={out / 'pretrain' / 'checkpoints'}", f"vocab={out / 'vocab.txt'}",
                                     "model.name=L2-H128", f"model.vocab_size={vocab_size}", f"data_dir={sst2}",
                                     f"epochs={args.finetune_epochs}", "optim.learning_rate=5e-4",
                                     f"output_dir={out / 'finetune'}", f"log_dir={out / 'logs'}",
                                     "run_name=demo-finetune"])
    print(f"\ndemo done in {(time.time() - start) / 60:.1f} min; outputs under {out}; "
          f"watch it with: tensorboard --logdir {out / 'logs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
