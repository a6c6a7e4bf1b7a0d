"""examples/notebook.ipynb runs headless, top to bottom, against a copy of the project."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbclient import NotebookClient
from onepipe_testkit import REPO, copy_project


@pytest.mark.slow
def test_notebook_executes_every_cell(tmp_path):
    root = copy_project(tmp_path / "proj")
    (root / "examples").mkdir()
    shutil.copy2(REPO / "examples/notebook.ipynb", root / "examples/notebook.ipynb")
    nb = nbformat.read(root / "examples/notebook.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(root / "examples")}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/plain", o.get("text", ""))) for o in outputs)
    assert "roc_auc" in text and "('train', 'done')" in text
