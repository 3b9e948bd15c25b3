"""serve's HTTP API in-process (FastAPI's test client): every endpoint and input kind, the same objects as
`nnintro predict --json`, and each bad input refused with a 4xx and one line while the server goes on."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nnintro.cli import app as cli
from nnintro.commands.serve import load_runs, safe_name
from tests.conftest import png_claiming

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from nnintro.web.app import JSON_LIMIT, UPLOAD_LIMIT, create_app  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def served(served_runs: dict[str, Path]) -> dict:
    return load_runs([served_runs[name] for name in ("digits_mlp", "digits_linear", "xor", "table")])


@pytest.fixture(scope="module")
def client(served: dict) -> TestClient:
    return TestClient(create_app(served))


def names(served: dict) -> dict[str, str]:
    return {item.run.path.name.split("-")[0]: name for name, item in served.items()}


def predict_json(*arguments: str) -> list[dict]:
    result = runner.invoke(cli, ["predict", *arguments, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def digit_png(path: Path) -> Path:
    from sklearn.datasets import load_digits

    Image.fromarray((load_digits().images[7] * 255 / 16).astype(np.uint8)).resize((40, 40)).save(path)
    return path


def test_runs_and_health_describe_what_is_served(client, served):
    assert client.get("/health").json() == {"status": "ok", "runs": 4}
    described = {run["name"]: run for run in client.get("/runs").json()}
    assert list(described) == list(served)
    kinds = {name: run["input"]["kind"] for name, run in described.items()}
    assert sorted(kinds.values()) == ["image", "image", "points", "table"]
    digits = described[names(served)["digits_mlp"]]
    assert digits["classes"] == [str(i) for i in range(10)] and digits["input"]["height"] == 8
    assert 0.5 < digits["test"]["value"] <= 1 and digits["test"]["metric"] == "accuracy"
    table = described[names(served)["tabular_mlp"]]
    assert table["targets"] == ["price"] and table["task"] == "regression"
    fields = {column["name"]: column for column in table["input"]["columns"]}
    assert fields["city"]["choices"] == ["Lyon", "Nice", "Paris"] and 30 < fields["area"]["example"] < 200


def test_the_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas id=\"pad\"" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN: it works offline in a classroom
    assert client.get("/docs").status_code == 200


def test_an_image_upload_answers_as_predict_json(client, served, tmp_path):
    image = digit_png(tmp_path / "seven.png")
    for kind in ("digits_mlp", "digits_linear"):
        run = served[names(served)[kind]].run.path
        for flags in ([], ["--center"], ["--invert", "--top-k", "10"]):
            query = {"center": "--center" in flags, "invert": "--invert" in flags, "top_k": 10 if flags[2:] else 3}
            with image.open("rb") as handle:
                answer = client.post(f"/predict/{run.name}", params=query, files={"file": ("seven.png", handle)})
            assert answer.status_code == 200
            assert answer.json() == predict_json(str(run), "seven.png", *flags)


def test_show_input_adds_the_picture_the_model_sees(client, served, tmp_path):
    image = digit_png(tmp_path / "seven.png")
    name = names(served)["digits_mlp"]
    answer = client.post(f"/predict/{name}", params={"show_input": True}, files={"file": ("a.png", image.read_bytes())})
    seen = np.array(answer.json()[0]["input"])
    assert seen.shape == (8, 8) and 0 <= seen.min() and seen.max() <= 1 and seen.max() > 0.5


def test_npy_and_json_arrays_answer_as_predict_json(client, served, tmp_path):
    run = served[names(served)["digits_mlp"]].run.path
    pixels = (np.arange(64, dtype=np.float32) % 17).reshape(1, 8, 8)
    np.save(tmp_path / "pixels.npy", pixels)
    expected = predict_json(str(run), "pixels.npy")
    upload = client.post(f"/predict/{run.name}", files={"file": ("pixels.npy", (tmp_path / "pixels.npy").read_bytes())})
    assert upload.json() == expected
    as_json = client.post(f"/predict/{run.name}", json=pixels.tolist())
    assert [{k: v for k, v in item.items()} for item in as_json.json()] == [{k: v for k, v in expected[0].items()
                                                                            if k != "file"}]


def test_table_rows_answer_as_predict_json(client, served, tmp_path):
    run = served[names(served)["tabular_mlp"]].run.path
    (tmp_path / "rows.csv").write_text("area,rooms,city\n120,3,Paris\n55.5,,Nice\n80,2,Berlin\n")
    expected = predict_json(str(run), "rows.csv")
    upload = client.post(f"/predict/{run.name}", files={"file": ("rows.csv", (tmp_path / "rows.csv").read_bytes())})
    assert upload.json() == expected
    rows = [{"area": 120, "rooms": 3, "city": "Paris"}, {"area": "55.5", "rooms": None, "city": "Nice"},
            {"area": 80, "rooms": 2, "city": "Berlin"}]
    as_json = client.post(f"/predict/{run.name}", json=rows).json()
    assert as_json == [{k: v for k, v in item.items() if k != "file"} for item in expected]
    assert as_json[2]["unseen"] == {"city": "Berlin"}
    one = client.post(f"/predict/{run.name}", json=rows[0]).json()
    assert one == as_json[:1]


def test_points_answer_as_predict_json_and_the_plane_is_a_grid(client, served, tmp_path):
    run = served[names(served)["xor_mlp"]].run.path
    np.save(tmp_path / "point.npy", np.array([2.0, -3.0], dtype=np.float32))
    expected = predict_json(str(run), "point.npy")[0]
    answer = client.post(f"/predict/{run.name}", json=[2.0, -3.0]).json()
    assert answer == [{"point": [2.0, -3.0], **{k: v for k, v in expected.items() if k != "file"}}]
    assert client.post(f"/predict/{run.name}", json={"x": [2.0, -3.0]}).json() == answer
    plane = client.get(f"/plane/{run.name}").json()
    grid = np.array(plane["class"])
    assert grid.shape == (plane["steps"], plane["steps"]) and set(np.unique(grid)) == {0, 1}
    # XOR: opposite corners agree, neighbouring corners differ (row 0 is the top, y = +limit)
    assert grid[0, 0] == grid[-1, -1] != grid[0, -1] == grid[-1, 0]


def bad_requests(served: dict, tmp_path: Path) -> list[tuple[str, dict, int, str]]:
    image_run, table_run, points_run = (names(served)[k] for k in ("digits_mlp", "tabular_mlp", "xor_mlp"))
    bomb = png_claiming(tmp_path / "bomb.png", 50_000, 50_000).read_bytes()
    wrong_shape = io.BytesIO()
    np.save(wrong_shape, np.zeros((3, 5), np.float32))
    return [
        (f"/predict/{image_run}", {"files": {"file": ("big.png", b"\0" * (UPLOAD_LIMIT + 1))}}, 413, "at most"),
        (f"/predict/{table_run}", {"content": b"{" + b" " * JSON_LIMIT + b"}", "headers": {"content-type":
                                                                                           "application/json"}}, 413, "at most"),
        (f"/predict/{image_run}", {"files": {"file": ("notes.txt", b"just text")}}, 400, "notes.txt: not a readable image"),
        (f"/predict/{image_run}", {"files": {"file": ("bomb.png", bomb)}}, 400, "decompression bomb"),
        (f"/predict/{image_run}", {"files": {"file": ("a.npy", wrong_shape.getvalue())}}, 400, "does not fit"),
        (f"/predict/{image_run}", {"files": {"other": ("a.png", b"x")}}, 400, "field 'file'"),
        ("/predict/no_such_run", {"json": [1, 2]}, 404, "no served run named 'no_such_run'"),
        (f"/predict/{image_run}", {"data": {"x": "1"}}, 415, "content type"),
        (f"/predict/{table_run}", {"content": b"{nope", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
        (f"/predict/{table_run}", {"json": {"area": 3}}, 400, "no column 'rooms'"),
        (f"/predict/{table_run}", {"json": {"area": [1], "rooms": 1, "city": "Nice"}}, 400, "column 'area'"),
        (f"/predict/{points_run}", {"json": [1, 2, 3]}, 400, "does not fit the model's input [2]"),
        (f"/predict/{points_run}", {"json": ["a", "b"]}, 400, "must be numbers"),
        (f"/predict/{points_run}", {"json": [1e40, 1]}, 400, "NaN or infinite"),
        (f"/predict/{points_run}?top_k=0", {"json": [1, 2]}, 422, "top_k"),
        (f"/plane/{image_run}", {}, 400, "not a 2-D classifier"),
    ]


def test_bad_input_is_a_4xx_with_one_line_and_the_server_goes_on(client, served, tmp_path):
    for url, request, status, words in bad_requests(served, tmp_path):
        answer = client.request("GET" if url.startswith("/plane") else "POST", url, **request)
        assert answer.status_code == status, (url, answer.text)
        message = answer.json()["error"]
        assert words in message and "\n" not in message and "nnintro-serve-" not in message, (url, message)
        assert client.get("/health").status_code == 200


def test_no_request_changes_a_run_folder(client, served, tmp_path):
    before = {p: p.stat().st_mtime_ns for item in served.values() for p in item.run.path.rglob("*")}
    test_bad_input_is_a_4xx_with_one_line_and_the_server_goes_on(client, served, tmp_path)
    image = digit_png(tmp_path / "seven.png")
    client.post(f"/predict/{names(served)['digits_mlp']}", files={"file": ("seven.png", image.read_bytes())})
    after = {p: p.stat().st_mtime_ns for item in served.values() for p in item.run.path.rglob("*")}
    assert before == after


def test_client_file_names_are_only_shown():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\seven.png") == "seven.png"
    assert safe_name("a\nb<script>.png") == "a_b_script_.png"
    assert safe_name(None) == safe_name("") == "upload"


def test_two_folders_of_one_name_are_both_served(served_runs, tmp_path):
    import shutil

    copy = tmp_path / "elsewhere" / served_runs["xor"].name
    shutil.copytree(served_runs["xor"], copy)
    both = load_runs([served_runs["xor"], copy])
    assert list(both) == [copy.name, f"{copy.name}-2"]


def test_a_busy_port_or_a_missing_extra_is_one_line(served_runs, monkeypatch):
    import socket
    import sys

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = runner.invoke(cli, ["serve", str(served_runs["xor"]), "--port", str(port)])
    assert result.exit_code == 2 and f"--port {port}: cannot listen there" in result.output
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as where the serve extra is not installed
    result = runner.invoke(cli, ["serve", str(served_runs["xor"])])
    assert result.exit_code == 2 and "pip install 'nnintro[serve]'" in result.output
    assert "Traceback" not in result.output
