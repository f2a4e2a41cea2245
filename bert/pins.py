"""Other packages' private APIs this project relies on, each used behind one small module that
calls `require` first: bert.data.mindrecord_writer (MindSpore's C++ MindRecord writer) and
bert.cluster.sbatch (submitit's sbatch writer). A version other than the tested one stops the
process with one line instead of failing somewhere inside."""
from __future__ import annotations

from importlib import metadata


class UntestedVersion(SystemExit):
    """An installed package differs from the version whose private API was tested; exits 1."""


def require(distribution: str, tested: str, user: str) -> None:
    """Stop unless `distribution` is installed at version `tested`; `user` names what needs it."""
    installed = metadata.version(distribution)
    if installed != tested:
        raise UntestedVersion(f"error: {user} relies on a private API of {distribution} {tested}, but {distribution} "
                              f"{installed} is installed: pip install {distribution}=={tested} (requirements.txt)")
