"""Submission machinery shared by the jobs/submit_*.py launchers: cluster profiles
(configs/cluster/*.yaml) + command-line flags in, submitit executors and requeue-safe jobs out.
Paths are relative to the working directory, the repository root; a job runs where it was submitted.

This module runs in the launchers, light processes: it never imports MindSpore.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import submitit

from bert.cluster import sbatch
from bert.cluster.launch import (DISTRIBUTED, LOG_DIR, MAX_INPLACE_RESTARTS, MAX_RESTARTS, RENDEZVOUS_S, Launch,
                                 stage_config)
from bert.cluster.profiles import (SITE, Profile, ProfileError, auto_profile, check_partition, load_profile, read_yaml,
                                   with_site)
from bert.config import ConfigError
from bert.glue import tasks as glue
from bert.model_dir import CheckpointError
from bert.train.checkpoints import resolve_init
from bert.train.data import DataFeedError, resolve_files

CLUSTERS = ("slurm", "local", "debug")
DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's default MaxArraySize


class SubmitError(Exception):
    """A submission that cannot go ahead; one line for the user."""


def add_common_arguments(parser: argparse.ArgumentParser, default_config: str | None) -> None:
    parser.add_argument("--cluster", choices=CLUSTERS, default="slurm",
                        help="slurm: sbatch through submitit; local: processes on this machine; debug: in this process")
    parser.add_argument("--profile", default=None,
                        help="auto (Slurm's default: the partition's GRES choose slurm-gpu, slurm-ascend or slurm-cpu, "
                             "as sinfo reports them), configs/cluster/NAME.yaml or a path; local without Slurm")
    parser.add_argument("--site", type=Path,
                        help=f"fields merged over the profile: account, qos, setup lines … (default {SITE} if it "
                             f"exists; {SITE.parent / 'site.example.yaml'} shows how)")
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--devices-per-node", type=int, help="tasks (devices) per node (default: the profile's)")
    parser.add_argument("--partition", help="Slurm partition (default: the profile's)")
    parser.add_argument("--time", type=int, help="time limit in minutes (default: the profile's)")
    parser.add_argument("--name", help="job name and <log dir>/<name>/ folder (default: the stage)")
    parser.add_argument("--log-dir", help=f"every log of the submission: <log dir>/<name>/submitit, <log dir>/restarts "
                                           f"and the stages' TensorBoard (their log_dir=); default {LOG_DIR}")
    parser.add_argument("--dry-run", action="store_true", help="print the sbatch script and command; submit nothing")
    if default_config is not None:
        parser.add_argument("--config", default=default_config, help=f"stage config (default {default_config})")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="stage overrides, as on its CLI")


def choose_profile(args) -> tuple[Profile, str]:
    """The profile of --cluster/--profile/--partition (auto: from sinfo) with the site file over it
    and the flags over both, and one line saying which and why."""
    site = args.site or (SITE if SITE.is_file() else None)
    if args.cluster != "slurm":
        return load_profile(args.profile or "local"), f"profile {args.profile or 'local'}"
    if site is not None and not site.is_file():
        raise ProfileError(f"--site {site} does not exist")
    partition = args.partition or (read_yaml(site).get("partition") if site else None)
    if (args.profile or "auto") == "auto":
        profile, chosen = auto_profile(partition)
    else:
        profile, chosen = load_profile(args.profile), f"profile {args.profile}: as given"
    if site is not None:
        profile, chosen = with_site(profile, site), f"{chosen}; site file {site}"
    if args.partition:
        profile.partition = args.partition
    if args.profile not in (None, "auto"):
        check_partition(profile, args.profile)
    return profile, chosen


@dataclasses.dataclass
class Plan:
    """What to submit: resolved from the common flags."""

    cluster: str
    profile: Profile
    nodes: int
    devices_per_node: int
    name: str
    log_dir: Path  # job logs and restart records
    dry_run: bool
    folder: Path | None = None  # submitit's (scripts, output, pickled tasks); default <log_dir>/<name>/submitit
    chosen: str = ""  # which profile, and why ("profile slurm-gpu: partition gpu has gres gpu:8, …")

    def __post_init__(self):
        self.folder = self.folder or self.log_dir / self.name / "submitit"

    @classmethod
    def from_args(cls, args, stage: str) -> "Plan":
        if args.nodes < 1:
            raise SubmitError(f"--nodes must be at least 1, got {args.nodes}")
        try:
            profile, chosen = choose_profile(args)
        except ProfileError as exc:
            raise SubmitError(str(exc)) from None
        if args.time:
            profile.time_min = args.time
        devices = args.devices_per_node or profile.devices_per_node
        if devices < 1:
            raise SubmitError(f"--devices-per-node must be at least 1, got {devices}")
        if args.cluster != "slurm" and args.nodes > 1:
            raise SubmitError(f"--nodes {args.nodes} needs --cluster slurm (the {args.cluster} executor is one machine)")
        name = args.name or stage
        return cls(args.cluster, profile, args.nodes, devices, name, Path(args.log_dir or LOG_DIR).absolute(),
                   args.dry_run, chosen=chosen)

    def job(self, stage: str, args: list[str]) -> "StageJob":
        """A task of `stage` with this plan's environment and restart limit."""
        return StageJob(stage, args, self.profile.env, self.profile.max_restarts, self.log_dir,
                        self.profile.max_inplace_restarts, self.profile.rendezvous_timeout_s)

    def slurm_parameters(self, tasks_per_node: int | None = None, dependency: str | None = None) -> dict:
        """sbatch options in submitit.SlurmExecutor's naming."""
        p = self.profile
        extra = {**p.extra_sbatch, "requeue": True}
        if dependency:
            extra.update({"dependency": dependency, "kill-on-invalid-dep": "yes"})
        optional = {"partition": p.partition, "account": p.account, "qos": p.qos, "gres": p.gres,
                    "cpus_per_task": p.cpus_per_task, "gpus_per_node": p.gpus_per_node,
                    "mem": f"{p.mem_gb}GB" if p.mem_gb else None}
        return {"job_name": self.name, "time": self.profile.time_min, "nodes": self.nodes,
                "srun_args": ["--kill-on-bad-exit=1"],
                "ntasks_per_node": tasks_per_node or self.devices_per_node, "signal_delay_s": p.signal_delay_s,
                "setup": [*p.setup, *(f"export {k}={shlex.quote(str(v))}" for k, v in p.env.items())],
                "additional_parameters": extra, **{k: v for k, v in optional.items() if v is not None}}

    def executor(self, tasks_per_node: int | None = None, dependency: str | None = None):
        if self.cluster == "slurm":
            try:
                executor = submitit.SlurmExecutor(folder=self.folder)
            except RuntimeError:
                raise SubmitError("srun/sbatch not found: not a Slurm login node (use --cluster local)") from None
            executor.update_parameters(**self.slurm_parameters(tasks_per_node, dependency))
            return executor
        executor = (submitit.LocalExecutor if self.cluster == "local" else submitit.DebugExecutor)(folder=self.folder)
        if self.cluster == "local":
            executor.update_parameters(timeout_min=self.profile.time_min, nodes=1,
                                       tasks_per_node=tasks_per_node or self.devices_per_node)
        return executor


