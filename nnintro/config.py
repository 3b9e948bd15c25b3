"""The config schema (defaults, validation, error messages), YAML loading and --set overrides.

Every field has a default, so an empty file (or no file) is a valid config: the offline digits MLP.
Names that pick an implementation (dataset, activation, loss, optimizer, scheduler) are checked
against the same registries the code uses, imported lazily so `--help` never pays for torch.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nnintro.errors import ConfigError, did_you_mean
from nnintro.run_folder.layout import NAME_PATTERN
from nnintro.safe_yaml import YamlProblem, load_yaml

PACKAGED_CONFIGS = "configs"
PER_MEMBER = ("seed", "optimizer.lr", "optimizer.momentum", "optimizer.weight_decay", "regularization.l1")
MAX_WIDTH, MAX_LAYERS = 1_000_000, 100
MAX_MEMBERS = 1024  # one pack's members; a sweep of more same-shape points trains several packs


class Section(BaseModel):
    """A config section: unknown keys are errors, and assignments are validated too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class NamedSection(Section):
    """A section chosen by `name`; a plain string in YAML (`loss: mse`) means `{name: mse}`."""

    @model_validator(mode="before")
    @classmethod
    def _name_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


def _check_choice(value: str, choices: dict | tuple) -> str:
    if value not in choices:
        raise ValueError(f"unknown '{value}'{did_you_mean(value, choices)} (valid: {', '.join(choices)})")
    return value


class AugmentConfig(Section):
    """Training-split augmentation, on the batch's device (image datasets only; everything off by default)."""

    shift: int = Field(0, ge=0, le=64, description="random translation by up to this many pixels, zero padding "
                                                   "(the random crop with padding; 4 for CIFAR, 2 for digits)")
    flip: bool = Field(False, description="random horizontal flip (photos; never for digits or text)")
    rotate: float = Field(0.0, ge=0, le=180, description="random rotation within +/- this many degrees")
    scale: float = Field(0.0, ge=0, le=0.5, description="random zoom within +/- this fraction")
    shear: float = Field(0.0, ge=0, le=45, description="random shear within +/- this many degrees")
    elastic: float = Field(0.0, ge=0, le=16, description="elastic distortion: largest displacement in pixels "
                                                        "(Simard et al. 2003; about 2 for 28x28 digits)")
    elastic_sigma: float = Field(4.0, gt=0, le=16, description="smoothness of the elastic field, in pixels")
    cutout: int = Field(0, ge=0, le=256, description="a square of this many pixels per image set to the mean")
    mixup: float = Field(0.0, ge=0, le=10, description="mixup's Beta(a, a) parameter a (0: off); the loss mixes "
                                                      "the two targets' losses with the same weight")

    @property
    def enabled(self) -> bool:
        return any((self.shift, self.flip, self.rotate, self.scale, self.shear, self.elastic, self.cutout, self.mixup))


