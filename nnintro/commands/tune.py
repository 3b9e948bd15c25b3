"""`nnintro tune`: a hyperparameter search on Optuna (the `tune` extra). The sampler learns where to look (TPE by
default), the pruner stops trials that will not win, trials that share a model's shape train together as the
members of one pack, and the study lives in an Optuna storage, so any number of workers (processes or machines)
share it. At the end the best points are trained again on fresh seeds, beside the config's own default, and
reported with mean ± std and the 95% confidence interval of their differences."""
from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnintro.commands.train import TrainingInterrupted, train
from nnintro.config import Config, leaf_paths, load_config, override_text
from nnintro.errors import ConfigError, InputError, NnintroError, did_you_mean
from nnintro.files import read_json, write_atomic, write_csv, write_json
from nnintro.reports.stats import difference, spread
from nnintro.reports.tables import Column, TableSpec
from nnintro.run_folder.layout import METRICS_FILE, NAME_PATTERN, find_finished_run
from nnintro.training.packs import pack_config, pack_groups

INSTALL_HINT = "nnintro tune needs the tune extra: pip install 'nnintro[tune]' (or pip install -e \".[tune]\")"
KINDS = ("log", "uniform", "int", "logint", "choice")
SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "halving", "none")
# what a trial may not change: the data it is judged on, the seed (tuning it is tuning luck), how it is run
FIXED = ("name", "seed", "train.members", "train.vary", "train.device", "train.engine", "train.compile",
         "train.early_stopping.monitor", "report.", "tensorboard.", "tune.", "train.epochs")
DATA_TUNABLE = ("data.batch_size", "data.augment.")
STUDY_FILE = "study.db"
RECORD_FILE = "tune.json"
HEARTBEAT_SECONDS = 10


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as err:
        raise InputError(INSTALL_HINT) from err
    import warnings

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # ask/tell with heartbeats is what packing needs; Optuna marks both as experimental or unusual
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    return optuna


# ---------------------------------------------------------------- the search space


@dataclass(frozen=True)
class Dimension:
    """One searched field: log(a, b) and uniform(a, b) floats, int(a, b) and logint(a, b) integers, choice(...)."""

    field: str
    kind: str
    values: tuple[Any, ...]

    @property
    def text(self) -> str:
        return f"{self.kind}({', '.join(json.dumps(v) for v in self.values)})"

    def suggest(self, trial: Any) -> Any:
        low, high = (self.values + (None, None))[:2]
        if self.kind == "choice":  # Optuna's choices are plain scalars: lists travel as their JSON text
            return json.loads(trial.suggest_categorical(self.field, [json.dumps(v) for v in self.values]))
        if self.kind in ("int", "logint"):
            return trial.suggest_int(self.field, int(low), int(high), log=self.kind == "logint")
        return trial.suggest_float(self.field, float(low), float(high), log=self.kind == "log")


def _literals(text: str) -> list[Any]:
    """The arguments of a distribution: Python literals (1e-4, [64, 64], 'relu'), or YAML for bare words."""
    try:
        return list(ast.literal_eval(f"[{text}]"))
    except (ValueError, SyntaxError):
        try:
            parsed = yaml.safe_load(f"[{text}]")
        except yaml.YAMLError:
            parsed = None
        if not isinstance(parsed, list):
            raise ConfigError(f"cannot read the values '{text}'") from None
        return parsed