class StageJob:
    """One task of a stage under submitit: the launch path of the sbatch templates, nothing else —
    layout, device, signals, requeue and restarts are all bert.cluster.launch's."""

    def __init__(self, stage: str, args: list[str], env: dict | None = None, max_restarts: int = MAX_RESTARTS,
                 log_dir: Path = Path(LOG_DIR), max_inplace_restarts: int = MAX_INPLACE_RESTARTS,
                 rendezvous_s: float = RENDEZVOUS_S):
        self.stage, self.args, self.env, self.max_restarts = stage, list(args), dict(env or {}), max_restarts
        self.max_inplace_restarts, self.rendezvous_s = max_inplace_restarts, rendezvous_s
        self.log_dir, self.workdir = Path(log_dir).absolute(), Path.cwd()

    def __call__(self) -> int:
        os.environ.update({k: str(v) for k, v in self.env.items()})
        os.chdir(self.workdir)  # where it was submitted, as sbatch does
        launch = Launch(self.stage, self.args, self.max_restarts, self.log_dir, self.max_inplace_restarts,
                        self.rendezvous_s)
        code = launch.run()
        if launch.requeued:
            sys.exit(code)  # no result file: the requeued job runs this again (as submitit's own requeue does)
        if code != 0:
            raise RuntimeError(f"{self.stage} exited with code {code}")
        return code


