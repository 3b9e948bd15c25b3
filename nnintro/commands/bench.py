"""`nnintro bench`: nnintro's trainer against the classic DataLoader loop and Lightning, on the same data.

Every loop trains the same model (same initial weights) with the same optimizer, batch size and number of
epochs on the same training set, and is scored on the same test set. The loops take turns, one epoch each per
round, so a change in the machine's speed while bench runs falls on all of them alike. The arithmetic lower bound is the
forward+backward FLOPs of an epoch divided by the fp32 GEMM rate measured here, in the same process.
"""
from __future__ import annotations

import math
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from nnintro.config import load_config
from nnintro.datasets import load_dataset
from nnintro.datasets.base import DatasetBundle, Split, channel_stats
from nnintro.errors import DataError
from nnintro.models.layers import PackedLinear, Standardize, architecture_for, build_model, member_count, plain_model, user_model
from nnintro.reports.tables import Column, TableSpec
from nnintro.tasks import Classification
from nnintro.training.device import RunQueueClock, select_device
from nnintro.training.outputs import run_split
from nnintro.training.trainer import Trainer

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


@dataclass
class LoopResult:
    loop: str
    seconds_per_epoch: float
    samples_per_second: float
    test_accuracy: float | None
    note: str = ""
    settings: str = ""  # the optimizer (and dropout) it trained with
    ratio_to_nnintro: float = math.nan
    ratio_to_bound: float = math.nan
    ratio_to_eager: float = math.nan  # against the plain PyTorch loop with the same settings
    epoch_seconds: list[float] = field(default_factory=list)  # each of its turns, in order


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synchronizer(device: torch.device) -> Callable[[], None]:
    """What waits for the device's queued work (a GPU runs asynchronously): a clock is read only after it."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def gemm_gflops(device: torch.device = torch.device("cpu"), seconds: float = 1.0, n: int = 2048) -> float:
    """Sustained fp32 matmul rate on this device (and, on the CPU, thread count). Its own random generator: the
    loops timed after it draw their permutations and dropout masks from the global one, as they would alone."""
    generator = torch.Generator(device).manual_seed(0)
    a, b = (torch.randn(n, n, device=device, generator=generator) for _ in range(2))
    sync = synchronizer(device)
    a @ b
    sync()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        sync()
        count += 1
    return 2 * n ** 3 * count / (time.perf_counter() - started) / 1e9


def training_flops_per_sample(widths: list[int]) -> int:
    """The usual 6 x multiply-adds: forward 2*in*out per layer, backward twice that (weight and input
    gradients). The first layer's input gradient is not needed in practice, so this bound is slightly loose."""
    return sum(6 * fan_in * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:]))


def bench_data(dataset: str, data_root: str | None) -> tuple[Split, Split, list[str], str]:
    """The official train/test splits: real files when data_root has them, else synthetic data in the real shapes."""
    if data_root:
        # the smallest validation split there can be: it goes back into the training split below
        config = load_config(None, [f"data.dataset={dataset}", f"data.root={data_root}", "data.val_size=2"])
        bundle = load_dataset(config.data, 0)
        train = Split(torch.cat([bundle.train.x, bundle.val.x]), torch.cat([bundle.train.y, bundle.val.y]))
        return train, bundle.test, bundle.task.classes, f"real {dataset} files from {data_root}"
    generator = torch.Generator().manual_seed(0)
    splits = []
    for n in (60_000 if dataset == "mnist" else 50_000, 10_000):
        y = torch.randint(0, 10, (n,), generator=generator)
        x = torch.randint(0, 90, (n, *SHAPES[dataset]), generator=generator, dtype=torch.uint8)
        rows = torch.arange(SHAPES[dataset][1])
        stripe = ((rows[None, :] >= y[:, None] * 2) & (rows[None, :] < y[:, None] * 2 + 2)).to(torch.uint8)
        x += stripe[:, None, :, None] * 150  # a class-specific bright band: learnable, like digits
        splits.append(Split(x, y))
    return splits[0], splits[1], [str(i) for i in range(10)], f"synthetic {dataset}-shaped data (no files given)"


@dataclass
class Timing:
    """A loop set up to train: each next(epochs) trains it one more epoch and gives that epoch's seconds."""
    epochs: Iterator[float]
    samples: int  # per epoch; model-samples for a pack
    note: Callable[[], str]  # read once it has trained (nnintro's CUDA capture can fail on its first step)