def parse_dimension(assignment: str) -> Dimension:
    """'optimizer.lr=log(1e-4,1e-1)' -> Dimension; a malformed one is one line naming what is wrong."""
    where = f"--space '{assignment}'"
    match = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*=\s*([a-z]+)\s*\((.*)\)\s*", assignment, re.S)
    if not match:
        raise ConfigError(f"{where}: expected FIELD=KIND(...), e.g. optimizer.lr=log(1e-4,1e-1) "
                          f"(kinds: {', '.join(KINDS)})")
    name, kind, inner = match.groups()
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown kind '{kind}'{did_you_mean(kind, KINDS)} (valid: {', '.join(KINDS)})")
    try:
        values = _literals(inner)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    if kind == "choice":
        if not values:
            raise ConfigError(f"{where}: choice needs at least one value")
        if len({json.dumps(v, sort_keys=True) for v in values}) < len(values):
            raise ConfigError(f"{where}: a value is listed twice")
        return Dimension(name, kind, tuple(values))
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    if len(values) != 2 or not numeric:
        raise ConfigError(f"{where}: {kind} takes two finite numbers, low and high, e.g. {kind}(1, 10)")
    low, high = values
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    if kind in ("log", "logint") and low <= 0:
        raise ConfigError(f"{where}: a log range must start above 0 (got {low})")
    if kind in ("int", "logint") and not (float(low).is_integer() and float(high).is_integer()):
        raise ConfigError(f"{where}: {kind} takes whole numbers (got {low}, {high})")
    return Dimension(name, kind, (low, high))


def check_space(dimensions: list[Dimension], spec: str | None, overrides: list[str]) -> None:
    """Every field exists, may be tuned, and takes every value its distribution can give (validated as --set)."""
    fields = sorted({path for paths in leaf_paths(Config).values() for path in paths})
    seen: set[str] = set()
    for dimension in dimensions:
        name = dimension.field
        where = f"--space {name}"
        if name in seen:
            raise ConfigError(f"{where}: given twice")
        seen.add(name)
        if name not in fields:
            raise ConfigError(f"{where}: no such config field{did_you_mean(name, fields)}")
        fixed = any(name == f or (f.endswith(".") and name.startswith(f)) for f in FIXED)
        if fixed or (name.startswith("data.") and not any(name == f or (f.endswith(".") and name.startswith(f))
                                                           for f in DATA_TUNABLE)):
            raise ConfigError(f"{where}: cannot be searched: every trial must be trained and judged on the same "
                              f"data, seed and setup (searchable: model.*, optimizer.*, scheduler.*, loss.*, "
                              f"regularization.*, data.batch_size, data.augment.*, train.early_stopping.patience)")
        for value in dimension.values:  # a range's two ends, or every choice
            try:
                load_config(spec, [*overrides, override_text(name, value)])
            except ConfigError as err:
                raise ConfigError(f"{where}={dimension.text}: the value {json.dumps(value)} is refused: {err}") from None


# ---------------------------------------------------------------- the study and its storage


@dataclass
class StudyRecord:
    """What a study is, stored in the study itself and compared by every later command on it."""

    config: str | None
    overrides: list[str]
    space: dict[str, str]
    metric: str
    direction: str  # maximize | minimize
    data: str  # a checksum of the data file or folder ("" for built-in sets)
    sampler: str
    pruner: str
    seed: int

    @property
    def dimensions(self) -> list[Dimension]:
        return [parse_dimension(f"{name}={text}") for name, text in self.space.items()]


def data_checksum(config: Config) -> str:
    """The user's own data by content (a table) or by names and sizes (a folder), so a study refuses data that
    changed under it; built-in datasets are named by their config alone."""
    path = Path(config.data.path or "") if config.data.dataset == "csv" else Path(config.data.root)
    if config.data.dataset == "csv" and path.is_file():
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    if config.data.dataset == "folder" and path.is_dir():
        listing = sorted(f"{p.relative_to(path)}:{p.stat().st_size}" for p in path.rglob("*") if p.is_file())
        return "files:" + hashlib.sha256("\n".join(listing).encode()).hexdigest()
    return ""


