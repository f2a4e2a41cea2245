"""bert.finetune on SST-2 (the default task; the other GLUE tasks: tests/test_glue_tasks.py), on
the generated set: accuracy from scratch (finetuning a real imported checkpoint is the teacher of
tests/test_distill.py), outputs (results.json, best checkpoint, SST-2.tsv, TensorBoard), resume
after SIGUSR2, bad input."""
import json
import re
import signal
import subprocess
import sys
import time

import pytest

from bert import assets
from bert.glue.sst2_demo import write_demo
from conftest import REPO, run_module

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)

ACCURACY = re.compile(r"^Accuracy: ([\d.]+)%, Best-Accuracy: ([\d.]+)%, Avg loss: ([\d.]+)$", re.M)
MINILM = ["model.name=null", "model.hidden_size=384", "model.num_hidden_layers=6", "model.num_attention_heads=12",
          "model.intermediate_size=1536"]


@pytest.fixture(scope="module")
def sst2(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("sst2"))


def args_for(data, out, *extra):
    return ["--config", REPO / "configs" / "finetune_sst2.yaml", "init=null", f"vocab={assets.uncased_vocab()}",
            f"data_dir={data}", "model.name=L2-H128", f"output_dir={out}", f"log_dir={out}/logs",
            "optim.learning_rate=5e-4", "log_interval=5", *extra]


@pytest.fixture(scope="module")
def scratch(glue_runs):
    """SST-2's run of the GLUE runs (conftest.glue_args: from scratch, 3 epochs, dropout 0.1)."""
    return glue_runs["SST-2"]["out"], glue_runs["SST-2"]["stdout"]


def test_tiny_model_from_scratch_reaches_ninety_percent(scratch):
    out, stdout = scratch
    results = json.loads((out / "results.json").read_text())
    print(f"scratch L2-H128: best dev accuracy {results['best_score']:.3f}")
    assert results["best_score"] >= 0.90
    lines = ACCURACY.findall(stdout)
    assert len(lines) == 3  # one evaluation per epoch
    assert float(lines[-1][1]) == pytest.approx(100 * results["best_score"], abs=0.05)
    assert results["dataset"] == "generated demo set (not SST-2)"
    assert "generated demo set (not SST-2)" in stdout


def test_outputs_best_checkpoint_predictions_and_tensorboard(scratch, glue_runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from bert.model_dir import is_model_dir

    out, _ = scratch
    assert is_model_dir(out / "best") and (out / "best" / "vocab.txt").is_file()
    lines = (out / "SST-2.tsv").read_text().splitlines()
    test_rows = (glue_runs["SST-2"]["data"] / "test.tsv").read_text().splitlines()[1:]
    assert lines[0] == "index\tprediction" and len(lines) == len(test_rows) + 1
    assert [l.split("\t")[0] for l in lines[1:]] == [r.split("\t")[0] for r in test_rows]
    assert {l.split("\t")[1] for l in lines[1:]} <= {"0", "1"}
    events = EventAccumulator(str(out / "logs" / out.name / "tb"))
    events.Reload()
    assert {"train/loss", "eval/accuracy", "eval/best_score", "train/lr"} <= set(
        events.Tags()["scalars"])


def test_sigusr2_then_restart_continues_to_the_planned_end(sst2, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "bert.finetune",
                             *map(str, args_for(sst2, tmp_path, "epochs=2", "save_steps=5"))],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (tmp_path / "checkpoints" / "step_00000005" / "state.json").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR2)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "received SIGUSR2: saved step" in stdout
    saved = int(re.search(r"saved step (\d+)", stdout)[1])
    run = run_module("bert.finetune", *args_for(sst2, tmp_path, "epochs=2", "save_steps=5"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "resumed from" in run.stdout and f"at step {saved}" in run.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["history"][-1]["step"] == 50  # 2 epochs × 25 steps, none lost or repeated
    assert [h["step"] for h in results["history"]] == [25, 50]


@pytest.mark.parametrize("train_text, problem", [
    ("sentence\tlabel\nfine film\t1\nbad film\t2\n", "train.tsv:3: label '2' is not one of 0, 1"),
    ("sentence\tlabel\nfine film\t1\nno label here\n", "train.tsv:3: expected 2 tab-separated fields, got 1"),
    ("", "train.tsv:1: expected the header 'sentence\\tlabel', got ''"),
    ("fine film\t1\n", "train.tsv:1: expected the header 'sentence\\tlabel', got 'fine film\\t1'"),
])
def test_bad_sst2_files_name_file_and_line(sst2, tmp_path, train_text, problem):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dev.tsv").write_text((sst2 / "dev.tsv").read_text())
    (data / "train.tsv").write_text(train_text)
    run = run_module("bert.finetune", *args_for(data, tmp_path / "out"))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr


def test_checkpoint_of_another_size_names_the_mismatch(sst2, tmp_path):
    run = run_module("bert.finetune", *args_for(sst2, tmp_path, f"init={assets.minilm_dir()}"))
    assert run.returncode == 2
    assert "hidden_size 384 != 128" in run.stderr and "num_hidden_layers 6 != 2" in run.stderr, run.stderr


@pytest.mark.parametrize("extra, problem", [
    (["init=/no/such/checkpoints", "vocab=null"], "init /no/such/checkpoints does not exist"),  # not the vocab's fault
    (["max_length=512", "model.max_position_embeddings=256"], "max_length 512 exceeds the model's max_position_embeddings 256"),
])
def test_bad_init_and_lengths_are_named_before_any_work(sst2, tmp_path, extra, problem):
    run = run_module("bert.finetune", *args_for(sst2, tmp_path / "out", *extra))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()
