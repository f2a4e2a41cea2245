"""The one launch path (bert.cluster.launch) through both doors — the sbatch templates and the submitit
launchers — on the two-node Slurm sandbox: the same process group and the same losses, scancel
obeyed, a killed worker survived by restarting every worker in the allocation, a worker that keeps
dying stopped at the restart limits, the data array's bytes; and, without a cluster, the layout read from Slurm's variables."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import REPO, run_module
from bert.cluster.launch import Layout, worker_env
from bert.train.watchdog import BLOCK_READ_ENV
from slurm_fixture import job_fields, slurm, wait_job  # noqa: F401  (slurm: session fixture)

STEPS = 12
STEP_LINE = re.compile(r"^step: (\d+)/\d+, .*?loss: ([\d.]+), masked_lm_loss: ([\d.]+), next_sentence_loss: ([\d.]+)",
                       re.M)


def pretrain_args(wiki, out, *extra):
    """Two ranks × 4 = 8 per step, dropout 0.1 (the default), a checkpoint every 4 steps."""
    return [f"data={wiki['examples']}", f"vocab={wiki['vocab']}", "model.name=L2-H128", "max_seq_length=64",
            "max_predictions_per_seq=10", f"total_steps={STEPS}", "save_steps=4", "log_interval=1",
            "train_batch_size=4", "optim.learning_rate=5e-4", "optim.warmup_steps=2", f"output_dir={out}",
            f"log_dir={out}/logs", *extra]


def losses(text):
    return {int(m[1]): tuple(map(float, m.groups()[1:])) for m in STEP_LINE.finditer(text)}


class Job:
    """One job submitted through a door; `log()` is the text of all its tasks and restarts."""

    def __init__(self, sandbox, door, job_id, logs):
        self.sandbox, self.door, self.id, self.logs = sandbox, door, job_id, logs

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs()) if p.is_file())

    def fields(self) -> dict:
        return job_fields(self.sandbox, self.id)

    def worker_pid(self, rank: int, launch_count: int = 1) -> int | None:
        """The pid of `rank`'s worker in the job's `launch_count`-th start, once it is logged."""
        found = re.findall(rf"^launch: pretrain task {rank}/\d+ on \S+, job {self.id}[^:]*: worker pid (\d+)$",
                           self.log(), re.M)
        return int(found[launch_count - 1]) if len(found) >= launch_count else None


def submit(sandbox, door, name, args, logs, nodes=2, env=None, tasks_per_node=1):
    """`sbatch slurm/pretrain.sbatch args…` or `python jobs/submit_pretrain.py args…`, its job logs
    (and restart records) in `logs`."""
    env = {**os.environ, **sandbox.env, "PYTHON": sys.executable, "LOG_DIR": str(logs), **(env or {})}
    logs.mkdir(parents=True, exist_ok=True)  # Slurm writes --output only into a folder that exists
    if door == "sbatch":
        run = subprocess.run(["timeout", "30", "sbatch", "--parsable", f"--nodes={nodes}", f"--job-name={name}",
                              f"--ntasks-per-node={tasks_per_node}", f"--output={logs}/%x-%j.out",
                              "slurm/pretrain.sbatch", *map(str, args)], cwd=REPO,
                             env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        job_id = run.stdout.strip().split(";")[0]
        return Job(sandbox, door, job_id, lambda: [logs / f"{name}-{job_id}.out"])
    run = subprocess.run([sys.executable, "jobs/submit_pretrain.py", "--nodes", str(nodes), "--name", name,
                          "--devices-per-node", str(tasks_per_node), "--log-dir", str(logs), *map(str, args)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    job_id = re.search(r"submitted \S+: job (\d+)", run.stdout)[1]
    folder = logs / name / "submitit"
    return Job(sandbox, door, job_id, lambda: folder.glob(f"{job_id}_*_log.*"))


def until(job, predicate, deadline_s=300):
    """Poll `predicate()` while the job lives; a requeued job is released after 3 s, as wait_job does."""
    deadline, held_since = time.monotonic() + deadline_s, None
    while not (value := predicate()):
        fields = job.fields()
        assert fields["JobState"] in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "CONFIGURING"), (
            fields["JobState"], job.log()[-3000:])
        assert time.monotonic() < deadline, job.log()[-3000:]
        if fields["JobState"] == "PENDING" and fields.get("Reason") == "BeginTime":
            held_since = held_since or time.monotonic()
            if time.monotonic() - held_since >= 3:
                job.sandbox.client("scontrol", "update", f"JobId={job.id}", "StartTime=now")
                held_since = None
        time.sleep(0.05)
    return value


def final_weights(out):
    return load_file(str(out / "checkpoints" / f"step_{STEPS:08d}" / "model.safetensors"))


@pytest.fixture(scope="module")
def uninterrupted(slurm, wiki_8k, tmp_path_factory):
    """2-node pretraining through both doors at once, and one process with the same global batch."""
    base = tmp_path_factory.mktemp("uninterrupted")
    jobs = {door: submit(slurm, door, f"t-whole-{door}-{os.getpid()}", pretrain_args(wiki_8k, base / door),
                         base / f"{door}-jobs") for door in ("sbatch", "submitit")}
    one = run_module("bert.pretrain", "--config", REPO / "configs" / "pretrain.yaml",
                     *pretrain_args(wiki_8k, base / "one", "train_batch_size=8"))
    assert one.returncode == 0, one.stderr[-3000:]
    for job in jobs.values():
        fields = wait_job(slurm, job.id)
        assert fields["JobState"] == "COMPLETED", job.log()[-3000:]
        assert fields["NumNodes"] == "2" and fields["NodeList"] == "node[1-2]"
    return {"jobs": jobs, "out": base, "one": losses(one.stdout)}


# ---------------------------------------------------------------- on the Slurm sandbox


@pytest.mark.parametrize("door", ["sbatch", "submitit"])
def test_two_node_job_is_one_process_group_with_the_losses_of_one_process(uninterrupted, door):
    job = uninterrupted["jobs"][door]
    log = job.log()
    assert re.search(r"^launch: pretrain task 0/2 on node1, job \d+: worker pid \d+$", log, re.M), log[-3000:]
    assert re.search(r"^launch: pretrain task 1/2 on node2, job \d+: worker pid \d+$", log, re.M), log[-3000:]
    assert "device: CPU (auto: no GPU or NPU visible)" in log
    assert "2 worker(s) × 4 × 1 = 8 per step" in log
    assert "[INFO]" not in log and "[WARNING]" not in log  # MindSpore's own logging stays out
    found = losses(log)
    assert sorted(found) == list(range(1, STEPS + 1))
    for step, values in found.items():  # MindSpore's all-reduce vs one process on the global batch
        assert np.allclose(values, uninterrupted["one"][step], atol=1e-5, rtol=0), (step, values)
    other = losses(uninterrupted["jobs"]["submitit" if door == "sbatch" else "sbatch"].log())
    assert found == other  # the two doors: the same job, bit for bit
    ours, ref = final_weights(uninterrupted["out"] / door), final_weights(uninterrupted["out"] / "one")
    assert max(np.abs(ours[k] - ref[k]).max() for k in ref) < 1e-5


@pytest.mark.parametrize("door, fault", [("sbatch", "killed"), ("submitit", "hung")])
def test_two_tasks_per_node_on_two_nodes_are_four_ranks_that_survive_a_dead_or_hung_rank(slurm, wiki_8k, uninterrupted,
                                                                                          door, fault, tmp_path):
    """4 ranks × 2 = the global batch of one process × 8: one task per device, local ranks 0 and 1.
    One rank's worker is killed (sbatch) or blocks in its read after step 6 (submitit: the step
    watchdog, 10 s, ends it); every worker restarts in place, and the losses stay one process's."""
    marker = tmp_path / "blocked-once"
    job = submit(slurm, door, f"t-4ranks-{door}-{os.getpid()}",
                 pretrain_args(wiki_8k, tmp_path, "train_batch_size=2", "step_timeout=10"), tmp_path / "jobs",
                 tasks_per_node=2, env={BLOCK_READ_ENV: f"2:6:{marker}"} if fault == "hung" else None)
    if fault == "killed":
        pid = until(job, lambda: job.worker_pid(rank=3))
        until(job, lambda: (tmp_path / "checkpoints" / "step_00000004" / "state.json").is_file())
        os.kill(pid, signal.SIGKILL)
    fields = wait_job(slurm, job.id)
    log = job.log()
    assert fields["JobState"] == "COMPLETED" and fields["NumTasks"] == "4", (fields, log[-3000:])
    assert fields["Restarts"] == "0", log[-3000:]
    for rank, node in ((0, "node1"), (1, "node1"), (2, "node2"), (3, "node2")):
        assert re.search(rf"^launch: pretrain task {rank}/4 on {node}, job \d+: worker pid \d+$", log, re.M), log[-3000:]
        assert re.search(rf"^launch: pretrain task {rank}/4 on {node}, job \d+, in-place restart 1 of at most 3 after "
                         r"rank \d's worker .*: worker pid \d+$", log, re.M), log[-3000:]
    if fault == "killed":
        assert re.search(r"^launch: rank 3's worker killed by SIGKILL \(checkpoint at step \d+\); restarting every "
                         r"worker in this allocation: in-place restart 1 of at most 3$", log, re.M), log[-3000:]
    else:  # a worker whose watchdog fired, or whose launcher saw another's failure, printed its stacks
        assert f"{BLOCK_READ_ENV}: rank 2 blocks its read of step 6" in log and marker.is_file()
        assert "Timeout (0:00:10)!" in log and re.search(r" in block_read_for_tests$", log, re.M), log[-3000:]
        assert re.search(r"^launch: rank \d's worker exited with code 1 \(checkpoint at step 4\); restarting every "
                         r"worker in this allocation: in-place restart 1 of at most 3$", log, re.M), log[-3000:]
    assert "resumed from" in log and "4 worker(s) × 2 × 1 = 8 per step" in log
    found = losses(log)
    assert sorted(found) == list(range(1, STEPS + 1))
    for step, values in found.items():
        assert np.allclose(values, uninterrupted["one"][step], atol=1e-5, rtol=0), (step, values)


