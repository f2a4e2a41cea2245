#!/usr/bin/env bash
# Shared body of the sbatch templates: every task of the allocation runs jobs/launch.py — the
# launch path of the submitit launchers too: task layout, device, signals (SIGUSR2 → save and
# requeue, SIGTERM → save and stop), requeue after a dead worker and the restart limit all live
# there. Usage (inside an allocation, from the repository root):
#   slurm/run_stage.sh STAGE [stage arguments …]      MAX_RESTARTS (default 3), PYTHON (default python3)
set -euo pipefail
cd "${BERT_HOME:-$(dirname "$0")/..}"
exec srun --kill-on-bad-exit=1 "${PYTHON:-python3}" jobs/launch.py --max-restarts "${MAX_RESTARTS:-3}" "$@"