def _hidden(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a database URL: shown as given
        return url


def open_storage(url: str | None, folder: Path, grace: float) -> tuple[Any, str]:
    """The study's storage and its URL. Default: SQLite in the study folder (one file, nothing to run, and
    heartbeats, so a killed worker's trial is failed and asked again); a database URL (postgresql://,
    mysql://, sqlite:///) for several machines; any other text is a journal file (a shared file system)."""
    optuna = _optuna()
    if url is None:
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(folder / STUDY_FILE).resolve()}"
    if "://" not in url:
        from optuna.storages.journal import JournalFileBackend

        try:
            Path(url).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(url)), url
        except OSError as err:
            raise InputError(f"--storage {url}: cannot open the journal file ({err.strerror or err})") from err
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    import inspect

    renamed = "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters  # 4.9
    retry = (optuna.storages.RetryHeartbeatStaleTrialCallback if renamed  # a killed worker's trial: asked once more
             else optuna.storages.RetryFailedTrialCallback)(max_retry=1)
    try:
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=int(max(grace, 2)),
            **{"heartbeat_stale_trial_callback" if renamed else "failed_trial_callback": retry})
    except ImportError as err:
        raise InputError(f"--storage {_hidden(url)}: its database driver is not installed ({err}); e.g. pip install "
                         f"psycopg2-binary for postgresql://, PyMySQL for mysql+pymysql://") from err
    except Exception as err:  # SQLAlchemy's many ways to say a database cannot be reached or read
        first = next(iter(str(err).strip().splitlines()), type(err).__name__)[:200]
        raise InputError(f"--storage {_hidden(url)}: cannot open the study storage ({type(err).__name__}: {first})") from err
    return storage, url


def _sampler(name: str, seed: int, dimensions: list[Dimension]) -> Any:
    optuna = _optuna()
    if name == "grid":
        ranged = [d.field for d in dimensions if d.kind != "choice"]
        if ranged:
            raise ConfigError(f"--sampler grid: every field needs choice(...) ({ranged[0]} is a range)")
        return optuna.samplers.GridSampler({d.field: [json.dumps(v) for v in d.values] for d in dimensions}, seed=seed)
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError as err:
            raise InputError("--sampler cmaes needs the cmaes package: pip install cmaes") from err
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)  # constant liar: workers spread out


def _pruner(name: str) -> Any:
    optuna = _optuna()
    # no verdict before 5 trials have finished and 5 epochs have run: a slow start is not a bad end
    return {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
            "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(),
            "none": lambda: optuna.pruners.NopPruner()}[name]()


