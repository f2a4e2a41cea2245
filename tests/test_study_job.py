"""jobs/submit_study.py: Google's compact-model study (2 sizes × 2 generated GLUE tasks × distillation
from the larger size's best cell) on submitit's local executor and on the Slurm sandbox; every cell of
study_table.json checked against its run's results.json, a deliberately failed cell named, a rerun
that runs only what is missing, and on Slurm every job's dependencies as `scontrol show job` shows them."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bert import assets
from bert.flops import peak_tflops, pretraining_step_flops
from bert import study
from bert.glue import tasks as glue
from bert.glue.demo import write_demo
from conftest import REPO
from slurm_fixture import job_fields, slurm, wait_job  # noqa: F401  (slurm: session fixture)

SIZES, TASKS = ("L2-H128", "L4-H128"), ("SST-2", "STS-B")
ROWS = (64, 32, 12)  # train, dev, test rows of each generated task


def submit_study(*args, env=None):
    return subprocess.run([sys.executable, str(REPO / "jobs" / "submit_study.py"), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=1800, env=env)


def study_args(wiki, glue_dir, out, logs, *extra):
    """2 sizes × 2 tasks × distillation, tiny runs: 4 pretraining steps, one epoch per cell."""
    return ["--log-dir", logs, "--data", wiki["examples"], "--vocab", wiki["vocab"], "--glue-dir", glue_dir,
            "--output", out, "--sizes", ",".join(SIZES), "--tasks", ",".join(TASKS), "--pretrain-steps", "4",
            "--batch-sizes", "16", "--learning-rates", "1e-3", "--distill", *extra,
            "pretrain.max_seq_length=64", "pretrain.max_predictions_per_seq=10", "pretrain.train_batch_size=8",
            "finetune.max_length=64", "finetune.epochs=1", "distill.max_length=64", "distill.epochs=1"]


def check_study(out, failed=()):
    """study_table.{json,md} against every run's results.json; `failed`: the cells named missing."""
    table = json.loads((out / "study_table.json").read_text())
    markdown = (out / "study_table.md").read_text()
    ours = [r for r in table["rows"] if "runs" in r]
    assert [(r["model"], r["kind"]) for r in ours] == [(s, k) for s in SIZES for k in study.KINDS.values()]
    for row in ours:
        kind = next(k for k, v in study.KINDS.items() if v == row["kind"])
        scores = {}
        for task in TASKS:
            cells = list((out / kind / row["model"] / task).iterdir())
            done = {c: json.loads((c / "results.json").read_text()) for c in cells if (c / "results.json").is_file()}
            if not done:
                assert row["columns"][task] == "failed" and task not in row["runs"]
                continue
            best = max(done, key=lambda c: done[c]["best_score"])
            assert out / row["runs"][task] == best  # the cell is traceable to its run folder
            dev = done[best]["best_dev"]["dev"]
            numbers = [100 * dev[m] for m in glue.TASKS[task].metrics]
            assert row["numbers"][task] == pytest.approx(numbers)
            assert row["columns"][task] == "/".join(f"{v:.1f}" for v in numbers)
            scores[task] = sum(numbers) / len(numbers)
            if kind == "distill":  # taught by the larger size's best cell for the task, through the shared link
                assert done[best]["teacher"] == str(out / "teacher" / task / "best")
                assert row["teachers"][task] == done[best]["teacher_dev_score"]
                teacher = json.loads((out / "finetune" / SIZES[1] / task / best_cell(out, SIZES[1], task) /
                                      "results.json").read_text())
                assert (out / "teacher" / task / "best").resolve() == Path(teacher["best_checkpoint"]).resolve()
                assert done[best]["teacher_dev_score"] == pytest.approx(teacher["best_score"])
        assert row["score"] == pytest.approx(sum(scores.values()) / len(scores))
        assert f"|{row['model']} {row['kind']}|{row['score']:.1f}*|" in markdown
    google = [r for r in table["rows"] if r["kind"] == "Google, test set"]
    assert [r["model"] for r in google] == ["BERT-Tiny (L2-H128)"]  # L4-H128 is not one Google named
    assert "|BERT-Tiny (L2-H128) Google, test set|64.2|0.0|83.2|81.1/71.1|" in markdown
    assert "(generated demo sets, not GLUE's)" in markdown.splitlines()[0]
    assert [m.split(":")[0] for m in table["missing"]] == list(failed)
    assert f"## Missing or failed ({len(failed)})" in markdown
    return table