class DataConfig(Section):
    dataset: str = Field("digits", description="mnist, fashion_mnist, cifar10, digits, xor, circles, gaussians, "
                                               "spiral, plane, bowl, folder (your images), csv (your table), "
                                               "diabetes, california_housing")
    root: str = Field("data", description="folder holding the dataset files (torchvision layout); "
                                          "folder: the folder of class sub-folders")
    download: bool = Field(True, description="download missing mnist/fashion_mnist/cifar10/california_housing files "
                                             "into root on first use; false: offline, use only what is there")
    val_size: float = Field(0.1, gt=0, le=1e9, description="validation carved from train: a fraction < 1 or a count >= 1")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="folder/csv without a test split: the share held "
                                                              "out for testing (seeded, stratified for classes)")
    batch_size: int = Field(64, gt=0, le=2**24, description="training mini-batch size (global under torchrun)")
    normalize: Literal["dataset", "fixed", "none"] = Field(
        "dataset", description="inputs standardized by the training split's per-channel mean and std (dataset), by "
                               "data.mean / data.std (fixed: the course lab's 0.5, 0.5), or only scaled to 0..1 (none)")
    mean: list[float] = Field([0.5], description="normalize: fixed: one value, or one per channel/feature")
    std: list[float] = Field([0.5], description="normalize: fixed: one value, or one per channel/feature")
    noise: float = Field(0.0, ge=0, le=1, description="2-D sets: label noise / spread, as the Playground's slider "
                                                      "/ 100; plane, bowl: the std of the noise added to y")
    n_samples: int = Field(500, ge=10, le=1_000_000, description="2-D sets: number of training points "
                                                                 "(test set: the same number); plane, bowl: rows "
                                                                 "in all, split as a table's")
    class_names: list[str] | None = Field(None, description="classification: the names every report and "
                                                            "prediction gives the classes, in the dataset's order "
                                                            "(the CIFAR lab's [plane, car, ...]); default: the "
                                                            "dataset's own")
    features: list[str] | None = Field(None, description="the inputs the model sees. 2-D sets: x1, x2, x1^2, x2^2, "
                                                         "x1*x2, sin(x1), sin(x2) (default x1, x2); tables: columns "
                                                         "(default: every column but the target and ignored ones)")
    path: str | None = Field(None, description="csv: the table file")
    target: str | list[str] | None = Field(None, description="csv: the column(s) to predict")
    ignore: list[str] = Field([], description="csv: columns never used as inputs (names, ids)")
    missing: Literal["error", "impute", "drop"] = Field(
        "error", description="csv: empty input cells: error; impute (median number, most frequent category, median "
                             "date, learned from the training rows, plus a was-missing input per such column); "
                             "or drop those rows (refused when that would keep less than half)")
    na_values: list[str] = Field([], description="csv: further cell texts that mean missing (e.g. [T, '-'])")
    min_category_rows: int = Field(5, ge=1, le=1_000_000, description="csv: categories seen in fewer training rows "
                                                                      "than this are pooled into one (other) input")
    folds: int = Field(0, ge=0, le=20, description="tables: k-fold cross-validation: 0 (off: one fixed test split) or "
                                                    "K >= 2 folds, trained as one pack of K members, each tested on "
                                                    "its own fold; metrics are out-of-fold and mean ± std over folds")
    baselines: bool = Field(True, description="tables: also fit the majority class / mean, scikit-learn's linear "
                                              "model and gradient boosting on the same rows, for reference")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="csv: auto picks regression for a numeric target with many values")
    image_size: list[int] | None = Field(None, description="folder: [height, width] every image is resized to "
                                                           "(default: the most common size)")
    channels: Literal[1, 3] | None = Field(None, description="folder: 1 (gray) or 3 (RGB; the default if any "
                                                             "image has colour)")
    bad_files: Literal["error", "skip"] = Field("error", description="folder: an image that cannot be decoded "
                                                                     "stops the run, or is skipped and listed")
    augment: AugmentConfig = AugmentConfig()

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        from nnintro.datasets import DATASETS

        return _check_choice(value, DATASETS)

    @field_validator("class_names", mode="before")
    @classmethod
    def _numbers_as_names(cls, value: Any) -> Any:
        """YAML reads [0, 1] as numbers: as names they are the same text."""
        if isinstance(value, list):
            return [str(name) if isinstance(name, (int, float)) and not isinstance(name, bool) else name
                    for name in value]
        return value

    @field_validator("class_names")
    @classmethod
    def _class_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            names = [name.strip() for name in value]
            if not all(names) or len(set(names)) != len(names):
                raise ValueError(f"every class needs its own non-empty name, got {value}")
            return names
        return value

    @field_validator("image_size")
    @classmethod
    def _image_size(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 2 or not all(1 <= v <= 1024 for v in value)):
            raise ValueError(f"must be [height, width], each 1..1024, got {value}")
        return value

    @model_validator(mode="after")
    def _family_fields(self) -> DataConfig:
        from nnintro.datasets import POINT_SETS

        if self.dataset in POINT_SETS:
            from nnintro.features import FEATURES

            for index, name in enumerate(self.features or []):
                if name not in FEATURES:
                    raise ValueError(f"features[{index}]: unknown '{name}'{did_you_mean(name, FEATURES)} "
                                     f"(valid: {', '.join(FEATURES)})")
            if self.features == []:
                raise ValueError("features: needs at least one feature")
        elif self.features is not None and self.dataset != "csv":
            raise ValueError("features: only the 2-D sets (xor, circles, gaussians, spiral) and csv take features")
        if self.dataset == "csv" and (not self.path or not self.target):
            missing = "path" if not self.path else "target"
            raise ValueError(f"{missing}: a csv dataset needs data.path (the file) and data.target (the column to "
                             f"predict), e.g. --set data.path=cars.csv --set data.target=mpg")
        return self

    @field_validator("folds")
    @classmethod
    def _fold_count(cls, value: int) -> int:
        if value == 1:
            raise ValueError("must be 0 (off) or at least 2 folds, got 1")
        return value

    @field_validator("std")
    @classmethod
    def _positive_std(cls, values: list[float]) -> list[float]:
        if not values or any(v <= 0 for v in values):
            raise ValueError(f"must be one or more values > 0, got {values[:8]}")
        return values

    @field_validator("val_size")
    @classmethod
    def _whole_count(cls, value: float) -> float:
        if value >= 1 and value != int(value):
            raise ValueError(f"must be a fraction below 1 or a whole count, got {value}")
        return value


