"""Nothing in, the session-scoped pytest fixture `slurm` out: tools/slurm_sandbox.py's local two-node cluster.

    from slurm_fixture import slurm  # noqa: F401  (in a test module or in conftest.py)

    def test_x(slurm):
        subprocess.run(["timeout", "60", "sbatch", ...], env=slurm.env, ...)

The fixture brings the sandbox up once per session in the default directory (/tmp/slurm-sandbox;
its ports are fixed, so one sandbox runs at a time), with accounting (slurmdbd + MariaDB) so that
`sacct` and submitit's job states work, yields the `Sandbox` (`.env` for subprocess, `.status()`,
`.dir` for logs) and brings it down at the end of the session — unless it was already running
before, then it is left as it was found. The test is skipped only when this machine cannot have
the sandbox (not root, or the packages are missing and there is no apt-get or `apt-get update`
fails); any other failure, an `apt-get install` that errors included, fails the test.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from slurm_sandbox import DEFAULT_DIR, Sandbox, Unavailable  # noqa: E402


@pytest.fixture(scope="session")
def slurm():
    sandbox = Sandbox(DEFAULT_DIR, nodes=2, cpus_per_node=2, accounting=True)
    was_running = sandbox.status().running
    try:
        sandbox.up()
    except Unavailable as exc:
        pytest.skip(f"no local Slurm: {exc}")
    yield sandbox
    if not was_running:
        sandbox.down()
