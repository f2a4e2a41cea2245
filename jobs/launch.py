"""The one launch path: a stage name + its `key=value` arguments in, this task's worker process
out — shared by the submitit launchers (jobs/submit_*.py) and the sbatch templates (slurm/*.sbatch).

Slurm (or submitit's local executor) runs one task per device; each task starts one MindSpore
worker with MindSpore's own process-group variables (MS_ROLE=MS_WORKER, MS_NODE_ID = global
rank, MS_WORKER_NUM, MS_SCHED_HOST/PORT), and global rank 0 also starts the scheduler process
(MS_ROLE=MS_SCHED, same command). Rank and world size reach the training code only through
MindSpore's communication API. SIGUSR2/SIGTERM to a task are passed on to its worker, which saves
at the next step boundary and exits 0.

    srun --ntasks-per-node=N python jobs/launch.py pretrain --config configs/pretrain.yaml key=value …
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = {"prepare": "bert.data.prepare", "pretrain": "bert.pretrain", "finetune": "bert.finetune",
          "distill": "bert.distill", "grid-summary": "bert.grid"}
DISTRIBUTED = ("pretrain", "finetune", "distill")


def task_layout() -> dict:
    """This task's place in the job, from submitit's JobEnvironment (Slurm or local executor),
    else a plain single process."""
    import submitit

    try:
        env = submitit.JobEnvironment()
        return {"rank": env.global_rank, "world": env.num_tasks, "local_rank": env.local_rank,
                "first_host": env.hostnames[0], "job_id": str(env.job_id), "cluster": env.cluster}
    except RuntimeError:  # not inside a job
        return {"rank": 0, "world": 1, "local_rank": 0, "first_host": "localhost", "job_id": str(os.getpid()),
                "cluster": "none"}


def host_address(host: str) -> str:
    """MindSpore needs the scheduler's IP; emulated nodes whose names do not resolve share 127.0.0.1."""
    try:
        return socket.gethostbyname(host)
    except OSError:
        return "127.0.0.1"


def scheduler_port(job_id: str) -> int:
    """A port derived from the job id (and restart count), so concurrent jobs do not collide."""
    digits = "".join(ch for ch in job_id if ch.isdigit()) or "0"
    restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
    return 20000 + (int(digits) * 7 + restarts * 131) % 30000


def worker_env(layout: dict, role: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if layout["world"] > 1:
        env.update(MS_ROLE=role, MS_WORKER_NUM=str(layout["world"]), MS_NODE_ID=str(layout["rank"]),
                   MS_SCHED_HOST=host_address(layout["first_host"]),
                   MS_SCHED_PORT=str(scheduler_port(layout["job_id"])), DEVICE_ID=str(layout["local_rank"]),
                   RANK_ID=str(layout["rank"]), RANK_SIZE=str(layout["world"]))
    return env


class Launch:
    """Start this task's processes for `stage` and wait for them."""

    def __init__(self, stage: str, args: list[str]):
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        self.stage, self.args = stage, list(args)
        self.processes: list[subprocess.Popen] = []

    def command(self) -> list[str]:
        return [sys.executable, "-m", STAGES[self.stage], *self.args]

    def run(self) -> int:
        layout = task_layout() if self.stage in DISTRIBUTED else {"world": 1, "rank": 0}
        node = os.environ.get("SLURMD_NODENAME", socket.gethostname())
        print(f"launch: {self.stage} task {layout['rank']}/{layout['world']} on {node}", flush=True)
        if layout["world"] > 1 and layout["rank"] == 0:
            self.processes.append(subprocess.Popen(self.command(), cwd=REPO, env=worker_env(layout, "MS_SCHED"),
                                                   stdout=subprocess.DEVNULL))
        worker = subprocess.Popen(self.command(), cwd=REPO, env=worker_env(layout, "MS_WORKER"))
        self.processes.append(worker)
        # Poll instead of a blocking wait(): a blocking wait holds Popen's lock, and submitit's
        # checkpoint(), run by the signal handler in this same thread, must be able to wait too.
        while (code := worker.poll()) is None:
            time.sleep(0.2)
        for process in self.processes[:-1]:
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
        return code

    def request_stop(self, signum: int = signal.SIGUSR2) -> None:
        """Ask the worker to save at the next step boundary and exit."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.processes[-1].wait(timeout=timeout) if self.processes else None
        except subprocess.TimeoutExpired:
            return None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print(f"stages: {', '.join(STAGES)}")
        return 0 if argv else 2
    try:
        launch = Launch(argv[0], argv[1:])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGUSR2, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: launch.request_stop(signum))
    return launch.run()


if __name__ == "__main__":
    sys.exit(main())
