"""Submit MLM+NSP pretraining (bert.pretrain) to Slurm — or run it with submitit's local executor.

    python jobs/submit_pretrain.py --nodes 2 [--profile slurm-gpu] [key=value …]

One task per device on every node; requeued from its latest checkpoint after a timeout or a
preemption. Logs: logs/<name>/submitit (job output), logs/<run>/tb (TensorBoard).
"""
import sys

from bert.cluster.submit import submit_stage_main

if __name__ == "__main__":
    sys.exit(submit_stage_main("pretrain", __doc__, "configs/pretrain.yaml"))