def _timed(epochs: int, run_epoch: Callable[[], None], device: torch.device, scale: float = 1.0) -> Iterator[float]:
    sync = synchronizer(device)
    for _ in range(epochs):
        started = time.perf_counter()
        run_epoch()
        sync()
        yield (time.perf_counter() - started) * scale


def course_loop(model: nn.Module, train: Split, dataset: str, mean: list[float], std: list[float], batch_size: int,
                lr: float, epochs: int, workers: int, max_steps: int | None, device: torch.device) -> Timing:
    """The course notebook: torchvision dataset + ToTensor/Normalize per sample + DataLoader, each batch moved to
    the device, loss.item() per step."""
    from torchvision import transforms

    model.to(device)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    with tempfile.TemporaryDirectory() as folder:  # torchvision reads the files it writes there when built
        train_set = _torchvision_dataset(dataset, train, Path(folder), transform)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=workers)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    steps_in_epoch = len(loader)
    steps = min(max_steps or steps_in_epoch, steps_in_epoch)

    def run_epoch() -> None:
        model.train()
        running_loss = 0.0
        for step, (x, y) in enumerate(loader):
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if step + 1 >= steps:
                break

    note = f"timed on {steps} of {steps_in_epoch} steps per epoch, extrapolated" if steps < steps_in_epoch else ""
    return Timing(_timed(epochs, run_epoch, device, steps_in_epoch / steps), len(train), lambda: note)


def _torchvision_dataset(dataset: str, train: Split, folder: Path, transform: Callable):
    """torchvision's own MNIST class over IDX files written here; for CIFAR-10 a Dataset with CIFAR10's
    __getitem__ (PIL image, then the transforms), since torchvision checks CIFAR files against official md5s."""
    import numpy as np
    import torchvision
    from PIL import Image

    if dataset == "mnist":
        raw = folder / "MNIST" / "raw"
        raw.mkdir(parents=True)
        files = (("train-images-idx3-ubyte", train.x[:, 0].numpy()),
                 ("train-labels-idx1-ubyte", train.y.to(torch.uint8).numpy()))
        for name, array in files:
            header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
            (raw / name).write_bytes(header + array.tobytes())
        for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            (raw / name).write_bytes((raw / name.replace("t10k", "train")).read_bytes())
        return torchvision.datasets.MNIST(str(folder), train=True, transform=transform)

    images = np.ascontiguousarray(train.x.permute(0, 2, 3, 1).numpy())
    labels = train.y.tolist()

    class CifarStyle(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, index: int):
            return transform(Image.fromarray(images[index])), labels[index]

    return CifarStyle()


def lightning_loop(model: nn.Module, train: Split, mean: list[float], std: list[float], batch_size: int, lr: float,
                   epochs: int, device: torch.device) -> Timing | None:
    """Lightning's Trainer at its best: a TensorDataset of pre-normalized float tensors. Its Trainer owns the
    loop over epochs, so it trains them all in its first turn."""
    try:
        import lightning as L
    except ImportError:
        return None

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def training_step(self, batch, _):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=lr, momentum=0.9)

    class EpochTimer(L.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_epoch_start(self, trainer, module) -> None:
            self.started = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:
            self.times.append(time.perf_counter() - self.started)

    tensors = torch.utils.data.TensorDataset(_prenormalized(train.x, mean, std), train.y)
    loader = torch.utils.data.DataLoader(tensors, batch_size=batch_size, shuffle=True)
    timer = EpochTimer()
    accelerator = {"cuda": "gpu"}.get(device.type, device.type)
    trainer = L.Trainer(max_epochs=epochs, accelerator=accelerator, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer])

    def all_at_once() -> Iterator[float]:
        trainer.fit(Module(), loader)
        yield from timer.times

    return Timing(all_at_once(), len(train), lambda: "TensorDataset of pre-normalized tensors; all its epochs in one turn")


@dataclass(frozen=True)
class Settings:
    """What every loop of one group trains with: the optimizer and the hidden layers' dropout."""
    optimizer: str  # sgd (momentum 0.9) or adam
    lr: float
    dropout: float = 0.0

    @property
    def label(self) -> str:
        text = "SGD momentum 0.9" if self.optimizer == "sgd" else "Adam"
        return f"{text} lr={self.lr:g}" + (f", dropout {self.dropout:g}" if self.dropout else "")

    def overrides(self) -> list[str]:
        momentum = ["optimizer.momentum=0.9"] if self.optimizer == "sgd" else []
        return [f"optimizer={self.optimizer}", f"optimizer.lr={self.lr}", *momentum, f"model.dropout={self.dropout}"]

    def torch_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """torch.optim's own defaults, as a plain loop would write it."""
        if self.optimizer == "sgd":
            return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=0.9)
        return torch.optim.Adam(model.parameters(), lr=self.lr)


