"""What users type on a cluster — jobs/submit_*.py and slurm/*.sbatch — against a real two-node
Slurm (tools/slurm_sandbox.py, started by the `slurm` fixture), plus dry runs and bad input."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bert.cluster import sbatch
from bert.cluster.profiles import Profile, load_profile
from bert.cluster.submit import Plan, submit
from conftest import REPO
from slurm_fixture import FINISHED, job_fields, slurm, wait_job  # noqa: F401  (slurm: session fixture)

JOB_ID = re.compile(r"submitted (\S+): job (\d+)")


def jobs_cli(script, *args, env=None, timeout=900):
    return subprocess.run([sys.executable, str(REPO / "jobs" / script), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=env or os.environ.copy())


def tiny_pretrain(wiki, out, steps=6):
    return [f"data={wiki['examples']}", f"vocab={wiki['vocab']}", "model.name=L2-H128", "max_seq_length=64",
            "max_predictions_per_seq=10", f"total_steps={steps}", "save_steps=2", "log_interval=1",
            "train_batch_size=8", "optim.warmup_steps=2", f"output_dir={out}", f"log_dir={out}/logs"]


def slurm_env(sandbox):
    return {**os.environ, **sandbox.env}


# ---------------------------------------------------------------- without a cluster


@pytest.mark.parametrize("profile, expected", [
    ("slurm-gpu", ["--nodes=2", "--ntasks-per-node=8", "--gpus-per-node=8", "--partition=gpu", "--requeue",
                   "--signal=USR2@300", "--time=1440", "--exclusive", "export NCCL_DEBUG=WARN", "--kill-on-bad-exit=1",
                   "source tools/gpu_env.sh",
                   "# device: GPU (device_target auto: gpus_per_node 8); after a worker failure up to 3 restarts in the "
                   "allocation, then up to 3 requeues"]),
    ("slurm-ascend", ["--nodes=2", "--ntasks-per-node=8", "--gres=npu:8", "--partition=ascend", "--requeue",
                      "--signal=USR2@300", "--time=1440", "export MS_ENABLE_RUNTIME_PROFILER=0",
                      "source tools/ascend_env.sh", "# device: Ascend (device_target auto: gres npu:8)"]),
    ("slurm-cpu", ["--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=1", "--signal=USR2@120", "--requeue",
                   "# device: CPU (device_target auto: no GPU or NPU requested)"]),
])
def test_dry_run_shows_what_slurm_users_expect(profile, expected, wiki_8k):
    run = jobs_cli("submit_pretrain.py", "--dry-run", "--nodes", "2", "--profile", profile, "--time", "1440",
                   f"data={wiki_8k['examples']}")
    assert run.returncode == 0, run.stderr
    for item in expected:
        assert item in run.stdout, (item, run.stdout)
    assert "srun --unbuffered" in run.stdout and "submitit.core._submit" in run.stdout


def sbatch_options(text: str) -> dict[str, str | None]:
    """`#SBATCH --key=value` lines → {key: value} (None for a bare flag); --time in minutes."""
    options = {}
    for line in text.splitlines():
        if line.startswith("#SBATCH --"):
            key, _, value = line.removeprefix("#SBATCH --").partition("=")
            options[key] = value or None
    if options.get("time", "").count(":") == 2:
        hours, minutes, seconds = map(int, options["time"].split(":"))
        options["time"] = str(hours * 60 + minutes + (seconds > 0))
    return options


@pytest.mark.parametrize("template", sorted(p.stem for p in (REPO / "slurm").glob("*.sbatch")))
def test_the_templates_headers_are_what_the_submitit_door_writes_for_the_cpu_profile(template, monkeypatch):
    """One profile, two doors: each #SBATCH option the launchers take from configs/cluster/slurm-cpu.yaml
    (time, tasks and CPUs, the signal, requeue, partition, account, …) is the template's too."""
    monkeypatch.chdir(REPO)
    plan = Plan("slurm", load_profile("slurm-cpu"), 1, 1, template, Path("/jobs/logs"), True)
    submitit_side = sbatch_options(sbatch.script(plan.folder, plan.slurm_parameters()))
    ours = sbatch_options((REPO / "slurm" / f"{template}.sbatch").read_text())
    per_job = {"job-name", "output", "error", "open-mode", "nodes", "wckey", "array"}  # each job's own
    expected = {k: v for k, v in submitit_side.items() if k not in per_job}
    assert {k: ours.get(k, "absent") for k in expected} == expected
    assert set(ours) - per_job <= set(expected), "an option the profile does not have"


