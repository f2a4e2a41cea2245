"""Google's compact-model study as one submission (Turc et al. 2019; layout and table: bert.study).
Every size is pretrained (one job array, an element per size); each size's GLUE grid is an array
that starts when that size's pretraining succeeded (afterok on its own element: a failed size blocks
no other); with --distill a teacher is finetuned once per task, its outputs computed once and read by
every size's student, one distillation cell per size × task; a summary job (afterany) writes
<output>/study_table.{md,json}. Every job runs through the one launch path (resumed, requeued,
restarted in place like any stage).

    python jobs/submit_study.py --data EXAMPLES --vocab VOCAB [--glue-dir data/glue] [--sizes all|L2-H128,…]
        [--tasks all|SST-2,…] [--pretrain-steps N] [--grid | --batch-sizes 16,32 --learning-rates 1e-4,5e-5]
        [--distill [--teacher CKPT_OR_DIR] [--transfer-data DIR]] [--max-parallel N] [--output outputs/study]
        [--nodes N] [--device A100 [--mfu 0.3]] [--dry-run] [pretrain.KEY=V …] [finetune.KEY=V …]
        [teacher.KEY=V …] [distill.KEY=V …]

The same command again skips what is complete (a pretraining that wrote results.json at its last
step, a run with results.json) and submits the rest again; a pretraining resumes from its checkpoint.
Overrides go to their stage; teacher.KEY=V to the teacher's finetuning, after finetune.KEY=V.
Pretraining runs on --nodes × --devices-per-node; the cells, one device each. --dry-run prints every
job with its dependencies and the study's FLOPs (device-hours with --device, at an assumed --mfu).
"""
import argparse
import dataclasses
import json
import sys
from pathlib import Path

from bert.atomic import write_text_atomic
from bert.cluster.launch import stage_config
from bert.cluster.submit import (Plan, SubmitError, add_common_arguments, array_ids, max_array_size, model_args,
                                 numbers, preflight, print_dry_run, run_here, run_local, run_main, split_overrides,
                                 submit, submit_array, tensorboard_args, tensorboard_hint)
from bert.config import ConfigError
from bert.flops import PEAK_TFLOPS, peak_tflops
from bert import study
from bert.glue.grid import BATCH_SIZES, LEARNING_RATES, PLAN as GRID_PLAN, GridError, cell_dir, parse_tasks
from bert.glue.grid import plan as grid_plan

STAGES = ("pretrain", "finetune", "teacher", "distill")  # the prefixes of the overrides (teacher: its finetuning)
CONFIGS = {stage: f"configs/{name}.yaml" for stage, name in
           (("pretrain", "pretrain"), ("finetune", "finetune_sst2"), ("distill", "distill_sst2"))}


