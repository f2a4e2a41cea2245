"""Submit GLUE finetuning (bert.finetune; SST-2 unless task=…) to Slurm — one run, or Google's grid
as a job array.

    python jobs/submit_finetune.py [--profile slurm-gpu] init=CKPT data_dir=data/SST-2 [key=value …]
    python jobs/submit_finetune.py init=CKPT task=MRPC data_dir=data/glue/MRPC [key=value …]
    python jobs/submit_finetune.py --grid [--batch-sizes 16,32] [--learning-rates 1e-4,5e-5] init=CKPT …

The grid (batch 8/16/32/64/128 × lr 3e-4/1e-4/5e-5/3e-5 by default) runs each cell into
<output_dir>/<cell>/, then a dependent job writes <output_dir>/grid_summary.{md,json}.
"""
import argparse
import sys

from cluster import (Plan, SubmitError, add_common_arguments, preflight, run_main, stage_args,
                     submit, submit_array, tensorboard_hint)


def numbers(text: str, kind):
    try:
        return [kind(x) for x in text.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, "configs/finetune_sst2.yaml")
    parser.add_argument("--grid", action="store_true", help="submit the batch × learning-rate grid as an array")
    parser.add_argument("--batch-sizes", type=lambda t: numbers(t, int), help="grid subset, e.g. 16,32")
    parser.add_argument("--learning-rates", type=lambda t: numbers(t, float), help="grid subset, e.g. 1e-4,5e-5")
    args = parser.parse_args(argv)

    def build():
        plan = Plan.from_args(args, "finetune")
        preflight("finetune", stage_args(args))
        if not args.grid:
            if submit(plan, plan.job("finetune", stage_args(args))):
                tensorboard_hint()
            return
        from bert.config import parse_overrides
        from bert.grid import BATCH_SIZES, LEARNING_RATES, cell_name, cells

        base = parse_overrides(args.overrides).get("output_dir", "outputs/finetune/grid")
        grid = cells(args.batch_sizes or BATCH_SIZES, args.learning_rates or LEARNING_RATES)
        jobs = submit_array(plan, [
            plan.job("finetune", stage_args(args) + [
                f"train_batch_size={batch}", f"optim.learning_rate={lr}", f"output_dir={base}/{cell_name(batch, lr)}",
                f"run_name={plan.name}-{cell_name(batch, lr)}"]) for batch, lr in grid])
        if plan.dry_run:
            return
        if plan.cluster == "slurm":
            after = "afterany:" + ":".join(str(j.job_id) for j in jobs)
            submit(plan, plan.job("grid-summary", ["summarize", str(base)]), tasks_per_node=1, dependency=after)
        else:
            for job in jobs:
                job.results()
            summary = plan.job("grid-summary", ["summarize", str(base)])
            if summary() != 0:
                raise SubmitError("grid summary failed")
        tensorboard_hint()

    return run_main(build)


if __name__ == "__main__":
    sys.exit(main())
