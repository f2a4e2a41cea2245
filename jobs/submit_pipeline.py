"""Submit the whole chain — data → pretraining → SST-2 finetuning (→ distillation) — as jobs
chained by `afterok` dependencies on Slurm (with --kill-on-invalid-dep=yes), or one after the
other with submitit's local executor (`--cluster local`: the README's main job, no cluster needed).

    python jobs/submit_pipeline.py --input enwiki.xml.bz2 --vocab vocab.txt --workdir outputs/run1 \
        [--nodes 2] [--sst2 data/SST-2] [--distill] [data.KEY=V …] [pretrain.KEY=V …] \
        [finetune.KEY=V …] [distill.KEY=V …]

Layout of --workdir: data/ (text, examples), pretrain/ (checkpoints), finetune/ (results.json,
best/, SST-2.tsv), distill/ (the same for the student; with --distill the finetuned model is the
teacher and the pretrained checkpoint the student, unless distill.teacher/init say otherwise);
TensorBoard under logs/<name>-<stage>.
"""
import argparse
import dataclasses
import sys
from pathlib import Path

from bert.cluster.submit import (Plan, SubmitError, add_common_arguments, run_main, split_overrides, submit,
                                 tensorboard_args, tensorboard_hint)
from bert.glue.sst2_demo import write_demo

STAGES = ("data", "pretrain", "finetune", "distill")  # the prefixes of the overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, None)
    parser.add_argument("--input", required=True, help="*.xml.bz2 dump (or sentence-per-line text)")
    parser.add_argument("--vocab", help="vocab.txt (default: <workdir>/vocab.txt, built with --build-vocab)")
    parser.add_argument("--build-vocab", type=int, default=0, metavar="SIZE", help="train a vocab of SIZE first")
    parser.add_argument("--workdir", required=True, help="folder for data, checkpoints and results")
    parser.add_argument("--sst2", help="GLUE SST-2 folder (default: a generated demo set, labelled as such)")
    parser.add_argument("--distill", action="store_true",
                        help="end with bert.distill: the finetuned model teaches the pretrained checkpoint")
    args = parser.parse_args(argv)

    def build():
        plan = Plan.from_args(args, "pipeline")
        stages = split_overrides(args.overrides, STAGES)
        if not Path(args.input).exists():
            raise SubmitError(f"input {args.input} does not exist")
        work = Path(args.workdir).resolve()
        vocab = Path(args.vocab).resolve() if args.vocab else work / "vocab.txt"
        if not args.build_vocab and not vocab.is_file():
            raise SubmitError(f"vocab {vocab} does not exist (pass --build-vocab SIZE to train one)")
        sst2 = Path(args.sst2).resolve() if args.sst2 else work / "sst2-demo"
        if not args.sst2 and not args.dry_run:
            write_demo(sst2)
        data = ["--config", "configs/data.yaml", "--input", str(Path(args.input).resolve()),
                "--vocab", str(vocab), "--output", str(work / "data"), "--build-vocab", str(args.build_vocab),
                *stages["data"]]
        jobs = [("data", plan.job("prepare", data), 1)]
        pretrain = ["--config", "configs/pretrain.yaml", *tensorboard_args(args, "pretrain"),
                    f"data={work / 'data' / 'examples'}", f"vocab={vocab}", f"output_dir={work / 'pretrain'}",
                    f"run_name={plan.name}-pretrain", *stages["pretrain"]]
        finetune = ["--config", "configs/finetune_sst2.yaml", *tensorboard_args(args, "finetune"),
                    f"init={work / 'pretrain' / 'checkpoints'}", f"vocab={vocab}", f"data_dir={sst2}",
                    f"output_dir={work / 'finetune'}", f"run_name={plan.name}-finetune", *stages["finetune"]]
        jobs += [("pretrain", plan.job("pretrain", pretrain), None),
                 ("finetune", plan.job("finetune", finetune), None)]
        if args.distill:
            distill = ["--config", "configs/distill_sst2.yaml", *tensorboard_args(args, "distill"),
                       f"teacher={work / 'finetune' / 'best'}", f"init={work / 'pretrain' / 'checkpoints'}",
                       f"vocab={vocab}", f"data_dir={sst2}",
                       f"output_dir={work / 'distill'}", f"run_name={plan.name}-distill", *stages["distill"]]
            jobs.append(("distill", plan.job("distill", distill), None))
        previous = None
        for label, job, tasks in jobs:
            after = f"afterok:{previous.job_id}" if previous is not None and plan.cluster == "slurm" else None
            stage_plan = dataclasses.replace(plan, nodes=1 if label == "data" else plan.nodes,
                                             name=f"{plan.name}-{label}")  # same folder: one place for its logs
            previous = submit(stage_plan, job, tasks_per_node=tasks, dependency=after)
            if previous is not None and plan.cluster != "slurm":
                previous.results()  # local: run the stages one after the other
                said = [line for line in (previous.stdout() or "").splitlines() if not line.startswith("submitit ")]
                print(f"{label} done: {said[-1] if said else 'see ' + str(previous.paths.stdout)}", flush=True)
        tensorboard_hint()

    return run_main(build)


if __name__ == "__main__":
    sys.exit(main())