def config_of(stage: str, args: list[str]):
    try:
        return stage_config(stage, args)
    except ConfigError as exc:
        raise SubmitError(str(exc)) from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, None)
    parser.add_argument("--data", required=True, type=Path, help="the pretraining examples (bert.data.prepare's examples/)")
    parser.add_argument("--vocab", required=True, type=Path, help="their vocab.txt, every size's and the teacher's")
    parser.add_argument("--glue-dir", default=Path("data/glue"), type=Path,
                        help="GLUE root holding <TASK>/ folders (tools/download_glue.py)")
    parser.add_argument("--sizes", default="all", help="'all' (Google's 24) or comma-separated, e.g. L2-H128,L4-H256")
    parser.add_argument("--tasks", default="all", help="'all' (GLUE's nine) or comma-separated, e.g. SST-2,MRPC")
    parser.add_argument("--pretrain-steps", type=int, help="every size's total_steps (default: the config's)")
    parser.add_argument("--grid", action="store_true", help="Google's grid: batch 8,16,32,64,128 × lr 3e-4,1e-4,5e-5,3e-5")
    parser.add_argument("--batch-sizes", help="the finetuning grid's batch sizes, e.g. 16,32")
    parser.add_argument("--learning-rates", help="its learning rates, e.g. 1e-4,5e-5")
    parser.add_argument("--distill", action="store_true", help="add a pre-trained distillation row per size")
    parser.add_argument("--teacher", type=Path,
                        help="a pretrained checkpoint, finetuned here once per task, or a folder of <TASK>/best "
                             "(or <TASK>/) models finetuned already; default: the study's largest size")
    parser.add_argument("--transfer-data", type=Path, help="a folder of <TASK>.txt unlabeled examples for distillation")
    parser.add_argument("--max-parallel", type=int, help="jobs of one array running at once (local: default 1)")
    parser.add_argument("--output", default=Path("outputs/study"), type=Path, help="the study folder")
    parser.add_argument("--device", help=f"for --dry-run's estimate: a device of bert.flops ({', '.join(PEAK_TFLOPS)})")
    parser.add_argument("--mfu", type=float, default=0.3, help="the estimate's assumed model FLOPs utilisation")
    args = parser.parse_args(argv)

    def build():
        plan = Plan.from_args(args, "study")
        over = split_overrides(args.overrides, STAGES)
        try:
            sizes, tasks = study.parse_sizes(args.sizes), parse_tasks(args.tasks)
        except (study.StudyError, GridError) as exc:
            raise SubmitError(str(exc)) from None
        if args.max_parallel is not None and args.max_parallel < 1:
            raise SubmitError(f"--max-parallel must be at least 1, got {args.max_parallel}")
        if (args.teacher or args.transfer_data) and not args.distill:
            raise SubmitError("--teacher and --transfer-data are for --distill")
        if over["teacher"] and not args.teacher:
            raise SubmitError("teacher.KEY=V overrides are for --teacher CKPT (finetuned here per task); the default "
                              "teacher is the largest size's best finetuned cell")
        if not args.vocab.is_file():
            raise SubmitError(f"--vocab {args.vocab} does not exist")
        root, vocab, glue_dir = args.output.resolve(), args.vocab.resolve(), args.glue_dir.resolve()
        tb = tensorboard_args(args, "pretrain")  # every stage here trains

        # -- the runs: each a stage's arguments and the folder it writes
        def checkpoints(size):
            return study.pretrain_dir(root, size) / "checkpoints"

        def pretrain_args(size):
            steps = [f"total_steps={args.pretrain_steps}"] if args.pretrain_steps else []
            return ["--config", CONFIGS["pretrain"], *tb, f"data={args.data.resolve()}", f"vocab={vocab}",
                    f"model.name={size}", f"output_dir={study.pretrain_dir(root, size)}",
                    f"run_name={plan.name}-pretrain-{size}", *steps, *over["pretrain"]]

        def task_args(stage, task, output, run_name):
            return ["--config", CONFIGS[stage], *tb, f"vocab={vocab}", f"task={task}", f"data_dir={glue_dir / task}",
                    f"output_dir={output}", f"run_name={plan.name}-{run_name}"]

        def cell_args(size, cell):
            return [*task_args("finetune", cell["task"], cell_dir(study.grid_root(root, "finetune", size), cell),
                               f"{size}-{cell['task']}-{cell['cell']}"),
                    f"init={checkpoints(size)}", f"model.name={size}",
                    f"train_batch_size={cell['train_batch_size']}", f"optim.learning_rate={cell['learning_rate']}",
                    *over["finetune"]]

        pretrain_cfgs = {size: config_of("pretrain", pretrain_args(size)) for size in sizes}
        defaults = config_of("finetune", task_args("finetune", tasks[0], root, "-") + over["finetune"])
        batch_sizes = numbers(args.batch_sizes, int, "--batch-sizes") or \
            (list(BATCH_SIZES) if args.grid else [defaults.train_batch_size])
        learning_rates = numbers(args.learning_rates, float, "--learning-rates") or \
            (list(LEARNING_RATES) if args.grid else [defaults.optim.learning_rate])
        finetune = grid_plan(tasks, batch_sizes, learning_rates)
        for task in tasks:
            preflight("finetune", cell_args(sizes[0], next(c for c in finetune["cells"] if c["task"] == task)),
                      produced=("init",))

        preflight("pretrain", pretrain_args(sizes[0]))  # the corpus, once the configs are known to be good

        # -- the teacher of each task: given (DIR/<TASK>/best), finetuned here once (--teacher CKPT), or by
        #    default the largest size's best cell of its grid, linked by `bert.study teachers` once that ends
        teachers, teacher_args, distill = {}, {}, None
        picked = args.distill and not args.teacher
        if args.distill:
            teacher = args.teacher.resolve() if args.teacher else None
            folders = teacher is not None and any((teacher / task).is_dir() for task in tasks)  # --teacher DIR
            for task in tasks:
                given = next((p for p in (teacher / task / "best", teacher / task) if p.is_dir()), None) \
                    if folders else None
                if folders and not given:
                    raise SubmitError(f"--teacher {args.teacher} holds teachers for some tasks but none for {task} "
                                      f"({task}/best or {task}/)")
                teachers[task] = given or study.teacher_dir(root, task) / "best"
                if teacher and not given:
                    teacher_args[task] = [*task_args("finetune", task, study.teacher_dir(root, task), f"teacher-{task}"),
                                          f"init={teacher}", *model_args(teacher, "--teacher"), *over["finetune"],
                                          *over["teacher"]]
                    preflight("finetune", teacher_args[task])
            base = config_of("distill", task_args("distill", tasks[0], root, "-") + [f"teacher={root}"] +
                             over["distill"])
            distill = grid_plan(tasks, [base.train_batch_size], [base.optim.learning_rate])

        def distill_args(size, cell):
            task = cell["task"]
            transfer = args.transfer_data and args.transfer_data.resolve() / f"{task}.txt"
            return [*task_args("distill", task, cell_dir(study.grid_root(root, "distill", size), cell),
                               f"{size}-distill-{task}"),
                    f"teacher={teachers[task]}", f"teacher_cache={study.teacher_dir(root, task)}",
                    f"init={checkpoints(size)}", f"model.name={size}",
                    *([f"transfer_data={transfer}"] if transfer and transfer.is_file() else []), *over["distill"]]

        if distill:
            for task in tasks:
                preflight("distill", distill_args(sizes[0], next(c for c in distill["cells"] if c["task"] == task)),
                          produced=("init",) + (("teacher",) if task in teacher_args or picked else ()))

        # -- the study's plan. What each kind of run was made with is kept: the same folder with other
        #    settings would silently mix runs of both, so it is refused, naming the folders to remove
        #    (each kind's settings hold those of the runs it starts from)
        settings = {"pretrain": [str(args.data.resolve()), str(vocab), args.pretrain_steps, over["pretrain"]]}
        settings["finetune"] = [str(glue_dir), over["finetune"], settings["pretrain"]]
        settings["teacher"] = [str(args.teacher) if args.teacher else None, over["teacher"], settings["finetune"]]
        settings["distill"] = [str(args.transfer_data) if args.transfer_data else None, over["distill"],
                               settings["teacher"]]
        record = {"name": plan.name, "sizes": sizes, "tasks": tasks, "distill": args.distill,
                  "batch_sizes": batch_sizes, "learning_rates": learning_rates,
                  "pretrain_steps": {s: pretrain_cfgs[s].total_steps for s in sizes},
                  "teachers": {t: str(p) for t, p in teachers.items()},
                  "teacher_size": study.largest(sizes) if picked else None, "settings": settings}
        if (root / study.PLAN).is_file():
            before = json.loads((root / study.PLAN).read_text(encoding="utf-8"))["settings"]
            stale = [root / kind for kind in settings if before.get(kind) != settings[kind] and
                     (root / kind).is_dir() and any((root / kind).iterdir())]
            if stale:
                raise SubmitError(f"{root} holds runs made with other settings: remove {', '.join(map(str, stale))} "
                                  f"to run them again with these, or pass another --output")

        # -- what is left to run (complete runs are skipped: the same command resumes the study)
        pretrain_todo = [s for s in sizes if not study.pretrained(root, s, pretrain_cfgs[s].total_steps)["complete"]]
        teacher_todo = [t for t in teacher_args if not study.finished(study.teacher_dir(root, t))]
        grids = {"finetune": finetune, "distill": distill}
        runs = {"finetune": cell_args, "distill": distill_args}
        cells_todo = {(kind, size): [c for c in grids[kind]["cells"]
                                     if not study.finished(cell_dir(study.grid_root(root, kind, size), c))]
                      for kind in runs if grids[kind] for size in sizes}

        picking = picked and any(cells_todo[("distill", s)] for s in sizes)
        if plan.dry_run:
            dry_run(plan, args, sizes, tasks, pretrain_cfgs, pretrain_todo, teacher_todo, cells_todo, grids, runs,
                    teacher_args, pretrain_args, glue_dir, picking)
            return
        for (kind, size), _ in cells_todo.items():
            folder = study.grid_root(root, kind, size)
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(folder / GRID_PLAN, json.dumps(grids[kind], indent=2) + "\n")
        write_text_atomic(root / study.PLAN, json.dumps(record, indent=2) + "\n")

        def stage_plan(label, nodes=1):
            return dataclasses.replace(plan, name=f"{plan.name}-{label}", nodes=nodes)

        pretrain_jobs = [plan.job("pretrain", pretrain_args(s)) for s in pretrain_todo]
        teacher_jobs = [plan.job("finetune", teacher_args[t]) for t in teacher_todo]
        cell_jobs = {key: [plan.job(key[0], runs[key[0]](key[1], c)) for c in cells]
                     for key, cells in cells_todo.items() if cells}
        pick = plan.job("study", ["teachers", str(root)]) if picking else None
        summary = plan.job("study", ["summarize", str(root)])
        if plan.cluster == "slurm":
            submit_slurm(args, stage_plan, pretrain_todo, pretrain_jobs, teacher_jobs, cell_jobs, pick, summary,
                         study.largest(sizes))
            tensorboard_hint()
            return

        # -- local: pretraining, given teachers, each pretrained size's cells, the default teachers, the
        #    students; the table last
        failed = run_local(stage_plan("pretrain", plan.nodes), pretrain_jobs,
                           [f"pretraining {s}" for s in pretrain_todo], args.max_parallel)
        failed += run_local(stage_plan("teacher"), teacher_jobs, [f"teacher {t}" for t in teacher_todo],
                            args.max_parallel)
        done = {s for s in sizes if study.pretrained(root, s, pretrain_cfgs[s].total_steps)["complete"]}
        for (kind, size), jobs in sorted(cell_jobs.items(), key=lambda item: item[0][0] == "distill"):
            if kind == "distill" and pick is not None:
                run_here(pick, "linking the default teachers")
                pick = None
            if size in done:
                labels = [f"{size} {kind} {c['task']}/{c['cell']}" for c in cells_todo[(kind, size)]]
                failed += run_local(stage_plan(f"{kind}-{size}"), jobs, labels, args.max_parallel)
        run_here(summary, "the study's summary")
        total = len(pretrain_jobs) + len(teacher_jobs) + sum(map(len, cell_jobs.values()))
        if failed:
            raise SubmitError(f"{len(failed)} of {total} runs failed, named in {root / 'study_table.md'}: "
                              + "; ".join(failed))

    return run_main(build)