class ModelConfig(Section):
    kind: Literal["linear", "mlp"] = Field("mlp", description="linear (softmax regression) or mlp")  # models.MODEL_KINDS
    hidden: list[int] = Field([128], description="mlp hidden layer widths")
    activation: str = Field("relu", description="activation between mlp layers")
    dropout: float | list[float] = Field(0.0, description="dropout after each hidden activation: one rate, or one "
                                                           "per hidden layer")
    norm: Literal["none", "batch", "layer"] = Field("none", description="normalization between each hidden layer "
                                                                        "and its activation")
    bias: bool = Field(True, description="false: layers without bias terms (the lecture's pure templates)")

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, widths: list[int]) -> list[int]:
        if len(widths) > MAX_LAYERS:
            raise ValueError(f"at most {MAX_LAYERS} hidden layers, got {len(widths)}")
        for index, width in enumerate(widths):
            if width <= 0:
                raise ValueError(f"[{index}] must be > 0, got {width}")
            if width > MAX_WIDTH:
                raise ValueError(f"[{index}] must be at most {MAX_WIDTH:,}, got {shown(width)}")
        return widths

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str) -> str:
        from nnintro.models.layers import ACTIVATIONS

        return _check_choice(value, ACTIVATIONS)

    @field_validator("dropout")
    @classmethod
    def _rates(cls, value: float | list[float]) -> float | list[float]:
        for index, rate in enumerate(value if isinstance(value, list) else [value]):
            if not 0 <= rate < 1:
                where = f"[{index}] " if isinstance(value, list) else ""
                raise ValueError(f"{where}must be >= 0 and < 1, got {rate}")
        return value

    @model_validator(mode="after")
    def _mlp_needs_layers(self) -> ModelConfig:
        if self.kind == "mlp" and not self.hidden:
            raise ValueError("hidden: an mlp needs at least one hidden width (or use kind: linear)")
        if isinstance(self.dropout, list) and self.kind == "mlp" and len(self.dropout) != len(self.hidden):
            raise ValueError(f"dropout: one rate per hidden layer ({len(self.hidden)}), got {len(self.dropout)}")
        return self


class LossConfig(NamedSection):
    name: str = Field("auto", description="auto (the task's default), classification: cross_entropy, nll, mse, l1, "
                                          "kl_div, bce; regression: mse, mae, huber")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="cross_entropy only")
    class_weight: Literal["none", "balanced"] | list[float] = Field(
        "none", description="classification: weight each sample's loss by its class: balanced (rare classes count "
                            "as much as common ones, n / (classes x class rows)) or one weight per class")

    @field_validator("class_weight")
    @classmethod
    def _positive_weights(cls, value: Any) -> Any:
        if isinstance(value, list) and (not value or any(not 0 <= w <= 1e6 for w in value) or not any(value)):
            raise ValueError(f"must be none, balanced, or one weight per class (0..1e6, not all 0), got {value[:8]}")
        return value

    @field_validator("name")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        from nnintro.tasks import ALL_LOSSES

        return _check_choice(value, ["auto", *ALL_LOSSES])


