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
- A worker that dies (killed, crashed, or ended by the training loop's step watchdog): the first
  task to see it records it in <log dir>/restarts/<job id>.json (a filesystem every node shares,
  as the checkpoints are). Every other task sees the record within PEER_POLL_S, has its worker
  print its stacks and kills it, and every task starts its processes again in the same allocation,
  from checkpoints/latest, on a new scheduler port: at most --max-inplace-restarts times per
  allocation. A task that does not come back within --rendezvous-timeout (RENDEZVOUS_S) means its
  node is gone, and the in-place restarts used up mean the failure is not passing: then the job is requeued, at most
  --max-restarts times per job; after that it fails with one line saying why. Exit codes 2 (bad
  input, a full disk) and 3 (a run that stopped learning), already reported in one line, are never
  retried.

    srun --ntasks-per-node=N python -m bert.cluster.launch [--max-restarts 3] [--max-inplace-restarts 3] \
        pretrain --config configs/pretrain.yaml key=value …

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
from bert.train.cli import BAD_INPUT, NOT_LEARNING, RESTARTS_ENV
from bert.train.config import DistillConfig, FinetuneConfig, PretrainConfig, load_config

STAGES = {"prepare": "bert.data.prepare", "pretrain": "bert.pretrain", "finetune": "bert.finetune",
          "distill": "bert.distill", "grid-summary": "bert.glue.grid", "study": "bert.study"}
DISTRIBUTED = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "distill": DistillConfig}  # stage → its config
MAX_RESTARTS = 3  # requeues per job after a worker failure, like torchrun's --max-restarts
MAX_INPLACE_RESTARTS = 3  # restarts of every worker inside one allocation before a requeue
RENDEZVOUS_S = 60  # s (default) for every task to come back for an in-place restart; one that does not: its node is gone
PEER_POLL_S = 1.0  # s between a task's looks at the job's record for another task's failure
DUMP_GRACE_S = 2  # s a worker gets to print its stacks (SIGUSR1) before it is killed
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


def scheduler_port(job_id: str, attempt: int = 0) -> int:
    """A port derived from the job id, its requeues and in-place restarts, so that concurrent jobs
    and a restarted process group do not collide."""
    digits = "".join(ch for ch in job_id if ch.isdigit()) or "0"
    restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
    return 20000 + (int(digits) * 7 + restarts * 131 + attempt * 29) % 30000


