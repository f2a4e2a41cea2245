"""The one launch path: a stage name + its `key=value` arguments in, this task's MindSpore
process(es) out — the same code under submitit (jobs/submit_*.py → bert.cluster.submit.StageJob)
and under the sbatch templates (slurm/*.sbatch → `srun python -m bert.cluster.launch`). Paths are
relative to the working directory: the repository root, where the job was submitted.

Layout. Slurm runs one task per device. A task's place in the job (global rank, world size, local
rank, first host) comes from submitit's JobEnvironment inside a submitit job, else from Slurm's own
task variables (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_JOB_NODELIST, read by submitit's
SlurmJobEnvironment), else it is a plain single process. Each task starts one MindSpore worker with
MindSpore's process-group variables (MS_ROLE=MS_WORKER, MS_NODE_ID = global rank, MS_WORKER_NUM,
MS_SCHED_HOST/PORT, and bert.device_settings.WORKER_ENV's timeouts); global rank 0 also starts the scheduler process
(MS_ROLE=MS_SCHED, same command). Rank and world size reach the training code only through
MindSpore's communication API; the device is the stage's `device_target` (auto: what the task
sees, bert/device.py), DEVICE_ID the task's local rank.

Signals mean what Slurm means; both paths receive them alike (`--signal=USR2@N`, every task):
- SIGUSR2 (time limit near, or preemption): the workers save at the next step boundary and exit 0;
  rank 0 requeues the job, which resumes from checkpoints/latest.
- SIGTERM without a SIGUSR2 (scancel): the workers save and exit; never requeued by us (a preemption
  that sends only SIGTERM is requeued by Slurm itself, PreemptMode=REQUEUE).
- A worker that dies (killed, crashed; when a whole node dies the other ranks' workers fail
  within MS_NODE_TIMEOUT): the first task to see it requeues the job, at most --max-restarts
  times per job (counted in <log dir>/restarts/<job id>.json); after that the job fails with one
  line saying why. Exit codes 2 (bad input, a full disk) and 3 (a run that stopped learning), already
  reported in one line, are never retried.

    srun --ntasks-per-node=N python -m bert.cluster.launch [--max-restarts 3] pretrain --config configs/pretrain.yaml key=value …

This module runs in light processes (a Slurm task waiting on its worker): it never imports MindSpore.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import submitit
from submitit.slurm.slurm import SlurmJobEnvironment

from bert.device_settings import WORKER_ENV
from bert.train.checkpoints import STATE_FILE, CheckpointManager
from bert.train.cli import BAD_INPUT, NOT_LEARNING
from bert.train.config import DistillConfig, FinetuneConfig, PretrainConfig, load_config

STAGES = {"prepare": "bert.data.prepare", "pretrain": "bert.pretrain", "finetune": "bert.finetune",
          "distill": "bert.distill", "grid-summary": "bert.glue.grid"}
DISTRIBUTED = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "distill": DistillConfig}  # stage → its config
MAX_RESTARTS = 3  # requeues per job after a worker failure, like torchrun's --max-restarts
LOG_DIR = "logs"  # job logs, and restarts/<job id>.json
NOT_RETRIED = (BAD_INPUT, NOT_LEARNING)  # the stages' exit codes that a restart cannot help


@dataclasses.dataclass
class Layout:
    """This task's place in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    first_host: str = "localhost"
    job_id: str = ""
    scheduler: str = "none"  # slurm | local (submitit's local executor) | none

    @classmethod
    def here(cls) -> "Layout":
        """From submitit inside a submitit job, from Slurm's variables inside a plain srun task."""
        try:
            env = submitit.JobEnvironment()
        except RuntimeError:  # not a submitit job
            if "SLURM_JOB_ID" not in os.environ or "SLURM_PROCID" not in os.environ:
                return cls(job_id=str(os.getpid()))
            env = SlurmJobEnvironment()
        return cls(env.global_rank, env.num_tasks, env.local_rank, env.hostnames[0], str(env.job_id),
                   "slurm" if env.cluster == "slurm" else env.cluster)


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