def eager_loop(model: nn.Module, train: Split, batch_size: int, settings: Settings, epochs: int,
               device: torch.device) -> Timing:
    """The eager floor: the same layers as torch.nn.Linear (nnintro's Standardize first, so it reads the same
    uint8 tensors), torch.optim, randperm slices, F.cross_entropy, backward: no DataLoader, no metrics; the data
    and the permutation on the device."""
    model.to(device)
    train = train.to(device)
    optimizer = settings.torch_optimizer(model)

    def run_epoch() -> None:
        model.train()
        order = torch.randperm(len(train), device=device)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(train.x.index_select(0, index)), train.y.index_select(0, index)).backward()
            optimizer.step()

    return Timing(_timed(epochs, run_epoch, device), len(train),
                  lambda: "nn.Linear, torch.optim, autograd; uint8 tensors, randperm slices")


def nnintro_loop(model: nn.Module, train: Split, test: Split, classes: list[str], dataset: str,
                 hidden: list[int], batch_size: int, settings: Settings, epochs: int, device: torch.device) -> Timing:
    members = member_count(model)
    config = load_config(None, [f"data.batch_size={batch_size}", *settings.overrides(), f"train.epochs={epochs}",
                                f"train.device={device}", "train.early_stopping.patience=null",
                                f"model.hidden={hidden}", f"train.members={members}"])
    mean, std = channel_stats(train.x, 1 / 255)
    data = DatasetBundle(dataset, train, Split(test.x[:1000], test.y[:1000]), test, Classification(classes), "image",
                         {"scale": 1 / 255, "mean": mean, "std": std}).to(device)
    trainer = Trainer(config, data, model.to(device), None)

    def note() -> str:
        path = trainer.stepper.path
        return f"{path}; uint8 tensors, randperm slices" if members == 1 else \
            f"{members} models packed ({path}), trained at once over the same batches; samples/s counts model-samples"

    return Timing((row["epoch_seconds"] for row in trainer.epochs()), len(train) * members, note)


ADAM = Settings("adam", 0.001, 0.2)  # the packaged mnist_mlp's optimizer and dropout
BUSY_SHARE = 0.05  # waiting this share of the time for a core or more: other programs are slowing the loops
SPEED_SPREAD = 0.15  # GEMM rates before the loops this far apart: the machine's own speed moved during the run


class Loop(NamedTuple):
    name: str
    settings: Settings
    models: int
    make_model: Callable[[], nn.Module]
    run: Callable[[nn.Module], Any]
    alone: bool = True  # runs in this thread only (the course loop's DataLoader workers share the cores with it)