def after_resume(log: str) -> str:
    """The log from the first resumed worker on ("" before one)."""
    return log[log.index("resumed from "):] if "resumed from " in log else ""


@pytest.mark.parametrize("door", ["sbatch", "submitit"])
def test_a_killed_worker_restarts_every_worker_in_place_with_the_uninterrupted_parameters(slurm, wiki_8k,
                                                                                         uninterrupted, door, tmp_path):
    """Rank 0 sees rank 1's failure in the job's record within a second, prints its worker's stacks
    and kills it; both start again in the same allocation from checkpoints/latest."""
    job = submit(slurm, door, f"t-kill-{door}-{os.getpid()}", pretrain_args(wiki_8k, tmp_path), tmp_path / "jobs")
    pid = until(job, lambda: job.worker_pid(rank=1))
    until(job, lambda: (tmp_path / "checkpoints" / "step_00000004" / "state.json").is_file())
    os.kill(pid, signal.SIGKILL)  # rank 1's worker dies, as with a crash or an OOM kill
    killed = time.monotonic()
    assert not (tmp_path / "checkpoints" / f"step_{STEPS:08d}").exists()  # work remained
    until(job, lambda: "\nstep: " in after_resume(job.log()), deadline_s=120)  # a step logged after resuming
    again_after = time.monotonic() - killed
    print(f"{door}: training again {again_after:.1f} s after the kill")
    assert again_after < 60
    fields = wait_job(slurm, job.id)
    log = job.log()
    assert fields["JobState"] == "COMPLETED" and int(fields["Restarts"]) == 0, log[-3000:]
    assert re.search(r"^launch: rank 1's worker killed by SIGKILL \(checkpoint at step \d+\); restarting every "
                     r"worker in this allocation: in-place restart 1 of at most 3$", log, re.M), log[-3000:]
    assert "launch: task 0: rank 1's worker killed by SIGKILL: dumping this worker's stacks and stopping it" in log
    assert re.search(r'^  File ".*/bert/train/loop.py", line \d+ in train$', log, re.M), log[-3000:]  # rank 0's
    for rank in (0, 1):
        assert re.search(rf"^launch: pretrain task {rank}/2 on node{rank + 1}, job {job.id}, in-place restart 1 of at "
                         r"most 3 after rank 1's worker killed by SIGKILL: worker pid \d+$", log, re.M), log[-3000:]
    resumed = int(re.search(r"resumed from .* at step (\d+)", log)[1])
    assert 4 <= resumed < STEPS
    reference = losses(uninterrupted["jobs"][door].log())
    after = {step: values for step, values in losses(after_resume(log)).items()}
    assert sorted(after) == list(range(resumed + 1, STEPS + 1))
    # The parameters are bit-identical (below). A resumed process's CPU reduction of a logged metric
    # can differ from the uninterrupted one by a few ulp, which flips the 6th printed decimal of
    # about one value in 24 (measured; the update itself does not depend on that sum).
    flips = [(step, ours_, theirs) for step in after for ours_, theirs in zip(after[step], reference[step])
             if ours_ != theirs]
    print(f"{door}: {len(flips)} of {3 * len(after)} logged losses differ in the last printed digit: {flips}")
    assert all(abs(a - b) <= 1.01e-6 for _, a, b in flips)
    ours, ref = final_weights(tmp_path), final_weights(uninterrupted["out"] / door)
    for name in ref:
        np.testing.assert_array_equal(ours[name], ref[name], err_msg=name)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((tmp_path / "logs").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("job/restarts")] == [(resumed, 1.0)]


