"""Pretraining train-step throughput (MLM+NSP, AdamW, clip 1.0): MindSpore's pretraining step (bert.train.step) vs Hugging Face BertForPreTraining on torch.

Not a test: it prints numbers and ratios. Defaults are the Mini model of Google's recipe
(L4-H256, seq 128, batch 32, 20 predictions, vocab 30522). The MindSpore step is built through
the project's own code path (`PretrainConfig` → BertForPreTraining + PretrainingLoss → `make_train_step` → `TrainStep.step`, inputs by `bert.pretrain.model_inputs`) and
timed in this process, in graph mode (`jit=True`) and, with `--pynative`, also with `jit=False`.
The torch reference runs in a subprocess of another interpreter (`--torch-python`, e.g. a venv
with torch + transformers): `BertForPreTraining` with the same config (exact GELU, same
dropout), full-vocabulary MLM logits and HF's own loss (MLM cross-entropy with ignore_index
-100 off the masked positions + NSP cross-entropy), backward, `clip_grad_norm_(1.0)`,
`torch.optim.AdamW`; fp32 eager always, `--torch-bf16` (autocast) and `--torch-compile`
(`torch.compile`) add variants, and `--torch-gathered` an fp32 run whose MLM head runs on the
masked positions only — the same work as the MindSpore model (HF's own loss computes the
30522-way decoder at all 128 positions, 6.4x the decoder FLOPs). Both sides see the same
synthetic batches (random ids, 20 masked positions per row, BERT's 80/10/10 replacement, some
rows padded, random NSP labels).

The MindSpore side also times the model's dropout against the dropout it replaced (`--dropouts`:
bert.dropout with host masks — the CPU default —, with masks made in the graph, MindSpore's
nn.Dropout, dropout 0; `--repeat` interleaves repeated runs and the ratio takes their medians).

Warmup steps (graph compile, torch.compile) are excluded; each row reports the median and p90
step time over --steps steps, samples/s, the CPU cores the process kept busy, the cores other
processes took meanwhile (contention: on a shared 2-core machine torch with 2 threads slows
down several-fold when another process takes a core) and its peak RSS.

    .venv/bin/python bench/bench_pretrain_step.py --torch-python /work/refvenv/bin/python \\
        [--pynative] [--torch-bf16] [--torch-compile] [--steps 20]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

CLS, SEP, MASK, PAD = 101, 102, 103, 0
FIRST_WORD_ID = 1000  # ids below are [unused*] / special tokens in the uncased vocab
TORCH_VARIANTS = {"fp32": (False, False, False), "bf16": (True, False, False), "compile": (False, True, False),
                  "compile+bf16": (True, True, False), "fp32-gathered": (False, False, True)}
# name → (bf16 autocast, torch.compile, MLM head only at the masked positions as Google / bert.model do)


# ----------------------------------------------------------------------------- shared helpers

def make_batches(n: int, batch: int, seq: int, predictions: int, vocab: int, seed: int) -> list[dict]:
    """Synthetic pretraining batches in the MindRecord column layout (int32, weights float32).

    Row lengths: 90 % between seq-16 and seq (packed sentences rarely fill exactly), 10 % short
    (Google's short_seq_prob 0.1), uniform in [4·predictions//2, seq]; [CLS] A [SEP] B [SEP] with
    the A/B split at random; `predictions` masked positions per row among the word tokens,
    replaced by [MASK] 80 %, a random word 10 %, kept 10 %.
    """
    rng = np.random.default_rng(seed)
    out = []
    min_len = max(2 * predictions, 8)
    for _ in range(n):
        cols = {"input_ids": np.zeros((batch, seq), np.int32), "input_mask": np.zeros((batch, seq), np.int32),
                "segment_ids": np.zeros((batch, seq), np.int32),
                "masked_lm_positions": np.zeros((batch, predictions), np.int32),
                "masked_lm_ids": np.zeros((batch, predictions), np.int32),
                "masked_lm_weights": np.ones((batch, predictions), np.float32),
                "next_sentence_labels": rng.integers(0, 2, (batch, 1)).astype(np.int32)}
        for b in range(batch):
            length = int(rng.integers(min_len, seq + 1) if rng.random() < 0.1
                         else rng.integers(max(min_len, seq - 16), seq + 1))
            split = int(rng.integers(2, length - 2))  # index of the first [SEP]
            ids = rng.integers(FIRST_WORD_ID, vocab, length).astype(np.int32)
            ids[0], ids[split], ids[length - 1] = CLS, SEP, SEP
            words = np.setdiff1d(np.arange(1, length - 1), [split])
            positions = np.sort(rng.choice(words, predictions, replace=False)).astype(np.int32)
            cols["masked_lm_positions"][b] = positions
            cols["masked_lm_ids"][b] = ids[positions]
            action = rng.random(predictions)
            ids[positions[action < 0.8]] = MASK
            rand = positions[(action >= 0.8) & (action < 0.9)]
            ids[rand] = rng.integers(FIRST_WORD_ID, vocab, len(rand))
            cols["input_ids"][b, :length] = ids
            cols["input_mask"][b, :length] = 1
            cols["segment_ids"][b, split + 1:length] = 1
        out.append(cols)
    return out


def summarize(times: list[float], batch: int) -> dict:
    t = np.asarray(times)
    median = float(np.median(t))
    return {"median_s": median, "p90_s": float(np.percentile(t, 90)), "mean_s": float(t.mean()),
            "samples_per_s": batch / median, "steps": len(times)}


def peak_rss_gb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it is not inherited across fork+exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024 ** 2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # Linux: KiB


def system_busy_seconds() -> float:
    """CPU-seconds all processes have been busy since boot (/proc/stat), or nan off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_features() -> str:
    """The SIMD features that decide fp32/bf16 matmul speed, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "features unknown"
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")
    have = [x for x in wanted if x in flags]
    return " ".join(have) + (" — no native bf16" if not {"avx512_bf16", "amx_bf16"} & set(flags) else "")


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def others_busy(window: float = 2.0) -> float:
    """CPU cores other processes kept busy over the next `window` seconds."""
    busy0, own0, wall0 = system_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    time.sleep(window)
    wall = time.perf_counter() - wall0
    return (system_busy_seconds() - busy0 - (own_cpu_seconds() - own0)) / wall


def wait_quiet(max_wait: float, threshold: float = 0.25) -> str:
    """Wait (up to max_wait s) until other processes use < threshold cores; → a note for the log."""
    if max_wait <= 0:
        return ""
    start = time.perf_counter()
    while True:
        busy = others_busy()
        if busy < threshold:
            return f"quiet after {time.perf_counter() - start:.0f} s"
        if time.perf_counter() - start > max_wait:
            return f"still busy ({busy:.2f} cores) after {max_wait:.0f} s"


def timed_loop(step_fn, n_warmup: int, n_steps: int) -> tuple[list[float], float, list[float], float, float]:
    """→ (timed step seconds, warmup seconds, first losses, CPU cores this process kept busy during the
    timed steps, CPU cores all *other* processes kept busy meanwhile: > 0.1 means contention)."""
    losses = []
    start = time.perf_counter()
    for k in range(n_warmup):
        losses.append(step_fn(k))
    warmup_s = time.perf_counter() - start
    times = []
    own0, busy0, wall0 = own_cpu_seconds(), system_busy_seconds(), time.perf_counter()
    for k in range(n_steps):
        t0 = time.perf_counter()
        loss = step_fn(n_warmup + k)
        times.append(time.perf_counter() - t0)
        if len(losses) < 3:
            losses.append(loss)
    own, busy, wall = own_cpu_seconds() - own0, system_busy_seconds() - busy0, time.perf_counter() - wall0
    return times, warmup_s, losses, own / wall, max(0.0, (busy - own) / wall)


# ----------------------------------------------------------------------------- torch side (subprocess)

def torch_worker(spec: dict) -> dict:
    """Runs under the torch interpreter: no MindSpore, no `bert` imports."""
    import torch
    import transformers
    from transformers import BertConfig as HFConfig
    from transformers import BertForPreTraining

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    bf16, compiled, gathered = TORCH_VARIANTS[spec["variant"]]
    c = spec["bert_config"]
    config = HFConfig(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
                      num_hidden_layers=c["num_hidden_layers"], num_attention_heads=c["num_attention_heads"],
                      intermediate_size=c["intermediate_size"], hidden_act=c["hidden_act"],
                      hidden_dropout_prob=c["hidden_dropout_prob"],
                      attention_probs_dropout_prob=c["attention_probs_dropout_prob"],
                      max_position_embeddings=c["max_position_embeddings"], type_vocab_size=c["type_vocab_size"],
                      initializer_range=c["initializer_range"], layer_norm_eps=c["layer_norm_eps"])
    model = BertForPreTraining(config)
    model.train()
    no_decay = [p for n, p in model.named_parameters() if "LayerNorm" in n or n.endswith("bias")]
    decay = [p for n, p in model.named_parameters() if not ("LayerNorm" in n or n.endswith("bias"))]
    o = spec["optim"]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=o["learning_rate"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])

    class Gathered(torch.nn.Module):
        """Not HF's way: the MLM head (transform + 30522-way decoder) runs on the masked positions only."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids, positions, masked_ids, next_sentence_label,
                    **_):
            out = self.m.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            rows = torch.arange(input_ids.shape[0])[:, None]
            mlm = self.m.cls.predictions(out.last_hidden_state[rows, positions])
            nsp = self.m.cls.seq_relationship(out.pooler_output)
            loss = (torch.nn.functional.cross_entropy(mlm.reshape(-1, mlm.shape[-1]), masked_ids.reshape(-1))
                    + torch.nn.functional.cross_entropy(nsp, next_sentence_label))
            return transformers.utils.ModelOutput(loss=loss)

    forward = Gathered(model) if gathered else model
    forward = torch.compile(forward) if compiled else forward

    data = np.load(spec["batches"])
    batches = []
    for k in range(spec["n_batches"]):
        ids = torch.from_numpy(data[f"{k}/input_ids"].astype(np.int64))
        positions = data[f"{k}/masked_lm_positions"].astype(np.int64)
        labels = torch.full(ids.shape, -100, dtype=torch.int64)  # HF: loss only where labels != -100
        rows = np.arange(ids.shape[0])[:, None]
        labels[rows, positions] = torch.from_numpy(data[f"{k}/masked_lm_ids"].astype(np.int64))
        batches.append({"input_ids": ids,
                        "attention_mask": torch.from_numpy(data[f"{k}/input_mask"].astype(np.int64)),
                        "token_type_ids": torch.from_numpy(data[f"{k}/segment_ids"].astype(np.int64)),
                        "labels": labels,
                        **({"positions": torch.from_numpy(positions),
                            "masked_ids": torch.from_numpy(data[f"{k}/masked_lm_ids"].astype(np.int64))}
                           if gathered else {}),
                        "next_sentence_label": torch.from_numpy(
                            data[f"{k}/next_sentence_labels"].reshape(-1).astype(np.int64))})

    def step(k):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = forward(**batches[k % len(batches)])["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), spec["grad_clip_norm"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.item())

    times, warmup_s, losses, cores, others = timed_loop(step, spec["warmup"], spec["steps"])
    return {**summarize(times, spec["batch"]), "warmup_s": warmup_s, "first_losses": losses,
            "cpu_cores": cores, "others_cores": others, "peak_rss_gb": peak_rss_gb(), "torch": torch.__version__,
            "transformers": transformers.__version__, "threads": torch.get_num_threads(),
            "attn_implementation": getattr(model.config, "_attn_implementation", "?"), "times": times}


def run_torch(python: str, spec: dict, timeout: float) -> dict:
    proc = subprocess.run([python, os.path.abspath(__file__), "--torch-worker", json.dumps(spec)],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- MindSpore side (in process)

DROPOUTS = {"counter": "bert.dropout, host masks (CPU default)", "device": "bert.dropout, masks in the graph",
            "framework": "nn.Dropout (MindSpore's kernel, before #13)", "off": "dropout 0"}


def framework_dropout(p: float, name: str, shape: tuple):
    """Stands in for bert.dropout.Dropout(p, name, shape): MindSpore's own nn.Dropout, what the model used
    before the counter-based masks (bench only, for the side-by-side step time)."""
    from mindspore import nn

    class FrameworkDropout(nn.Cell):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(p=p) if p > 0 else nn.Identity()

        def construct(self, x, dropout=None):
            return self.drop(x)  # nn.Dropout acts in training mode only

    return FrameworkDropout()


def mindspore_run(args, batches: list[dict], jit: bool, dropout: str = "counter", precision: str = "fp32",
                  jit_level: str = "O0") -> dict:
    """Time `args.steps` steps after `args.warmup` on the device already set (bench/device_check.py
    sets GPU/Ascend, fp16/bf16 and the jit level; this script: CPU, fp32, O0)."""
    import mindspore as ms

    import bert.model
    from bert.dropout import DropoutInputs
    from bert.model import BertForPreTraining
    from bert.pretrain import model_inputs
    from bert.train.config import PretrainConfig
    from bert.train.data import StepOrder
    from bert.train.loss import PretrainingLoss
    from bert.train.step import make_train_step

    if not jit:  # as bert.pretrain.train does; jit=True keeps the default context (TrainStep uses ms.jit)
        ms.set_context(mode=ms.PYNATIVE_MODE)
    model = {"name": args.model, "vocab_size": args.vocab}
    if dropout == "off":
        model.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    cfg = PretrainConfig(model=model, jit=jit, train_batch_size=args.batch, max_seq_length=args.seq,
                         max_predictions_per_seq=args.max_predictions, seed=args.seed, total_steps=1000,
                         precision=precision, jit_level=jit_level, device_target=ms.get_context("device_target"))
    cfg.validate()
    counter = bert.model.Dropout
    if dropout == "framework":
        bert.model.Dropout = framework_dropout
    try:
        ms.set_seed(cfg.seed)
        model = BertForPreTraining(cfg.bert_config())
        step_cell = make_train_step(PretrainingLoss(model), model, cfg, 1, cfg.total_steps)
    finally:
        bert.model.Dropout = counter
    dropout_inputs = DropoutInputs(model, args.seq, "device" if dropout == "device" else "host")
    order = StepOrder(args.batch * len(batches), args.batch, 1, 0, 1, args.seed)

    def step(k):  # as bert.train.loop times it: host inputs and dropout masks included
        batch = batches[k % len(batches)]
        (key,) = order.dropout_keys(k)
        out = step_cell.step([model_inputs(batch, float(batch["masked_lm_weights"].sum()), args.batch,
                                           dropout_inputs(key))])
        return out["totals"][0] / out["loss_scale"]

    times, warmup_s, losses, cores, others = timed_loop(step, args.warmup, args.steps)
    return {**summarize(times, args.batch), "warmup_s": warmup_s, "first_losses": losses, "cpu_cores": cores,
            "others_cores": others,
            "peak_rss_gb": peak_rss_gb(), "times": times}


# ----------------------------------------------------------------------------- driver

def add_step_arguments(parser: argparse.ArgumentParser, steps: int) -> None:
    """The shape of the timed pretraining step and how many steps are timed (also bench/device_check.py's)."""
    parser.add_argument("--seq", type=int, default=128, help="max_seq_length (default 128)")
    parser.add_argument("--batch", type=int, default=32, help="train_batch_size (default 32)")
    parser.add_argument("--max-predictions", type=int, default=20, help="masked positions per row (default 20)")
    parser.add_argument("--vocab", type=int, default=30522, help="vocab_size (default 30522)")
    parser.add_argument("--steps", type=int, default=steps, help=f"timed steps per run (default {steps})")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warmup/compile steps (default 3)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="L4-H256", help="compact size name (default L4-H256)")
    add_step_arguments(parser, steps=20)
    parser.add_argument("--batches", type=int, default=4, help="distinct synthetic batches cycled (default 4)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--no-graph", action="store_true", help="skip the MindSpore graph-mode (jit) run")
    parser.add_argument("--pynative", action="store_true", help="also time MindSpore with jit=False (PyNative)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the --dropouts list this many times, interleaved (step times drift by a few "
                             "percent between runs of one process; default 1)")
    parser.add_argument("--dropouts", default="counter,framework",
                        help="MindSpore graph runs, one per dropout: counter (bert.dropout with host masks, the CPU "
                             "default), device (bert.dropout, masks made in the graph: the GPU/Ascend default), "
                             "framework (MindSpore's nn.Dropout, the model before #13), off (dropout 0) "
                             "(default counter,framework)")
    parser.add_argument("--ms-threads", type=int, default=None,
                        help="ms.device_context.cpu.op_tuning.threads_num(N) before building (default: untouched)")
    parser.add_argument("--ms-dispatch-threads", type=int, default=None,
                        help="ms.runtime.dispatch_threads_num(N) before building (default: untouched)")
    parser.add_argument("--torch-python", default=None,
                        help="interpreter with torch + transformers for the HF reference (default: skipped)")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--torch-bf16", action="store_true", help="add an HF run under bf16 autocast")
    parser.add_argument("--bf16-steps", type=int, default=3,
                        help="timed steps (after 1 warmup) for the bf16 variants, which can be very slow on CPUs "
                             "without native bf16 (AVX2 only: ~35x slower than fp32) (default 3)")
    parser.add_argument("--torch-compile", action="store_true",
                        help="add an HF run with torch.compile (with --torch-bf16 also compile+bf16)")
    parser.add_argument("--torch-gathered", action="store_true",
                        help="add an HF fp32 run whose MLM head runs on the masked positions only (not HF's "
                             "own loss; the same work as the MindSpore model)")
    parser.add_argument("--torch-timeout", type=float, default=900, help="seconds per torch subprocess")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each run wait up to SECONDS until other processes use < 0.25 cores "
                             "(default 0: don't wait); the 'others' column shows the contention each run saw")
    parser.add_argument("--json", default=None, help="also write all results to this JSON file")
    parser.add_argument("--torch-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.torch_worker is not None:  # child: JSON spec in argv, JSON result on the last stdout line
        print(json.dumps(torch_worker(json.loads(args.torch_worker))), flush=True)
        return 0

    os.environ.setdefault("GLOG_v", "3")
    import bert
    from bert.config import BertConfig
    from bert.train.config import OptimConfig

    bert_config = BertConfig.from_name(args.model, vocab_size=args.vocab)
    batches = make_batches(args.batches, args.batch, args.seq, args.max_predictions, args.vocab, args.seed)
    padded = float(np.mean([1 - b["input_mask"].mean() for b in batches]))
    print(f"pretrain step: {bert_config.name} (heads {bert_config.num_attention_heads}, ffn "
          f"{bert_config.intermediate_size}, {bert_config.hidden_act}, dropout {bert_config.hidden_dropout_prob}), "
          f"seq {args.seq}, batch {args.batch}, {args.max_predictions} predictions, vocab {args.vocab}, AdamW, "
          f"clip 1.0; {args.steps} timed steps after {args.warmup} warmup; {padded:.1%} of tokens are padding; "
          f"bert from {os.path.dirname(os.path.abspath(bert.__file__))}")
    load, busy = os.getloadavg(), others_busy()
    print(f"machine: {os.cpu_count()} CPUs ({cpu_features()}); at start load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"other processes busy on {busy:.2f} cores", flush=True)

    def quiet(name):
        note = wait_quiet(args.wait_quiet)
        if note:
            print(f"  ({name}: {note})", flush=True)

    results: dict[str, dict] = {}
    if not args.no_graph or args.pynative:
        import mindspore as ms

        ms.set_device("CPU")
        if args.ms_threads is not None:
            ms.device_context.cpu.op_tuning.threads_num(args.ms_threads)
        if args.ms_dispatch_threads is not None:
            ms.runtime.dispatch_threads_num(args.ms_dispatch_threads)
        tag = "".join(f", {k} {v}" for k, v in (("threads_num", args.ms_threads),
                                                ("dispatch", args.ms_dispatch_threads)) if v is not None)
        runs = [] if args.no_graph else [(True, d) for _ in range(args.repeat) for d in args.dropouts.split(",")]
        runs += [(False, "counter")] if args.pynative else []
        for jit, dropout in runs:
            if dropout not in DROPOUTS:
                parser.error(f"--dropouts: {dropout!r} is not one of {', '.join(DROPOUTS)}")
            name = f"MindSpore {ms.__version__} {'graph (jit)' if jit else 'PyNative'}{tag}, {DROPOUTS[dropout]}"
            name += f" #{sum(k.startswith(name) for k in results) + 1}" if args.repeat > 1 else ""
            quiet(name)
            results[name] = {**mindspore_run(args, batches, jit=jit, dropout=dropout), "dropout": dropout, "jit": jit}

    if args.torch_python is None:
        print("torch reference skipped: pass --torch-python")
    else:
        variants = ["fp32"] + (["bf16"] if args.torch_bf16 else []) + (["compile"] if args.torch_compile else [])
        if args.torch_bf16 and args.torch_compile:
            variants.append("compile+bf16")
        if args.torch_gathered:
            variants.append("fp32-gathered")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "batches.npz")
            np.savez(path, **{f"{k}/{c}": v for k, b in enumerate(batches) for c, v in b.items()})
            for variant in variants:
                spec = {"variant": variant, "threads": args.torch_threads, "seed": args.seed,
                        "bert_config": bert_config.to_dict(), "optim": vars(OptimConfig()),
                        "grad_clip_norm": OptimConfig().grad_clip_norm, "batches": path,
                        "n_batches": args.batches, "batch": args.batch, "warmup": args.warmup, "steps": args.steps}
                if TORCH_VARIANTS[variant][0]:
                    spec.update(warmup=min(args.warmup, 1), steps=min(args.steps, args.bf16_steps))
                quiet(f"HF {variant}")
                res = run_torch(args.torch_python, spec, args.torch_timeout)
                name = f"HF torch {res.get('torch', '')} {variant}".replace("  ", " ")
                results[name] = res
                if "error" not in res:
                    print(f"  ({name}: transformers {res['transformers']}, {res['threads']} threads, "
                          f"attention {res['attn_implementation']})", flush=True)

    report(results, args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


def report(results: dict, args) -> None:
    from bert.config import BertConfig
    from bert.flops import pretraining_step_flops

    ok = {k: v for k, v in results.items() if "error" not in v}
    flops = pretraining_step_flops(BertConfig.from_name(args.model, vocab_size=args.vocab), args.seq,
                                   args.max_predictions, args.batch)
    width = max([len(k) for k in results] + [10])
    print(f"\n{'run':<{width}}  {'steps':>5}  {'median s':>8}  {'p90 s':>7}  {'samples/s':>9}  {'TFLOP/s':>7}  "
          f"{'cores':>5}  {'others':>6}  {'RSS GB':>6}  {'warmup s':>8}  first losses")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<{width}}  failed: {r['error']}")
            continue
        losses = " ".join(f"{x:.3f}" for x in r["first_losses"][:3])
        print(f"{name:<{width}}  {r['steps']:5d}  {r['median_s']:8.3f}  {r['p90_s']:7.3f}  {r['samples_per_s']:9.2f}  "
              f"{flops / r['median_s'] / 1e12:7.4f}  {r['cpu_cores']:5.2f}  {r['others_cores']:6.2f}  {r['peak_rss_gb']:6.2f}  {r['warmup_s']:8.1f}  "
              f"{losses}")
    print(f"(TFLOP/s: bert.flops's {flops / 1e9:.1f} GFLOP of model matmuls per step — the same work for every "
          "run — over the median step time; cores: CPU cores the run kept busy; others: cores other processes took meanwhile — above ~0.1 the "
          "timings are contended, and torch with 2 threads on 2 cores suffers most; RSS: peak of the process, "
          "MindSpore runs share one)")
    contended = [k for k, r in ok.items() if r["others_cores"] > 0.1]
    if contended:
        print(f"WARNING: contended runs, re-run on a quiet machine (or with --wait-quiet): {', '.join(contended)}")
    ms_runs = {k: v for k, v in ok.items() if k.startswith("MindSpore")}
    graph = {}  # dropout → the median step times of its graph-mode runs
    for v in ms_runs.values():
        if v["jit"]:
            graph.setdefault(v["dropout"], []).append(v["median_s"])
    if "counter" in graph and len(graph) > 1:
        print("\nstep time with bert.dropout's host masks ÷ with each other dropout, graph mode (median over "
              "runs; < 1: ours is faster):")
        for dropout, times in graph.items():
            if dropout != "counter":
                print(f"  ÷ {DROPOUTS[dropout]}: {np.median(graph['counter']) / np.median(times):.3f} "
                      f"({len(graph['counter'])} vs {len(times)} runs)")
    torch_runs = {k: v for k, v in ok.items() if k.startswith("HF")}
    if ms_runs and torch_runs:
        print("\nratios (MindSpore samples/s ÷ HF samples/s; > 1 means MindSpore is faster):")
        for m, mr in ms_runs.items():
            for t, tr in torch_runs.items():
                print(f"  {m} ÷ {t}: {mr['samples_per_s'] / tr['samples_per_s']:.3f}")
    elif ms_runs and args.torch_python is None:
        print("\n(no ratio: torch reference skipped)")


if __name__ == "__main__":
    sys.exit(main())