@pytest.mark.parametrize("args, problem", [
    (["--profile", "nosuch"], "unknown cluster profile 'nosuch' (profiles: auto, local, slurm-ascend, slurm-cpu, "
                              "slurm-gpu)"),
    (["--site", "nosuch.yaml", "--profile", "slurm-cpu"], "--site nosuch.yaml does not exist"),
    (["--nodes", "0"], "--nodes must be at least 1"),
    (["--cluster", "local", "data=/no/such/examples"], "no complete MindRecord shards in /no/such/examples"),
    (["--cluster", "local", "--nodes", "2"], "--nodes 2 needs --cluster slurm"),
])
def test_bad_submissions_are_one_line_and_nonzero(args, problem):
    run = jobs_cli("submit_pretrain.py", *args)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr


def test_sinfo_lines_name_the_partitions_accelerators():
    """What --profile auto makes of sinfo's `%P|%G|%c` lines, GRES spellings of real sites included."""
    from bert.cluster.profiles import accelerators, parse_sinfo

    parts = {p.name: p for p in parse_sinfo("cpu*|(null)|64\n"
                                            "a100|gpu:a100:8(S:0-1),mps:400|128\n"
                                            "ascend|npu:8|192\n"
                                            "atlas|davinci:4|96\n"
                                            "mixed|gpu:4|64\nmixed|gpu:2|32\n"
                                            "some|gpu:4|64\nsome|(null)|32\n")}
    assert parts["cpu"].default and not parts["a100"].default
    assert {name: accelerators(p) for name, p in parts.items()} == {
        "cpu": None, "a100": ("GPU", "gpu", 8), "ascend": ("Ascend", "npu", 8), "atlas": ("Ascend", "davinci", 4),
        "mixed": ("GPU", "gpu", 2),  # every node has GPUs: the smallest count
        "some": None}  # not every node has one: a CPU partition


def test_without_sinfo_the_profile_must_be_given(tmp_path):
    """--profile auto (the default on Slurm) reads the cluster with sinfo: missing or failing, one line.
    (A slurm.conf Slurm cannot parse fails at once; a missing one makes sinfo look for the cluster for a minute.)"""
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=nowhere\nNoSuchKey=1\n")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    run = jobs_cli("submit_pretrain.py", "--dry-run", env=env)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert re.match(r"error: sinfo (not found, so the cluster cannot be read|failed \(.+\)): pass --profile",
                    run.stderr), run.stderr
    run = jobs_cli("submit_pretrain.py", "--dry-run", env={**env, "PATH": str(Path(sys.executable).parent)})
    assert run.returncode == 2 and run.stderr.startswith("error: sinfo not found, so the cluster cannot be read: "
                                                         "pass --profile (slurm-cpu, slurm-gpu, slurm-ascend or a file)")


