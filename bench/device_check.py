"""The check a person with one GPU or NPU runs before trusting a cluster with this toolkit (under 10
minutes on one accelerator): bert.doctor, then 50 pretraining steps of L4-H256 and L8-H512 at seq
128 in fp32 and in the device's half precision (fp16 on GPU, bf16 on Ascend; dynamic loss scale)
at jit level O0, and the half-precision run again at O1 (graph-kernel fusion: whether
`jit_level=O1` pays on this device), with samples/s, TFLOP/s and MFU, then the first 3 fp32 losses
on the device against the same steps on this machine's CPU (same init, same batches, dropout 0),
which must agree to 1e-3.

    python bench/device_check.py [--device auto|GPU|Ascend|CPU] [--peak-tflops P] [--json out.json]

Each run is a fresh process (bench/bench_pretrain_step.py's timed step: the project's own
make_train_step on synthetic batches). `--device CPU` runs the whole check here (fp32 at O0 and
O1, the reference is then the CPU itself); smaller sizes for a quick try: --models L2-H128 --steps 5.
Exit code: 0 all agreed, 1 a loss disagreed or a run failed, 2 the device is unusable (doctor says why).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench_pretrain_step import add_step_arguments

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-3


def worker(spec: dict) -> dict:
    """One run in this process: set the device, time the steps → JSON-able results."""
    import mindspore as ms

    from bench_pretrain_step import make_batches, mindspore_run
    from bert.device import device_name

    ms.set_device(spec["device"])
    ms.set_deterministic(True)
    args = argparse.Namespace(**spec)
    batches = make_batches(spec["batches"], spec["batch"], spec["seq"], spec["max_predictions"], spec["vocab"],
                           spec["seed"])
    result = mindspore_run(args, batches, jit=True, dropout="off", precision=spec["precision"],
                           jit_level=spec["jit_level"])
    return {**result, "device_name": device_name()}


def run_worker(spec: dict) -> dict:
    env = {**os.environ, "GLOG_v": os.environ.get("GLOG_v", "3")}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True,
                          env=env, timeout=1800)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/device_check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto | GPU | Ascend | CPU (default auto)")
    parser.add_argument("--models", default="L4-H256,L8-H512", help="compact sizes (default L4-H256,L8-H512)")
    add_step_arguments(parser, steps=50)
    parser.add_argument("--peak-tflops", type=float, default=0.0,
                        help="the device's peak for MFU (default: bert.flops's table by the device's name)")
    parser.add_argument("--json", help="also write every result to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    from bert.config import BertConfig
    from bert.device import DeviceError, resolve
    from bert.device_settings import PRECISIONS
    from bert.flops import peak_tflops, pretraining_step_flops

    doctor = subprocess.run([sys.executable, "-m", "bert.doctor", "--device", args.device], cwd=REPO, text=True,
                            env={**os.environ, "GLOG_v": "3"})
    if doctor.returncode != 0:
        return 2
    try:
        device, _ = resolve(args.device)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = {"steps": args.steps, "warmup": args.warmup, "seq": args.seq, "batch": args.batch,
            "max_predictions": args.max_predictions, "vocab": args.vocab, "seed": 12345, "batches": 4}
    results, failed = [], False
    print(f"\n{'model':<9} {'device':<7} {'precision':<9} {'jit':<3} {'median s':>8} {'samples/s':>9} {'TFLOP/s':>8} "
          f"{'MFU':>6}  first losses (fp32: device − CPU)")
    fastest = PRECISIONS[device][-1]  # fp16 on GPU, bf16 on Ascend, fp32 on CPU
    plan = [("fp32", "O0")] + ([(fastest, "O0")] if fastest != "fp32" else []) + [(fastest, "O1")]
    for model in args.models.split(","):
        flops = pretraining_step_flops(BertConfig.from_name(model, vocab_size=args.vocab), args.seq,
                                       args.max_predictions, args.batch)
        reference = run_worker({**base, "model": model, "device": "CPU", "precision": "fp32", "jit_level": "O0",
                                "steps": 3, "warmup": 0})
        for precision, level in plan:
            r = run_worker({**base, "model": model, "device": device, "precision": precision, "jit_level": level})
            results.append({"model": model, "device": device, "precision": precision, "jit_level": level, **r})
            row = f"{model:<9} {device:<7} {precision:<9} {level:<3}"
            if "error" in r or "error" in reference:
                failed = True
                print(f"{row} failed: {r.get('error') or reference['error']}")
                continue
            tflops = flops / r["median_s"] / 1e12
            peak = peak_tflops(r["device_name"], precision, args.peak_tflops)
            losses = r["first_losses"][:3]
            check = ""
            if precision == "fp32":
                diff = max(abs(a - b) for a, b in zip(losses, reference["first_losses"][:3]))
                failed |= not diff <= TOLERANCE
                check = f"; max |Δ| {diff:.1e} {'ok' if diff <= TOLERANCE else f'> {TOLERANCE:g}: DISAGREE'}"
            results[-1].update(tflops=tflops, mfu=tflops / peak if peak else None, reference=reference["first_losses"])
            print(f"{row} {r['median_s']:8.3f} {r['samples_per_s']:9.1f} {tflops:8.3f} "
                  f"{f'{tflops / peak:.1%}' if peak else '—':>6}  "
                  f"{' '.join(f'{x:.4f}' for x in losses)}{check}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