def best_cell(out, size, task) -> str:
    """The cell of a size's grid with the best dev score on a task (the first of equals, as the table)."""
    cells = sorted(p for p in (out / "finetune" / size / task).iterdir() if (p / "results.json").is_file())
    return max(cells, key=lambda p: json.loads((p / "results.json").read_text())["best_score"]).name


def teacher_lines(logs):
    """The distillation cells' teacher lines: how each got the teacher's outputs."""
    return [line for path in logs.rglob("*_log.out") for line in path.read_text().splitlines()
            if line.startswith("teacher ") and "outputs" in line]


@pytest.mark.slow
def test_local_study_tables_every_cell_names_a_failed_one_and_resumes(wiki_8k, tmp_path):
    glue_dir = write_demo(tmp_path / "glue", tasks=TASKS, sizes=ROWS)
    out, logs = tmp_path / "study", tmp_path / "logs"
    blocked = out / "finetune" / "L2-H128" / "STS-B" / "bs16_lr0.001"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder: this cell cannot write its checkpoints\n")
    args = study_args(wiki_8k, glue_dir, out, logs, "--cluster", "local", "--max-parallel", "2")
    run = submit_study(*args)
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stderr.count("\n") == 1 and "1 of 10 runs failed" in run.stderr
    assert "L2-H128 finetune STS-B/bs16_lr0.001" in run.stderr
    check_study(out, failed=["L2-H128 finetuned STS-B/bs16_lr0.001"])
    # each task's teacher outputs were computed once, by whichever size came first, and read by the other
    lines = teacher_lines(logs)
    for task in TASKS:
        cache = out / "teacher" / task / "teacher_logits.npy"
        assert sorted(line.split("; outputs ")[1].split(" ")[0] for line in lines if f"{cache}" in line) == \
            ["computed", "read"]

    # -- the same command again: only the failed cell runs (the rest is complete), and the table is whole
    blocked.unlink()
    finished = {p: p.stat().st_mtime_ns for p in out.rglob("results.json")}
    run = submit_study(*args)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    submitted = re.findall(r"^submitted (\S+):", run.stdout, re.M)
    assert submitted == ["study-finetune-L2-H128"], run.stdout  # then the summary, in this process
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
    check_study(out)

    # -- other settings for runs already made are refused, in one line, naming the folders to remove
    run = submit_study(*[a if a != "4" else "5" for a in args])  # --pretrain-steps 5
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    stale = ", ".join(str(out / kind) for kind in ("pretrain", "finetune", "teacher", "distill"))  # and what follows
    assert f"holds runs made with other settings: remove {stale} to run them again" in run.stderr
    run = submit_study(*args, "distill.temperature=2")
    assert run.returncode == 2 and f"remove {out / 'distill'} to run" in run.stderr


