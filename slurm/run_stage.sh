#!/usr/bin/env bash
# Shared body of the sbatch templates: run one stage through jobs/launch.py on every task of the
# allocation (srun), pass SIGUSR2/SIGTERM from Slurm on to the workers (which save at the next
# step boundary), and requeue the job when it was stopped that way. Usage (inside an allocation):
#   slurm/run_stage.sh STAGE [stage arguments …]
set -euo pipefail
cd "${BERT_HOME:-$(dirname "$0")/..}"
PYTHON="${PYTHON:-python3}"
stop_requested=0
forward() {
  stop_requested=1
  if [[ -n "${step_pid:-}" ]]; then kill -s "$1" "$step_pid" 2>/dev/null || true; fi
}
trap 'forward USR2' USR2
trap 'forward TERM' TERM
srun --kill-on-bad-exit=1 "$PYTHON" jobs/launch.py "$@" &
step_pid=$!
status=0
while true; do  # `wait` returns early when a trapped signal arrives: wait again for srun itself
  wait "$step_pid" && status=0 || status=$?
  kill -0 "$step_pid" 2>/dev/null || break
done
if [[ "$stop_requested" == 1 && "$status" == 0 ]]; then
  echo "stopped by a signal after saving: requeueing job ${SLURM_JOB_ID}"
  scontrol requeue "${SLURM_JOB_ID}"
fi
exit "$status"