def test_a_lost_node_requeues_the_job_which_resumes_exactly_when_the_node_is_back(slurm, wiki_8k, uninterrupted,
                                                                                  tmp_path):
    """Rank 1 (node2) holds every rank at step 6 (its read blocks), then node2 dies: slurmd, step daemon
    and tasks SIGKILLed at once. Rank 0's worker ends (its watchdog, 10 s, or MindSpore's heartbeat),
    its task finds no rank 1 at the in-place restart (RENDEZVOUS_TIMEOUT 15 s) and requeues; the job runs
    again once node2 is back."""
    marker = tmp_path / "blocked-once"
    job = submit(slurm, "sbatch", f"t-node-{os.getpid()}", pretrain_args(wiki_8k, tmp_path, "step_timeout=10"),
                 tmp_path / "jobs", env={BLOCK_READ_ENV: f"1:6:{marker}", "RENDEZVOUS_TIMEOUT": "15"})
    until(job, lambda: f"{BLOCK_READ_ENV}: rank 1 blocks its read of step 6" in job.log())
    killed = slurm.lose_node("node2")
    lost = time.monotonic()
    try:
        assert len(killed) >= 4, killed  # slurmd, slurmstepd, the task's launcher and its worker
        until(job, lambda: f"requeueing job {job.id}" in job.log(), deadline_s=300)
        print(f"requeued {time.monotonic() - lost:.1f} s after node2 was lost")
    finally:
        slurm.restore_node("node2")
    fields = wait_job(slurm, job.id)
    log = job.log()
    assert fields["JobState"] == "COMPLETED" and fields["Restarts"] == "1", (fields, log[-3000:])
    assert re.search(r"^launch: rank 0's worker [^;]+ \(checkpoint at step 4\); rank\(s\) 1 did not come back within "
                     rf"15 s \(their node is gone\); restart 1 of at most 3: requeueing job {job.id}$", log, re.M), \
        log[-3000:]
    assert f"resumed from {tmp_path / 'checkpoints' / 'step_00000004'} at step 4" in log
    ours, ref = final_weights(tmp_path), final_weights(uninterrupted["out"] / "sbatch")
    for name in ref:
        np.testing.assert_array_equal(ours[name], ref[name], err_msg=name)


