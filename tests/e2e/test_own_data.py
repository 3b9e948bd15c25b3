"""The user's own data: image folders and CSV tables, and regression end to end (train, eval, predict, reports)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_image_folder, png_claiming, write_table
from typer.testing import CliRunner

from nnintro.cli import app

runner = CliRunner()
QUICK = ["--set", "train.epochs=30", "--set", "report.plots=false"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def newest_run(prefix: str) -> Path:
    return max(Path("runs").glob(f"{prefix}-*"), key=lambda p: p.stat().st_mtime)


def metrics_of(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


# ---------------------------------------------------------------- image folders


def test_image_folder_trains_with_class_names_and_says_what_it_chose(tmp_path):
    photos = make_image_folder(tmp_path / "photos")
    result = invoke("train", "-c", "folder_mlp", "--set", f"data.root={photos}", "--set", "train.epochs=15")
    assert result.exit_code == 0, result.output
    assert "resized to 16x16, the most common size" in result.output and "RGB" in result.output
    assert "held out for testing" in result.output
    run = newest_run("folder_mlp")
    info = json.loads((run / "model.json").read_text())
    assert info["classes"] == ["cat", "dog", "owl"] and info["architecture"]["input_shape"] == [3, 16, 16]
    assert metrics_of(run)["test"]["accuracy"] >= 0.9
    for picture in ("confusion_matrix.png", "probabilities.png", "top_losses.png", "first_layer.png"):
        assert (run / picture).is_file()
    predicted = invoke("predict", str(run), str(photos / "owl" / "3.png"), "--json")
    assert predicted.exit_code == 0 and json.loads(predicted.output)[0]["prediction"] == "owl"


def test_second_run_reads_the_decoded_images_from_the_cache_and_notices_changes(tmp_path):
    photos = make_image_folder(tmp_path / "photos", per_class=10)
    args = ["train", "-c", "folder_linear", "--set", f"data.root={photos}", *QUICK]
    assert "from the cache" not in invoke(*args).output
    assert "from the cache" in invoke(*args).output
    (photos / "cat" / "1.png").unlink()
    again = invoke(*args)
    assert "from the cache" not in again.output and again.exit_code == 0


def test_train_test_val_folders_are_used_as_given(tmp_path):
    make_image_folder(tmp_path / "photos" / "train", per_class=12)
    make_image_folder(tmp_path / "photos" / "test", per_class=4)
    make_image_folder(tmp_path / "photos" / "val", per_class=3)
    result = invoke("train", "-c", "folder_linear", "--set", f"data.root={tmp_path / 'photos'}", *QUICK)
    assert result.exit_code == 0, result.output
    assert "36 train / 9 val / 12 test" in result.output


def test_undecodable_image_is_named_or_skipped_and_listed(tmp_path):
    photos = make_image_folder(tmp_path / "photos", per_class=10)
    (photos / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (photos / "dog" / "notes.png").write_text("%!PS-Adobe-3.0\n")  # PostScript under an image name: never decoded
    refused = invoke("train", "-c", "folder_linear", "--set", f"data.root={photos}", *QUICK)
    assert refused.exit_code == 2 and "broken.jpg" in refused.output and "data.bad_files=skip" in refused.output
    assert not Path("runs").exists()
    skipped = invoke("train", "-c", "folder_linear", "--set", f"data.root={photos}", "--set", "data.bad_files=skip",
                     *QUICK)
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 2 file(s)" in skipped.output and "broken.jpg" in skipped.output


@pytest.mark.parametrize("layout, message", [
    ("missing", "no such folder"),
    ("one_class", "only one class"),
    ("empty_class", "no images"),
    ("loose", "no class sub-folders (3 images lie there loose)"),
])
def test_bad_folders_get_one_line(tmp_path, layout, message):
    from PIL import Image

    root = tmp_path / "photos"
    if layout != "missing":
        root.mkdir()
    if layout in ("one_class", "empty_class"):
        make_image_folder(root, classes=("cat",), per_class=3) if layout == "one_class" else \
            make_image_folder(root, classes=("cat", "dog"), per_class=3)
    if layout == "empty_class":
        (root / "bird").mkdir()
    if layout == "loose":
        for i in range(3):
            Image.new("RGB", (8, 8)).save(root / f"{i}.png")
    result = invoke("train", "-c", "folder_mlp", "--set", f"data.root={root}", *QUICK)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


# ---------------------------------------------------------------- tables and regression


def test_csv_regression_in_the_targets_units_with_categories_and_missing_rows(tmp_path):
    table = write_table(tmp_path / "houses.csv")
    base = ["train", "-c", "tabular_mlp", "--set", f"data.path={table}", "--set", "data.target=price"]
    identifier = invoke(*base)
    assert identifier.exit_code == 2 and "'name' looks like an identifier" in identifier.output
    assert "data.ignore=[name]" in identifier.output
    missing = invoke(*base, "--set", "data.ignore=[name]")
    assert missing.exit_code == 2 and "'rooms' (8 rows)" in missing.output and "data.missing=drop" in missing.output
    result = invoke(*base, "--set", "data.ignore=[name]", "--set", "data.missing=drop", "--set", "train.epochs=150")
    assert result.exit_code == 0, result.output
    run = newest_run("tabular_mlp")
    info = json.loads((run / "model.json").read_text())
    assert info["task"] == "regression" and info["targets"] == ["price"]
    assert {"name": "city", "kind": "category", "categories": ["Lyon", "Nice", "Paris"]} in info["inputs"]["columns"]
    test = metrics_of(run)["test"]
    assert set(test) == {"loss", "mse", "rmse", "mae", "r2"}
    assert test["r2"] > 0.9 and test["rmse"] < 60  # price spans ~100..900: errors are in its units
    assert (run / "predicted_vs_true.png").is_file() and (run / "residuals.png").is_file()
    rows = tmp_path / "new.csv"
    rows.write_text("area,rooms,city,price\n100,2,Paris,490\n100,2,Lille,\n")
    predicted = invoke("predict", str(run), str(rows), "--json")
    assert predicted.exit_code == 0, predicted.output
    first, second = json.loads(predicted.output)
    assert first["row"] == 1 and first["true"] == 490 and abs(first["prediction"] - 490) < 80
    assert second["unseen"] == {"city": "Lille"} and "true" not in second


def test_csv_with_a_text_target_is_classification_with_every_report(tmp_path):
    table = write_table(tmp_path / "houses.csv")
    result = invoke("train", "-c", "tabular_linear", "--set", f"data.path={table}", "--set", "data.target=city",
                    "--set", "data.ignore=[name]", "--set", "data.missing=drop", "--set", "train.epochs=5")
    assert result.exit_code == 0, result.output
    run = newest_run("tabular_linear")
    assert json.loads((run / "model.json").read_text())["classes"] == ["Lyon", "Nice", "Paris"]
    assert "accuracy" in metrics_of(run)["test"] and (run / "confusion_matrix.png").is_file()


@pytest.mark.parametrize("content, override, message", [
    ("a,b\n1,2\n", "data.target=price", "data.target: no column 'price'"),
    ("price,area\n", "data.target=price", "has a header but no rows"),
    ("", "data.target=price", "file is empty"),
    ("price,area\n1,2\n2,abc\n" + "3,4\n" * 30, "data.target=price", "'area' is numeric but line 3 holds 'abc'"),
    ("price,area\n,1\n,2\n", "data.target=price", "target price is empty in every row"),
    ("price,area\ninf,1\n" + "3,4\n" * 30, "data.target=price", "target 'price' holds infinite values"),
    ("prise,area\n1,2\n", "data.target=price", "did you mean 'prise'"),
])
def test_bad_tables_get_one_line(tmp_path, content, override, message):
    table = tmp_path / "t.csv"
    table.write_text(content)
    result = invoke("train", "-c", "tabular_mlp", "--set", f"data.path={table}", "--set", override)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not Path("runs").exists()


def test_data_path_must_be_a_table(tmp_path):
    (tmp_path / "blob.csv").write_bytes(b"\x00\x01\x02binary")
    folder = invoke("train", "-c", "tabular_mlp", "--set", f"data.path={tmp_path}", "--set", "data.target=y")
    binary = invoke("train", "-c", "tabular_mlp", "--set", f"data.path={tmp_path / 'blob.csv'}", "--set", "data.target=y")
    assert folder.exit_code == 2 and "is a folder" in folder.output
    assert binary.exit_code == 2 and "binary file" in binary.output


def test_diabetes_offline_regression_eval_compare_and_lr_find():
    for config in ("diabetes_mlp", "diabetes_linear"):
        result = invoke("train", "-c", config, "--set", "train.epochs=40")
        assert result.exit_code == 0, result.output
        assert "test rmse" in result.output and "test r2" in result.output
    mlp, linear = newest_run("diabetes_mlp"), newest_run("diabetes_linear")
    assert (mlp / "predicted_vs_true.png").is_file()
    evaluated = invoke("eval", str(mlp))
    assert evaluated.exit_code == 0 and "R²" in evaluated.output
    assert json.loads((mlp / "eval" / "test" / "metrics.json").read_text())["rmse"] == pytest.approx(
        metrics_of(mlp)["test"]["rmse"], rel=1e-6)
    compared = invoke("compare", str(linear), str(mlp))
    assert compared.exit_code == 0, compared.output
    ranked = sorted([mlp, linear], key=lambda run: min(
        float(line.split(",")[5]) for line in (run / "history.csv").read_text().splitlines()[1:]))
    table = compared.output
    assert table.index(ranked[0].name) < table.index(ranked[1].name)  # lower validation rmse first
    found = invoke("lr-find", "-c", "diabetes_mlp", "--steps", "10")
    assert found.exit_code == 0 and "suggested learning rate" in found.output


def test_a_loss_that_does_not_fit_the_task_is_refused_before_a_run_exists():
    result = invoke("train", "-c", "diabetes_mlp", "--set", "loss=cross_entropy")
    assert result.exit_code == 2 and "'cross_entropy' does not fit a regression task" in result.output
    monitor = invoke("train", "-c", "diabetes_mlp", "--set", "train.early_stopping.monitor=val_accuracy")
    assert monitor.exit_code == 2 and "val_r2" in monitor.output
    assert not Path("runs").exists()


def test_california_housing_offline_says_what_is_missing(tmp_path):
    offline = invoke("train", "-c", "housing_mlp", "--set", f"data.root={tmp_path / 'nothing'}",
                     "--set", "data.download=false")
    assert offline.exit_code == 2 and "california_housing: not found" in offline.output
    assert "data.download=true" in offline.output
    failed = invoke("train", "-c", "housing_mlp", "--set", f"data.root={tmp_path / 'nothing'}")
    assert failed.exit_code == 2 and "download into" in failed.output and "data.download: false" in failed.output


def test_several_target_columns_are_one_multi_output_regression(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (200, 2))
    lines = ["x0,x1,a,b"] + [f"{u:.3f},{v:.3f},{2 * u + v:.3f},{u * v / 10:.3f}" for u, v in x]
    (tmp_path / "two.csv").write_text("\n".join(lines) + "\n")
    result = invoke("train", "-c", "tabular_mlp", "--set", f"data.path={tmp_path / 'two.csv'}",
                    "--set", "data.target=[a, b]", *QUICK)
    assert result.exit_code == 0, result.output
    run = newest_run("tabular_mlp")
    assert json.loads((run / "model.json").read_text())["targets"] == ["a", "b"]
    evaluated = json.loads(invoke("eval", str(run), "--json").stdout)
    assert set(evaluated["per_target"]) == {"a", "b"}
    (tmp_path / "rows.csv").write_text("x0,x1\n1,2\n")
    (predicted,) = json.loads(invoke("predict", str(run), str(tmp_path / "rows.csv"), "--json").stdout)
    assert set(predicted["prediction"]) == {"a", "b"}


# ---------------------------------------------------------------- tables a data scientist can trust


def _mpg_like(path: Path, rows: int = 234) -> Path:
    """The ggplot2 mpg table's shape: a row-number column, text columns, a fuel type held by one car."""
    import numpy as np

    rng = np.random.default_rng(1)
    lines = ["rownames,manufacturer,displ,cyl,fl,hwy"]
    for i in range(rows):
        displ = rng.uniform(1.6, 7)
        fuel = "c" if i == 150 else rng.choice(["r", "p", "e", "d"])
        lines.append(f"{i + 1},{rng.choice(['audi', 'ford', 'honda', 'toyota'])},{displ:.1f},{int(displ + 3)},{fuel},"
                     f"{38 - 3.2 * displ + rng.normal(0, 1.2):.0f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_real_shaped_table_trains_after_the_hints_and_stands_beside_its_references(tmp_path):
    table = _mpg_like(tmp_path / "mpg.csv")
    base = ["train", "-c", "tabular_linear", "--set", f"data.path={table}", "--set", "data.target=hwy"]
    refused = invoke(*base)
    assert refused.exit_code == 2 and "'rownames' is the row number" in refused.output
    assert 'data.ignore=[rownames]' in refused.output and not Path("runs").exists()
    result = invoke(*base, "--set", "data.ignore=[rownames]", "--set", "train.epochs=60", "--set", "report.plots=false")
    assert result.exit_code == 0, result.output
    assert "references on the same rows, test rmse: mean" in result.output
    run = newest_run("tabular_linear")
    metrics = metrics_of(run)
    baselines = metrics["baselines"]
    assert set(baselines) == {"mean", "linear", "gradient_boosting"}
    assert set(baselines["linear"]["test"]) == set(metrics["test"]) and baselines["linear"]["seconds"] >= 0
    assert metrics["test"]["rmse"] < 1.5 * baselines["linear"]["test"]["rmse"]  # same rows, same order of error
    assert metrics["test"]["rmse"] < baselines["mean"]["test"]["rmse"]
    splits = (run / "splits.csv").read_text().splitlines()
    assert splits[0] == "row,split" and len(splits) == 235
    counts = {name: sum(line.endswith(f",{name}") for line in splits) for name in ("train", "val", "test")}
    assert counts["test"] == round(234 * 0.2) and sum(counts.values()) == 234
    rows = tmp_path / "new.csv"
    rows.write_text("manufacturer,displ,cyl,fl\naudi,2.0,4,r\naudi,abc,4,r\nford,inf,8,r\n")
    good, garbage, infinite = json.loads(invoke("predict", str(run), str(rows), "--json").stdout)
    assert 20 < good["prediction"] < 40
    for row in (garbage, infinite):
        assert "error" in row and "prediction" not in row and "probability" not in row


def test_show_lists_every_column_before_anything_trains(tmp_path):
    table = _mpg_like(tmp_path / "mpg.csv")
    shown = invoke("show", "--set", "data.dataset=csv", "--set", f"data.path={table}", "--set", "data.target=hwy")
    assert shown.exit_code == 0, shown.output
    for expected in ("rownames", "identifier -> refused", "manufacturer", "category, 4 levels", "target"):
        assert expected in shown.output
    assert not Path("runs").exists()


def test_an_imbalanced_table_warns_and_can_weight_its_classes(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    y = np.where(x[:, 0] + 0.3 * rng.normal(size=600) > 1.6, "yes", "no")  # about 6% yes
    lines = ["a,b,answer"] + [f"{u:.3f},{v:.3f},{c}" for (u, v), c in zip(x, y)]
    (tmp_path / "rare.csv").write_text("\n".join(lines) + "\n")
    base = ["train", "-c", "tabular_mlp", "--set", f"data.path={tmp_path / 'rare.csv'}", "--set", "data.target=answer",
            *QUICK]
    plain = invoke(*base)
    assert plain.exit_code == 0 and "1 rare class" in plain.output and "test recall yes" in plain.output
    weighted = invoke(*base, "--set", "loss.class_weight=balanced")
    assert weighted.exit_code == 0, weighted.output
    recall = {name: [metrics_of(run)["test"]["balanced_accuracy"]] for name, run in
              (("plain", sorted(Path("runs").glob("tabular_mlp-*"))[0]), ("weighted", newest_run("tabular_mlp")))}
    assert recall["weighted"][0] >= recall["plain"][0] - 0.02
    regression = invoke("train", "-c", "diabetes_linear", "--set", "loss.class_weight=balanced")
    assert regression.exit_code == 2 and "loss.class_weight" in regression.output


def test_folds_report_out_of_fold_scores_and_eval_agrees(tmp_path):
    table = _mpg_like(tmp_path / "mpg.csv", rows=120)
    result = invoke("train", "-c", "tabular_linear", "--set", f"data.path={table}", "--set", "data.target=hwy",
                    "--set", "data.ignore=[rownames]", "--set", "data.folds=4", *QUICK)
    assert result.exit_code == 0, result.output
    assert "120 rows in 4 folds" in result.output and "out of fold" in result.output
    run = newest_run("tabular_linear")
    metrics = metrics_of(run)
    assert metrics["folds"] == 4 and len(metrics["members"]) == 4
    assert set(metrics["summary"]["test"]["rmse"]) == {"mean", "std", "min", "max"}
    assert set(metrics["baselines"]["linear"]["test"]) == set(metrics["test"])
    evaluated = json.loads(invoke("eval", str(run), "--json").stdout)
    assert evaluated["rmse"] == pytest.approx(metrics["test"]["rmse"], rel=1e-5)
    assert evaluated["samples"] == 120  # every row once, each by the member that never trained on it
    one = json.loads(invoke("eval", str(run), "--json", "--member", "1").stdout)
    assert one["rmse"] == pytest.approx(metrics["members"][1]["test"]["rmse"], rel=1e-5) and one["samples"] == 30


def test_a_bomb_in_a_folder_is_named_and_skipped_on_request(tmp_path):
    root = make_image_folder(tmp_path / "photos", per_class=10)
    png_claiming(root / "cat" / "huge.png", 20_000, 20_000)
    refused = invoke("train", "-c", "folder_linear", "--set", f"data.root={root}", *QUICK)
    assert refused.exit_code == 2 and "huge.png" in refused.output and "data.bad_files=skip" in refused.output
    skipped = invoke("train", "-c", "folder_linear", "--set", f"data.root={root}", "--set", "data.bad_files=skip",
                     *QUICK)
    assert skipped.exit_code == 0 and "skipped 1 file(s)" in skipped.output, skipped.output


@pytest.mark.parametrize("tamper", ["pixels", "labels", "metadata"])
def test_a_tampered_image_cache_is_noticed_and_decoded_again(tmp_path, tamper):
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    root = make_image_folder(tmp_path / "photos", per_class=8)
    args = ["train", "-c", "folder_linear", "--set", f"data.root={root}", *QUICK]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    (cache,) = (tmp_path / "cache" / "folders").rglob("*.safetensors")
    with safe_open(str(cache), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        meta = json.loads(handle.metadata()["nnintro"])
    if tamper == "pixels":  # same shapes, other contents
        tensors["x"] = 255 - tensors["x"]
    elif tamper == "labels":
        tensors["y"] = torch.full_like(tensors["y"], 99)
        meta["checksum"] = None
    else:
        meta = {"checksum": meta["checksum"]}
    save_file(tensors, str(cache), metadata={"nnintro": json.dumps(meta)})
    again = invoke(*args)
    assert again.exit_code == 0 and "internal error" not in again.output, again.output
    assert "was not used" in again.output and "decoded again" in again.output
    assert metrics_of(newest_run("folder_linear"))["test"] == metrics_of(sorted(Path("runs").glob("folder_linear-*"))[0])["test"]


@pytest.mark.parametrize("link", ["root", "twin"])
def test_a_class_folder_that_links_back_or_twice_is_refused(tmp_path, link):
    root = make_image_folder(tmp_path / "photos", per_class=6)
    (root / "again").symlink_to(root if link == "root" else root / "cat", target_is_directory=True)
    result = invoke("train", "-c", "folder_linear", "--set", f"data.root={root}", *QUICK)
    assert result.exit_code == 2 and ("links back" if link == "root" else "same folder") in result.output
