"""Experiments from one command: grid sweeps and the learning-rate range test."""
from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nnintro.commands.train import train
from nnintro.config import load_config, override_text
from nnintro.errors import ConfigError, NnintroError
from nnintro.files import read_json, write_atomic, write_csv, write_json
from nnintro.reports.stats import spread
from nnintro.reports.tables import Column, TableSpec
from nnintro.run_folder.layout import CONFIG_FILE, METRICS_FILE, NAME_PATTERN, find_finished_run
from nnintro.run_folder.run import open_run
from nnintro.training.packs import pack_config, pack_groups


def parse_grid(assignment: str) -> tuple[str, list[Any]]:
    """'optimizer.lr=0.1,0.01' -> ('optimizer.lr', [0.1, 0.01]); '[128],[256,256]' -> lists; values as YAML."""
    key, sep, values = assignment.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise ConfigError(f"--grid '{assignment}': expected KEY=V1,V2,..., e.g. optimizer.lr=0.1,0.01")
    try:
        parsed = yaml.safe_load(f"[{values}]")
    except yaml.YAMLError as err:
        raise ConfigError(f"--grid '{assignment}': values are not valid YAML") from err
    return key.strip(), parsed


@dataclass
class SweepResult:
    folder: Path
    rows: list[dict[str, Any]]  # one per grid point, ranked
    trained: int
    skipped: int
    table: TableSpec
    pictures: list[str]  # what was drawn into the folder


def _seeded_points(points: list[list[str]], base_seed: int, repeat: int) -> list[list[list[str]]]:
    """Each grid point's overrides for each repeat: seed, seed+1, ... counted from the point's own seed when
    the grid sets one (--grid seed=1,2 runs seeds 1 and 2), else from the config's."""
    seeded = []
    for point in points:
        given = [yaml.safe_load(text.partition("=")[2]) for text in point if text.partition("=")[0] == "seed"]
        first = given[-1] if given and isinstance(given[-1], int) else base_seed
        rest = [text for text in point if text.partition("=")[0] != "seed"]
        seeded.append([[*rest, f"seed={first + r}"] for r in range(repeat)])
    return seeded


