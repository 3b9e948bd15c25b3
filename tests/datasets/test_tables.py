"""Tables read as a data scientist's real files are: every rule that keeps a table result honest, on small CSVs
written here (a category only in test rows, row numbers, dates, decimal commas, missing cells, garbage cells)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nnintro.config import validate
from nnintro.datasets import load_dataset
from nnintro.datasets.columns import ignore_hint
from nnintro.datasets.encoding import encode
from nnintro.errors import DataError


def load(path: Path, target: str, **data) -> object:
    return load_dataset(validate({"data": {"dataset": "csv", "path": str(path), "target": target, **data}}).data, 0)


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def cars(path: Path, rows: int = 200, seed: int = 0, rare_at: int = 7) -> Path:
    """mpg-like: a numeric target, a number, a category with one level ('c') held by a single car."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(rows):
        displ = rng.uniform(1.5, 6)
        fuel = "c" if i == rare_at else rng.choice(["r", "p", "e"])
        lines.append(f"{displ:.2f},{fuel},{35 - 3.5 * displ + rng.normal(0, 1):.2f}")
    return write(path, "displ,fl,hwy", lines)


def standardized(data) -> dict[str, np.ndarray]:
    mean, std = np.array(data.normalization["mean"]), np.array(data.normalization["std"])
    return {split: (data.split(split).x.numpy() - mean) / std for split in ("train", "val", "test")}


def first_row_of(path: Path, target: str, split: str) -> int:
    """The rows' splits depend on the targets and the seed alone: where a planted value will land."""
    return load(path, target).row_splits.index(split)


def test_a_category_no_training_row_has_is_no_input_and_is_listed(tmp_path):
    test_row = first_row_of(cars(tmp_path / "mpg.csv"), "hwy", "test")
    data = load(cars(tmp_path / "mpg.csv", rare_at=test_row), "hwy")
    (fuel,) = [c for c in data.inputs["columns"] if c["name"] == "fl"]
    assert data.row_splits[test_row] == "test" and "c" not in fuel["categories"]
    for values in standardized(data).values():
        assert np.abs(values).max() < 50  # no input of a million for a value the training rows never had
    assert any("'fl': 1 test row(s) hold a value never seen in training ('c')" in note for note in data.notes)


def test_rare_categories_are_pooled_and_unseen_ones_join_them(tmp_path):
    rows = [f"{i % 7},{'rare' if i == 3 else ('a' if i % 2 else 'b')},{i % 2}" for i in range(100)]
    data = load(write(tmp_path / "t.csv", "x,kind,y", rows), "y")
    (kind,) = [c for c in data.inputs["columns"] if c["name"] == "kind"]
    assert kind["categories"] == ["a", "b"] and kind["other"] is True
    import pandas as pd

    encoded = encode(pd.DataFrame({"x": [1, 2], "kind": ["rare", "never"]}), data.inputs["columns"])
    assert encoded.x[:, 1:4].tolist() == [[0, 0, 1], [0, 0, 1]] and encoded.unseen[1] == {"kind": "never"}


def test_a_column_constant_on_the_training_rows_is_left_out_and_named(tmp_path):
    def table(odd_row: int) -> Path:
        rows = [f"{i % 9},{9 if i == odd_row else 1},{(i * 7) % 3}" for i in range(60)]
        return write(tmp_path / "t.csv", "x,flag,y", rows)

    test_row = first_row_of(table(-1), "y", "test")
    data = load(table(test_row), "y")
    assert [c["name"] for c in data.inputs["columns"]] == ["x"]
    assert any("'flag' is constant (1) on the training rows: left out" in note for note in data.notes)
    from nnintro.datasets.tabular import column_fates

    config = validate({"data": {"dataset": "csv", "path": str(tmp_path / "t.csv"), "target": "y"}})
    fates = {row["column"]: row["fate"] for row in column_fates(config.data, 0)}
    assert fates["flag"] == "left out: it is constant (1) on the training rows"


@pytest.mark.parametrize("header, values", [
    ("rownames", lambda i: i + 1), ("Unnamed: 0", lambda i: i), ("id", lambda i: (i * 7919) % 100_003),
])
def test_row_numbers_and_keys_are_refused_with_the_ignore_hint(tmp_path, header, values):
    rows = [f"{values(i)},{i % 5},{i // 20}" for i in range(100)]  # sorted by the target: a key would leak it
    with pytest.raises(DataError, match=rf"column '{header}'.*{re.escape(ignore_hint(header))}"):
        load(write(tmp_path / "t.csv", f"{header},x,y", rows), "y")


