"""Nothing in, the session-scoped pytest fixture `slurm` out (tools/slurm_sandbox.py's local two-node
cluster), plus `job_fields` and `wait_job` for tests that submit to it.

    from slurm_fixture import slurm  # noqa: F401  (in a test module or in conftest.py)

    def test_x(slurm):
        subprocess.run(["timeout", "60", "sbatch", ...], env=slurm.env, ...)
        wait_job(slurm, job_id)["JobState"] == "COMPLETED"

The fixture brings the sandbox up once per session in the default directory (/tmp/slurm-sandbox;
its ports are fixed, so one sandbox runs at a time), with accounting (slurmdbd + MariaDB) so that
`sacct` and submitit's job states work, yields the `Sandbox` (`.env` for subprocess, `.status()`,
`.dir` for logs) and brings it down at the end of the session — unless it was already running
before, then it is left as it was found. The test is skipped only when this machine cannot have
the sandbox (not root, or the packages are missing and there is no apt-get or `apt-get update`
fails); any other failure, an `apt-get install` that errors included, fails the test.
"""
import time

import pytest

from slurm_sandbox import DEFAULT_DIR, Sandbox, Unavailable  # tools/slurm_sandbox.py (pythonpath in pyproject.toml)

FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


@pytest.fixture(scope="session")
def slurm():
    sandbox = Sandbox(DEFAULT_DIR, nodes=2, cpus_per_node=2, accounting=True, gpu_nodes=1)
    was_running = sandbox.status().running
    try:
        sandbox.up()
    except Unavailable as exc:
        pytest.skip(f"no local Slurm: {exc}")
    yield sandbox
    if not was_running:
        sandbox.down()


def job_fields(sandbox, job_id) -> dict[str, str]:
    """`scontrol show job` of one job as a dict (JobState, Restarts, NodeList, …)."""
    run = sandbox.client("scontrol", "show", "job", "-o", str(job_id))
    assert run.returncode == 0, run.stderr
    return dict(item.split("=", 1) for item in run.stdout.split() if "=" in item)


def wait_job(sandbox, job_id, deadline_s=600, requeue_now=True) -> dict[str, str]:
    """Poll until the job ends; a requeued job is started after 3 s instead of Slurm's ~120 s.

    Not at once: slurmd refuses a launch whose credential is from the same second as the requeue
    that revoked the job's old one ("Job credential revoked"), and the job then ends FAILED.
    """
    deadline = time.monotonic() + deadline_s
    held_since = None
    while (fields := job_fields(sandbox, job_id))["JobState"] not in FINISHED:
        assert time.monotonic() < deadline, f"job {job_id} still {fields['JobState']} after {deadline_s} s"
        if requeue_now and fields["JobState"] == "PENDING" and fields.get("Reason") == "BeginTime":
            held_since = held_since or time.monotonic()
            if time.monotonic() - held_since >= 3:
                sandbox.client("scontrol", "update", f"JobId={job_id}", "StartTime=now")
                held_since = None
        time.sleep(0.5)
    return fields