@pytest.mark.slow
def test_dry_run_lists_the_24_size_study_and_its_cost(wiki_8k, tmp_path):
    glue_dir = write_demo(tmp_path / "glue", sizes=(8, 4, 2))
    run = submit_study("--dry-run", "--cluster", "slurm", "--profile", "slurm-cpu", "--data", wiki_8k["examples"], "--vocab", wiki_8k["vocab"],
                       "--glue-dir", glue_dir, "--output", tmp_path / "study", "--grid", "--distill",
                       "--max-parallel", "16", "--pretrain-steps", "1000000", "--devices-per-node", "8",
                       "--device", "A100", "pretrain.precision=fp16", "pretrain.device_target=GPU")
    assert run.returncode == 0, run.stderr
    jobs = re.findall(r"^#   (\S+).*?: (\d+) job\(s\).*; after (.*)$", run.stdout, re.M)
    names = [name for name, _, _ in jobs]
    assert names == ["pretrain", *(f"finetune-{s}" for s in study.SIZES), *(f"distill-{s}" for s in study.SIZES)]
    assert dict((n, int(c)) for n, c, _ in jobs)["finetune-L6-H512"] == 9 * 5 * 4
    assert dict((n, int(c)) for n, c, _ in jobs)["distill-L6-H512"] == 9
    # the default teacher: the largest size's best cell per task, linked once its grid ended
    assert "#   teachers: 1 job linking each task's teacher, L12-H768's best cell; after afterany:finetune-L12-H768" \
        in run.stdout
    index = study.SIZES.index("L4-H256")
    assert dict((n, a) for n, _, a in jobs)["distill-L4-H256"] == f"afterok:pretrain[{index}],afterok:teachers"
    assert "summary: 1 job; after any end" in run.stdout
    assert not (tmp_path / "study").exists()
    # the estimate: pretraining FLOPs by bert.flops, hours at the assumed MFU of an A100's fp16 peak
    rows = {size: line.split("\t") for size, line in re.findall(r"^# (L\d+-H\d+)\t(.*)$", run.stdout, re.M)}
    assert list(rows) == list(study.SIZES)
    from bert.config import BertConfig
    config = BertConfig.from_name("L4-H256", vocab_size=8000)
    flops = 1_000_000 * pretraining_step_flops(config, 128, 20, 32 * 8)
    assert float(rows["L4-H256"][1].replace(",", "")) == pytest.approx(flops / 1e15, rel=1e-2)
    hours = flops / (peak_tflops("A100", "fp16") * 1e12 * 0.3) / 3600
    assert float(rows["L4-H256"][2].replace(",", "")) == pytest.approx(hours, rel=1e-2)
    assert re.search(r"^# total: [\d,.]+ PFLOP, [\d,.]+ device-hours", run.stdout, re.M)


@pytest.mark.parametrize("args, problem", [
    (["--sizes", "L3-H128"], "--sizes: unknown model size 'L3-H128'"),
    (["--tasks", "SST-2,XNLI"], "unknown task 'XNLI'"),
    (["--teacher", "nowhere"], "--teacher and --transfer-data are for --distill"),
    (["--distill", "teacher.epochs=2"], "teacher.KEY=V overrides are for --teacher CKPT"),
    (["--vocab", "nowhere.txt"], "--vocab nowhere.txt does not exist"),
    (["finetune.max_length=32"], "max_length must be 64, 128, 256 or 512, got 32"),
    (["glue.epochs=2"], "override 'glue.epochs=2' must start with one of pretrain., finetune., teacher., distill."),
])
def test_bad_studies_are_one_line(args, problem, tmp_path):
    glue_dir = write_demo(tmp_path / "glue", tasks=("SST-2",), sizes=(8, 4, 2))
    run = submit_study("--cluster", "local", "--data", tmp_path, "--vocab", assets.uncased_vocab(),
                       "--glue-dir", glue_dir, "--output", tmp_path / "study", "--tasks", "SST-2", *args)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr
    assert not (tmp_path / "study").exists()


