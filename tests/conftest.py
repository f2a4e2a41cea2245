"""Shared test fixtures: quiet MindSpore, fixture paths, small vocab files."""
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_v", "3")
FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict:
    with np.load(FIXTURES / name, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
