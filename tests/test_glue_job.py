"""jobs/submit_glue.py: a grid of GLUE finetuning cells (generated sets, a 4-step pretrained L2-H128)
on submitit's local executor and as one job array + a summary job on the Slurm sandbox; the table,
the per-task grids and the submission zip checked against the cells' own results.json."""
import io
import json
import os
import re
import subprocess
import sys
import zipfile

import pytest

from bert.glue import tasks as glue
from bert.glue.demo import write_demo
from conftest import REPO
from slurm_fixture import job_fields, slurm, wait_job  # noqa: F401  (slurm: session fixture)

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)

SIZES = (64, 32, 12)  # train, dev, test rows of each generated task


def submit_glue(*args, env=None):
    return subprocess.run([sys.executable, str(REPO / "jobs" / "submit_glue.py"), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=1200, env=env)


def common(pretrained, root, out, tmp_path):
    return ["--log-dir", tmp_path / "logs", "--init", pretrained["checkpoints"], "--glue-dir", root, "--output", out,
            f"vocab={pretrained['vocab']}", "epochs=2", "max_length=64"]


def check_table(out, cells_of_task):
    """The table, grids and zip against each cell's results.json; returns the table JSON."""
    table = json.loads((out / "glue_table.json").read_text())
    markdown = (out / "glue_table.md").read_text()
    scores = {}
    for task, cells in cells_of_task.items():
        results = {c: json.loads((out / task / c / "results.json").read_text())
                   for c in cells if (out / task / c / "results.json").is_file()}
        best = max(results, key=lambda c: results[c]["best_score"])
        assert table["best"][task]["cell"] == best
        dev = results[best]["best_dev"]["dev"]
        numbers = [100 * dev[m] for m in glue.TASKS[task].metrics]
        assert table["numbers"][task] == pytest.approx(numbers)
        scores[task] = sum(numbers) / len(numbers)
        grid = json.loads((out / task / "grid_summary.json").read_text())
        assert [r["cell"] for r in grid["cells"]] == sorted(results, key=lambda c: -results[c]["best_score"])
        assert grid["best"]["best_score"] == results[best]["best_score"]
    assert table["score"] == pytest.approx(sum(scores.values()) / len(scores))
    row = next(line for line in markdown.splitlines() if line.startswith("|L2-H128|"))
    assert row.split("|")[2] == f"{table['score']:.1f}*"  # * : not all nine tasks
    with zipfile.ZipFile(out / "glue_submission.zip") as zf:
        assert sorted(zf.namelist()) == sorted(f"{t}.tsv" for t in cells_of_task)
        for task in cells_of_task:
            text = zf.read(f"{task}.tsv").decode()
            assert text == (out / task / table["best"][task]["cell"] / f"{task}.tsv").read_text()
            lines = text.splitlines()
            assert lines[0] == "index\tprediction" and len(lines) == SIZES[2] + 1
    return table, markdown


def test_local_grid_writes_the_table_from_the_cells_and_names_a_failed_one(pretrained_8k, tmp_path):
    root = write_demo(tmp_path / "glue", tasks=("SST-2", "STS-B"), sizes=SIZES)
    out = tmp_path / "table"
    (out / "STS-B").mkdir(parents=True)
    (out / "STS-B" / "bs16_lr0.001").write_text("not a folder: this cell cannot write its checkpoints\n")
    run = submit_glue("--cluster", "local", "--name", f"t-glue-{os.getpid()}", "--tasks", "SST-2,STS-B",
                      "--batch-sizes", "16,32", "--learning-rates", "5e-4,1e-3", "--max-parallel", "2",
                      *common(pretrained_8k, root, out, tmp_path))
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stderr.count("\n") == 1 and "1 of 8 cells failed" in run.stderr and "STS-B/bs16_lr0.001" in run.stderr
    cells = ["bs16_lr0.0005", "bs16_lr0.001", "bs32_lr0.0005", "bs32_lr0.001"]
    table, markdown = check_table(out, {"SST-2": cells, "STS-B": cells})
    assert table["missing"] == ["STS-B/bs16_lr0.001"]
    assert "Cells without results (1 of 8): STS-B/bs16_lr0.001" in markdown
    assert "| 16 | 0.001 | no results.json (failed or not run) | | |" in (out / "STS-B" / "grid_summary.md").read_text()
    assert table["columns"]["CoLA"] == "—" and table["columns"]["AX"] == "—"
    assert "(generated demo sets, not GLUE's)" in markdown.splitlines()[0]  # generated sets say so in the table too
    assert markdown in run.stdout


def test_dry_run_prints_one_throttled_array_and_every_cell(pretrained_8k, tmp_path):
    root = write_demo(tmp_path / "glue", sizes=(8, 4, 2))
    run = submit_glue("--dry-run", "--grid", "--max-parallel", "8", "--cluster", "slurm", "--profile", "slurm-cpu",
                      *common(pretrained_8k, root, tmp_path / "table", tmp_path))
    assert run.returncode == 0, run.stderr
    assert "#SBATCH --array=0-179%8" in run.stdout and run.stdout.count("#!/bin/bash") == 1
    cells = re.findall(r"^(\d+)\t(\S+)\t(bs\d+_lr\S+)\t", run.stdout, re.M)
    assert len(cells) == 9 * 5 * 4 and [int(i) for i, _, _ in cells] == list(range(180))
    assert {t for _, t, _ in cells} == set(glue.TASKS)
    assert not (tmp_path / "table").exists()


@pytest.mark.parametrize("args, problem", [
    (["--tasks", "SST-2,XNLI"], "unknown task 'XNLI'"),
    (["--tasks", "CoLA"], "CoLA/train.tsv does not exist"),
    (["--batch-sizes", "16,0"], "--batch-sizes: not a comma-separated list of positive numbers"),
    (["max_length=32"], "max_length must be 64, 128, 256 or 512, got 32"),
])
def test_bad_submissions_are_one_line(pretrained_8k, tmp_path, args, problem):
    root = write_demo(tmp_path / "glue", tasks=("SST-2",), sizes=(8, 4, 2))
    run = submit_glue("--cluster", "local", *common(pretrained_8k, root, tmp_path / "table", tmp_path), *args)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr
    assert not (tmp_path / "table").exists()


def test_slurm_runs_one_array_then_the_summary_job(slurm, pretrained_8k, tmp_path):
    root = write_demo(tmp_path / "glue", tasks=("SST-2", "STS-B"), sizes=SIZES)
    out = tmp_path / "table"
    run = submit_glue("--name", f"t-glue-slurm-{os.getpid()}", "--tasks", "SST-2,STS-B", "--batch-sizes", "16",
                      "--learning-rates", "5e-4,1e-3", "--max-parallel", "2", *common(pretrained_8k, root, out, tmp_path),
                      env={**os.environ, **slurm.env})
    assert run.returncode == 0, run.stderr
    ids = re.findall(r"submitted \S+: job (\S+)", run.stdout)
    assert len(ids) == 5  # the four cells, then the summary job
    # the sandbox's MaxArraySize is 3 (scontrol show config): the cells are an array of 3, then one job
    first = ids[0].split("_")[0]
    assert ids[:3] == [f"{first}_{i}" for i in range(3)] and "_" not in ids[3]
    assert wait_job(slurm, ids[4], deadline_s=900)["JobState"] == "COMPLETED"
    cells = [job_fields(slurm, i) for i in ids[:4]]
    assert [(c.get("ArrayJobId"), c.get("ArrayTaskId"), c["JobState"]) for c in cells] == \
        [(first, "0", "COMPLETED"), (first, "1", "COMPLETED"), (first, "2", "COMPLETED"), (None, None, "COMPLETED")]
    assert max(c["EndTime"] for c in cells) <= job_fields(slurm, ids[4])["StartTime"]  # afterany: the array and the job
    table, markdown = check_table(out, {"SST-2": ["bs16_lr0.0005", "bs16_lr0.001"],
                                        "STS-B": ["bs16_lr0.0005", "bs16_lr0.001"]})
    assert table["missing"] == []
    with zipfile.ZipFile(io.BytesIO((out / "glue_submission.zip").read_bytes())) as zf:
        assert zf.testzip() is None