def submit_slurm(args, stage_plan, pretrain_todo, pretrain_jobs, teacher_jobs, cell_jobs, pick, summary,
                 teacher_size) -> None:
    """Pretraining array → per size its GLUE cells (afterok on the size's element); the teachers
    (given: finetuned at once; default: linked after the largest size's cells ended) → per size the
    students (afterok on the size's element, after the teachers) → summary (afterany: everything)."""
    def array(label, jobs, after=(), nodes=1):
        return submit_array(stage_plan(label, nodes), jobs, ",".join(after) or None, args.max_parallel,
                            tasks_per_node=None if label == "pretrain" else 1) if jobs else []

    pretrain = dict(zip(pretrain_todo, array("pretrain", pretrain_jobs, nodes=args.nodes)))
    submitted = [*pretrain.values()]
    teachers = array("teacher", teacher_jobs)
    submitted += teachers
    cells = {}
    for (kind, size), jobs in cell_jobs.items():
        if kind == "finetune":
            cells[size] = array(f"finetune-{size}", jobs, [f"afterok:{pretrain[size].job_id}"] * (size in pretrain))
            submitted += cells[size]
    taught = ["afterany:" + ":".join(array_ids(teachers))] if teachers else []
    if pick is not None:
        ended = ["afterany:" + ":".join(array_ids(cells[teacher_size]))] if cells.get(teacher_size) else []
        picked = submit(stage_plan("teachers"), pick, tasks_per_node=1, dependency=",".join(ended) or None)
        submitted.append(picked)
        taught = [f"afterok:{picked.job_id}"]
    for (kind, size), jobs in cell_jobs.items():
        if kind == "distill":
            submitted += array(f"distill-{size}", jobs, [f"afterok:{pretrain[size].job_id}"] * (size in pretrain) + taught)
    after = "afterany:" + ":".join(array_ids(submitted)) if submitted else None
    submit(stage_plan("summary"), summary, tasks_per_node=1, dependency=after)