def split_overrides(overrides: list[str], stages: tuple[str, ...]) -> dict[str, list[str]]:
    """`pretrain.total_steps=9 finetune.epochs=2` → {"pretrain": ["total_steps=9"], "finetune": ["epochs=2"], …}."""
    out = {stage: [] for stage in stages}
    for item in overrides:
        stage, _, rest = item.partition(".")
        if stage not in out or not rest:
            raise SubmitError(f"override {item!r} must start with one of {', '.join(s + '.' for s in stages)}")
        out[stage].append(rest)
    return out


def numbers(text: str | None, kind, flag: str) -> list | None:
    """`--batch-sizes 16,32` → [16, 32]; None when the flag was not given."""
    if text is None:
        return None
    try:
        values = [kind(x) for x in text.split(",") if x]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise SubmitError(f"{flag}: not a comma-separated list of positive numbers: {text!r}")
    return values


def model_args(init: Path, flag: str = "--init") -> list[str]:
    """The model of checkpoint `init` (its bert_config.json, or an HF config.json) as stage overrides."""
    try:
        source = resolve_init(init)
    except CheckpointError as exc:
        raise SubmitError(f"{flag}: {exc}") from None
    folder = source if source.is_dir() else source.parent  # a TF checkpoint is a file prefix
    for name in ("bert_config.json", "config.json"):
        if (folder / name).is_file():
            return [f"model_config={folder / name}", "model.name=null", "model.vocab_size=null"]
    return []


def stage_args(args, extra: list[str] = (), stage: str | None = None) -> list[str]:
    """The stage's CLI arguments: its config, the TensorBoard folder of --log-dir (a training
    stage's), then the user's overrides (last wins)."""
    config = ["--config", str(args.config)] if getattr(args, "config", None) else []
    return [*config, *tensorboard_args(args, stage), *extra, *args.overrides]


def tensorboard_args(args, stage: str | None) -> list[str]:
    """`log_dir=<--log-dir>` for a training stage when --log-dir was given."""
    return [f"log_dir={Path(args.log_dir).absolute()}"] if args.log_dir and stage in DISTRIBUTED else []


def preflight(stage: str, args: list[str], produced: tuple[str, ...] = ()) -> None:
    """Catch a bad config or missing input here, in one line, rather than in a queued job;
    `produced` names the inputs (init, teacher) an earlier job of the submission will write."""
    if stage not in DISTRIBUTED:
        return
    try:
        cfg = stage_config(stage, args)
        if stage == "pretrain":
            resolve_files(cfg.data)
        else:
            task = glue.load_task(cfg.task)
            for layout in (task.train, *task.dev.values()):
                if not (Path(cfg.data_dir) / layout.file).is_file():
                    raise SubmitError(f"{Path(cfg.data_dir) / layout.file} does not exist")
            for key in ("init", "teacher"):
                if getattr(cfg, key, None) and key not in produced:
                    resolve_init(Path(getattr(cfg, key)), key)
            if getattr(cfg, "transfer_data", None) and not Path(cfg.transfer_data).is_file():
                raise SubmitError(f"transfer data {cfg.transfer_data} does not exist")
    except (CheckpointError, ConfigError, DataFeedError) as exc:
        raise SubmitError(str(exc)) from None


@contextlib.contextmanager
def sbatch_errors_captured():
    """sbatch writes its errors straight to our stderr; submitit also puts them in its exception,
    which becomes our one error line — so hold fd 2 while submitting."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def submit(plan: Plan, job: StageJob, tasks_per_node: int | None = None, dependency: str | None = None):
    """Submit one job (or print it with --dry-run); returns the submitit job, or None on a dry run."""
    if plan.dry_run:
        print_dry_run(plan, job, tasks_per_node, dependency)
        return None
    executor = plan.executor(tasks_per_node, dependency)
    try:
        with sbatch_errors_captured():
            submitted = executor.submit(job)
    except Exception as exc:  # submitit raises FailedJobError carrying sbatch's message
        raise SubmitError(f"submission failed: {str(exc).strip().splitlines()[-1]}") from None
    report(plan, submitted)
    return submitted


def max_array_size() -> int:
    """Slurm's MaxArraySize (`scontrol show config`): array indices must stay below it."""
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return DEFAULT_MAX_ARRAY_SIZE
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.M)
    return int(match[1]) if match else DEFAULT_MAX_ARRAY_SIZE


