"""bench/bench_pretrain_step.py runs every MindSpore variant it offers (tiny sizes; its timings
are the bench's business, never asserted here). Host and in-graph dropout masks being the same,
their first losses are equal."""
import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)


def test_pretrain_step_bench_runs_each_dropout(tmp_path):
    run = subprocess.run([sys.executable, "bench/bench_pretrain_step.py", "--model", "L2-H128", "--steps", "2",
                          "--warmup", "1", "--batch", "4", "--seq", "64", "--max-predictions", "10", "--vocab", "2000",
                          "--dropouts", "counter,device,framework", "--json", tmp_path / "bench.json"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "bench.json").read_text())["results"]
    runs = {r["dropout"]: r for r in results.values()}
    assert sorted(runs) == ["counter", "device", "framework"] and not any("error" in r for r in runs.values())
    assert runs["counter"]["first_losses"] == runs["device"]["first_losses"]
    assert runs["counter"]["first_losses"] != runs["framework"]["first_losses"]
    assert "÷ nn.Dropout (MindSpore's kernel, before #13):" in run.stdout
    from bert.config import BertConfig
    from bert.flops import pretraining_step_flops

    flops = pretraining_step_flops(BertConfig.from_name("L2-H128", vocab_size=2000), 64, 10, 4)
    assert f"TFLOP/s: bert.flops's {flops / 1e9:.1f} GFLOP of model matmuls per step" in run.stdout
    for r in runs.values():  # the column is that count over the run's median step time
        assert f"{r['samples_per_s']:9.2f}  {flops / r['median_s'] / 1e12:7.4f}" in run.stdout