def worker_env(layout: Layout, role: str | None) -> dict:
    env = dict(os.environ)
    # MindSpore's own INFO/WARNING lines stay out of job logs unless asked for; glog's minloglevel
    # also drops the INFO lines its C++ side flushes at exit whatever GLOG_v says.
    env.setdefault("GLOG_v", "3")
    env.setdefault("GLOG_minloglevel", str(max(0, int(env["GLOG_v"]) - 1)))
    env["DEVICE_ID"] = str(layout.local_rank)
    if role is not None:
        env.update(MS_ROLE=role, MS_WORKER_NUM=str(layout.world), MS_NODE_ID=str(layout.rank),
                   MS_SCHED_HOST=host_address(layout.first_host), MS_SCHED_PORT=str(scheduler_port(layout.job_id)),
                   RANK_ID=str(layout.rank), RANK_SIZE=str(layout.world))
        for key, value in WORKER_ENV.items():  # heartbeat and collective timeouts (bert.device_settings)
            env.setdefault(key, value)
    return env


def describe_exit(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


def resume_step(stage: str, args: list[str]) -> int | None:
    """The step the stage would resume from (its output_dir's latest checkpoint), if any."""
    try:
        latest = CheckpointManager(Path(stage_config(stage, args).output_dir) / "checkpoints").latest()
        return json.loads((latest / STATE_FILE).read_text())["step"] if latest else 0
    except Exception:  # noqa: BLE001 — only for the log line; the stage reports bad input itself
        return None


def stage_config(stage: str, args: list[str]):
    """The run config a training stage will use (its --config file + key=value overrides)."""
    config = args[args.index("--config") + 1] if "--config" in args else None
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    return load_config(DISTRIBUTED[stage], config, overrides)


def restarts_file(log_dir: Path, job_id: str) -> Path:
    return Path(log_dir) / "restarts" / f"{job_id}.json"


@contextlib.contextmanager
def restart_record(log_dir: Path, job_id: str):
    """This job's failure restarts (a list, kept across requeues), locked against the other tasks."""
    path = restarts_file(log_dir, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        failures = json.loads(handle.read() or "[]")
        yield failures
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(failures, indent=1) + "\n")


class Launch:
    """Start this task's processes for `stage`, wait for them, and decide what the job does next."""

    def __init__(self, stage: str, args: list[str], max_restarts: int = MAX_RESTARTS, log_dir: str = LOG_DIR):
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        if max_restarts < 0:
            raise ValueError(f"--max-restarts must be >= 0, got {max_restarts}")
        self.stage, self.args, self.max_restarts, self.log_dir = stage, list(args), max_restarts, Path(log_dir)
        self.processes: list[subprocess.Popen] = []
        self.stop_signal: int | None = None  # SIGUSR2 if one came (requeue), else SIGTERM (stop), else None
        self.requeued = False

    def command(self) -> list[str]:
        return [sys.executable, "-m", STAGES[self.stage], *self.args]

    def run(self) -> int:
        layout = Layout.here()
        if layout.scheduler == "slurm" and layout.rank == 0 and os.environ.get("SLURM_RESTART_COUNT", "0") == "0":
            restarts_file(self.log_dir, layout.job_id).unlink(missing_ok=True)  # an older job's, if ids were reused
        for sig in (signal.SIGUSR2, signal.SIGTERM):  # replaces submitit's handlers in a submitit job
            signal.signal(sig, self._on_signal)
        distributed = self.stage in DISTRIBUTED and layout.world > 1
        if distributed and layout.rank == 0:
            self.processes.append(subprocess.Popen(self.command(), env=worker_env(layout, "MS_SCHED"),
                                                   stdout=subprocess.DEVNULL))
        worker = subprocess.Popen(self.command(), env=worker_env(layout, "MS_WORKER" if distributed else None))
        self.processes.append(worker)
        node = os.environ.get("SLURMD_NODENAME", socket.gethostname())
        print(f"launch: {self.stage} task {layout.rank}/{layout.world} on {node}, job {layout.job_id or '-'}"
              f"{self._restart_note(layout)}: worker pid {worker.pid}", flush=True)
        # Poll instead of a blocking wait(): signal handlers run in this thread between polls.
        while (code := worker.poll()) is None:
            time.sleep(0.2)
        return self._after(code, layout)

    def _on_signal(self, signum: int, _frame) -> None:
        if self.stop_signal is None or signum == signal.SIGUSR2:  # TERM then USR2: submitit's preemption
            self.stop_signal = signum
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signum)

    def _restart_note(self, layout: Layout) -> str:
        if layout.scheduler != "slurm" or not restarts_file(self.log_dir, layout.job_id).is_file():
            return ""
        with restart_record(self.log_dir, layout.job_id) as failures:
            last = failures[-1] if failures else None
        return (f", restart {len(failures)} of at most {self.max_restarts} after rank {last['rank']}'s worker "
                f"{last['cause']}" if last else "")

    def _after(self, code: int, layout: Layout) -> int:
        """Requeue, stop or give up, by what ended the worker."""
        failed = code != 0
        for process in self.processes[:-1]:  # the scheduler: done when the workers are, else stopped
            if failed:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=120)
        if self.stop_signal == signal.SIGUSR2:
            if layout.rank == 0:
                self._requeue(layout, "stopped by SIGUSR2 (time limit or preemption) after saving")
            return code
        if self.stop_signal == signal.SIGTERM:
            print("launch: stopped by SIGTERM (scancel or the end of the job): not requeueing", flush=True)
            return code
        if not failed or code in NOT_RETRIED or layout.scheduler != "slurm":
            return code
        return self._restart_after_failure(code, layout)

    def _restart_after_failure(self, code: int, layout: Layout) -> int:
        restart = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
        step = resume_step(self.stage, self.args) if self.stage in DISTRIBUTED else None
        with restart_record(self.log_dir, layout.job_id) as failures:
            if any(f["restart"] == restart for f in failures):
                return code  # another task of this run already saw a failure and acted on it
            failures.append({"restart": restart, "rank": layout.rank, "cause": describe_exit(code),
                             "resume_step": step, "time": time.strftime("%Y-%m-%d %H:%M:%S")})
            history = list(failures)
        if len(history) > self.max_restarts:
            steps = sorted({f["resume_step"] for f in history if f["resume_step"] is not None})
            where = (f", resuming from step {steps[0]} every time" if len(steps) == 1
                     else f", resuming from steps {', '.join(map(str, steps))}" if steps else "")
            causes = "; ".join(f"rank {f['rank']} {f['cause']}" for f in history)
            print(f"launch: error: the workers of job {layout.job_id} failed {len(history)} times ({causes}){where}; "
                  f"max_restarts={self.max_restarts} reached, not requeueing", file=sys.stderr, flush=True)
            return code
        at = f" (checkpoint at step {step})" if step else " (no checkpoint yet)" if step == 0 else ""
        self._requeue(layout, f"rank {layout.rank}'s worker {describe_exit(code)}{at}; restart "
                              f"{len(history)} of at most {self.max_restarts}")
        return code

    def _requeue(self, layout: Layout, why: str) -> None:
        if layout.scheduler != "slurm":
            print(f"launch: {why}; no scheduler to requeue with: run the same command again to resume", flush=True)
            return
        print(f"launch: {why}: requeueing job {layout.job_id}", flush=True)
        run = subprocess.run(["scontrol", "requeue", layout.job_id], capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            print(f"launch: error: scontrol requeue {layout.job_id} failed: {run.stderr.strip()}", file=sys.stderr,
                  flush=True)
        self.requeued = run.returncode == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.cluster.launch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-restarts", type=int, default=MAX_RESTARTS,
                        help=f"requeues of this job after a worker failure (default {MAX_RESTARTS}, like torchrun)")
    parser.add_argument("--log-dir", default=LOG_DIR, help=f"the job's logs: restarts/<job id>.json (default {LOG_DIR})")
    parser.add_argument("stage", help=f"one of {', '.join(STAGES)}")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the stage's own arguments")
    options = parser.parse_args(argv)
    try:
        launch = Launch(options.stage, options.args, options.max_restarts, options.log_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return launch.run()


if __name__ == "__main__":
    sys.exit(main())