def run_bench(dataset: str = "mnist", data_root: str | None = None, epochs: int = 5, batch_size: int = 64,
              hidden: list[int] | None = None, lr: float = 0.01, workers: int = 2,
              baseline_steps: int | None = None, members: int = 8, adam: bool = True,
              progress: Callable[[str], None] = print, device: str = "cpu") -> dict[str, Any]:
    """Every loop on the same data from the same weights, on `device` (the data, the models and the batches);
    `members` > 1 adds nnintro training that many models packed (member 0 starts from the same weights as the
    others' single model); `adam` adds nnintro and the eager loop again with mnist_mlp's Adam and dropout."""
    if dataset not in SHAPES:
        raise DataError(f"bench --dataset: must be one of {', '.join(SHAPES)}, got {dataset!r}")
    hidden = hidden if hidden is not None else ([128] if dataset == "mnist" else [512, 256])
    target = select_device(device, "bench --device")
    rss_after_import = peak_rss_mib()
    train, test, classes, source = bench_data(dataset, data_root)
    mean, std = channel_stats(train.x, 1 / 255)
    normalization = {"scale": 1 / 255, "mean": mean, "std": std}
    sgd = Settings("sgd", lr)
    torch.manual_seed(0)
    architectures = {settings: architecture_for(
        load_config(None, [f"model.hidden={hidden}", f"model.dropout={settings.dropout}"]).model,
        list(SHAPES[dataset]), 10, normalization) for settings in (sgd, ADAM)}
    template = build_model(architectures[sgd])  # member 0 from seed 0: the same weights whatever the dropout
    widths = [math.prod(SHAPES[dataset]), *hidden, 10]
    where = f"{torch.get_num_threads()} threads" if target.type == "cpu" else str(target)
    progress(f"measuring the fp32 GEMM rate ({where})")
    gflops = gemm_gflops(target)
    bound = training_flops_per_sample(widths) * len(train) / (gflops * 1e9)

    def pair(settings: Settings) -> list[Loop]:
        """nnintro and the eager floor with these settings, from the same weights."""
        suffix = "" if settings == sgd else f" ({settings.label})"
        return [Loop(f"nnintro{suffix}", settings, 1, lambda: build_model(architectures[settings]),
                     lambda m: nnintro_loop(m, train, test, classes, dataset, hidden, batch_size, settings, epochs,
                                            target)),
                Loop(f"plain PyTorch loop{suffix}", settings, 1,
                     lambda: plain_model(build_model(architectures[settings])),
                     lambda m: eager_loop(m, train, batch_size, settings, epochs, target))]

    pack_architecture = {**architectures[sgd], "members": members}
    loops = [
        *pair(sgd),
        *([Loop(f"nnintro, {members} members packed", sgd, members,
                lambda: build_model(pack_architecture, list(range(members))),
                lambda m: nnintro_loop(m, train, test, classes, dataset, hidden, batch_size, sgd, epochs, target))]
          if members > 1 else []),
        *(pair(ADAM) if adam else []),
        Loop("Lightning Trainer", sgd, 1, lambda: _classic(template),
             lambda m: lightning_loop(m, train, mean, std, batch_size, lr, epochs, target)),
        Loop(f"course loop (DataLoader, {workers} workers)", sgd, 1, lambda: _classic(template), lambda m: course_loop(
            m, train, dataset, mean, std, batch_size, lr, epochs, workers, baseline_steps, target), alone=workers == 0),
    ]
    started = []
    for loop in loops:
        model = loop.make_model()  # every single model starts from the same weights
        timing = loop.run(model)
        if timing is None:
            progress(f"  {loop.name}: not installed (pip install 'nnintro[lightning]'), skipped")
        else:
            started.append((loop, model, timing, []))
    progress(f"timing {', '.join(loop.name for loop, *_ in started)}: one epoch each in turn, {epochs} rounds")
    waited: float | None = 0.0  # for a core, over the `timed` seconds of the loops that run alone in this thread
    timed = 0.0
    rates = []  # the GEMM rate before each round: whether the machine kept its speed between them
    turns = []
    for round_ in range(epochs):
        rates.append(gemm_gflops(target, seconds=0.5))
        order = started[round_ % len(started):] + started[:round_ % len(started)]  # no loop always goes first
        turns.append([loop.name for loop, *_ in order])
        for loop, _, timing, times in order:
            clock, began = RunQueueClock(), time.perf_counter()
            seconds = next(timing.epochs, None)  # None: it stopped early (diverged)
            if seconds is not None:
                times.append(seconds)
            if loop.alone:
                queued = clock.seconds()
                waited = None if queued is None or waited is None else waited + queued
                timed += time.perf_counter() - began
    results: list[LoopResult] = []
    for loop, model, timing, times in started:
        next(timing.epochs, None)  # past its last epoch: nnintro's trainer restores its best weights there
        if not times:
            progress(f"  {loop.name}: stopped before its first epoch ended (its loss diverged), left out")
            continue
        per_epoch = statistics.median(times)
        accuracy = _test_accuracy(model, test, classes, mean, std)
        results.append(LoopResult(loop.name, per_epoch, timing.samples / per_epoch, accuracy,
                                  timing.note(), settings=loop.settings.label,
                                  ratio_to_bound=per_epoch / (bound * loop.models), epoch_seconds=times))
    reference = results[0].seconds_per_epoch
    floors = {r.settings: r.seconds_per_epoch for r in results if r.loop.startswith("plain PyTorch loop")}
    for result in results:
        result.ratio_to_nnintro = result.seconds_per_epoch / reference
        result.ratio_to_eager = result.seconds_per_epoch / floors.get(result.settings, math.nan)
    return {
        "dataset": dataset, "data": source, "model": "-".join(map(str, widths)), "batch_size": batch_size,
        "epochs": epochs, "optimizer": sgd.label, "device": str(target), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "gemm_gflops": round(gflops, 1), "bound_seconds_per_epoch": bound,
        "flops_per_sample": training_flops_per_sample(widths), "rss_after_import_torch_mib": rss_after_import,
        "peak_rss_mib": peak_rss_mib(), "loops": [asdict(r) for r in results],
        "waited_for_a_core": None if waited is None else {"seconds": waited, "of_seconds": timed},
        "gemm_gflops_before_each_round": [round(rate, 1) for rate in rates], "turns": turns,
    }


