"""The local Slurm sandbox (tools/slurm_sandbox.py) in, proof that its two nodes run srun and sbatch jobs out."""
import subprocess
import sys
import time
from pathlib import Path

from slurm_fixture import slurm  # noqa: F401  (the session fixture)

TOOL = Path(__file__).resolve().parents[1] / "tools" / "slurm_sandbox.py"
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
            "DEADLINE"}


def client(sandbox, *args, timeout_s=30):
    """A Slurm client command under `timeout` (clients retry for minutes when a daemon is down)."""
    return subprocess.run(["timeout", str(timeout_s), *args], env=sandbox.env, capture_output=True, text=True)


def submit(sandbox, *args) -> str:
    run = client(sandbox, "sbatch", "--parsable", *args)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip().split(";")[0]


def job_fields(sandbox, job_id: str) -> dict[str, str]:
    run = client(sandbox, "scontrol", "show", "job", "-o", job_id)
    assert run.returncode == 0, run.stderr
    return dict(item.split("=", 1) for item in run.stdout.split() if "=" in item)


def wait_finished(sandbox, job_id: str, deadline_s: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + deadline_s
    while (fields := job_fields(sandbox, job_id))["JobState"] not in FINISHED:
        assert time.monotonic() < deadline, f"job {job_id} still {fields['JobState']} after {deadline_s} s"
        time.sleep(0.2)
    return fields


def test_sinfo_shows_two_idle_nodes_in_debug_and_high_and_a_gpu_node(slurm):
    deadline = time.monotonic() + 15  # jobs of earlier tests may still be completing
    while True:
        run = client(slurm, "sinfo", "-h", "-N", "-o", "%N %P %T")
        assert run.returncode == 0, run.stderr
        rows = {tuple(line.split()) for line in run.stdout.splitlines()}
        if {state for *_, state in rows} == {"idle"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert rows == {(node, partition, "idle") for node in ("node1", "node2") for partition in ("debug*", "high")} | \
        {("gpu1", "gpu", "idle")}
    gres = client(slurm, "sinfo", "-h", "-p", "gpu", "-o", "%G")
    assert gres.stdout.split() == ["gpu:2"]  # what a GPU partition shows (its devices are stand-ins)


def test_srun_runs_one_task_on_each_node(slurm):
    run = client(slurm, "srun", "-N2", "-l", "printenv", "SLURMD_NODENAME")
    assert run.returncode == 0, run.stderr
    assert sorted(run.stdout.split("\n")[:-1]) == ["0: node1", "1: node2"]


def test_sbatch_wrap_job_completes(slurm, tmp_path):
    job = submit(slurm, "-o", str(tmp_path / "out"), "--wrap", "echo hello from $SLURM_JOB_ID")
    fields = wait_finished(slurm, job)
    assert fields["JobState"] == "COMPLETED", fields
    assert (tmp_path / "out").read_text() == f"hello from {job}\n"


def test_sbatch_two_nodes_runs_a_step_on_both(slurm, tmp_path):
    job = submit(slurm, "--nodes=2", "-o", str(tmp_path / "out"), "--wrap", "srun printenv SLURMD_NODENAME")
    fields = wait_finished(slurm, job)
    assert fields["JobState"] == "COMPLETED", fields
    assert fields["NodeList"] == "node[1-2]"
    assert sorted((tmp_path / "out").read_text().split()) == ["node1", "node2"]


def test_sacct_lists_the_finished_job(slurm):
    job = submit(slurm, "-o", "/dev/null", "--wrap", "true")
    assert wait_finished(slurm, job)["JobState"] == "COMPLETED"
    deadline = time.monotonic() + 15  # slurmctld hands the record to slurmdbd asynchronously
    while (run := client(slurm, "sacct", "-n", "-X", "-P", "-j", job, "-o", "JobID,State")).stdout.strip() \
            != f"{job}|COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert run.stdout.strip() == f"{job}|COMPLETED", run.stderr


def test_status_reports_running(slurm):
    assert slurm.status().running
    run = subprocess.run([sys.executable, str(TOOL), "status", "--dir", str(slurm.dir)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"sandbox {slurm.dir}: running\n")
    assert "slurmd node2" in run.stdout and "idle" in run.stdout


def test_up_again_is_idempotent(slurm):
    pids = [pid for _, pid, _ in slurm.status().daemons]
    run = subprocess.run([sys.executable, str(TOOL), "up", "--dir", str(slurm.dir), "--nodes", str(slurm.nodes),
                          "--cpus-per-node", str(slurm.cpus_per_node), "--gpu-nodes", str(slurm.gpu_nodes),
                          *(["--accounting"] if slurm.accounting else [])],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "already running" in run.stdout
    assert [pid for _, pid, _ in slurm.status().daemons] == pids


def test_bad_node_count_is_a_one_line_error():
    run = subprocess.run([sys.executable, str(TOOL), "up", "--nodes", "0"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith("error: --nodes must be 1..") and run.stderr.count("\n") == 1
