"""The scheduler side, the only part of the package that knows Slurm: the one launch path both
doors run (`launch`: a task's rank layout, device, signals, requeue), the submitit launchers'
machinery (`submit`: cluster profiles, executors, dry runs) and submitit's sbatch writer behind a
version check (`sbatch`)."""