def run_sweep(spec: str | None, grid: list[str], repeat: int, name: str | None, runs_root: Path,
              overrides: list[str], console: Any,
              progress: Callable[[str], None] = print, pack: bool = True) -> SweepResult:
    """Every combination of the grid (x repeat seeds) trained under runs/<sweep-name>/. Packed (the default):
    the combinations whose models differ only in per-member values (seed, lr, momentum, weight decay, L1) train
    together as the members of one run; otherwise (pack=False) each is a normal run of its own. Finished runs
    with the same config are reused, so a restarted sweep only trains what is missing."""
    axes = [parse_grid(item) for item in grid]
    base = load_config(spec, overrides)
    sweep_name = name or f"sweep-{base.run_name}"
    if not re.fullmatch(NAME_PATTERN, sweep_name):
        raise ConfigError(f"--name: must be letters, digits, '.', '_' or '-', got {sweep_name!r}")
    folder = runs_root / sweep_name
    _claim_folder(folder, {"config": spec, "grid": grid, "repeat": repeat, "overrides": overrides, "pack": pack})
    points = [[override_text(key, value) for key, value in zip((k for k, _ in axes), combo)]
              for combo in itertools.product(*(values for _, values in axes))]
    # validate the whole grid before training anything
    configs = [load_config(spec, [*overrides, *repeat_point, f"name={_slug(point) or base.run_name}"])
               for point, repeats in zip(points, _seeded_points(points, base.seed, repeat)) for repeat_point in repeats]
    if pack and base.train.members == 1 and not base.train.vary:
        jobs = [(pack_config([configs[i] for i in group], f"{base.run_name}-pack{k + 1}"), group)
                for k, group in enumerate(pack_groups(configs))]
    else:
        jobs = [(config, [i]) for i, config in enumerate(configs)]
    trained = skipped = 0
    records: list[dict[str, Any]] = [{}] * len(configs)
    for job, indices in jobs:
        run = find_finished_run(job.model_dump(mode="json"), folder)
        if run is None:
            what = (f"{len(indices)} models packed ({', '.join(sorted(job.train.vary))} per member)"
                    if len(indices) > 1 else f"{' '.join(points[indices[0] // repeat]) or 'base config'} (seed {job.seed})")
            progress(f"sweep {sweep_name}: {what}")
            run = train(job, folder, console).run_dir
            trained += 1
        else:
            skipped += 1
        for index, record in zip(indices, member_records(run)):
            records[index] = record
    rows = [_summarize(point, records[i * repeat:(i + 1) * repeat]) for i, point in enumerate(points)]
    task = open_run(run).task
    metric, sign = task.headline, -1 if task.higher_is_better[task.headline] else 1
    rows.sort(key=lambda row: (row["diverged"] == row["runs"], sign * row[f"val_{metric}_mean"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    table = _summary_table(rows, metric, f"{folder}: {trained} trained, {skipped} already finished")
    _write_summary(folder, rows, table, metric)
    pictures = ["summary.png"]
    if open_run(run).model_info.get("data_kind") == "points":
        _write_boundaries(folder, rows)
        pictures.append("boundaries.png")
    return SweepResult(folder, rows, trained, skipped, table, pictures)


def _claim_folder(folder: Path, sweep: dict[str, Any]) -> None:
    """sweep.json records what a sweep folder is for: the same sweep again continues it (finished runs are
    reused, the summary brought up to date); another sweep under the same name is refused, so its summary can
    never replace this one's."""
    record = folder / "sweep.json"
    if record.is_file():
        try:
            earlier = read_json(record)
        except NnintroError:
            earlier = None
        if earlier != sweep:
            raise ConfigError(f"--name: {folder} holds another sweep (its grid and settings are in {record}); "
                              f"choose another --name, or repeat that sweep's own command to continue it")
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_json(record, sweep)


def _write_boundaries(folder: Path, rows: list[dict[str, Any]]) -> None:
    """2-D sets: every grid point's decision boundary (its first seed's model) in one picture, best first: the
    lecture's slides of one knob (L2 strength, width) turned across its values."""
    from nnintro.datasets import load_dataset
    from nnintro.reports.classification import boundary_image
    from nnintro.reports.plots import frames_figure, save_figure
    from nnintro.run_folder.checkpoint import load_model

    frames = []
    for row in rows:
        name, _, member = row["run_dirs"].split()[0].partition("#")
        run = open_run(folder / name)
        config = load_config(str(run.path / CONFIG_FILE))
        model = load_model(run, int(member) if member else None)
        caption = f"#{row['rank']} " + row["setting"].replace(" ", "\n")  # one knob per line
        frames.append((caption, boundary_image(model, load_dataset(config.data, config.seed))))
    save_figure(frames_figure(frames, f"{folder.name}: decision boundaries, best validation first",
                              columns=min(len(frames), 4)), folder / "boundaries.png")


def member_records(run: Path) -> list[dict[str, Any]]:
    """What a run gives each model it trained: status, seed, val and test metrics, parameters and training time
    (a pack's shared time divided among its members), and where it lives (RUN, or RUN#k for member k)."""
    metrics = read_json(run / METRICS_FILE)
    members = metrics.get("members")
    if not members:
        return [{"status": metrics["status"], "seed": read_config_seed(run), "val": metrics["val"],
                 "test": metrics["test"], "params": metrics["params"], "train_seconds": metrics["train_seconds"],
                 "run": run.name}]
    share = len(members)
    return [{**member, "params": metrics["params"] // share, "train_seconds": metrics["train_seconds"] / share,
             "run": f"{run.name}#{member['member']}"} for member in members]


def _slug(point: list[str]) -> str:
    """'optimizer.lr=0.01 model.hidden=[64, 64]' -> 'lr-0.01_hidden-64-64': a readable run-name prefix."""
    def clean(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-.")

    parts = [f"{clean(key.split('.')[-1])}-{clean(value)}" for key, _, value in (p.partition("=") for p in point)]
    return "_".join(parts)[:60].strip("-._")


def _summarize(point: list[str], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over the repeats that did not diverge, of every val and test metric their task reports."""
    alive = [r for r in records if r["status"] != "diverged"] or records
    row: dict[str, Any] = {"setting": " ".join(point) or "(base config)", "runs": len(records),
                           "diverged": sum(r["status"] == "diverged" for r in records)}
    if row["diverged"] == len(records):
        row["setting"] += " (diverged)"
    for split in ("val", "test"):
        for metric in records[0][split]:
            numbers = spread([math.nan if row["diverged"] == len(records) else r[split][metric] for r in alive])
            row[f"{split}_{metric}_mean"], row[f"{split}_{metric}_std"] = numbers["mean"], numbers["std"]
    row.update({"seeds": " ".join(str(r["seed"]) for r in records), "params": records[0]["params"],
                "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in records),
                "run_dirs": " ".join(r["run"] for r in records)})
    return row


def read_config_seed(run: Path) -> int:
    """The seed a run really used, from its own config.yaml."""
    return int(yaml.safe_load((run / CONFIG_FILE).read_text())["seed"])


def _summary_table(rows: list[dict[str, Any]], metric: str, title: str) -> TableSpec:
    for row in rows:
        row["runs_text"] = f"{row['runs']}" + (f" ({row['diverged']} diverged)" if row["diverged"] else "")
    columns = [Column("rank", "rank"), Column("setting", "setting", left=True), Column("runs_text", "runs"),
               Column("seeds", "seeds", left=True)]
    for split in ("val", "test"):
        key = f"{split}_{metric}"
        repeated = any(row["runs"] > 1 for row in rows)  # no spread from a single run: say the number alone
        columns.append(Column(f"{key}_text", f"{split} {metric}" + (" (mean ± std)" if repeated else "")))
        for row in rows:
            spread = f" ± {row[key + '_std']:.2g}" if row["runs"] > 1 else ""
            row[f"{key}_text"] = (f"{row[key + '_mean']:.4g}{spread}" if math.isfinite(row[key + "_mean"])
                                  else "diverged")
    columns += [Column("val_loss_mean", "val loss", "{:.4f}"), Column("params", "params", "{:,}"),
                Column("train_seconds_mean", "train s/model", "{:.1f}")]
    return TableSpec(title, columns, rows)


def _write_summary(folder: Path, rows: list[dict[str, Any]], table: TableSpec, metric: str) -> None:
    from nnintro.reports.plots import save_figure, sweep_figure

    write_csv(folder / "summary.csv", [{"rank": row["rank"], **{k: v for k, v in row.items()
                                                                if k != "rank" and not k.endswith("_text")}} for row in rows])
    write_atomic(folder / "summary.md", table.to_markdown())
    save_figure(sweep_figure(rows, metric), folder / "summary.png")