def load_study(name: str, storage: Any, record: StudyRecord | None, resume: bool) -> tuple[Any, StudyRecord]:
    """The study: created with the record, or an existing one whose stored record must equal the given one
    (resume takes the stored one). A refused command leaves the stored study as it was."""
    optuna = _optuna()
    existing = {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
    if name in existing:
        stored = StudyRecord(**optuna.load_study(study_name=name, storage=storage).user_attrs["nnintro"])
        if record is not None and not resume:
            changed = [key for key, value in asdict(record).items() if asdict(stored).get(key) != value]
            if changed:
                raise ConfigError(f"--study {name}: exists with another {', '.join(changed)} "
                                  f"({'; '.join(f'{k}: {asdict(stored)[k]}' for k in changed[:2])}); continue it with "
                                  f"--resume, or choose another --study")
        record = stored
    elif resume:
        raise ConfigError(f"--resume: no study named '{name}' in this storage"
                          f"{did_you_mean(name, existing)}{f' (studies: {sorted(existing)})' if existing else ''}")
    elif record is None:
        raise ConfigError(f"--study {name}: no such study; start it with --space (or a tune: section)")
    study = optuna.create_study(study_name=name, storage=storage, direction=record.direction,
                                sampler=_sampler(record.sampler, record.seed, record.dimensions),
                                pruner=_pruner(record.pruner), load_if_exists=True)
    if name not in existing:
        study.set_user_attr("nnintro", asdict(record))
    return study, record


# ---------------------------------------------------------------- trials


SURPLUS = "surplus"  # a trial asked beyond the study's budget by a worker that lost the race for the last one


def _finished(trial: Any) -> bool:
    """Completed, pruned, or failed on its own (not a killed worker's, which is asked again)."""
    state = _optuna().trial.TrialState
    return trial.state in (state.COMPLETE, state.PRUNED) or (trial.state == state.FAIL and "error" in trial.user_attrs)


def _counts(study: Any) -> tuple[int, int]:
    """(trials finished, trials running)."""
    trials = study.get_trials(deepcopy=False)
    return sum(map(_finished, trials)), sum(t.state == _optuna().trial.TrialState.RUNNING for t in trials)


def _trial_config(record: StudyRecord, trial: Any) -> Config:
    values = [override_text(d.field, d.suggest(trial)) for d in record.dimensions]
    trial.set_user_attr("overrides", values)
    return load_config(record.config, [*record.overrides, *values, f"name=trial-{trial.number:04d}"])


class Pruning:
    """The trainer's judge for a group of trials trained as one pack: each member reports its validation
    metric to its own trial after every epoch, keeps its heartbeat, and stops when its trial should be pruned."""

    def __init__(self, study: Any, trials: list[Any], metric: str, pruner: str) -> None:
        self.study, self.trials, self.metric, self.pruner = study, trials, metric, pruner

    def __call__(self, epoch: int, val: list[dict[str, float]], training: list[int]) -> dict[int, str]:
        verdicts = {}
        for k in training:
            value = float(val[k][self.metric])
            trial = self.trials[k]
            if math.isfinite(value):
                trial.report(value, epoch)
            if hasattr(self.study._storage, "record_heartbeat"):  # Optuna beats only inside optimize()
                self.study._storage.record_heartbeat(trial._trial_id)
            if trial.should_prune():
                verdicts[k] = f"pruned after epoch {epoch} by the {self.pruner} pruner (val {self.metric} {value:.4g})"
        return verdicts


def _outcomes(run_dir: Path, count: int, metric: str) -> list[tuple[str, float | None]]:
    """Each member's (status, val metric) from the run's metrics.json."""
    metrics = read_json(run_dir / METRICS_FILE)
    members = metrics.get("members") or [{"status": metrics["status"], "val": metrics["val"]}]
    return [(m["status"], m["val"].get(metric)) for m in members[:count]]


def _train_trials(study: Any, record: StudyRecord, trials: list[Any], folder: Path, say: Any) -> None:
    """Train the asked trials, packed by shape, and tell the study each one's outcome."""
    optuna = _optuna()
    configs, asked = [], []
    for trial in trials:
        try:
            configs.append(_trial_config(record, trial))
            asked.append(trial)
        except ConfigError as err:  # each value was checked alone; together they can still be refused
            trial.set_user_attr("error", str(err))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            say(f"trial {trial.number:>4}  refused: {err}")
    trials = asked
    for group in pack_groups(configs):
        members = [trials[i] for i in group]
        first, last = members[0].number, members[-1].number
        config = pack_config([configs[i] for i in group], f"trials-{first:04d}-{last:04d}")
        judge = Pruning(study, members, record.metric, record.pruner)
        try:
            result = train(config, folder, _quiet_console(), judge=judge)
        except TrainingInterrupted:  # Ctrl-C: these trials are asked again by the next worker or --resume
            for trial in members:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            raise
        except NnintroError as err:
            for trial in members:
                trial.set_user_attr("error", str(err))
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            say(f"trial {first}{f'-{last}' if last != first else ''}: failed: {err}")
            continue
        for k, (trial, (status, value)) in enumerate(zip(members, _outcomes(result.run_dir, len(members), record.metric))):
            trial.set_user_attr("run", result.run_dir.name + (f"#{k}" if len(members) > 1 else ""))
            shown = " ".join(trial.user_attrs["overrides"])
            if status == "pruned":
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                say(f"trial {trial.number:>4}  {shown}  pruned  ({trial.user_attrs['run']})")
            elif status == "diverged" or value is None or not math.isfinite(value):
                trial.set_user_attr("error", "diverged")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                say(f"trial {trial.number:>4}  {shown}  diverged  ({trial.user_attrs['run']})")
            else:
                study.tell(trial, value)
                say(f"trial {trial.number:>4}  {shown}  val {record.metric} {value:.4f}  ({trial.user_attrs['run']})")


def _quiet_console() -> Any:
    from rich.console import Console

    return Console(quiet=True)


def work(study: Any, record: StudyRecord, total: int, pack: int, folder: Path, say: Any) -> None:
    """One worker: ask and train trials until the study has `total` finished ones. Trials a killed worker left
    running are failed once their heartbeat is stale and asked again (by whichever worker is free)."""
    optuna = _optuna()
    while True:
        optuna.storages.fail_stale_trials(study)
        finished, running = _counts(study)
        if finished >= total:
            return
        room = total - finished - running
        if room <= 0:  # the rest are being trained elsewhere (or will be failed as stale and asked again)
            time.sleep(1.0)
            continue
        mine = _within_budget(study, [study.ask() for _ in range(min(pack, room))], total)
        if mine:
            _train_trials(study, record, mine, folder, say)


def _within_budget(study: Any, asked: list[Any], total: int) -> list[Any]:
    """The asked trials that are among the study's first `total` finished or running ones (by trial number, which
    the storage hands out in order): two workers that both saw room for the last trial keep only the first one
    asked. The others are given back at once, never trained, and left out of the reports."""
    state = _optuna().trial.TrialState
    taken = sorted(t.number for t in study.get_trials(deepcopy=False) if _finished(t) or t.state == state.RUNNING)
    budget = set(taken[:total])
    for trial in asked:
        if trial.number not in budget:
            trial.set_user_attr(SURPLUS, True)
            study.tell(trial, state=state.FAIL)
    return [trial for trial in asked if trial.number in budget]


def _spawn_workers(count: int, study: str, storage_url: str, total: int, pack: int, runs_root: Path,
                   grace: float, folder: Path) -> list[subprocess.Popen]:
    workers = []
    # the machine's cores shared among the workers (unless the user set it): small models gain more from
    # trials side by side than from threads inside one trial
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // count))
    for k in range(count):
        command = [sys.executable, "-m", "nnintro", "tune", "--study", study, "--storage", storage_url, "--worker",
                   "--trials", str(total), "--pack", str(pack), "--runs-dir", str(runs_root), "--grace", str(grace)]
        with (folder / f"worker-{k + 1}.log").open("w") as log:
            workers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, "OMP_NUM_THREADS": threads}))
    return workers


