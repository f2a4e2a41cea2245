"""The README's main job end to end (shortened: few steps), as `make demo` runs it."""
import json

from bert.checkpoint import is_model_dir
from conftest import run_module


def test_demo_runs_the_whole_chain(tmp_path):
    run = run_module("bert.demo", "--output", tmp_path, "--pretrain-steps", "10", "--finetune-epochs", "1",
                     timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (tmp_path / "data" / "examples" / "manifest.json").is_file()
    assert is_model_dir(tmp_path / "pretrain" / "checkpoints" / "step_00000010")
    results = json.loads((tmp_path / "finetune" / "results.json").read_text())
    assert results["dataset"] == "generated demo set (not SST-2)" and 0.0 <= results["best_accuracy"] <= 1.0
    assert "Best-Accuracy" in run.stdout and "demo done" in run.stdout
    assert list((tmp_path / "logs" / "demo-pretrain" / "tb").glob("events.*"))