def machine_note(report: dict[str, Any]) -> str:
    """Whether other programs slowed the timed work down: how long bench's thread waited for a CPU core while it
    timed what runs in it alone (Linux's run-queue time; unlike CPU time, OpenMP's spinning does not hide it)."""
    waited = report.get("waited_for_a_core")
    if not waited or not waited["of_seconds"]:
        return "this system does not say how long a thread waits for a core: make sure the machine is otherwise idle"
    share = waited["seconds"] / waited["of_seconds"]
    said = (f"bench's thread waited {waited['seconds']:.1f} s of the {waited['of_seconds']:.1f} s it timed for a CPU "
            f"core ({share:.1%})")
    if share >= BUSY_SHARE:
        return (f"{said}: other programs were using this machine's cores, so these figures are slower than it can do "
                f"and their ratios are unreliable; stop them and run bench again")
    return f"{said}: no other program here took its cores{_speed_note(report.get('gemm_gflops_before_each_round'))}"


def _speed_note(rates: list[float] | None) -> str:
    """What the GEMM rates measured before each round of epochs say: that the machine kept its speed, or by how
    much it moved (a virtual machine's host, the CPU's clock): a ratio between two loops is then only that good,
    although the loops' turns spread each loop's epochs over the same stretch of time."""
    if not rates or len(rates) < 2:
        return ""
    low, high = min(rates), max(rates)
    spread = (high - low) / high
    if spread < SPEED_SPREAD:
        return f", and its GEMM rate held steady before each round ({low:g}-{high:g} GFLOP/s)"
    return (f"; but its GEMM rate moved from {low:g} to {high:g} GFLOP/s between the rounds ({spread:.0%} apart): "
            f"something outside this system changed the machine's speed (another virtual machine on the host, the "
            f"CPU's clock); the loops took turns epoch by epoch, which evens out slow changes but not quick ones, so a "
            f"ratio between two loops can be off by up to about as much; run bench again (more --epochs) to see it")


