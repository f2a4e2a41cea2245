"""bench/device_check.py in its CPU mode, end to end at tiny sizes: the doctor, the timed runs with
TFLOP/s and MFU, and the fp32 loss comparison against the CPU (here the same device: equal)."""
import json
import subprocess
import sys

import pytest

from bert.config import BertConfig
from bert.flops import pretraining_step_flops
from conftest import REPO

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)

TINY = ["--models", "L2-H128", "--steps", "2", "--warmup", "3", "--seq", "64", "--batch", "4",
        "--max-predictions", "10", "--vocab", "2000"]


def check(*args):
    return subprocess.run([sys.executable, "bench/device_check.py", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=900)


def test_cpu_mode_runs_end_to_end(tmp_path):
    run = check("--device", "CPU", *TINY, "--peak-tflops", "0.5", "--json", tmp_path / "check.json")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "device CPU: CPU (as configured) — usable" in run.stdout  # the doctor's screen comes first
    results = json.loads((tmp_path / "check.json").read_text())["results"]
    assert [(r["model"], r["device"], r["precision"], r["jit_level"]) for r in results] == [
        ("L2-H128", "CPU", "fp32", "O0"), ("L2-H128", "CPU", "fp32", "O1")]  # no half precision on a CPU
    flops = pretraining_step_flops(BertConfig.from_name("L2-H128", vocab_size=2000), 64, 10, 4)
    for result in results:
        assert len(result["first_losses"]) == 3 and result["first_losses"] == result["reference"][:3]
        assert result["tflops"] == pytest.approx(flops / result["median_s"] / 1e12)
        assert result["mfu"] == pytest.approx(result["tflops"] / 0.5)
    assert run.stdout.count("max |Δ| 0.0e+00 ok") == 2


def test_a_device_this_machine_lacks_stops_after_the_doctor():
    run = check("--device", "GPU", *TINY)
    assert run.returncode == 2 and "device GPU: NOT usable" in run.stdout
