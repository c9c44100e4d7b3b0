"""The notebooks run (smoke mode) and are committed with real outputs.

Each notebook reads `KGAN_SMOKE=1` and then trains for a handful of steps,
so the suite executes every cell (nbclient) in about a minute and the
notebooks cannot rot. The committed files must keep the outputs of a full
run: a notebook saved with cleared outputs fails here.
"""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob(
    "*.ipynb"
))  # fmt: skip


def test_the_three_notebooks_exist():
    names = [path.name for path in NOTEBOOKS]
    assert names == [
        "01_quickstart.ipynb",
        "02_selfmod_vs_bn.ipynb",
        "03_ogan.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_with_outputs_of_a_full_run(path):
    notebook = nbformat.read(path, as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, f"{path.name}: a code cell was not run"
    assert counts == sorted(counts), f"{path.name}: cells run out of order"
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    text = "".join(o.get("text", "") for o in outputs)
    # The first cell prints the mode: the committed outputs are a full run.
    assert "full run:" in text and "smoke run:" not in text


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_smoke_mode(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("KGAN_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    outputs = [o for c in notebook.cells if c.cell_type == "code"
               for o in c.outputs]  # fmt: skip
    assert any("image/png" in o.get("data", {}) for o in outputs)
    text = "".join(o.get("text", "") for o in outputs)
    assert "smoke run: 8 training steps" in text