# ---------------------------------------------------------------- the answer


@dataclass
class Confirmed:
    label: str
    overrides: list[str]
    run: str
    val: list[float]
    test: list[float]
    ahead: str = ""


def _best_trials(study: Any, count: int) -> list[Any]:
    optuna = _optuna()
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    done.sort(key=lambda t: t.value, reverse=study.direction == optuna.study.StudyDirection.MAXIMIZE)
    distinct, seen = [], set()
    for trial in done:
        key = json.dumps(trial.params, sort_keys=True)
        if key not in seen:
            seen.add(key)
            distinct.append(trial)
    return distinct[:count]


def confirm(study: Any, record: StudyRecord, count: int, seeds: int, folder: Path, say: Any) -> list[Confirmed]:
    """The best `count` points and the config's default, each trained again as a pack of `seeds` members on
    fresh seeds (never the search's own), best first; finished confirmations are reused."""
    points = [("default", [])] + [(f"trial {t.number}", t.user_attrs["overrides"]) for t in _best_trials(study, count)]
    fresh = [record.seed + 1000 + k for k in range(seeds)]
    rows = []
    for label, overrides in points:
        config = load_config(record.config, [*record.overrides, *overrides, f"name=confirm-{label.replace(' ', '-')}",
                                             f"train.members={seeds}", override_text("train.vary", {"seed": fresh})])
        run = find_finished_run(config.model_dump(mode="json"), folder)
        if run is None:
            say(f"confirming {label} on {seeds} fresh seeds")
            run = train(config, folder, _quiet_console()).run_dir
        metrics = read_json(run / METRICS_FILE)
        members = {m["seed"]: m for m in metrics["members"] if m["status"] != "diverged"}
        rows.append(Confirmed(label, overrides, run.name, [members[s]["val"][record.metric] for s in fresh if s in members],
                              [members[s]["test"][record.metric] for s in fresh if s in members]))
    higher = record.direction == "maximize"
    rows.sort(key=lambda r: spread(r.val)["mean"] * (-1 if higher else 1))
    for row in rows[1:]:
        a, b = (rows[0].test, row.test) if higher else ([-v for v in rows[0].test], [-v for v in row.test])
        paired = len(a) == len(b) == seeds
        result = difference(a, b, paired)
        interval = f"95% CI {result.low:+.4f} to {result.high:+.4f}" if result.low == result.low else "no interval"
        row.ahead = f"{result.mean:+.4f} ({interval})"
    return rows


