"""tools/glue_notebook.ipynb runs top to bottom (nbclient, a real Jupyter kernel): it finetunes on a
generated set, plots the dev curve and finds what the run measured when it asks the model itself."""
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)


def test_the_notebook_runs_and_agrees_with_its_run(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_WORK", str(tmp_path))
    monkeypatch.setenv("GLOG_v", "3")
    notebook = nbformat.read(REPO / "tools" / "glue_notebook.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    text = [o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    summary = json.loads(text[-1].strip().splitlines()[-1])
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert summary["task"] == "SST-2" and summary["best_step"] == results["best_step"]
    assert summary["dev_metrics"]["accuracy"] == pytest.approx(results["best_dev"]["dev"]["accuracy"])
    assert summary["mistakes"] == round((1 - summary["dev_metrics"]["accuracy"]) * 100)  # 100 dev examples
    assert (tmp_path / "dev_curve.png").stat().st_size > 10_000
    assert os.path.isdir(tmp_path / "logs" / "notebook" / "tb")
    assert "generated" in "".join(text)  # the generated set says so