@pytest.mark.parametrize("door", ["sbatch", "submitit"])
def test_the_time_limit_signal_saves_requeues_and_ends_at_exactly_the_planned_step(slurm, wiki_8k, door, tmp_path):
    steps = 40
    job = submit(slurm, door, f"t-usr2-{door}-{os.getpid()}",
                 pretrain_args(wiki_8k, tmp_path, f"total_steps={steps}", "train_batch_size=8"), tmp_path / "jobs",
                 nodes=1)
    until(job, lambda: (tmp_path / "checkpoints" / "step_00000004" / "state.json").is_file())
    # what `#SBATCH --signal=USR2@120` sends to every task 120 s before the time limit
    assert slurm.client("scancel", "--signal=USR2", job.id).returncode == 0
    fields = wait_job(slurm, job.id)
    log = job.log()
    assert fields["JobState"] == "COMPLETED" and fields["Restarts"] == "1", (fields, log[-3000:])
    saved = int(re.search(r"^received SIGUSR2: saved step (\d+)", log, re.M)[1])
    assert re.search(r"^launch: stopped by SIGUSR2 \(time limit or preemption\) after saving: requeueing job "
                     rf"{job.id}$", log, re.M), log[-3000:]
    assert f"resumed from {tmp_path / 'checkpoints' / f'step_{saved:08d}'} at step {saved}" in log
    assert 4 <= saved < steps and (tmp_path / "checkpoints" / f"step_{steps:08d}" / "state.json").is_file()
    assert not list((tmp_path / "checkpoints").glob(f"step_{steps + 1:08d}*"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((tmp_path / "logs").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, steps + 1))  # continued, not restarted


@pytest.mark.parametrize("door", ["sbatch", "submitit"])
def test_scancel_saves_and_ends_cancelled_without_a_requeue(slurm, wiki_8k, door, tmp_path):
    job = submit(slurm, door, f"t-cancel-{door}-{os.getpid()}",
                 pretrain_args(wiki_8k, tmp_path, "total_steps=400", "train_batch_size=8"), tmp_path / "jobs",
                 nodes=1)
    until(job, lambda: (tmp_path / "checkpoints" / "step_00000004" / "state.json").is_file())
    assert slurm.client("scancel", job.id).returncode == 0
    fields = wait_job(slurm, job.id, requeue_now=False)
    log = job.log()
    assert fields["JobState"] == "CANCELLED" and fields["Restarts"] == "0", (fields, log[-3000:])
    saved = int(re.search(r"^received SIGTERM: saved step (\d+)", log, re.M)[1])
    assert 4 <= saved < 400 and (tmp_path / "checkpoints" / f"step_{saved:08d}" / "state.json").is_file()
    assert "launch: stopped by SIGTERM (scancel or the end of the job): not requeueing" in log
    assert "requeueing job" not in log


@pytest.mark.parametrize("door", ["sbatch", "submitit"])
def test_a_worker_that_keeps_dying_stops_at_the_restart_limits(slurm, wiki_8k, door, tmp_path):
    """sbatch: no in-place restart and one requeue; submitit: one in-place restart and no requeue."""
    args = pretrain_args(wiki_8k, tmp_path, "total_steps=400", "save_steps=100", "train_batch_size=8")
    if door == "sbatch":
        job = submit(slurm, door, f"t-limit-{door}-{os.getpid()}", args, tmp_path / "jobs", nodes=1,
                     env={"MAX_RESTARTS": "1", "MAX_INPLACE_RESTARTS": "0"})
        in_place, requeues = 0, 1
    else:  # the profile's max_restarts and max_inplace_restarts
        profile = tmp_path / "one-restart.yaml"
        profile.write_text("max_restarts: 0\nmax_inplace_restarts: 1\n")
        job = submit(slurm, door, f"t-limit-{door}-{os.getpid()}", ["--profile", profile, *args], tmp_path / "jobs",
                     nodes=1)
        in_place, requeues = 1, 0
    pid = until(job, lambda: job.worker_pid(rank=0))
    until(job, lambda: (tmp_path / "checkpoints" / "step_00000100" / "state.json").is_file())
    os.kill(pid, signal.SIGKILL)
    pid = until(job, lambda: job.worker_pid(rank=0, launch_count=2))  # restarted in place, or requeued
    until(job, lambda: "resumed from" in job.log())  # killed again before its first step
    os.kill(pid, signal.SIGKILL)
    fields = wait_job(slurm, job.id, requeue_now=False)
    log = job.log()
    assert fields["JobState"] == "FAILED" and fields["Restarts"] == str(requeues), (fields, log[-3000:])
    assert re.search(rf"^launch: error: the workers of job {job.id} failed 2 times \(rank 0 killed by SIGKILL; "
                     r"rank 0 killed by SIGKILL\), resuming from step 100 every time; "
                     rf"{in_place} of {in_place} in-place restarts in this allocation and {requeues} of {requeues} "
                     r"requeues used, not requeueing$", log, re.M), log[-3000:]


@pytest.mark.parametrize("door, fault", [("sbatch", "not learning"), ("submitit", "full disk")])
def test_a_run_that_a_restart_cannot_help_fails_once_in_one_line(slurm, wiki_8k, door, fault, tmp_path):
    """Exit codes 3 (the non-finite policy) and 2 (a full disk) on 2 ranks: no in-place restart, no requeue."""
    out = tmp_path / "out"
    if fault == "full disk":  # a real 30 MB tmpfs: the checkpoint of step 4 (~18 MB) fits, step 8's does not
        out.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(out)], capture_output=True,
                                 text=True)
        if mounted.returncode != 0:
            pytest.skip(f"no tmpfs here: {mounted.stderr.strip()}")
        extra, error, code = [], r"error: saving step 8 failed: No space left on device; ", 2
    else:  # lr 1e20 once warmup lifts it: every step from the third is non-finite
        extra, error, code = ["optim.learning_rate=1e20", "max_skipped_in_a_row=3"], r"error: step \d+: the loss ", 3
    try:
        job = submit(slurm, door, f"t-hopeless-{door}-{os.getpid()}", pretrain_args(wiki_8k, out, *extra,
                                                                                    f"log_dir={tmp_path / 'logs'}"),
                     tmp_path / "jobs")
        fields = wait_job(slurm, job.id, requeue_now=False)
    finally:
        if fault == "full disk":
            subprocess.run(["umount", str(out)], check=True)
    log = job.log()
    assert fields["JobState"] == "FAILED" and fields["Restarts"] == "0", (fields, log[-3000:])
    # srun reports the code of the task that failed first (the job's own ExitCode may be the other
    # task's, which srun then stopped)
    assert door != "sbatch" or f"Exited with exit code {code}" in log, log[-3000:]
    assert re.search(rf"^{error}", log, re.M) and "in-place restart" not in log and "requeueing job" not in log, log[-3000:]
    assert len(re.findall(r"^launch: pretrain task 0/2 ", log, re.M)) == 1  # started once