def confirm_table(rows: list[Confirmed], metric: str, title: str) -> TableSpec:
    columns = [Column("point", "point", left=True), Column("val", f"val {metric} (mean ± std)"),
               Column("test", f"test {metric} (mean ± std)"), Column("ahead", "first is ahead on test by"),
               Column("settings", "settings", left=True)]
    body = [{"point": r.label, "val": f"{spread(r.val)['mean']:.4f} ± {spread(r.val)['std']:.4f}",
             "test": f"{spread(r.test)['mean']:.4f} ± {spread(r.test)['std']:.4f}", "ahead": r.ahead or "",
             "settings": " ".join(r.overrides) or "(the config as it is)"} for r in rows]
    return TableSpec(title, columns, body)


def train_line(record: StudyRecord, overrides: list[str]) -> str:
    parts = ["nnintro", "train"] + (["--config", record.config] if record.config else [])
    for text in [*record.overrides, *overrides]:
        parts += ["--set", f'"{text}"' if re.search(r"[\s\[\]{}*?$]", text) else text]
    return " ".join(parts)


def write_reports(study: Any, record: StudyRecord, rows: list[Confirmed], folder: Path, table: TableSpec) -> list[str]:
    """summary.csv (every trial), summary.md (the confirmed answer and how to reproduce it), and Optuna's own
    optimization history and parameter importance plots."""
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS)]
    write_csv(folder / "summary.csv", [
        {"trial": t.number, "state": t.state.name.lower(), f"val_{record.metric}": t.value, "run": t.user_attrs.get("run", ""),
         "seconds": round(t.duration.total_seconds(), 2) if t.duration else "", **t.params,
         "error": t.user_attrs.get("error", "")} for t in trials])
    lines = [f"# nnintro tune: {study.study_name}", "", f"{len(trials)} trials; searched: " +
             ", ".join(f"`{k}={v}`" for k, v in record.space.items()), "", table.to_markdown(), ""]
    if rows:
        lines += [f"Reproduce the winner ({rows[0].label}):", "", f"    {train_line(record, rows[0].overrides)}", ""]
    write_atomic(folder / "summary.md", "\n".join(lines))
    return _plots(study, folder)


