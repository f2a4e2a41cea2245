"""Write-then-rename helpers: nothing half-written ever carries its final name."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path


def temporary_sibling(path: str | os.PathLike) -> Path:
    """A hidden name next to `path`, unique to this process."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Remove what killed writers of `path` left (their temporary siblings, any pid): for outputs
    that one task owns, such as a data shard, whose earlier attempt was killed or preempted."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.tmp*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to a temporary sibling, then rename it over `path`."""
    tmp = temporary_sibling(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def atomic_directory(path: str | os.PathLike):
    """Yield a temporary directory; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    tmp = temporary_sibling(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.with_name(f".{path.name}.old{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
