"""Submit the data chain (bert.data.prepare): one extraction job, then the sentences + examples
stages as a Slurm job array over the shards (each task takes every N-th shard).

    python jobs/submit_prepare_data.py --input enwiki-…-pages-articles.xml.bz2 --vocab vocab.txt \
        --output data/wiki --array 8 [key=value …]
"""
import argparse
import sys

from bert.cluster.submit import Plan, add_common_arguments, run_main, stage_args, submit, submit_array


def prepare_args(args) -> list[str]:
    extra = ["--input", args.input, "--vocab", args.vocab, "--output", args.output]
    if args.build_vocab:
        extra += ["--build-vocab", str(args.build_vocab)]
    return stage_args(args, extra)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, "configs/data.yaml")
    parser.add_argument("--input", required=True, help="*.xml.bz2 dump, or sentence-per-line text")
    parser.add_argument("--vocab", required=True, help="vocab.txt (built first with --build-vocab SIZE if missing)")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--array", type=int, default=4, help="array tasks for sentences + examples")
    parser.add_argument("--build-vocab", type=int, default=0, metavar="SIZE")
    args = parser.parse_args(argv)

    def build():
        plan = Plan.from_args(args, "prepare")
        plan.devices_per_node = 1  # data tasks are single processes (wikiextractor and workers inside)
        base = prepare_args(args)
        first = submit(plan, plan.job("prepare", base + ["--stages", "extract,sentences"]))
        if plan.cluster != "slurm" and first is not None:
            first.result()
        tasks = [plan.job("prepare", base + ["--stages", "examples", "--shard-index", str(i),
                                             "--num-shards", str(args.array)])
                 for i in range(args.array)]
        after = f"afterok:{first.job_id}" if first is not None and plan.cluster == "slurm" else None
        for job in submit_array(plan, tasks, dependency=after):
            if plan.cluster != "slurm":
                job.result()

    return run_main(build)


if __name__ == "__main__":
    sys.exit(main())