def _plots(study: Any, folder: Path) -> list[str]:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as optuna_plots

    from nnintro.reports.plots import save_figure, tight

    drawn = []
    for name, draw in (("optimization_history", optuna_plots.plot_optimization_history),
                       ("param_importances", optuna_plots.plot_param_importances)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                axes = draw(study)
        except (ValueError, RuntimeError, ZeroDivisionError):  # too few finished trials to draw it
            continue
        figure = getattr(axes, "figure", None) or axes[0].figure
        figure.set_size_inches(8, 5)
        tight(figure)
        save_figure(figure, folder / f"{name}.png")
        drawn.append(f"{name}.png")
    return drawn


# ---------------------------------------------------------------- the command


@dataclass
class TuneResult:
    folder: Path
    study: str
    storage: str
    trials: int
    rows: list[Confirmed] = field(default_factory=list)
    table: TableSpec | None = None
    pictures: list[str] = field(default_factory=list)
    winner_line: str = ""


def _run_workers(study: Any, record: StudyRecord, total: int, pack: int, folder: Path, say: Any, worker: bool,
                 workers: int, study_name: str, url: str, runs_root: Path, grace: float) -> None:
    """The trials: in this process, or in `workers` worker processes (then here what they left undone)."""
    if worker or workers <= 1:
        work(study, record, total, pack, folder, say)
        return
    say(f"study {study_name}: {workers} workers, logs in {folder}/worker-*.log")
    processes = _spawn_workers(workers, study_name, url, total, pack, runs_root, grace, folder)
    try:
        for process in processes:
            process.wait()
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
    work(study, record, total, pack, folder, say)  # what a worker that failed or was killed left undone


def tune(spec: str | None, overrides: list[str], space: list[str], trials: int | None, study_name: str | None,
         storage_url: str | None, resume: bool, sampler: str | None, pruner: str | None, workers: int, pack: int,
         confirm_count: int, seeds: int, runs_root: Path, grace: float, worker: bool = False,
         say: Any = print) -> TuneResult:
    """Create (or continue) a study, run its trials in this process or in `workers` worker processes, then
    confirm the best points on fresh seeds and write the reports into runs/<study>/."""
    _optuna()
    record = None
    if not resume and not worker:
        base = load_config(spec, overrides)
        if base.data.folds:
            raise ConfigError("data.folds: tune judges every trial on one validation split and reports the test split it "
                              "never saw; folds would let the search choose on rows it then tests on; leave it unset")
        if base.train.members > 1 or base.train.vary:
            raise ConfigError("train.members / train.vary: tune trains each trial as one model and packs trials "
                              "itself; leave them unset (the best points are trained again on several seeds at the end)")
        given = {**base.tune.space, **{d.field: d.text for d in map(parse_dimension, space)}}
        dimensions = [parse_dimension(f"{name}={text}") for name, text in given.items()]
        if not dimensions:
            raise ConfigError("--space: give at least one, e.g. --space \"optimizer.lr=log(1e-4,1e-1)\" "
                              "(or a tune.space section in the config)")
        check_space(dimensions, spec, overrides)
        from nnintro.datasets import load_dataset

        task = load_dataset(base.data, base.seed).task
        record = StudyRecord(spec, overrides, {d.field: d.text for d in dimensions}, task.headline,
                             "maximize" if task.higher_is_better[task.headline] else "minimize", data_checksum(base),
                             sampler or base.tune.sampler, pruner or base.tune.pruner, base.seed)
        study_name = study_name or f"tune-{base.run_name}"
        total = trials or base.tune.trials
    elif study_name is None:
        raise ConfigError("--resume: name the study with --study")
    if not re.fullmatch(NAME_PATTERN, study_name):
        raise ConfigError(f"--study: must be letters, digits, '.', '_' or '-', got {study_name!r}")
    folder = runs_root / study_name
    storage, url = open_storage(storage_url, folder, grace)
    study, record = load_study(study_name, storage, record, resume or worker)
    if resume and not worker:
        base = load_config(record.config, record.overrides)
        if record.data and data_checksum(base) != record.data:
            raise ConfigError(f"--resume: the data of study '{study_name}' changed since it started (its checksum "
                              f"differs); start a new --study for the new data")
        total = _counts(study)[0] + (trials or base.tune.trials)
    elif worker:
        total = trials or 0
    folder.mkdir(parents=True, exist_ok=True)
    if not worker:
        write_json(folder / RECORD_FILE, {**asdict(record), "study": study_name, "storage": _hidden(url)})
    try:
        _run_workers(study, record, total, pack, folder, say, worker, workers, study_name, url, runs_root, grace)
    except TrainingInterrupted as err:  # the study is saved; the interrupted trials were queued again
        err.study = study_name
        raise
    result = TuneResult(folder, study_name, _hidden(url), _counts(study)[0])
    if worker:
        return result
    if confirm_count > 0:
        result.rows = confirm(study, record, confirm_count, seeds, folder, say)
        result.table = confirm_table(result.rows, record.metric, f"{study_name}: the best points and the default, "
                                                                 f"each on {seeds} fresh seeds (best validation first)")
        result.winner_line = train_line(record, result.rows[0].overrides) if result.rows else ""
    else:
        result.table = confirm_table([], record.metric, study_name)
    result.pictures = write_reports(study, record, result.rows, folder, result.table)
    return result
