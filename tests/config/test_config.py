"""The config schema: defaults, overrides and one clear line for every mistake."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnintro.config import Config, load_config, packaged_config_names
from nnintro.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


def error_of(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_empty_file_is_the_offline_default(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config == Config()
    assert config.data.dataset == "digits" and config.model.kind == "mlp"
    assert config.run_name == "digits_mlp"


def test_every_packaged_config_loads_and_names_itself():
    names = packaged_config_names()
    expected = {"digits_linear", "digits_mlp", "mnist_linear", "mnist_mlp", "fashion_mnist_linear",
                "fashion_mnist_mlp", "cifar_linear", "cifar_mlp", "xor_linear", "xor_mlp"}
    assert expected <= set(names)
    for name in names:
        assert load_config(name).name == name
        assert load_config(f"{name}.yaml").name == name


def test_cifar_mlp_is_the_course_lab_network():
    config = load_config("cifar_mlp")
    assert (config.data.dataset, config.model.hidden, config.model.activation) == ("cifar10", [512, 256], "relu")


def test_set_overrides_parse_values_as_yaml(tmp_path):
    config = load_config(write(tmp_path, "optimizer: {name: sgd}"),
                         ["optimizer.lr=0.05", "train.epochs=3", "model.hidden=[32, 16]", "loss=mse"])
    assert config.optimizer.lr == 0.05 and config.optimizer.name == "sgd"
    assert config.train.epochs == 3 and config.model.hidden == [32, 16] and config.loss.name == "mse"


def test_section_shorthand_and_set_into_it(tmp_path):
    config = load_config(write(tmp_path, "loss: cross_entropy\nscheduler: cosine"), ["loss.label_smoothing=0.1"])
    assert config.loss.label_smoothing == 0.1 and config.scheduler.name == "cosine"


@pytest.mark.parametrize("text, expected", [
    ("model: {hidden: [64, -3]}", "model.hidden[1]: must be > 0, got -3"),
    ("optimizer: {lr: 0}", "optimizer.lr: must be > 0, got 0"),
    ("train: {epochs: 0}", "train.epochs: must be >= 1, got 0"),
    ("model: {activation: rleu}", "model.activation: unknown 'rleu'; did you mean 'relu'?"),
    ("data: {dataset: minst}", "data.dataset: unknown 'minst'; did you mean 'mnist'?"),
    ("loss: {name: hinge}", "loss.name: unknown 'hinge'"),
    ("optimizer: {name: adamm}", "did you mean 'adam'?"),
    ("model: {kind: cnn}", "model.kind: must be one of 'linear' or 'mlp', got 'cnn'"),
    ("modle: {}", "modle: unknown key; did you mean 'model'?"),
    ("model: {hiden: [3]}", "model.hiden: unknown key; did you mean 'hidden'?"),
    ("train: {epochs: many}", "train.epochs: "),
    ("train: {device: gpu}", "train.device: unknown device 'gpu'"),
    ("optimizer: {nesterov: true}", "optimizer.nesterov: needs name: sgd and momentum > 0"),
    ("- a\n- b", "must be a YAML mapping"),
    ("model: [1, 2", "line"),
])
def test_bad_configs_name_the_field(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def test_bad_override_is_named(tmp_path):
    assert "expected KEY=VALUE" in error_of(tmp_path, "", ("optimizer.lr",))
    assert "'seed' is a value, not a section" in error_of(tmp_path, "seed: 3", ("seed.x=1",))
    assert "seed: input should be a valid integer" in error_of(tmp_path, "", ("seed.x=1",))


def test_missing_config_lists_packaged_ones():
    with pytest.raises(ConfigError) as caught:
        load_config("mnist_mpl")
    message = str(caught.value)
    assert "'mnist_mpl' not found" in message and "did you mean 'mnist_mlp'" in message and "cifar_mlp" in message


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8))
keys = st.sampled_from(["name", "seed", "data", "model", "loss", "optimizer", "scheduler", "train", "dataset",
                        "hidden", "lr", "epochs", "kind", "activation", "batch_size", "early_stopping", "x"])
documents = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=4),
                                                              st.dictionaries(keys, children, max_size=5)),
                         max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_any_yaml_document_loads_or_fails_with_one_line(tmp_path, document):
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_config(str(path))
    except ConfigError as err:
        assert str(err) and "\n" not in str(err)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_any_text_loads_or_fails_with_one_line(tmp_path, text):
    path = tmp_path / "random.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(str(path), [])
    except ConfigError as err:
        assert str(err) and "\n" not in str(err)


@settings(max_examples=200, deadline=None)
@given(key=st.text(max_size=20), value=st.text(max_size=20))
def test_any_override_loads_or_fails_with_one_line(key, value):
    try:
        load_config(None, [f"{key}={value}"])
    except ConfigError as err:
        assert str(err) and "\n" not in str(err)


def test_a_bare_config_name_finds_the_yaml_file_beside_it(tmp_path, monkeypatch):
    from nnintro.config import load_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("train:\n  epochs: 7\n")
    assert load_config("mine").train.epochs == 7


def test_a_comma_list_without_brackets_says_how_to_write_it():
    import pytest

    from nnintro.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=r'write a list in brackets: "model.hidden=\[128,64\]"'):
        load_config(None, ["model.hidden=128,64"])