def test_a_key_named_in_data_features_is_a_quantity_the_user_vouched_for(tmp_path):
    rows = [f"{(i * 7919) % 100_003},{i % 5},{i % 2}" for i in range(100)]
    data = load(write(tmp_path / "t.csv", "population,x,y", rows), "y", features=["population", "x"])
    assert [c["name"] for c in data.inputs["columns"]] == ["population", "x"]


def test_the_target_is_never_an_input(tmp_path):
    path = write(tmp_path / "t.csv", "x,y", [f"{i % 4},{i % 2}" for i in range(40)])
    with pytest.raises(DataError, match="'y' is the target"):
        load(path, "y", features=["x", "y"])


def test_duplicate_header_names_are_refused_as_written(tmp_path):
    path = write(tmp_path / "t.csv", "a,a,y", [f"{i},{i % 3},{i % 2}" for i in range(40)])
    with pytest.raises(DataError, match="column 'a' appears twice in the header"):
        load(path, "y")


def test_missing_cells_drop_refuses_to_keep_under_half_and_impute_learns_from_training_rows(tmp_path):
    rows = [f"{'' if i % 20 else i % 13},{i % 11},{(i % 11) * 2.5 + i % 3}" for i in range(400)]
    path = write(tmp_path / "t.csv", "speed,x,y", rows)
    with pytest.raises(DataError, match=r"missing values in 'speed' \(380 rows\); fill them .*data.missing=impute"):
        load(path, "y")
    with pytest.raises(DataError, match=r"drop would keep 20 of 400 rows; most are lost to 'speed' \(380 of 400"):
        load(path, "y", missing="drop")
    data = load(path, "y", missing="impute")
    assert data.task.name == "regression"  # decided from the file, not from the rows a drop would leave
    (speed,) = [c for c in data.inputs["columns"] if c["name"] == "speed"]
    train_speed = data.train.x[:, 0].numpy()
    assert speed["indicator"] is True and data.train.x[:, 1].sum() > 0.8 * len(data.train)
    present = train_speed[data.train.x[:, 1].numpy() == 0]
    assert speed["fill"] == pytest.approx(float(np.median(present)))


def test_drop_says_how_many_rows_it_keeps(tmp_path):
    rows = [f"{'' if i % 10 == 0 else i % 13},{i % 11},{i % 2}" for i in range(200)]
    data = load(write(tmp_path / "t.csv", "a,b,y", rows), "y", missing="drop")
    assert any("kept 180 of 200 rows" in note for note in data.notes)
    assert data.row_splits.count("dropped") == 20


@pytest.mark.parametrize("form, make", [
    ("%Y-%m-%d", lambda d: d.strftime("%Y-%m-%d")),
    ("%d/%m/%Y", lambda d: d.strftime("%d/%m/%Y")),
    ("%m/%d/%Y", lambda d: d.strftime("%m/%d/%Y")),
    ("%d.%m.%Y", lambda d: d.strftime("%d.%m.%Y")),
])
def test_dates_become_year_month_day_of_year_and_weekday(tmp_path, form, make):
    import datetime

    start = datetime.date(2011, 1, 1)
    rows = [f"{make(start + datetime.timedelta(days=i))},{i % 5},{i % 2}" for i in range(731)]
    data = load(write(tmp_path / "t.csv", "date,x,y", rows), "y")
    (date,) = [c for c in data.inputs["columns"] if c["name"] == "date"]
    assert date["kind"] == "date" and date["format"] == form
    assert date["parts"] == ["year", "month", "day_of_year", "day_of_week"]
    assert data.input_shape == [5]  # four date parts and x, not 731 one-hot inputs


def test_decimal_commas_are_numbers(tmp_path):
    rows = [f"{i % 7},{i * 0.5:.3f};{i % 2}".replace(".", ",").replace(",", ";", 1) for i in range(60)]
    path = write(tmp_path / "t.csv", "a;b;y", rows)
    data = load(path, "y")
    kinds = {c["name"]: c["kind"] for c in data.inputs["columns"]}
    assert kinds == {"a": "numeric", "b": "numeric"}
    assert data.train.x[:, 1].max() > 20  # 29,500 -> 29.5, not an identifier


def test_a_numeric_column_with_text_cells_names_them_and_na_values_fixes_it(tmp_path):
    rows = [f"{'T' if i % 20 == 0 else ('M' if i == 5 else i * 0.1)},{i % 2}" for i in range(100)]
    path = write(tmp_path / "t.csv", "prcp,y", rows)
    with pytest.raises(DataError, match=r"'prcp' is numeric but line 2 holds 'T' \(6 text cell\(s\): 'T' \(5\), 'M' \(1\)\)"
                                        r".*data.na_values=\[T, M\]"):
        load(path, "y")
    data = load(path, "y", na_values=["T", "M"], missing="impute")
    assert data.inputs["columns"][0]["indicator"] is True


