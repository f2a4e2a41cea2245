"""Shared test fixtures: quiet MindSpore, fixture paths, small vocab files; the test tiers
(markers in pyproject.toml: `slurm` for tests on the sandbox, `slow` for training and whole stages);
and a guard that the suite writes nothing into the repository's logs/ or outputs/."""
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_v", "3")
FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
SLOW_FIXTURES = {"wiki_8k", "wiki_8k_dynamic", "pretrained_8k", "glue_runs"}  # each prepares data or trains: a minute or more


def pytest_collection_modifyitems(items):
    """A test on the Slurm sandbox is `slurm`; one built on a slow fixture is `slow`."""
    for item in items:
        if "slurm" in item.fixturenames:
            item.add_marker(pytest.mark.slurm)
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def repository_left_clean():
    """Tests write job logs and outputs under their temporary folders only."""
    def entries():
        return {p for folder in ("logs", "outputs") if (REPO / folder).is_dir() for p in (REPO / folder).iterdir()}

    before = entries()
    yield
    assert entries() <= before, f"the tests wrote into the repository: {sorted(map(str, entries() - before))}"


def load_fixture(name: str) -> dict:
    with np.load(FIXTURES / name, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


def run_module(module: str, *args, timeout: int = 600, **kwargs):
    """`python -m module args…` with this venv's python on PATH (msrun starts workers as `python`)."""
    import subprocess
    import sys

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env, **kwargs)


@pytest.fixture(scope="session")
def wiki_8k(tmp_path_factory):
    """The enwiki sample through our chain with an 8k WordPiece vocab built by tools/build_vocab.py:
    seq 64 / 10 predictions, one dupe pass — small enough for training tests on 2 cores."""
    import subprocess
    import sys

    from bert import assets

    out = tmp_path_factory.mktemp("wiki8k")
    run = run_module("bert.data.prepare", "--input", assets.enwiki_sample(), "--vocab", assets.uncased_vocab(),
                     "--output", out, "--stages", "extract,sentences", "shard_bytes=600000")
    assert run.returncode == 0, run.stderr
    vocab = out / "vocab.txt"
    built = subprocess.run([sys.executable, str(REPO / "tools" / "build_vocab.py"), "--input", out / "text",
                            "--output", vocab, "--vocab-size", "8000"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    run = run_module("bert.data.prepare", "--input", out / "text", "--vocab", vocab, "--output", out,
                     "max_seq_length=64", "max_predictions_per_seq=10", "dupe_factor=1")
    assert run.returncode == 0, run.stderr
    return {"examples": out / "examples", "vocab": vocab, "text": out / "text"}


@pytest.fixture(scope="session")
def wiki_8k_dynamic(wiki_8k, tmp_path_factory):
    """wiki_8k's text as a dynamic corpus (unmasked rows, masks drawn by the feed): {"examples", "vocab"}."""
    out = tmp_path_factory.mktemp("wiki8k-dynamic")
    run = run_module("bert.data.examples", "--input", wiki_8k["text"], "--vocab", wiki_8k["vocab"], "--output", out,
                     "max_seq_length=64", "max_predictions_per_seq=10", "masking=dynamic")
    assert run.returncode == 0, run.stderr
    return {"examples": out, "vocab": wiki_8k["vocab"], "text": wiki_8k["text"]}


@pytest.fixture(scope="session")
def pretrained_8k(wiki_8k, tmp_path_factory):
    """An L2-H128 pretrained for 4 steps on wiki_8k: {"checkpoints": its checkpoints/ folder, "vocab"}."""
    out = tmp_path_factory.mktemp("pretrained8k")
    run = run_module("bert.pretrain", "--config", REPO / "configs" / "pretrain.yaml", f"data={wiki_8k['examples']}",
                     f"vocab={wiki_8k['vocab']}", "model.name=L2-H128", "max_seq_length=64",
                     "max_predictions_per_seq=10", "total_steps=4", "train_batch_size=8", "optim.warmup_steps=1",
                     f"output_dir={out}", f"log_dir={out}/logs")
    assert run.returncode == 0, run.stderr[-3000:]
    return {"checkpoints": out / "checkpoints", "vocab": wiki_8k["vocab"]}

def tensorboard_scalars(logdir: Path, prefix: str = "") -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag under `prefix` → [(step, value)] as TensorBoard shows them (its own reader,
    which drops what a run logged after the step a resumed run purged from)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"] if tag.startswith(prefix)}


def kill_after_checkpoint(argv: list, checkpoint: Path, timeout: float = 300):
    """Start `argv`, SIGKILL it as soon as `checkpoint`/state.json exists; returns its stdout."""
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen([sys.executable, *map(str, argv)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while not (checkpoint / "state.json").exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() < deadline, f"no {checkpoint} after {timeout} s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    stdout, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return stdout


def run_msrun(module: str, *args, log_dir: Path, workers: int = 2, timeout: int = 600) -> str:
    """`msrun` with `workers` local workers running `python -m module args…`; returns worker 0's log."""
    import subprocess
    import sys

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    port = 20000 + os.getpid() % 20000
    run = subprocess.run([str(Path(sys.executable).parent / "msrun"), f"--worker_num={workers}",
                          f"--local_worker_num={workers}", f"--master_port={port}", "--join=True",
                          f"--log_dir={log_dir}", "python", "-m", module, *map(str, args)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    log = (Path(log_dir) / "worker_0.log").read_text()
    assert run.returncode == 0, log[-3000:]
    return log


def glue_args(task: str, data: Path, out: Path, config: str = "configs/finetune_sst2.yaml", *extra) -> list:
    """A from-scratch L2-H128 run on a generated GLUE set (lr 5e-4, batch 16, seq 64, dropout 0.1)."""
    from bert import assets

    return ["--config", REPO / config, "init=null", f"vocab={assets.uncased_vocab()}", f"task={task}",
            f"data_dir={data}", "model.name=L2-H128", f"output_dir={out}", f"log_dir={out}/logs",
            "train_batch_size=16", "max_length=64", "optim.learning_rate=5e-4", "log_interval=10", "epochs=3", *extra]


@pytest.fixture(scope="session")
def glue_runs(tmp_path_factory):
    """Every GLUE task's generated set (bert.glue.demo), finetuned once: name → {data, out, results, stdout}."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from bert.glue import tasks as glue
    from bert.glue.demo import write_demo

    root = write_demo(tmp_path_factory.mktemp("glue"))
    outs = {name: root.parent / "runs" / name for name in glue.TASKS}
    # two runs at a time: a run's compile and data stages leave the second core idle
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(zip(outs, pool.map(lambda name: run_module("bert.finetune", *glue_args(name, root / name, outs[name])),
                                        outs)))
    runs = {}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name}: {proc.stderr[-3000:]}"
        runs[name] = {"data": root / name, "out": outs[name], "stdout": proc.stdout,
                      "results": json.loads((outs[name] / "results.json").read_text())}
    return runs
