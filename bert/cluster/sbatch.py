"""The sbatch script submitit writes for a job, for `--dry-run`: job folder + sbatch options in,
the script's text out. Behind this module: submitit's private `slurm._make_sbatch_string` and the
command its jobs run (`python -u -m submitit.core._submit FOLDER`), as in submitit 1.5.4; another
version stops with one line (bert.pins). tests/golden/ holds the text this version writes."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from submitit.slurm import slurm

from bert.pins import require

TESTED = "1.5.4"


def script(folder: Path, params: dict, array: int | None = None) -> str:
    """The script `submitit.SlurmExecutor(folder)` with `params` (its update_parameters names) would
    submit; `array`: a job array of that many tasks."""
    require("submitit", TESTED, "the dry run's sbatch script (bert.cluster.sbatch)")
    command = f"{shlex.quote(sys.executable)} -u -m submitit.core._submit {shlex.quote(str(folder))}"
    return slurm._make_sbatch_string(command=command, folder=folder, map_count=array, **params)
