"""Console tables on narrow terminals: numbers and run names are never cut; text folds, or rows become blocks."""
from __future__ import annotations

import io

from rich.console import Console

from nnintro.reports.tables import Column, TableSpec, key_values

RUNS = TableSpec("2 runs", [Column("run", "run", left=True), Column("dataset", "dataset", left=True),
                            Column("model", "model", left=True), Column("val", "best val accuracy", "{:.4f}"),
                            Column("test", "test accuracy", "{:.4f}"), Column("seconds", "train s", "{:.1f}")],
                 [{"run": "digits_mlp-20261201-213750", "dataset": "digits", "model": "mlp 64-128-10 relu",
                   "val": 0.98611, "test": 0.96667, "seconds": 0.41},
                  {"run": "digits_linear-20261201-213723", "dataset": "digits", "model": "linear 64-10",
                   "val": 1.0, "test": 0.93056, "seconds": 12.3}], notes=["best val first"])


def rendered(spec: TableSpec, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(spec.to_rich())
    return console.export_text()


def test_a_wide_console_gets_the_table_with_every_header_on_one_line():
    text = rendered(RUNS, 160)
    header = next(line for line in text.splitlines() if "run" in line and "dataset" in line)
    assert all(name in header for name in ("best val accuracy", "test accuracy", "train s"))
    assert "…" not in text and "1.0000" in text and "best val first" in text


def test_a_console_narrower_than_the_numbers_lists_each_row_as_a_block():
    for width in (80, 60, 40):
        text = rendered(RUNS, width)
        assert "…" not in text, text
        for value in ("digits_mlp-20261201-213750", "digits_linear-20261201-213723", "0.9861", "0.9667",
                      "1.0000", "0.9306", "12.3", "64-128-10"):
            assert value in text, (width, value, text)
        assert max(len(line.rstrip()) for line in text.splitlines()) <= width
        lines = [line.strip() for line in text.splitlines()]
        assert any(line.startswith("test accuracy") and line.endswith("0.9667") for line in lines)


def test_text_folds_before_the_table_gives_up():
    text = rendered(RUNS, 110)  # the minimum fits; the model's words wrap, the numbers stay whole
    assert "┃" in text and "…" not in text and "0.9306" in text and "digits_linear-20261201-213723" in text


def test_a_summary_folds_long_values_instead_of_cutting_them():
    summary = key_values("", [("train time", "0.4s (89,090 samples/s)"), ("test accuracy", "0.96667")])
    text = rendered(summary, 24)
    assert "…" not in text and "0.96667" in text and "89,090" in text.replace("\n", "").replace(" ", "")


def test_at_every_width_the_numbers_and_run_names_come_out_whole():
    tables = []
    for width in range(40, 161, 3):  # through the width where the blocks give way to the table
        text = rendered(RUNS, width)
        assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= width
        for value in ("digits_mlp-20261201-213750", "digits_linear-20261201-213723", "0.9861", "0.9667",
                      "1.0000", "0.9306", "12.3", "0.4"):
            assert value in text, (width, value, text)
        tables.append("┃" in text)
    assert not tables[0] and tables[-1] and tables == sorted(tables)  # blocks when narrow, then the table


def test_a_sweeps_blocks_are_named_by_their_setting_and_keep_the_rank_inside():
    sweep = TableSpec("sweep", [Column("rank", "rank"), Column("setting", "setting", left=True),
                                Column("val", "val accuracy", "{:.4f}")],
                      [{"rank": 1, "setting": "optimizer.lr=0.1", "val": 0.98},
                       {"rank": 2, "setting": "optimizer.lr=0.01", "val": 0.66}])
    lines = [line.rstrip() for line in rendered(sweep, 30).splitlines()]
    assert "optimizer.lr=0.1" in lines and "optimizer.lr=0.01" in lines
    assert any(line.split() == ["rank", "2"] for line in lines)
    assert any(line.split() == ["val", "accuracy", "0.9800"] for line in lines)