@pytest.mark.parametrize("door, masking", [("sbatch", "static"), ("submitit", "dynamic")])
def test_prepare_data_array_gives_the_bytes_of_one_worker(slurm, wiki_8k, wiki_8k_dynamic, door, masking, tmp_path):
    """Extraction as one task, then the examples as a two-task array: the template's own two
    commands, or jobs/submit_prepare_data.py; a static corpus, or a dynamic one."""
    from bert import assets

    env = {**os.environ, **slurm.env, "PYTHON": sys.executable, "LOG_DIR": str(tmp_path / "jobs")}
    (tmp_path / "jobs").mkdir()
    common = ["--vocab", wiki_8k["vocab"], "--output", tmp_path, "shard_bytes=600000", "max_seq_length=64",
              "max_predictions_per_seq=10", "dupe_factor=1", f"masking={masking}"]
    if door == "sbatch":
        def sbatch(*args, stages):
            run = subprocess.run(["timeout", "30", "sbatch", "--parsable", f"--output={tmp_path}/jobs/%x-%A_%a.out",
                                  *map(str, args)], cwd=REPO, env={**env, "STAGES": stages}, capture_output=True,
                                 text=True)
            assert run.returncode == 0, run.stderr
            return run.stdout.strip().split(";")[0]

        first = sbatch("--array=0", "slurm/prepare_data.sbatch", "--input", assets.enwiki_sample(), *common,
                       stages="extract,sentences")
        array = sbatch(f"--dependency=afterok:{first}", "--kill-on-invalid-dep=yes", "--array=0-1",
                       "slurm/prepare_data.sbatch", "--input", assets.enwiki_sample(), *common, stages="examples")
        jobs = [first, f"{array}_0", f"{array}_1"]
    else:
        run = subprocess.run([sys.executable, "jobs/submit_prepare_data.py", "--name", f"t-data-{os.getpid()}",
                              "--log-dir", str(tmp_path / "jobs"), "--input", str(assets.enwiki_sample()),
                              "--array", "2", *map(str, common)], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        jobs = re.findall(r"submitted \S+: job (\S+)", run.stdout)
        assert len(jobs) == 3, run.stdout
    for job_id in jobs:
        assert wait_job(slurm, job_id)["JobState"] == "COMPLETED", job_id
    ours = {p.name: p.read_bytes() for p in (tmp_path / "examples").glob("*.mindrecord*")}
    reference = (wiki_8k if masking == "static" else wiki_8k_dynamic)["examples"]
    one = {p.name: p.read_bytes() for p in reference.glob("*.mindrecord*")}
    assert len(ours) >= 2 and ours == one
    assert (tmp_path / "examples" / "manifest.json").is_file()


# ---------------------------------------------------------------- without a cluster


def test_layout_comes_from_slurm_variables_when_submitit_is_absent(monkeypatch):
    for key in [k for k in os.environ if k.startswith(("SLURM_", "SUBMITIT_"))]:
        monkeypatch.delenv(key)
    assert Layout.here().world == 1 and Layout.here().scheduler == "none"
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu-a[07-08],gpu-b3")
    for key, value in {"PROCID": "9", "NTASKS": "24", "LOCALID": "1", "NODEID": "1", "JOB_NUM_NODES": "3"}.items():
        monkeypatch.setenv(f"SLURM_{key}", value)
    assert Layout.here() == Layout(rank=9, world=24, local_rank=1, first_host="gpu-a07", job_id="4242",
                                   scheduler="slurm")


def test_workers_get_mindspores_group_variables_and_quiet_logs(monkeypatch):
    for key in ("GLOG_v", "GLOG_minloglevel", "HCCL_CONNECT_TIMEOUT"):  # importing MindSpore sets HCCL_CONNECT_TIMEOUT
        monkeypatch.delenv(key, raising=False)
    env = worker_env(Layout(rank=1, world=2, local_rank=1, first_host="no-such-node", job_id="77"), "MS_WORKER")
    assert {k: env[k] for k in ("MS_ROLE", "MS_NODE_ID", "MS_WORKER_NUM", "MS_SCHED_HOST", "DEVICE_ID",
                                "MS_NODE_TIMEOUT", "GLOG_v")} == {
        "MS_ROLE": "MS_WORKER", "MS_NODE_ID": "1", "MS_WORKER_NUM": "2", "MS_SCHED_HOST": "127.0.0.1",
        "DEVICE_ID": "1", "MS_NODE_TIMEOUT": "30", "GLOG_v": "3"}
    # bert.device_settings: the heartbeat decides a dead rank, long before a collective would time out
    assert (env["HCCL_CONNECT_TIMEOUT"], env["HCCL_EXEC_TIMEOUT"]) == ("1200", "1800")
    assert env["GLOG_minloglevel"] == "2"
    monkeypatch.setenv("GLOG_v", "2")  # asked for: MindSpore's warnings back in the job log
    alone = worker_env(Layout(), None)
    assert alone["GLOG_v"] == "2" and alone["GLOG_minloglevel"] == "1" and "MS_ROLE" not in alone