class OptimizerConfig(NamedSection):
    name: str = Field("adam", description="sgd, adam, adamw, rmsprop")
    lr: float = Field(1e-3, gt=0, description="learning rate")
    momentum: float = Field(0.0, ge=0, lt=1, description="sgd and rmsprop")
    nesterov: bool = Field(False, description="sgd with momentum > 0")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (decoupled for adamw)")

    @field_validator("name")
    @classmethod
    def _known_optimizer(cls, value: str) -> str:
        from nnintro.models.optim import OPTIMIZERS

        return _check_choice(value, OPTIMIZERS)

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> OptimizerConfig:
        if self.nesterov and (self.name != "sgd" or self.momentum <= 0):
            raise ValueError("nesterov: needs name: sgd and momentum > 0")
        return self


class SchedulerConfig(NamedSection):
    name: str = Field("none", description="none, step, cosine, onecycle, plateau")
    step_size: int = Field(10, gt=0, le=1_000_000, description="step: epochs between decays")
    gamma: float = Field(0.1, gt=0, le=1, description="step: decay factor")
    max_lr: float | None = Field(None, gt=0, description="onecycle: peak lr (default: 10 x optimizer.lr)")
    factor: float = Field(0.5, gt=0, lt=1, description="plateau: decay factor")
    patience: int = Field(2, ge=0, le=1_000_000, description="plateau: epochs without val_loss improvement")

    @field_validator("name")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        from nnintro.models.optim import SCHEDULERS

        return _check_choice(value, SCHEDULERS)


class RegularizationConfig(Section):
    l1: float = Field(0.0, ge=0, description="L1 penalty on the weights (L2: optimizer.weight_decay)")


class EarlyStoppingConfig(Section):
    @field_validator("monitor", check_fields=False)
    @classmethod
    def _known_monitor(cls, value: str) -> str:
        from nnintro.tasks import ALL_MONITORS

        return _check_choice(value, ALL_MONITORS)

    patience: int | None = Field(5, ge=1, le=1_000_000, description="epochs without improvement before stopping; null: off")
    monitor: str = Field("val_loss", description="val_loss; classification: val_accuracy; regression: val_mae, "
                                                 "val_rmse, val_mse, val_r2")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")
    restore_best: bool = Field(True, description="keep the best epoch's weights, not the last")


