#!/usr/bin/env bash
# Shared body of the sbatch templates: every task of the allocation runs bert.cluster.launch — the
# launch path of the submitit launchers too: task layout, device, signals (SIGUSR2 → save and
# requeue, SIGTERM → save and stop), requeue after a dead worker and the restart limit all live
# there. Usage (inside an allocation, from the repository root):
#   slurm/run_stage.sh STAGE [stage arguments …]
# Environment: PYTHON (default python3: the venv's, with the package installed — make venv),
# MAX_RESTARTS, MAX_INPLACE_RESTARTS and RENDEZVOUS_TIMEOUT (defaults: bert.cluster.launch's), LOG_DIR
# (restart records; default logs).
set -euo pipefail
cd "${BERT_HOME:-$(dirname "$0")/..}"
exec srun --kill-on-bad-exit=1 "${PYTHON:-python3}" -m bert.cluster.launch \
  ${MAX_RESTARTS:+--max-restarts "$MAX_RESTARTS"} \
  ${MAX_INPLACE_RESTARTS:+--max-inplace-restarts "$MAX_INPLACE_RESTARTS"} \
  ${RENDEZVOUS_TIMEOUT:+--rendezvous-timeout "$RENDEZVOUS_TIMEOUT"} ${LOG_DIR:+--log-dir "$LOG_DIR"} "$@"