def submit_array(plan: Plan, jobs: list[StageJob], dependency: str | None = None,
                 max_parallel: int | None = None, tasks_per_node: int | None = None) -> list:
    """Submit jobs as Slurm job arrays (submitit's batch), at most `max_parallel` of each array
    running at once (sbatch --array=0-N%P), split into arrays of at most Slurm's MaxArraySize;
    returns the submitit jobs, in order."""
    if plan.dry_run:
        print(f"# a job array of {len(jobs)} tasks, {max_parallel or 'all'} at a time; task 0:")
        print_dry_run(plan, jobs[0], tasks_per_node, dependency=dependency, array=len(jobs), max_parallel=max_parallel)
        return []
    executor = plan.executor(tasks_per_node, dependency=dependency)
    if max_parallel and plan.cluster == "slurm":
        executor.update_parameters(array_parallelism=max_parallel)
    size = max_array_size() if plan.cluster == "slurm" else len(jobs)
    submitted = []
    try:
        for start in range(0, len(jobs), size):
            with sbatch_errors_captured(), executor.batch():
                chunk = [executor.submit(job) for job in jobs[start:start + size]]
            submitted += chunk
    except Exception as exc:
        raise SubmitError(f"submission failed: {str(exc).strip().splitlines()[-1]}") from None
    for job in submitted:
        report(plan, job)
    return submitted


def array_ids(jobs: list) -> list[str]:
    """The Slurm array job ids of submitted array tasks (123 of 123_4), in order."""
    return list(dict.fromkeys(job.job_id.split("_")[0] for job in jobs))


def run_here(job: StageJob, what: str) -> None:
    """Run a light job (a summary, the teachers' links) in this process, through the launch path;
    its failure is one line (the stage said why on stderr)."""
    try:
        job()
    except RuntimeError as exc:
        raise SubmitError(f"{what} failed: {exc}") from None


def run_local(plan: Plan, jobs: list[StageJob], labels: list[str], max_parallel: int | None = None) -> list[str]:
    """Run jobs on this machine, `max_parallel` (default 1) at a time; returns the failed ones'
    labels, each with its log."""
    failed = []
    step = max_parallel or 1
    for start in range(0, len(jobs), step):
        chunk = submit_array(plan, jobs[start:start + step])
        for job, label in zip(chunk, labels[start:start + step]):
            try:
                job.results()
            except Exception:  # submitit's FailedJobError; the job's log says why
                failed.append(f"{label} (log {job.paths.stderr})")
    return failed


def print_dry_run(plan: Plan, job: StageJob, tasks_per_node=None, dependency=None, array=None,
                  max_parallel=None) -> None:
    """The sbatch script submitit would write (its own template), and the command each task runs."""
    command = Launch(job.stage, job.args).command()
    print(f"# {plan.cluster} job {plan.name!r}: {plan.nodes} node(s) x {tasks_per_node or plan.devices_per_node} "
          f"task(s); each task runs bert.cluster.launch {job.stage}, i.e. {shlex.join(command[1:])}")
    print(f"# {plan.chosen}")
    if job.stage in DISTRIBUTED:
        requested = stage_config(job.stage, job.args).device_target
        device, why = plan.profile.device() if requested == "auto" else (requested, "as configured")
        print(f"# device: {device} (device_target {requested}: {why}); "
              f"after a worker failure up to {job.max_inplace_restarts} restarts in the allocation, "
              f"then up to {job.max_restarts} requeues")
    if plan.cluster == "slurm":
        params = plan.slurm_parameters(tasks_per_node, dependency)
        if max_parallel:
            params["array_parallelism"] = max_parallel
        print(sbatch.script(plan.folder, params, array))
    print(shlex.join(command))


def report(plan: Plan, job) -> None:
    print(f"submitted {plan.name}: job {job.job_id} ({plan.cluster}, {plan.chosen}); "
          f"stdout {job.paths.stdout}; stderr {job.paths.stderr}")


def tensorboard_hint() -> None:
    print("watch it: tensorboard --logdir logs")


def run_main(build) -> int:
    """Common error handling for the submit scripts: `build()` does the work."""
    try:
        build()
    except SubmitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def submit_stage_main(stage: str, doc: str, default_config: str, argv=None) -> int:
    """The whole of a one-job submit script: common flags + overrides → preflight → one job."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, default_config)
    args = parser.parse_args(argv)

    def build():
        plan = Plan.from_args(args, stage)
        job = plan.job(stage, stage_args(args, stage=stage))
        preflight(stage, job.args)
        if submit(plan, job):
            tensorboard_hint()

    return run_main(build)
