"""The README's "From Python / Jupyter" example runs as written, and the run object does what it says."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import nnintro
from nnintro.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_documented_example_runs():
    section = README.read_text().split("## From Python / Jupyter", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    run, table = namespace["run"], namespace["table"]
    assert run.path.name.startswith("digits_linear-") and len(run.history) == 5
    assert run.history.index.name == "epoch" and "val/accuracy" in run.history.columns
    assert [p["prediction"] for p in run.predict(namespace["digits"].images[:3])] == ["0", "1", "2"]
    assert type(namespace["figure"]).__name__ == "Figure"
    assert table.metrics["test"]["rmse"] > 0 and namespace["again"].metrics == run.metrics


def test_short_names_must_be_unambiguous_and_values_are_python_values():
    with pytest.raises(ConfigError, match="scheduler.patience, train.early_stopping.patience"):
        nnintro.train("digits_mlp", patience=3)
    run = nnintro.train("digits_mlp", epochs=1, hidden=[16, 8], overrides={"report.plots": False})
    assert run.config.model.hidden == [16, 8] and run.metrics["epochs_run"] == 1


def test_the_documented_from_scratch_network_runs():
    section = README.read_text().split("## From Python / Jupyter", 1)[1].split("\n## ", 1)[0]
    code = next(block for block in re.findall(r"```python\n(.*?)```", section, re.S) if "nnintro.models.scratch" in block)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert float(namespace["outputs"][0, 0]) == pytest.approx(0.2947, abs=1e-4)
    assert float(namespace["losses"][0]) == pytest.approx(0.4974, abs=1e-4)
    net = namespace["net"]  # the step moved the output towards the target
    assert float(net.forward(np.array([[1.0, 0.0]]))[0, 0]) > 0.2947


def test_in_a_real_kernel_the_run_prints_its_summary_and_shows_figures_pictures_and_tables(tmp_path):
    """What a student sees in Jupyter, checked in a real kernel (nbclient + ipykernel), not by calling functions."""
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "import nnintro\nrun = nnintro.train('digits_mlp', epochs=2)",
        "figure = run.plot_curves()\nfigure",
        "run.picture('confusion_matrix')",
        "run.evaluate('val')",
        "try:\n    nnintro.train('digits_mlp', epochz=3)\nexcept Exception as err:\n    print(err)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [cell.outputs for cell in notebook.cells]
    printed = "".join(out.get("text", "") + out.get("data", {}).get("text/plain", "") for out in outputs[0])
    assert "test accuracy" in printed and "next: run.evaluate()" in printed
    for index in (1, 2):  # the figure and the run folder's picture display as images, not as "<Figure ...>"
        assert any("image/png" in out.get("data", {}) for out in outputs[index]), outputs[index]
    assert sum("image/png" in out.get("data", {}) for out in outputs[1]) == 1  # once, not twice
    assert any("text/html" in out.get("data", {}) and "<table>" in out["data"]["text/html"] for out in outputs[3])
    assert "did you mean epochs=" in "".join(out.get("text", "") for out in outputs[4]), outputs[4]
