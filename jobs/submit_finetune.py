"""Submit GLUE finetuning (bert.finetune; SST-2 unless task=…) to Slurm — or run it with submitit's
local executor.

    python jobs/submit_finetune.py [--profile slurm-gpu] init=CKPT data_dir=data/SST-2 [key=value …]
    python jobs/submit_finetune.py init=CKPT task=MRPC data_dir=data/glue/MRPC [key=value …]

Requeued from its latest checkpoint after a timeout or a preemption. Google's batch × learning-rate
grid over one task or all nine, and the GLUE table: jobs/submit_glue.py.
"""
import sys

from bert.cluster.submit import submit_stage_main

if __name__ == "__main__":
    sys.exit(submit_stage_main("finetune", __doc__, "configs/finetune_sst2.yaml"))