def test_values_too_large_to_standardize_name_the_column(tmp_path):
    rows = [f"{(-1) ** i * 1e308},{i % 3},{i % 2}" for i in range(40)]
    with pytest.raises(DataError, match="column 'huge' holds values as large as 1e"):
        load(write(tmp_path / "t.csv", "huge,x,y", rows), "y")


def test_many_valued_texts_are_refused_not_one_hot_encoded(tmp_path):
    rows = [f"w{i % 300},{i % 5},{i % 2}" for i in range(3000)]
    with pytest.raises(DataError, match="'word' has 300 different texts"):
        load(write(tmp_path / "t.csv", "word,x,y", rows), "y")


def test_predict_rows_that_cannot_be_used_get_an_error_not_a_class(tmp_path):
    data = load(cars(tmp_path / "mpg.csv"), "hwy")
    import pandas as pd

    rows = pd.DataFrame({"displ": ["2.5", "abc", "inf", None], "fl": ["r", "r", "r", "r"]})
    encoded = encode(rows, data.inputs["columns"])
    assert encoded.errors[0] == []
    assert "'abc', not a number" in encoded.errors[1][0] and "beyond" in encoded.errors[2][0]
    assert encoded.errors[3] == ["no value for displ"]


def test_class_weights_balance_a_rare_class_and_metrics_see_it(tmp_path):
    import torch

    from nnintro.config import LossConfig
    from nnintro.tasks import Classification, SplitOutputs

    task = Classification(["no", "yes"]).fit(torch.tensor([0] * 90 + [1] * 10))
    weights = task.class_weights(LossConfig(class_weight="balanced"))
    assert weights.tolist() == pytest.approx([100 / 180, 100 / 20])
    always_no = SplitOutputs(torch.tensor([[1.0, 0.0]] * 10), torch.tensor([0] * 9 + [1]), torch.zeros(10))
    metrics = task.metrics(always_no)
    assert metrics["accuracy"] == pytest.approx(0.9) and metrics["balanced_accuracy"] == pytest.approx(0.5)
    assert "no better than always answering 'no'" in task.learned_nothing(metrics)


def test_folds_test_every_row_once_and_never_on_its_own_training_rows(tmp_path):
    data = load(cars(tmp_path / "mpg.csv", rows=103), "hwy", folds=5)
    folds = data.folds
    assert folds["test"].shape == (5, 103) and folds["test"].sum(0).tolist() == [1] * 103
    for member in range(5):
        train, val, test = (folds[split][member] for split in ("train", "val", "test"))
        assert not (train & test).any() and not (val & test).any() and not (train & val).any()
        assert (train | val | test).all()
    assert sorted(set(data.row_splits)) == [f"fold{k}" for k in range(1, 6)]


def test_folds_take_their_own_members_and_refuse_what_cannot_fold(tmp_path):
    from nnintro.config import ConfigError, load_config

    config = validate({"data": {"dataset": "csv", "path": "t.csv", "target": "y", "folds": 4}})
    assert config.train.members == 4 and [m.data.folds for m in config.member_configs()] == [0] * 4
    with pytest.raises(ConfigError, match="data.folds trains one member per fold"):
        load_config(None, ["data.dataset=csv", "data.path=t.csv", "data.target=y", "data.folds=4", "train.members=3"])
    with pytest.raises(DataError, match="cannot make 5 folds of at least 5"):
        load(write(tmp_path / "t.csv", "x,y", [f"{i % 4},{i % 3 * 1.5}" for i in range(20)]), "y", folds=5)


def test_a_class_is_rare_below_ten_percent_and_half_an_even_share():
    import torch

    from nnintro.tasks import Classification

    balanced = Classification([str(d) for d in range(10)]).fit(torch.cat([torch.arange(10)] * 9 + [torch.arange(9)]))
    assert balanced.rare_classes() == []  # nine of ten classes hold 10 rows, one holds 9 (9.9%): nothing rare
    skewed = Classification(["no", "yes"]).fit(torch.tensor([0] * 94 + [1] * 6))
    assert skewed.rare_classes() == ["yes"]


def test_percentages_are_numbers(tmp_path):
    rows = [f"{i % 50}%,{(i % 9) * 1.5}% ,{i % 2}" for i in range(80)]
    data = load(write(tmp_path / "t.csv", "share,rate,y", rows), "y")
    assert {c["name"]: c["kind"] for c in data.inputs["columns"]} == {"share": "numeric", "rate": "numeric"}
    assert float(data.train.x[:, 0].max()) == pytest.approx(0.49)  # 49% is 0.49
