"""Submit MLM+NSP pretraining (bert.pretrain) to Slurm — or run it with submitit's local executor.

    python jobs/submit_pretrain.py --nodes 2 [--profile slurm-gpu] [key=value …]

One task per device on every node; requeued from its latest checkpoint after a timeout or a
preemption. Logs: logs/<name>/submitit (job output), logs/<run>/tb (TensorBoard).
"""
import argparse
import sys

from cluster import Plan, StageJob, add_common_arguments, preflight, run_main, stage_args, submit, tensorboard_hint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, "configs/pretrain.yaml")
    args = parser.parse_args(argv)

    def build():
        plan = Plan.from_args(args, "pretrain")
        job = StageJob("pretrain", stage_args(args, plan), plan.profile.env)
        preflight("pretrain", job.args)
        if submit(plan, job):
            tensorboard_hint()

    return run_main(build)


if __name__ == "__main__":
    sys.exit(main())