def test_slurm_study_runs_each_size_after_its_own_pretraining(slurm, wiki_8k, tmp_path):
    glue_dir = write_demo(tmp_path / "glue", tasks=TASKS, sizes=ROWS)
    out, logs = tmp_path / "study", tmp_path / "logs"
    # the partition is down while submitting: every job waits, so its dependencies are all still there to see
    assert slurm.client("scontrol", "update", "PartitionName=debug", "State=DOWN").returncode == 0
    try:
        run = submit_study(*study_args(wiki_8k, glue_dir, out, logs, "--name", f"t-study-{os.getpid()}"),
                           env={**os.environ, **slurm.env})
        assert run.returncode == 0, run.stderr
        jobs = {}
        for name, job_id in re.findall(r"^submitted t-study-\d+-(\S+): job (\S+)", run.stdout, re.M):
            jobs.setdefault(name, []).append(job_id)
        assert {k: len(v) for k, v in jobs.items()} == {
            "pretrain": 2, "finetune-L2-H128": 2, "finetune-L4-H128": 2, "teachers": 1, "distill-L2-H128": 2,
            "distill-L4-H128": 2, "summary": 1}
        deps = {job_id: job_fields(slurm, job_id).get("Dependency") for ids in jobs.values() for job_id in ids}
    finally:
        assert slurm.client("scontrol", "update", "PartitionName=debug", "State=UP").returncode == 0
    pretrain, teachers = jobs["pretrain"], jobs["teachers"][0]
    array = {name: ids[0].split("_")[0] for name, ids in jobs.items()}
    assert all(deps[i] == "(null)" for i in pretrain)
    for n, size in enumerate(SIZES):
        for i in jobs[f"finetune-{size}"]:
            assert re.fullmatch(rf"afterok:{pretrain[n]}\(\w+\)", deps[i]), deps[i]  # its own size's element only
        for i in jobs[f"distill-{size}"]:
            assert re.fullmatch(rf"afterok:{pretrain[n]}\(\w+\),afterok:{teachers}\(\w+\)", deps[i]), deps[i]
    # the teachers are linked once the largest size's cells ended, whichever way
    assert re.fullmatch(rf"afterany:{array['finetune-L4-H128']}_\*\(\w+\)", deps[teachers]), deps[teachers]
    summary = jobs["summary"][0]
    assert sorted(re.findall(r"afterany:(\d+)(?:_\*)?\(", deps[summary])) == sorted(
        a for name, a in array.items() if name != "summary")
    assert wait_job(slurm, summary, deadline_s=1200)["JobState"] == "COMPLETED"
    ended = {i: job_fields(slurm, i) for ids in jobs.values() for i in ids}
    assert all(f["JobState"] == "COMPLETED" for f in ended.values()), {i: f["JobState"] for i, f in ended.items()}
    for n, size in enumerate(SIZES):
        for i in jobs[f"finetune-{size}"] + jobs[f"distill-{size}"]:
            assert ended[i]["StartTime"] >= ended[pretrain[n]]["EndTime"]
        for i in jobs[f"distill-{size}"]:
            assert ended[i]["StartTime"] >= ended[teachers]["EndTime"] >= max(
                ended[j]["EndTime"] for j in jobs["finetune-L4-H128"])
    assert max(ended[i]["EndTime"] for i in ended if i != summary) <= ended[summary]["StartTime"]
    check_study(out)


@pytest.mark.slow
def test_dry_run_teacher_finetuned_once_per_task_or_given(wiki_8k, pretrained_8k, tmp_path):
    glue_dir = write_demo(tmp_path / "glue", tasks=TASKS, sizes=(8, 4, 2))

    def dry_run(*extra):
        return submit_study("--dry-run", *study_args(wiki_8k, glue_dir, tmp_path / "study", tmp_path / "logs",
                                                     "--profile", "slurm-cpu", *extra))

    run = dry_run("--teacher", pretrained_8k["checkpoints"])  # a checkpoint: finetuned here once per task
    assert run.returncode == 0, run.stderr
    jobs = dict(re.findall(r"^#   (\S+).*?: \d+ job\(s\).*; after (.*)$", run.stdout, re.M))
    assert "#   teacher (SST-2, STS-B): 2 job(s) of 1 task; after nothing" in run.stdout and "teachers:" not in run.stdout
    assert jobs["distill-L2-H128"] == "afterok:pretrain[0],afterany:teacher"
    given = tmp_path / "teachers"
    (given / "SST-2" / "best").mkdir(parents=True)
    run = dry_run("--teacher", given)  # a folder of finetuned teachers must hold every task's
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "holds teachers for some tasks but none for STS-B" in run.stderr
    (given / "STS-B").mkdir()
    run = dry_run("--teacher", given)
    assert run.returncode == 0, run.stderr
    jobs = dict(re.findall(r"^#   (\S+).*?: \d+ job\(s\).*; after (.*)$", run.stdout, re.M))
    assert "teacher" not in jobs and "teachers:" not in run.stdout
    assert jobs["distill-L2-H128"] == "afterok:pretrain[0]"


def test_summary_bench_runs_on_growing_studies(tmp_path):
    """bench/bench_study_summary.py (its timings are the bench's business): 189 cells a size."""
    run = subprocess.run([sys.executable, "bench/bench_study_summary.py", "--sizes", "1,2", "--json", tmp_path / "b.json"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "b.json").read_text())["results"]
    assert [(r["sizes"], r["cells"]) for r in results] == [(1, 189), (2, 378)]
    assert all(r["seconds"] > 0 and r["peak_mb"] > 0 for r in results)
