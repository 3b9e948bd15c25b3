"""`nnintro export --format onnx`: onnxruntime gives what `nnintro predict` gives, from raw inputs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from typer.testing import CliRunner

from nnintro.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    result = runner.invoke(app, ["train", "--set", "train.epochs=2", "--set", "report.plots=false",
                                 "--runs-dir", str(folder)])
    assert result.exit_code == 0, result.output
    (run,) = folder.iterdir()
    return run


def test_onnx_probabilities_equal_predict(digits_run, tmp_path):
    out = tmp_path / "digits.onnx"
    result = runner.invoke(app, ["export", str(digits_run), "--out", str(out)])
    assert result.exit_code == 0 and "onnxruntime agrees" in result.output, result.output
    pixels = np.random.default_rng(0).integers(0, 17, (3, 1, 8, 8)).astype(np.float32)  # digits' raw units
    files = []
    for index, image in enumerate(pixels):
        files.append(tmp_path / f"{index}.npy")
        np.save(files[-1], image)
    predicted = json.loads(runner.invoke(app, ["predict", str(digits_run), *map(str, files), "--json",
                                               "--top-k", "10"]).stdout)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"input": pixels})[0]
    metadata = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    classes = json.loads(metadata["nnintro.task"])["classes"]
    for row, item in zip(probabilities, predicted):
        for name, probability in item["top_k"]:
            assert abs(row[classes.index(name)] - probability) < 1e-5


def test_export_never_replaces_a_file_unasked(digits_run, tmp_path):
    out = tmp_path / "model.onnx"
    out.write_text("mine")
    refused = runner.invoke(app, ["export", str(digits_run), "--out", str(out)])
    assert refused.exit_code == 2 and "--force" in refused.output and out.read_text() == "mine"


def test_a_table_trained_with_imputation_fills_nan_inside_the_graph_as_predict_fills_empty_cells(tmp_path):
    from conftest import write_table

    table = write_table(tmp_path / "houses.csv")
    result = runner.invoke(app, ["train", "-c", "tabular_mlp", "--set", f"data.path={table}", "--set", "data.target=price",
                                 "--set", "data.ignore=[name]", "--set", "data.missing=impute", "--set", "train.epochs=5",
                                 "--set", "report.plots=false", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    out = tmp_path / "houses.onnx"
    assert runner.invoke(app, ["export", str(run), "--out", str(out)]).exit_code == 0
    rows = tmp_path / "rows.csv"
    rows.write_text("area,rooms,city\n120,,Paris\n")
    (predicted,) = json.loads(runner.invoke(app, ["predict", str(run), str(rows), "--json"]).stdout)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    # area, rooms (empty: NaN), rooms was-missing (left 0: the graph sets it), city one-hot Lyon, Nice, Paris
    encoded = np.array([[120, np.nan, 0, 0, 0, 1]], np.float32)
    assert session.run(None, {"input": encoded})[0][0, 0] == pytest.approx(predicted["prediction"], rel=1e-5)
