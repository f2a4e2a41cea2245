"""Google's compact-model GLUE table as one submission: every task finetuned over a batch ×
learning-rate grid — one Slurm job array of cells, each a bert.finetune run through the one launch
path (resumable, requeued like every stage) — then a summary job (afterany: whatever cells finished)
that writes the table, each task's grid and GLUE's submission zip (bert.glue.grid).

    python jobs/submit_glue.py --init CKPT [--glue-dir data/glue] [--tasks all|CoLA,SST-2,…]
        [--grid | --batch-sizes 16,32 --learning-rates 1e-4,5e-5] [--max-parallel 8] [key=value …]

Without --grid or the lists each task runs once, at the config's batch size and learning rate.
--init is any checkpoint bert.finetune takes; its bert_config.json / config.json sets the model.
Out: <output>/<TASK>/<cell>/ (a finetune run each), <output>/glue_table.md, glue_submission.zip.
"""
import argparse
import json
import sys
from pathlib import Path

from bert.atomic import write_text_atomic
from bert.cluster.launch import stage_config
from bert.cluster.submit import (Plan, SubmitError, add_common_arguments, array_ids, model_args, numbers, preflight,
                                 run_here, run_local, run_main, stage_args, submit, submit_array, tensorboard_hint)
from bert.config import ConfigError
from bert.glue import tasks as glue
from bert.glue.grid import BATCH_SIZES, LEARNING_RATES, PLAN, GridError, cell_dir, parse_tasks, plan as grid_plan


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, "configs/finetune_sst2.yaml")
    parser.add_argument("--init", required=True, type=Path, help="the pretrained checkpoint every cell starts from")
    parser.add_argument("--glue-dir", default=Path("data/glue"), type=Path,
                        help="GLUE root holding <TASK>/ folders and diagnostic/ (tools/download_glue.py)")
    parser.add_argument("--tasks", default="all", help=f"'all' or comma-separated from {','.join(glue.TASKS)}")
    parser.add_argument("--grid", action="store_true", help="Google's grid: batch 8,16,32,64,128 × lr 3e-4,1e-4,5e-5,3e-5")
    parser.add_argument("--batch-sizes", help="the grid's batch sizes, e.g. 16,32")
    parser.add_argument("--learning-rates", help="its learning rates, e.g. 1e-4,5e-5")
    parser.add_argument("--max-parallel", type=int, help="cells running at once (Slurm: --array=…%%N; local: default 1)")
    parser.add_argument("--output", default=Path("outputs/glue"), type=Path, help="the grid folder (default outputs/glue)")
    args = parser.parse_args(argv)

    def build():
        plan = Plan.from_args(args, "glue")
        try:
            tasks = parse_tasks(args.tasks)
        except GridError as exc:
            raise SubmitError(str(exc)) from None
        if args.max_parallel is not None and args.max_parallel < 1:
            raise SubmitError(f"--max-parallel must be at least 1, got {args.max_parallel}")
        base = stage_args(args, [f"init={args.init}", *model_args(args.init)], stage="finetune")
        try:
            cfg = stage_config("finetune", base)
        except ConfigError as exc:
            raise SubmitError(str(exc)) from None
        batch_sizes = numbers(args.batch_sizes, int, "--batch-sizes")
        learning_rates = numbers(args.learning_rates, float, "--learning-rates")
        grid = grid_plan(tasks, batch_sizes or (BATCH_SIZES if args.grid else [cfg.train_batch_size]),
                         learning_rates or (LEARNING_RATES if args.grid else [cfg.optim.learning_rate]))
        root = args.output.resolve()

        def cell_args(cell: dict) -> list[str]:
            return base + [f"task={cell['task']}", f"data_dir={args.glue_dir / cell['task']}",
                           f"train_batch_size={cell['train_batch_size']}",
                           f"optim.learning_rate={cell['learning_rate']}", f"output_dir={cell_dir(root, cell)}",
                           f"run_name={plan.name}-{cell['task']}-{cell['cell']}"]

        for task in tasks:  # one bad task folder or config is one line now, not a failed array task later
            preflight("finetune", cell_args(next(c for c in grid["cells"] if c["task"] == task)))
        jobs = [plan.job("finetune", cell_args(cell)) for cell in grid["cells"]]
        summary = plan.job("grid-summary", ["summarize", str(root)])
        if plan.dry_run:
            submit_array(plan, jobs, max_parallel=args.max_parallel)
            print(f"# cells ({len(jobs)}), task i of the array → <output>/<TASK>/<cell>:")
            for i, cell in enumerate(grid["cells"]):
                print(f"{i}\t{cell['task']}\t{cell['cell']}\t{cell_dir(root, cell)}")
            print("# then, after any end of the array: python -m bert.glue.grid summarize " + str(root))
            return
        root.mkdir(parents=True, exist_ok=True)
        write_text_atomic(root / PLAN, json.dumps(grid, indent=2) + "\n")
        if plan.cluster == "slurm":
            array = submit_array(plan, jobs, max_parallel=args.max_parallel)
            submit(plan, summary, tasks_per_node=1, dependency="afterany:" + ":".join(array_ids(array)))
            tensorboard_hint()
            return
        failed = run_local(plan, jobs, [f"{c['task']}/{c['cell']}" for c in grid["cells"]], args.max_parallel)
        run_here(summary, "the GLUE summary")
        if failed:
            raise SubmitError(f"{len(failed)} of {len(jobs)} cells failed, named in the table: {'; '.join(failed)}")

    return run_main(build)


if __name__ == "__main__":
    sys.exit(main())