def _prenormalized(pixels: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 pixels standardized once, ahead of time, the way the baselines are fed (nnintro's own module)."""
    with torch.no_grad():
        return Standardize(list(pixels.shape[1:]), 1 / 255, mean, std)(pixels)


def _classic(model: nn.Module) -> nn.Module:
    """The baselines' model: the same weights in torch.nn.Linear layers, without nnintro's Standardize (they
    normalize in their data pipelines)."""
    return nn.Sequential(*list(plain_model(model))[1:])


def _test_accuracy(model: nn.Module, test: Split, classes: list[str], mean: list[float], std: list[float]) -> float:
    """A pack's ensemble, or a plain model, on the raw pixels; a baseline's model (no Standardize) on inputs
    normalized outside it."""
    task = Classification(classes)
    if any(isinstance(module, PackedLinear) for module in model.modules()):
        model = user_model(model, task.combine)
    elif not isinstance(model[0], Standardize):
        test = Split(_prenormalized(test.x, mean, std), test.y)
    test = test.to(next(model.parameters()).device)  # wherever its loop left it
    return task.metrics(run_split(model, test, task.per_sample_loss(load_config().loss), 4096))["accuracy"]


def bench_table(report: dict[str, Any]) -> TableSpec:
    """The loops side by side and the arithmetic bound: the console's table and the markdown report's."""
    bound = {"loop": "arithmetic lower bound", "seconds_per_epoch": report["bound_seconds_per_epoch"],
             "ratio_to_bound": 1.0, "note": f"FLOPs / GEMM rate ({report['gemm_gflops']} GFLOP/s measured)"}
    return TableSpec(f"{report['dataset']} {report['model']}, batch {report['batch_size']}, {report['data']}", [
        Column("loop", "loop", left=True), Column("settings", "trained with", left=True),
        Column("seconds_per_epoch", "s/epoch (median)", "{:.3f}"), Column("samples_per_second", "samples/s", "{:,.0f}"),
        Column("ratio_to_nnintro", "x nnintro", "{:.2f}"), Column("ratio_to_eager", "x plain loop", "{:.2f}"),
        Column("ratio_to_bound", "x bound", "{:.2f}"),
        Column("test_accuracy", "test accuracy", "{:.4f}"), Column("note", "note", left=True)],
        [*report["loops"], bound])


def loops_markdown(report: dict[str, Any]) -> str:
    return (f"# nnintro bench: {report['dataset']} {report['model']}, batch {report['batch_size']}, "
            f"{report['epochs']} epochs per loop (each loop's optimizer under 'trained with')\n\n"
            f"Data: {report['data']}. torch {report['torch']}, {report.get('device', 'cpu')}, {report['threads']} "
            f"CPU threads. Measured fp32 GEMM rate "
            f"{report['gemm_gflops']} GFLOP/s; arithmetic lower bound {report['bound_seconds_per_epoch']:.3f} s/epoch "
            f"({report['flops_per_sample']:,} FLOPs per sample). Peak RSS after `import torch`: "
            f"{report['rss_after_import_torch_mib']:.0f} MiB, with every loop's model and data (they take turns, so "
            f"all are in memory at once): {report['peak_rss_mib']:.0f} MiB. The machine: {machine_note(report)}.\n\n"
            + bench_table(report).to_markdown())


def write_report(report: dict[str, Any], out_dir: Path, table: TableSpec, stem: str) -> tuple[Path, Path]:
    """STEM-<time>.md (the loops' page, or the table) and STEM-<time>.json."""
    from nnintro.files import dumps_json, write_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    md_path, json_path = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    write_atomic(md_path, loops_markdown(report) if "loops" in report else
                 f"# {table.title}\n\n{table.to_markdown()}\nThe machine: {machine_note(report)}.\n")
    write_atomic(json_path, dumps_json(report))
    return md_path, json_path


# ---------------------------------------------------------------- time to accuracy


class _TestAccuracyClock:
    """After every epoch: the test accuracy of the model so far, and the wall time since the start with this
    measurement's own time taken out; asks the trainer to stop once the target is reached."""

    def __init__(self, model: nn.Module, test: Split, task: Classification, started: float, target: float) -> None:
        self.view, self.test, self.task = user_model(model, task.combine), test, task
        self.started, self.target, self.excluded = started, target, 0.0
        self.epochs: list[dict[str, float]] = []

    def on_epoch_end(self, row: dict[str, float]) -> None:
        measuring = time.perf_counter()
        wall = measuring - self.started - self.excluded
        outputs = run_split(self.view, self.test, self.task.per_sample_loss(load_config().loss), 4096)
        self.epochs.append({"epoch": row["epoch"], "wall_seconds": wall, "test_accuracy": self.task.metrics(outputs)["accuracy"]})
        self.excluded += time.perf_counter() - measuring

    def reached(self) -> bool:
        return bool(self.epochs) and self.epochs[-1]["test_accuracy"] >= self.target


def time_to_accuracy(config: Any, target: float, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a config until its test accuracy reaches target (or its epochs run out); the wall time from the
    start (data loading and model building included, the bench's own test evaluations excluded)."""
    from nnintro.training.trainer import prepare

    started, waited = time.perf_counter(), RunQueueClock()
    data, model = prepare(config)
    if data.task.name != "classification":
        raise DataError(f"bench --target: {data.name} is a regression table; the target is a test accuracy")
    device = select_device(config.train.device)
    data, model = data.to(device), model.to(device)
    clock = _TestAccuracyClock(model, data.test, data.task, started, target)
    progress(f"training {config.run_name} until test accuracy {target:g} (at most {config.train.epochs} epochs)")
    Trainer(config, data, model, None, [clock], clock.reached).fit()
    reached = next((e for e in clock.epochs if e["test_accuracy"] >= target), None)
    seconds = waited.seconds()
    return {"waited_for_a_core": None if seconds is None else {"seconds": seconds,
                                                               "of_seconds": time.perf_counter() - started},
            "config": config.run_name, "dataset": data.name, "target": target, "device": str(device),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "reached": reached is not None,
            "epoch": reached["epoch"] if reached else None,
            "seconds": reached["wall_seconds"] if reached else None, "epochs": clock.epochs}


def time_to_accuracy_table(report: dict[str, Any]) -> TableSpec:
    outcome = (f"reached at epoch {report['epoch']} after {report['seconds']:.1f} s" if report["reached"]
               else f"not reached in {len(report['epochs'])} epochs")
    return TableSpec(f"{report['config']}: time to {report['target']:g} test accuracy on {report['device']} "
                     f"({report['threads']} threads): {outcome}", [
        Column("epoch", "epoch", "{:.0f}"), Column("wall_seconds", "wall s since start", "{:.1f}"),
        Column("test_accuracy", "test accuracy", "{:.4f}")], report["epochs"])