def dry_run(plan, args, sizes, tasks, pretrain_cfgs, pretrain_todo, teacher_todo, cells_todo, grids, runs,
            teacher_args, pretrain_args, glue_dir, picking) -> None:
    """Every job with its dependencies, the pretraining array's sbatch script, and the study's cost."""
    limit = max_array_size() if plan.cluster == "slurm" else None
    world = plan.nodes * plan.devices_per_node

    def array(label, count, nodes_tasks, after):
        parts = -(-count // limit) if limit else 1
        split = f", split into {parts} arrays (MaxArraySize {limit})" if parts > 1 else ""
        par = f", {args.max_parallel} at a time" if args.max_parallel else ""
        print(f"#   {label}: {count} job(s) of {nodes_tasks}{par}{split}; after {after or 'nothing'}")

    print(f"# study {plan.name!r}: {len(sizes)} size(s) x {len(tasks)} task(s) into {args.output.resolve()}")
    print("# jobs (skipping what is complete):")
    index = {s: i for i, s in enumerate(pretrain_todo)}
    if pretrain_todo:
        array("pretrain", len(pretrain_todo), f"{plan.nodes} node(s) x {plan.devices_per_node} task(s)", None)
        for s in pretrain_todo:
            print(f"#     pretrain[{index[s]}] {s}: {pretrain_cfgs[s].total_steps or 'epochs'} steps")
    if teacher_todo:
        array(f"teacher ({', '.join(teacher_todo)})", len(teacher_todo), "1 task", None)
    big = study.largest(sizes)
    for (kind, size), cells in sorted(cells_todo.items(), key=lambda item: item[0][0] == "distill"):
        if kind == "distill" and picking:
            after = f"afterany:finetune-{big}" if cells_todo[("finetune", big)] else None
            print(f"#   teachers: 1 job linking each task's teacher, {big}'s best cell; after {after or 'nothing'}")
            picking = False
        if cells:
            after = [f"afterok:pretrain[{index[size]}]"] if size in index else []
            if kind == "distill" and (teacher_todo or not args.teacher):
                after.append("afterany:teacher" if teacher_todo else "afterok:teachers")
            array(f"{kind}-{size}", len(cells), "1 task", ",".join(after))
    print("#   summary: 1 job; after any end of every job above (afterany) → study_table.md")
    if pretrain_todo:
        print_dry_run(dataclasses.replace(plan, name=f"{plan.name}-pretrain"), plan.job("pretrain",
                      pretrain_args(pretrain_todo[0])), array=len(pretrain_todo), max_parallel=args.max_parallel)
    estimate(args, sizes, tasks, pretrain_cfgs, grids, runs, teacher_args, glue_dir, world)


def estimate(args, sizes, tasks, pretrain_cfgs, grids, runs, teacher_args, glue_dir, world) -> None:
    """FLOPs of the whole study (complete runs included) and, with --device, device-hours."""
    try:
        rows = {t: study.train_rows(glue_dir, t) for t in tasks}
    except OSError as exc:
        print(f"# no estimate: {exc}")
        return
    cells = {}  # a task's cells differ in batch and learning rate only: the same FLOPs per example
    for s in sizes:
        cells[s] = []
        for kind in (k for k in runs if grids[k]):
            for task in tasks:
                same = [c for c in grids[kind]["cells"] if c["task"] == task]
                cells[s].append((config_of(kind, runs[kind](s, same[0])), task, len(same)))
    teacher = [(config_of("finetune", a), t, 1) for t, a in teacher_args.items()]
    cost = study.cost(pretrain_cfgs, world, cells, rows, teacher)
    precision = pretrain_cfgs[sizes[0]].precision
    peak = peak_tflops(args.device, precision) if args.device else None
    rate = peak * 1e12 * args.mfu if peak else None

    def hours(flops):
        return "—" if flops is None or rate is None else f"{flops / rate / 3600:,.3g}"

    print(f"# estimate: model FLOPs (bert.flops) of every run; device-hours at {args.mfu:.0%} MFU of "
          + (f"{args.device}'s {peak:g} TFLOP/s ({precision})" if peak else
             f"an unknown peak (pass --device, one of {', '.join(PEAK_TFLOPS)})"))
    print("# size\tpretrain steps\tpretrain PFLOP\tpretrain device-h\tcells PFLOP\tcells device-h")
    for size, c in cost["sizes"].items():
        pf = "—" if c["pretrain"] is None else f"{c['pretrain'] / 1e15:,.3g}"
        print(f"# {size}\t{c['steps'] or '? (epochs, no manifest)'}\t{pf}\t{hours(c['pretrain'])}\t"
              f"{c['cells'] / 1e15:,.3g}\t{hours(c['cells'])}")
    if teacher_args:
        print(f"# teacher\t\t\t\t{cost['teacher'] / 1e15:,.3g}\t{hours(cost['teacher'])}")
    total = cost["total"]
    print(f"# total: {'unknown' if total is None else f'{total / 1e15:,.0f} PFLOP'}, "
          f"{hours(total)} device-hours; pretraining on {world} device(s) per size, cells on one each")


if __name__ == "__main__":
    sys.exit(main())
