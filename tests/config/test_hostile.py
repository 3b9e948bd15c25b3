"""Hostile input: every bad value, document or file is one line naming the culprit, exit code 2, quickly and
in little memory, whatever its class (huge, infinite, nested, aliased, duplicated, overflowing, damaged)."""
from __future__ import annotations

import time
import tracemalloc

import pytest
from conftest import make_idx_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nnintro.cli import app
from nnintro.config import load_config
from nnintro.errors import ConfigError, DataError

INT_FIELDS = ["seed", "train.epochs", "data.batch_size", "train.eval_batch_size", "data.n_samples",
              "report.examples", "scheduler.step_size", "train.early_stopping.patience", "model.hidden"]
FLOAT_FIELDS = ["optimizer.lr", "optimizer.weight_decay", "data.noise", "regularization.l1", "data.val_size",
                "optimizer.momentum", "data.test_fraction", "loss.label_smoothing", "scheduler.gamma"]


def alias_bomb(levels: int, fan: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * fan)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nname: *a{levels - 1}\n"


hostile_overrides = st.one_of(
    st.tuples(st.sampled_from(INT_FIELDS), st.integers(2**32, 10**40).map(str)),
    st.tuples(st.sampled_from(FLOAT_FIELDS), st.sampled_from([".inf", "-.inf", ".nan", "1e999", "-1e999"])),
    st.tuples(st.sampled_from(INT_FIELDS + FLOAT_FIELDS),
              st.integers(51, 5000).map(lambda depth: "[" * depth + "]" * depth)),
    st.tuples(st.sampled_from(INT_FIELDS + FLOAT_FIELDS),
              st.integers(40_000, 80_000).map(lambda n: "[" + ",".join(["1"] * n) + "]")),
)

hostile_documents = st.one_of(
    st.builds(alias_bomb, st.integers(6, 10), st.integers(7, 12)),
    st.integers(10_000, 40_000).map(lambda n: "model:\n  hidden: [" + ",".join(["1"] * n) + "]\n"),
    st.integers(51, 20_000).map(lambda depth: "name: " + "[" * depth + "]" * depth),
    st.sampled_from(["optimizer", "data", "model", "train"]).map(
        lambda section: f"{section}: {{}}\nseed: 1\n{section}: {{}}\n"),
    st.sampled_from(["lr", "momentum"]).map(lambda key: f"optimizer:\n  {key}: 0.1\n  {key}: 0.2\n"),
)


def assert_bounded_rejection(call) -> str:
    tracemalloc.start()
    started = time.process_time()  # this process's CPU: other work on the machine does not count
    try:
        with pytest.raises(ConfigError) as caught:
            call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    message = str(caught.value)
    # an unbounded expansion (an alias bomb) runs for minutes; a bounded rejection takes well under a second
    assert time.process_time() - started < 20.0
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert "\n" not in message and len(message) < 400, message[:500]
    return message


@settings(max_examples=60, deadline=None)
@given(override=hostile_overrides)
def test_hostile_overrides_are_refused_with_a_short_line(override):
    key, value = override
    message = assert_bounded_rejection(lambda: load_config(None, [f"{key}={value}"]))
    assert key.split(".")[-1] in message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_documents)
def test_hostile_config_files_are_refused_with_a_short_line(tmp_path, text):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    message = assert_bounded_rejection(lambda: load_config(str(path)))
    assert str(path) in message


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("optimizer:\n  lr: 0.1\ndata:\n  batch_size: 8\noptimizer:\n  name: sgd\n")
    with pytest.raises(ConfigError, match=r"key 'optimizer' is written twice \(lines 1 and 5\)"):
        load_config(str(path))


def test_through_the_cli_it_is_exit_2_and_one_line():
    runner = CliRunner()
    for args in (["train", "--set", "model.hidden=[99999999999999999999999]"], ["train", "--set", "seed=4294967296"],
                 ["train", "--set", "model.hidden=[1000000,1000000]"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output and "internal error" not in result.output


@pytest.mark.parametrize("offset", [0.3, 0.5, 0.8])
def test_flipped_bytes_in_a_compressed_file_name_the_file(tmp_path, offset):
    from nnintro.config import load_config as config_for
    from nnintro.datasets import load_dataset

    raw = make_idx_dataset(tmp_path / "data", n_train=300, n_test=100)
    damaged = raw / "t10k-images-idx3-ubyte.gz"
    payload = bytearray(damaged.read_bytes())
    middle = int(len(payload) * offset)
    payload[middle:middle + 100] = bytes(b ^ 0xFF for b in payload[middle:middle + 100])
    damaged.write_bytes(bytes(payload))
    config = config_for(None, ["data.dataset=mnist", f"data.root={tmp_path / 'data'}"])
    with pytest.raises(DataError) as caught:
        load_dataset(config.data, 0)
    assert "t10k-images-idx3-ubyte.gz" in str(caught.value)