class TrainConfig(Section):
    epochs: int = Field(30, ge=1, le=1_000_000)
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    device: str = Field("auto", description="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    eval_batch_size: int = Field(4096, gt=0, le=2**24)
    precision: Literal["32", "bf16", "16"] = Field("32", description="32 (fp32), bf16 autocast, 16 (fp16 + grad scaler, CUDA)")
    compile: bool = Field(False, description="torch.compile the model (warm-up reported separately)")
    cuda_graph: Literal["auto", "on", "off"] = Field(
        "auto", description="capture the whole training step as a CUDA graph: auto (on a CUDA GPU, where the "
                            "explicit backward and a fused optimizer cover the run), on (refuse a run it cannot "
                            "capture, saying why), off")
    engine: Literal["torch", "autograd", "numpy"] = Field(
        "torch", description="torch: PyTorch kernels, the plain MLP's backward written out (no autograd graph), "
                             "anything else through autograd; autograd: always autograd; numpy: gradients from the "
                             "lecture's from-scratch numpy backpropagation (nnintro/models/scratch.py) on the CPU")
    members: int = Field(1, ge=1, le=MAX_MEMBERS, description="train this many models as one pack, member k from seed + k, "
                                                       "over the same batches; eval and predict use their ensemble")
    vary: dict[str, list[int | float]] = Field({}, description="per-member values, one per member, of: "
                                                         "seed, optimizer.lr, optimizer.momentum, "
                                                         "optimizer.weight_decay, regularization.l1 (sweep packs)")

    @field_validator("vary", mode="before")
    @classmethod
    def _varying_fields(cls, value: Any) -> Any:
        """The key first: `model.hidden` cannot vary, whatever its values' types would say."""
        for key in value if isinstance(value, dict) else ():
            if key not in PER_MEMBER:
                raise ValueError(f"{key}: cannot differ between members{did_you_mean(str(key), PER_MEMBER)} "
                                 f"(valid: {', '.join(PER_MEMBER)})")
        return value

    @field_validator("cuda_graph", mode="before")
    @classmethod
    def _yaml_switch(cls, value: Any) -> Any:
        """YAML reads on/off (and yes/no) as booleans."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("precision", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("device")
    @classmethod
    def _device_form(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
            raise ValueError(f"unknown device '{value}' (valid: auto, cpu, cuda, cuda:N, mps)")
        return value


class ReportConfig(Section):
    plots: bool = Field(True, description="write the pictures (confusion matrix, probabilities, curves, ...)")
    examples: int = Field(10, ge=1, le=100, description="test images in probabilities.png and top_losses.png")
    histograms: bool = Field(False, description="weight and gradient histograms in TensorBoard every epoch")


class TuneConfig(Section):
    space: dict[str, str] = Field({}, description="nnintro tune: field -> distribution, e.g. optimizer.lr: "
                                  "log(1e-4, 1e-1); kinds: log, uniform, int, logint, choice")
    trials: int = Field(40, ge=1, le=100_000, description="nnintro tune: how many trials a study runs")
    sampler: Literal["tpe", "random", "grid", "cmaes"] = Field("tpe", description="nnintro tune: Optuna's sampler")
    pruner: Literal["median", "halving", "none"] = Field("median", description="nnintro tune: Optuna's pruner")


class Config(Section):
    name: str | None = Field(None, description="run name prefix; default: <dataset>_<model.kind>")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="the libraries underneath take 0 .. 2^32 - 1")
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    regularization: RegularizationConfig = RegularizationConfig()
    train: TrainConfig = TrainConfig()
    report: ReportConfig = ReportConfig()
    # read by nnintro tune only: left out of every dump, so a run's config.yaml stays what trains it
    tune: TuneConfig = Field(TuneConfig(), exclude=True)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(f"must be letters, digits, '.', '_' or '-' (it names a folder), got {value!r}")
        return value

    @model_validator(mode="after")
    def _folds_are_members(self) -> Config:
        """data.folds: K trains one member per fold, so the pack's size is K."""
        folds = self.data.folds
        if folds >= 2:
            if self.train.members not in (1, folds) or self.train.vary:
                raise ValueError(f"train.members: data.folds trains one member per fold ({folds}); leave "
                                 f"train.members and train.vary unset")
            if self.train.engine == "numpy":
                raise ValueError("data.folds: the numpy engine trains one model; use train.engine: torch")
            self.train.members = folds
        return self

    @model_validator(mode="after")
    def _engine_fits(self) -> Config:
        if self.train.engine == "numpy":
            problems = engine_problems(self)
            if problems:
                raise ValueError(f"train.engine: numpy trains plain MLPs only: {'; '.join(problems)}")
        return self

    @model_validator(mode="after")
    def _members_fit(self) -> Config:
        members = self.train.members
        if members > 1 and self.model.activation == "prelu" and self.model.kind == "mlp":
            raise ValueError("train.members: prelu's learned slope would be shared by the members; "
                             "use leaky_relu, or train.members: 1")
        for key, values in self.train.vary.items():
            if key not in PER_MEMBER:
                raise ValueError(f"train.vary.{key}: cannot differ between members{did_you_mean(key, PER_MEMBER)} "
                                 f"(valid: {', '.join(PER_MEMBER)})")
            if len(values) != members:
                raise ValueError(f"train.vary.{key}: needs one value per member ({members}), got {len(values)}")
        if self.seed + members - 1 > 2**32 - 1 and "seed" not in self.train.vary:
            raise ValueError(f"seed: members take seed .. seed + {members - 1}, which must stay below 2^32")
        if members > 1:
            self.member_configs()  # each member's values pass the same checks as the config's own
        return self

    @property
    def packable(self) -> bool:
        """Whether its model can be one member of a pack (the numpy engine trains a single model)."""
        return self.train.engine != "numpy"

    def member_configs(self) -> list[Config]:
        """Each member's own config: seed + k (or train.vary's seed) and its train.vary values; train.members 1."""
        if self.train.members == 1 and not self.train.vary:
            return [self]
        configs = []
        for member in range(self.train.members):
            document = self.model_dump()
            document["seed"] = self.seed + member
            document["train"].update(members=1, vary={})
            document["data"]["folds"] = 0  # a member is one model (under data.folds, that of one fold)
            for key, values in self.train.vary.items():
                section, _, field = key.rpartition(".")
                value = int(values[member]) if key == "seed" and values[member] == int(values[member]) else values[member]
                (document[section] if section else document)[field] = value
            try:
                configs.append(Config.model_validate(document))
            except ValidationError as err:
                problem = describe_error(err.errors(include_url=False)[0], Config)
                raise ValueError(f"train.vary: member {member}: {problem}") from None
        return configs

    def value(self, key: str) -> Any:
        """A field by its dotted name: config.value("optimizer.lr")."""
        node: Any = self
        for part in key.split("."):
            node = getattr(node, part)
        return node

    @property
    def run_name(self) -> str:
        return self.name or f"{self.data.dataset}_{self.model.kind}"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


# ---------------------------------------------------------------- loading


def packaged_config_names() -> list[str]:
    folder = resources.files("nnintro") / PACKAGED_CONFIGS
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def packaged_config_summaries() -> dict[str, str]:
    """Each packaged config's opening comment, as one line: what `nnintro configs` lists."""
    folder = resources.files("nnintro") / PACKAGED_CONFIGS
    summaries = {}
    for name in packaged_config_names():
        lines = (folder / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
        comment = []
        for line in lines:
            if not line.startswith("#"):
                break
            comment.append(line.lstrip("# ").strip())
        text = " ".join(comment)
        summaries[name] = text.split(". ")[0].split(" Run it with")[0].rstrip(".:")
    return summaries


def resolve_config_path(spec: str) -> Path:
    """A path that exists, else a packaged config by bare name (with or without .yaml)."""
    path = Path(spec)
    if path.is_file():
        return path
    stem = path.name[:-5] if path.name.endswith((".yaml", ".yml")) else path.name
    if path.parent == Path(".") and stem in packaged_config_names():
        return Path(str(resources.files("nnintro") / PACKAGED_CONFIGS / f"{stem}.yaml"))
    for suffix in (".yaml", ".yml"):  # `--config mine` with mine.yaml beside it
        if path.suffix not in (".yaml", ".yml") and path.with_name(path.name + suffix).is_file():
            return path.with_name(path.name + suffix)
    names = packaged_config_names()
    hint = did_you_mean(stem, names)
    raise ConfigError(f"config file '{spec}' not found{hint} (packaged configs: {', '.join(names)})")


def read_yaml_mapping(path: Path, expected: str = "a YAML mapping of sections (data:, model:, ...)") -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read ({getattr(err, 'strerror', None) or err})") from err
    try:
        document = load_yaml(text)
    except YamlProblem as err:
        raise ConfigError(f"{path}: {err}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}:{where}: {problem}") from err
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: must be {expected}, got {type(document).__name__}")
    return document


def override_text(key: str, value: Any) -> str:
    """A Python value as the --set assignment that gives it: ("model.hidden", [64, 64]) -> "model.hidden=[64, 64]"."""
    return f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"


def leaf_paths(model: type[BaseModel], prefix: str = "") -> dict[str, list[str]]:
    """Each field's own name -> the dotted paths ending in it (train.epochs under "epochs")."""
    paths: dict[str, list[str]] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for leaf, found in leaf_paths(annotation, f"{prefix}{name}.").items():
                paths.setdefault(leaf, []).extend(found)
        else:
            paths.setdefault(name, []).append(f"{prefix}{name}")
    return paths


TEXT_FIELDS = ("name", "data.root", "data.path", "data.target", "data.ignore", "data.features", "data.na_values")


def apply_override(document: dict[str, Any], assignment: str) -> None:
    """Apply one `--set a.b=v` (v parsed as YAML) to a raw config mapping, in place. Fields that hold names (columns,
    paths) read every scalar as the text typed: a column called YES, 1960 or null stays that column."""
    key, sep, raw_value = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set '{assignment}': expected KEY=VALUE, e.g. optimizer.lr=0.05")
    try:
        value = load_yaml(raw_value) if raw_value.strip() else ""
        if key.strip() in TEXT_FIELDS and raw_value.strip():
            value = yaml.load(raw_value, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only str, list, dict
    except YamlProblem as err:
        raise ConfigError(f"--set {key.strip()[:60]}: the value {err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {key.strip()[:60]}: the value is not valid YAML") from err
    parts = key.strip().split(".")
    node = document
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None or isinstance(child, str) and depth == 0:
            # a section given as a plain name (`loss: mse`) becomes a mapping to hold the new key
            child = {"name": child} if isinstance(child, str) else {}
            node[part] = child
        if not isinstance(child, dict):
            raise ConfigError(f"--set '{assignment}': '{'.'.join(parts[: depth + 1])}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _location(loc: tuple) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in ("function-before", "function-after") and not str(part).startswith(("function-", "literal[")):
            text += f".{part}" if text else str(part)
    return text or "config"


def shown(value: Any, limit: int = 60) -> str:
    """A user's value in a message: its repr, cut short (a 10^6-element list is named, not printed)."""
    if isinstance(value, (list, dict, str)) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value):,} items"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def describe_error(error: dict, model: type[BaseModel]) -> str:
    """One pydantic error as one line naming the field: `model.hidden[1]: must be > 0, got -3`."""
    loc = _location(error["loc"])
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "extra_forbidden":
        section: Any = model
        for part in error["loc"][:-1]:
            field = section.model_fields.get(part) if isinstance(part, str) and hasattr(section, "model_fields") else None
            section = field.annotation if field else None
        valid = list(section.model_fields) if section is not None and hasattr(section, "model_fields") else []
        return f"{loc}: unknown key{did_you_mean(error['loc'][-1], valid)}" + (f" (valid: {', '.join(valid)})" if valid else "")
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        limit = f"{limit:g}" if isinstance(limit, float) else limit
        return f"{loc}: must be {bounds[kind]} {limit}, got {shown(value)}"
    if kind == "literal_error":
        return f"{loc}: must be one of {ctx.get('expected')}, got {shown(value)}"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        if message.startswith("["):  # a list item: "[1] must be > 0" reads as model.hidden[1]: ...
            index, _, rest = message.partition("] ")
            return f"{loc}{index}]: {rest}"
        if re.match(r"^\w+(\[\d+\]|\.\w+)*: ", message):  # names its own field (layers[0].weight) in the section
            return f"{loc}.{message}" if loc != "config" else message
        return f"{loc}: {message}"
    hint = ""
    if kind == "list_type" and isinstance(value, str) and "," in value:  # --set model.hidden=128,64
        hint = f"; write a list in brackets: \"{loc}=[{value}]\""
    return f"{loc}: {error['msg'][0].lower()}{error['msg'][1:]}, got {shown(value)}{hint}"


def validate(document: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(document)
    except ValidationError as err:
        problems = [describe_error(e, Config) for e in err.errors(include_url=False)]
        extra = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {problems[0]}{extra}") from err


def load_config(spec: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a YAML file (or packaged config by name; None: the defaults) and apply --set overrides."""
    document: dict[str, Any] = {}
    source = "config"
    if spec:
        path = resolve_config_path(spec)
        document = read_yaml_mapping(path)
        source = str(spec)
    for assignment in overrides:
        apply_override(document, assignment)
    return validate(document, source)


def engine_problems(config: Any) -> list[str]:
    """What train.engine: numpy cannot do in this config (the task's loss is checked by the engine)."""
    from nnintro.models import scratch

    problems = []
    if config.model.kind == "mlp" and config.model.activation not in scratch.ACTIVATIONS:
        problems.append(f"model.activation '{config.model.activation}' has no from-scratch layer "
                        f"(valid: {', '.join(scratch.ACTIVATIONS)})")
    unsupported = {
        "model.norm": config.model.norm != "none",
        "model.dropout": any(config.model.dropout if isinstance(config.model.dropout, list) else [config.model.dropout]),
        "train.members": config.train.members > 1,
        "train.precision": config.train.precision != "32",
        "train.compile": config.train.compile,
        "train.device": config.train.device not in ("auto", "cpu"),
        "regularization.l1": config.regularization.l1 > 0,
        "loss.label_smoothing": config.loss.label_smoothing > 0,
        "loss.class_weight": config.loss.class_weight != "none",
        "data.augment.mixup": config.data.augment.mixup > 0,
    }
    problems += [f"{field} must stay at its default" for field, used in unsupported.items() if used]
    return problems