@pytest.mark.slow  # trains for more than a few seconds
def test_pipeline_runs_data_pretrain_finetune_distill_on_the_local_executor(tmp_path):
    from bert import assets

    run = jobs_cli("submit_pipeline.py", "--cluster", "local", "--name", f"t-local-{os.getpid()}",
                   "--log-dir", tmp_path / "logs", "--workdir", tmp_path, "--input", assets.enwiki_sample(), "--build-vocab", "4000", "--distill",
                   "data.dupe_factor=1", "data.max_seq_length=64", "data.max_predictions_per_seq=10",
                   "pretrain.model.name=L2-H128", "pretrain.max_seq_length=64", "pretrain.max_predictions_per_seq=10",
                   "pretrain.total_steps=4", "pretrain.train_batch_size=8", "finetune.model.name=L2-H128",
                   "finetune.epochs=1", "distill.model.name=L2-H128", "distill.epochs=1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(JOB_ID.findall(run.stdout)) == 4
    assert (tmp_path / "pretrain" / "checkpoints" / "step_00000004" / "state.json").is_file()
    results = json.loads((tmp_path / "finetune" / "results.json").read_text())
    assert results["dataset"] == "generated demo set (not SST-2)"
    distilled = json.loads((tmp_path / "distill" / "results.json").read_text())
    assert distilled["teacher"] == str(tmp_path / "finetune" / "best")
    assert distilled["teacher_dev_score"] == pytest.approx(results["best_score"])
    assert re.search(r"distill done: .*best dev Accuracy", run.stdout), run.stdout


# ---------------------------------------------------------------- on the Slurm sandbox


def sbatch_to_completion(sandbox, template, logs, *args):
    """`sbatch slurm/<template>.sbatch args…` from the repository root, job logs in `logs` → its log,
    once the job completed and printed the seed's accuracy line."""
    env = {**slurm_env(sandbox), "PYTHON": sys.executable, "LOG_DIR": str(logs)}
    logs.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(["timeout", "30", "sbatch", "--parsable", f"--output={logs}/%x-%j.out",
                          f"slurm/{template}.sbatch", *map(str, args)], cwd=REPO, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    job_id = run.stdout.strip().split(";")[0]
    fields = wait_job(sandbox, job_id)
    log = (logs / f"bert-{template.replace('_', '-')}-{job_id}.out").read_text()
    assert fields["JobState"] == "COMPLETED", log[-3000:]
    assert re.search(r"^Accuracy: [\d.]+%, Best-Accuracy: [\d.]+%, Avg loss: [\d.]+$", log, re.M), log[-2000:]
    return log


def test_sbatch_finetune_and_distill_templates_print_accuracy_and_write_results(slurm, tmp_path):
    from bert import assets
    from bert.glue.sst2_demo import write_demo

    data = write_demo(tmp_path / "sst2", train=200, dev=64, test=16)
    common = [f"vocab={assets.uncased_vocab()}", f"data_dir={data}", "model.name=L2-H128", "epochs=1",
              f"log_dir={tmp_path / 'logs'}", "init=null"]
    log = sbatch_to_completion(slurm, "finetune_sst2", tmp_path / "jobs", *common, f"output_dir={tmp_path / 'out'}")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    best = float(re.findall(r"Best-Accuracy: ([\d.]+)%", log)[-1])
    assert results["best_score"] == pytest.approx(best / 100, abs=5e-4) and results["best_step"] == 200 // 32  # one epoch, evaluated at its end
    assert len((tmp_path / "out" / "SST-2.tsv").read_text().splitlines()) == 16 + 1
    # the distillation template, with the model just finetuned as the teacher
    sbatch_to_completion(slurm, "distill_sst2", tmp_path / "jobs", *common, f"teacher={tmp_path / 'out' / 'best'}",
                         f"output_dir={tmp_path / 'distilled'}")
    assert (tmp_path / "distilled" / "teacher_logits.npy").is_file()


def test_a_partition_slurm_rejects_is_one_line(slurm, wiki_8k, tmp_path):
    run = jobs_cli("submit_pretrain.py", "--profile", "slurm-cpu", "--partition", "nosuch", "--log-dir",
                   tmp_path / "jobs", *tiny_pretrain(wiki_8k, tmp_path), env=slurm_env(slurm))
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "submission failed" in run.stderr and "partition" in run.stderr.lower()
    run = jobs_cli("submit_pretrain.py", "--partition", "nosuch", *tiny_pretrain(wiki_8k, tmp_path),
                   env=slurm_env(slurm))  # --profile auto reads the partitions first
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "no partition 'nosuch' on this cluster (partitions: debug*, high, gpu)" in run.stderr


def test_the_mission_command_chooses_the_profile_from_the_partition(slurm, wiki_8k, tmp_path):
    """`submit_pretrain.py --nodes 2` with no --profile: sinfo's partition and GRES choose it (the
    sandbox's gpu partition declares gpu:2 per node, stand-in devices), and the site file goes over it."""
    def dry_run(*args):
        run = jobs_cli("submit_pretrain.py", "--nodes", "2", "--dry-run", *args, f"data={wiki_8k['examples']}",
                       env=slurm_env(slurm))
        assert run.returncode == 0, run.stderr
        return run.stdout

    out = dry_run()  # the default partition, debug: CPU nodes
    assert "# profile slurm-cpu: partition debug has no GPU or NPU GRES (gres (null)), 2 CPUs per node" in out
    assert {"partition": "debug", "ntasks-per-node": "1", "cpus-per-task": "1"}.items() <= sbatch_options(out).items()
    assert "# device: CPU (device_target auto: no GPU or NPU requested)" in out
    out = dry_run("--partition", "gpu")
    assert "# profile slurm-gpu: partition gpu has gres gpu:2, 2 CPUs per node" in out
    options = sbatch_options(out)
    assert {"partition": "gpu", "gpus-per-node": "2", "ntasks-per-node": "2", "cpus-per-task": "1",
            "nodes": "2"}.items() <= options.items() and "mem" not in options
    assert "# device: GPU (device_target auto: gpus_per_node 2)" in out and "source tools/gpu_env.sh" in out
    site = tmp_path / "site.yaml"
    site.write_text("account: research\nqos: long\nsetup:\n  - module load cuda/11.8\n"
                    "  - source /opt/venvs/bert/bin/activate\nenv:\n  NCCL_SOCKET_IFNAME: ib0\n")
    out = dry_run("--partition", "gpu", "--site", site)
    assert f"# profile slurm-gpu: partition gpu has gres gpu:2, 2 CPUs per node; site file {site}" in out
    assert {"account": "research", "qos": "long", "partition": "gpu"}.items() <= sbatch_options(out).items()
    setup = out[out.index("# setup"):out.index("# command")]
    assert "module load cuda/11.8\nsource /opt/venvs/bert/bin/activate\n" in setup
    assert "source tools/gpu_env.sh" not in setup  # the site's setup replaces the profile's
    assert "export NCCL_SOCKET_IFNAME=ib0" in setup and "export NCCL_DEBUG=WARN" in setup  # env: merged
    run = jobs_cli("submit_pretrain.py", "--profile", "slurm-gpu", "--partition", "debug", "--dry-run",
                   f"data={wiki_8k['examples']}", env=slurm_env(slurm))
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "profile slurm-gpu asks for GPU devices but partition debug has none (gres (null))" in run.stderr


def test_pipeline_on_slurm_chains_three_jobs(slurm, tmp_path):
    from bert import assets

    name = f"t-pipe-{os.getpid()}"
    run = jobs_cli("submit_pipeline.py", "--name", name, "--log-dir", tmp_path / "logs", "--workdir", tmp_path, "--input", assets.enwiki_sample(),
                   "--build-vocab", "4000", "data.dupe_factor=1", "data.max_seq_length=64",
                   "data.max_predictions_per_seq=10", "pretrain.model.name=L2-H128", "pretrain.max_seq_length=64",
                   "pretrain.max_predictions_per_seq=10", "pretrain.total_steps=4", "pretrain.train_batch_size=8",
                   "finetune.model.name=L2-H128", "finetune.epochs=1", env=slurm_env(slurm))
    assert run.returncode == 0, run.stderr
    ids = [job for _, job in JOB_ID.findall(run.stdout)]
    assert len(ids) == 3
    fields = wait_job(slurm, ids[2], deadline_s=900)
    assert fields["JobState"] == "COMPLETED", fields
    stages = [job_fields(slurm, i) for i in ids]
    assert all(f["JobState"] == "COMPLETED" for f in stages)
    assert stages[0]["EndTime"] <= stages[1]["StartTime"] and stages[1]["EndTime"] <= stages[2]["StartTime"]
    results = json.loads((tmp_path / "finetune" / "results.json").read_text())
    assert results["config"]["init"].startswith(str(tmp_path / "pretrain"))  # finetuned the pretrained model
    assert [h["step"] for h in results["history"]] == [results["best_step"]]  # one epoch, evaluated once
    assert (tmp_path / "finetune" / "SST-2.tsv").is_file()


def test_real_preemption_by_a_higher_priority_partition_resumes_to_the_planned_step(slurm, wiki_8k, tmp_path):
    os.environ.update(slurm.env)
    steps = 60
    args = ["--config", str(REPO / "configs" / "pretrain.yaml"), *tiny_pretrain(wiki_8k, tmp_path, steps)]
    name = f"t-preempt-{os.getpid()}"
    plan = Plan("slurm", Profile(partition="debug", time_min=30, cpus_per_task=2, env={"GLOG_v": "3"}), 1, 1,
                name, tmp_path / "jobs", False)
    job = submit(plan, plan.job("pretrain", args))
    deadline = time.monotonic() + 300
    while not (tmp_path / "checkpoints" / "step_00000004" / "state.json").exists():
        assert time.monotonic() < deadline and job_fields(slurm, job.job_id)["JobState"] not in FINISHED
        time.sleep(0.2)
    high = slurm.client("sbatch", "--parsable", "-p", "high", "-N2", "-c2", "-o", str(tmp_path / "high.out"),
                        "--wrap", "sleep 2")
    assert high.returncode == 0, high.stderr
    assert wait_job(slurm, high.stdout.strip(), deadline_s=300)["JobState"] == "COMPLETED"
    fields = wait_job(slurm, job.job_id)
    out = Path(job.paths.stdout).read_text()
    assert fields["JobState"] == "COMPLETED", out[-3000:]
    assert int(fields["Restarts"]) >= 1
    resumed = int(re.search(r"resumed from .* at step (\d+)", out)[1])
    assert 4 <= resumed < steps
    assert (tmp_path / "checkpoints" / f"step_{steps:08d}" / "state.json").is_file()