def worker_env(layout: Layout, role: str | None, attempt: int = 0) -> dict:
    env = dict(os.environ)
    # MindSpore's own INFO/WARNING lines stay out of job logs unless asked for; glog's minloglevel
    # also drops the INFO lines its C++ side flushes at exit whatever GLOG_v says.
    env.setdefault("GLOG_v", "3")
    env.setdefault("GLOG_minloglevel", str(max(0, int(env["GLOG_v"]) - 1)))
    env["DEVICE_ID"] = str(layout.local_rank)
    if role is not None:
        env.update(MS_ROLE=role, MS_WORKER_NUM=str(layout.world), MS_NODE_ID=str(layout.rank),
                   MS_SCHED_HOST=host_address(layout.first_host), MS_SCHED_PORT=str(scheduler_port(layout.job_id, attempt)),
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
    """This job's record, kept across requeues and locked against the other tasks: `failures`, one
    entry per worker failure (its allocation, attempt, rank, cause, resume step and what it led to:
    "in place", "requeue" or "stop"), and `back`, the ranks ready for each in-place restart."""
    path = restarts_file(log_dir, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        record = {"failures": [], "back": {}, **json.loads(text or "{}")}
        yield record
        new = json.dumps(record, indent=1) + "\n"
        if new != text:  # the tasks' once-a-second looks write nothing
            handle.seek(0)
            handle.truncate()
            handle.write(new)


def failure_of(failures: list[dict], allocation: int, attempt: int) -> dict | None:
    """The failure recorded for `attempt` of `allocation`, if any."""
    return next((f for f in failures if (f["allocation"], f["attempt"]) == (allocation, attempt)), None)


def requeue_count(failures: list[dict]) -> int:
    return sum(f["action"] == "requeue" for f in failures)


class Launch:
    """Start this task's processes for `stage`, wait for them, and decide what the job does next."""

    def __init__(self, stage: str, args: list[str], max_restarts: int = MAX_RESTARTS, log_dir: str = LOG_DIR,
                 max_inplace_restarts: int = MAX_INPLACE_RESTARTS, rendezvous_s: float = RENDEZVOUS_S):
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        if max_restarts < 0 or max_inplace_restarts < 0:
            raise ValueError(f"--max-restarts and --max-inplace-restarts must be >= 0, got {max_restarts} and "
                             f"{max_inplace_restarts}")
        if rendezvous_s <= 0:
            raise ValueError(f"--rendezvous-timeout must be positive, got {rendezvous_s}")
        self.stage, self.args, self.max_restarts, self.log_dir = stage, list(args), max_restarts, Path(log_dir)
        self.max_inplace_restarts = max_inplace_restarts
        self.rendezvous_s = rendezvous_s
        self.processes: list[subprocess.Popen] = []
        self.stop_signal: int | None = None  # SIGUSR2 if one came (requeue), else SIGTERM (stop), else None
        self.requeued = False
        self.allocation = int(os.environ.get("SLURM_RESTART_COUNT", "0"))  # requeues so far: Slurm's count

    def command(self) -> list[str]:
        return [sys.executable, "-m", STAGES[self.stage], *self.args]

    def run(self) -> int:
        layout = Layout.here()
        if layout.scheduler == "slurm" and layout.rank == 0 and self.allocation == 0:
            restarts_file(self.log_dir, layout.job_id).unlink(missing_ok=True)  # an older job's, if ids were reused
        for sig in (signal.SIGUSR2, signal.SIGTERM):  # replaces submitit's handlers in a submitit job
            signal.signal(sig, self._on_signal)
        attempt = 0  # in-place restarts so far in this allocation
        while True:
            code = self._start_and_wait(layout, attempt)
            if self._after(code, layout, attempt) == "again":
                attempt += 1
                continue
            return code

    def _start_and_wait(self, layout: Layout, attempt: int) -> int:
        """Start the worker (and rank 0's MindSpore scheduler) and wait for it; under Slurm, stop it
        early when another task's worker failed in this attempt."""
        distributed = self.stage in DISTRIBUTED and layout.world > 1
        self.processes = []
        if distributed and layout.rank == 0:
            self.processes.append(subprocess.Popen(self.command(), env=worker_env(layout, "MS_SCHED", attempt),
                                                   stdout=subprocess.DEVNULL))
        worker = subprocess.Popen(self.command(), env=self._worker_env(layout, distributed, attempt))
        self.processes.append(worker)
        node = os.environ.get("SLURMD_NODENAME", socket.gethostname())
        print(f"launch: {self.stage} task {layout.rank}/{layout.world} on {node}, job {layout.job_id or '-'}"
              f"{self._restart_note(layout, attempt)}: worker pid {worker.pid}", flush=True)
        watch = layout.scheduler == "slurm" and layout.world > 1
        next_look = time.monotonic() + PEER_POLL_S
        # Poll instead of a blocking wait(): signal handlers run in this thread between polls.
        while (code := worker.poll()) is None:
            time.sleep(0.2)
            if watch and self.stop_signal is None and time.monotonic() >= next_look:
                next_look = time.monotonic() + PEER_POLL_S
                failure = self._failure(layout, attempt)
                if failure is not None:
                    print(f"launch: task {layout.rank}: rank {failure['rank']}'s worker {failure['cause']}: dumping "
                          f"this worker's stacks and stopping it", flush=True)
                    self._stop_processes(dump=True)
        return worker.wait()

    def _worker_env(self, layout: Layout, distributed: bool, attempt: int) -> dict:
        env = worker_env(layout, "MS_WORKER" if distributed else None, attempt)
        if layout.scheduler == "slurm" and restarts_file(self.log_dir, layout.job_id).is_file():
            with restart_record(self.log_dir, layout.job_id) as record:
                env[RESTARTS_ENV] = str(len(record["failures"]))
        return env

    def _failure(self, layout: Layout, attempt: int) -> dict | None:
        """The failure recorded for this attempt of this allocation by any task, if any."""
        if not restarts_file(self.log_dir, layout.job_id).is_file():
            return None
        with restart_record(self.log_dir, layout.job_id) as record:
            return failure_of(record["failures"], self.allocation, attempt)

    def _stop_processes(self, dump: bool) -> None:
        """Kill this task's processes; with `dump`, first ask the worker for every thread's stack
        (SIGUSR1: faulthandler, registered by the training loop) so the log shows where it was."""
        alive = [p for p in self.processes if p.poll() is None]
        if dump and alive and alive[-1] is self.processes[-1]:
            alive[-1].send_signal(signal.SIGUSR1)
            with contextlib.suppress(subprocess.TimeoutExpired):
                alive[-1].wait(timeout=DUMP_GRACE_S)
        for process in alive:
            if process.poll() is None:
                process.kill()
            process.wait()

    def _on_signal(self, signum: int, _frame) -> None:
        if self.stop_signal is None or signum == signal.SIGUSR2:  # TERM then USR2: submitit's preemption
            self.stop_signal = signum
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signum)

    def _restart_note(self, layout: Layout, attempt: int) -> str:
        if layout.scheduler != "slurm" or not restarts_file(self.log_dir, layout.job_id).is_file():
            return ""
        with restart_record(self.log_dir, layout.job_id) as record:
            failures = record["failures"]
        if not failures:
            return ""
        last = failures[-1]
        if attempt:
            return (f", in-place restart {attempt} of at most {self.max_inplace_restarts} after rank {last['rank']}'s "
                    f"worker {last['cause']}")
        requeues = [f for f in failures if f["action"] == "requeue"]
        return (f", restart {len(requeues)} of at most {self.max_restarts} after rank {requeues[-1]['rank']}'s worker "
                f"{requeues[-1]['cause']}" if requeues and requeues[-1]["allocation"] == self.allocation - 1 else "")

    def _after(self, code: int, layout: Layout, attempt: int) -> str:
        """Requeue, stop, give up or start again ("again"), by what ended the worker."""
        failed = code != 0
        for process in self.processes[:-1]:  # the scheduler: done when the workers are, else stopped
            if failed:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=120)
        if self.stop_signal == signal.SIGUSR2:
            if layout.rank == 0:
                self._requeue(layout, "stopped by SIGUSR2 (time limit or preemption) after saving")
            return "done"
        if self.stop_signal == signal.SIGTERM:
            print("launch: stopped by SIGTERM (scancel or the end of the job): not requeueing", flush=True)
            return "done"
        if not failed or code in NOT_RETRIED or layout.scheduler != "slurm":
            return "done"
        return self._restart_after_failure(code, layout, attempt)

    def _restart_after_failure(self, code: int, layout: Layout, attempt: int) -> str:
        """The first task to see a failure of this attempt records it and decides: restart every
        worker in place (while the allocation has some left), else requeue (while the job has some
        left), else stop. The others join that decision."""
        step = resume_step(self.stage, self.args) if self.stage in DISTRIBUTED else None
        key = f"{self.allocation}.{attempt + 1}"
        with restart_record(self.log_dir, layout.job_id) as record:
            failures = record["failures"]
            failure = failure_of(failures, self.allocation, attempt)
            first = failure is None
            if first:
                in_place = sum(f["allocation"] == self.allocation and f["action"] == "in place" for f in failures)
                requeues = requeue_count(failures)
                failure = {"allocation": self.allocation, "attempt": attempt, "rank": layout.rank,
                           "cause": describe_exit(code), "resume_step": step,
                           "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                           "action": "in place" if in_place < self.max_inplace_restarts
                           else "requeue" if requeues < self.max_restarts else "stop"}
                failures.append(failure)
            if failure["action"] == "in place":
                record["back"].setdefault(key, []).append(layout.rank)
            history = list(failures)
        at = f" (checkpoint at step {step})" if step else " (no checkpoint yet)" if step == 0 else ""
        why = f"rank {failure['rank']}'s worker {failure['cause']}{at}"
        if failure["action"] == "in place":
            if first:
                print(f"launch: {why}; restarting every worker in this allocation: in-place restart {attempt + 1} of "
                      f"at most {self.max_inplace_restarts}", flush=True)
            missing = self._rendezvous(layout, key)
            if not missing:
                return "again"
            return self._no_rendezvous(layout, attempt, missing, why)
        if failure["action"] == "requeue":
            if first:
                requeues = requeue_count(history)
                self._requeue(layout, f"{why}; restart {requeues} of at most {self.max_restarts}")
            return "done"
        if first:
            self._give_up(layout, history)
        return "done"

    def _rendezvous(self, layout: Layout, key: str) -> list[int]:
        """Wait until every task is back for in-place restart `key`; → the ranks that did not come
        back within the rendezvous timeout (their node is gone), or [] (or [] at once when a signal came)."""
        deadline = time.monotonic() + self.rendezvous_s
        while self.stop_signal is None:
            with restart_record(self.log_dir, layout.job_id) as record:
                back = set(record["back"].get(key, []))
            missing = sorted(set(range(layout.world)) - back)
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.2)
        return []

    def _no_rendezvous(self, layout: Layout, attempt: int, missing: list[int], why: str) -> str:
        """Tasks missing at an in-place restart: the first task to time out turns it into a requeue."""
        with restart_record(self.log_dir, layout.job_id) as record:
            failure = failure_of(record["failures"], self.allocation, attempt)
            first = failure["action"] == "in place"
            if first:
                requeues = requeue_count(record["failures"])
                failure["action"] = "requeue" if requeues < self.max_restarts else "stop"
            history = list(record["failures"])
        if not first:
            return "done"
        gone = (f"rank(s) {', '.join(map(str, missing))} did not come back within {self.rendezvous_s:g} s "
                f"(their node is gone)")
        if failure["action"] == "requeue":
            requeues = requeue_count(history)
            self._requeue(layout, f"{why}; {gone}; restart {requeues} of at most {self.max_restarts}")
        else:
            print(f"launch: {gone}", file=sys.stderr, flush=True)
            self._give_up(layout, history)
        return "done"

    def _give_up(self, layout: Layout, history: list[dict]) -> None:
        steps = sorted({f["resume_step"] for f in history if f["resume_step"] is not None})
        where = (f", resuming from step {steps[0]} every time" if len(steps) == 1
                 else f", resuming from steps {', '.join(map(str, steps))}" if steps else "")
        causes = "; ".join(f"rank {f['rank']} {f['cause']}" for f in history)
        in_place = sum(f["allocation"] == self.allocation and f["action"] == "in place" for f in history)
        requeues = requeue_count(history)
        print(f"launch: error: the workers of job {layout.job_id} failed {len(history)} times ({causes}){where}; "
              f"{in_place} of {self.max_inplace_restarts} in-place restarts in this allocation and {requeues} of "
              f"{self.max_restarts} requeues used, not requeueing", file=sys.stderr, flush=True)

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
    parser.add_argument("--max-inplace-restarts", type=int, default=MAX_INPLACE_RESTARTS,
                        help="restarts of every worker inside the allocation after a worker failure, before a "
                             f"requeue (default {MAX_INPLACE_RESTARTS}; 0: requeue at once)")
    parser.add_argument("--rendezvous-timeout", type=float, default=RENDEZVOUS_S,
                        help="seconds every task has to come back for an in-place restart; a task that does not: "
                             f"its node is gone, and the job is requeued (default {RENDEZVOUS_S})")
    parser.add_argument("--log-dir", default=LOG_DIR, help=f"the job's logs: restarts/<job id>.json (default {LOG_DIR})")
    parser.add_argument("stage", help=f"one of {', '.join(STAGES)}")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the stage's own arguments")
    options = parser.parse_args(argv)
    try:
        launch = Launch(options.stage, options.args, options.max_restarts, options.log_dir,
                        options.max_inplace_restarts, options.rendezvous_timeout)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return launch.run()


if __name__ == "__main__":
    sys.exit(main())
