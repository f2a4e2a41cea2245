"""Submit task distillation (bert.distill) to Slurm — or run it with submitit's local executor.

    python jobs/submit_distill.py [--profile slurm-gpu] teacher=FINETUNED init=STUDENT_CKPT \
        data_dir=data/SST-2 [transfer_data=sentences.txt] [key=value …]

A finetuned teacher teaches a pretrained compact student (Turc et al. 2019); requeued from its
latest checkpoint after a timeout or a preemption, the teacher's logits cached in output_dir.
"""
import sys

from bert.cluster.submit import submit_stage_main

if __name__ == "__main__":
    sys.exit(submit_stage_main("distill", __doc__, "configs/distill_sst2.yaml"))
