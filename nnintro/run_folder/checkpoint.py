"""All checkpoint logic: weights and training state in safetensors, everything else as JSON metadata.

Nothing here unpickles: a run folder can be shared and opened safely. Files are written atomically,
so a crash at any instant leaves the previous checkpoint or the new one, never a torn file.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import nn

from nnintro.errors import InputError, RunError
from nnintro.files import GrowingText, csv_text, json_rows, read_json, write_atomic
from nnintro.models.layers import architecture_problems, build_model, member_count, planned_parameters, user_model
from nnintro.run_folder.layout import CHECKPOINT_FILE, HISTORY_FILE, METRICS_FILE, STEPS_FILE, WEIGHTS_FILE, read_steps
from nnintro.run_folder.run import Run

HISTORY_KEY = "nnintro.history"  # the checkpoint's metadata entry of the history rows


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    plain = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    write_atomic(path, save(plain, metadata=metadata))


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise RunError(f"{path}: missing") from err
    except OSError as err:
        raise RunError(f"{path}: cannot read ({err.strerror or err})") from err
    try:
        tensors = load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        metadata = json.loads(raw[8:8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, OSError) as err:
        raise RunError(f"{path}: not a valid safetensors file ({err}); it may be truncated or tampered with") from err
    return tensors, metadata


def as_pack_of_one(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Files written before packs hold a single model's (out, in) tensors: they are member 0 of a pack of one."""
    return {name: value.unsqueeze(0) if name in expected and expected[name].dim() == value.dim() + 1
            and expected[name].shape == (1, *value.shape) else value for name, value in tensors.items()}


def check_fits(module: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Name the file on any tensor the module lacks, misses or has in another shape."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        detail = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(unexpected)}"
        raise RunError(f"{path}: does not fit the model in model.json ({detail})")
    for name, value in expected.items():
        if tensors[name].shape != value.shape:
            raise RunError(f"{path}: tensor {name} has shape {list(tensors[name].shape)}, "
                           f"the model needs {list(value.shape)}")


def load_state_into(module: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    tensors = as_pack_of_one(tensors, module.state_dict())
    check_fits(module, tensors, path)
    module.load_state_dict(tensors)
    return tensors


def save_weights(model: nn.Module, path: Path) -> None:
    save_tensors(path, model.state_dict())


def load_pack(run: Run) -> nn.Module:
    """Rebuild a run's model (a pack of one or more members) from model.json and load its best weights."""
    arch = run.architecture
    problems = architecture_problems(arch, run.task.width)
    if problems:
        raise RunError(f"{run.path / 'model.json'}: {'; '.join(problems)}")
    path = run.path / WEIGHTS_FILE
    tensors, _ = load_tensors(path)
    # a tampered model.json cannot make us allocate more than the weights file holds
    stored, planned = sum(t.numel() for t in tensors.values()), planned_parameters(arch)
    if planned > stored:
        raise RunError(f"{path}: tensors hold {stored:,} values, but model.json describes {planned:,} parameters")
    try:
        model = build_model(arch)
    except (TypeError, ValueError, RuntimeError) as err:
        raise RunError(f"{run.path / 'model.json'}: cannot build the model ({err})") from err
    load_state_into(model, tensors, path)
    return model.eval()


def load_model(run: Run, member: int | None = None) -> nn.Module:
    """The model a user runs: the ensemble of a run's members (member None) or one member; (B, width) outputs."""
    pack = load_pack(run)
    members = member_count(pack)
    if member is not None and not 0 <= member < members:
        raise InputError(f"--member {member}: this run has {members} member{'s' if members > 1 else ''} "
                         f"(valid: 0{f' to {members - 1}' if members > 1 else ''})")
    metrics = run.path / METRICS_FILE
    recorded = read_json(metrics).get("members", []) if metrics.is_file() else []
    alive = [m["member"] for m in recorded if isinstance(m, dict) and m.get("status") != "diverged"
             and isinstance(m.get("member"), int) and 0 <= m["member"] < members]
    return user_model(pack, run.task.combine, member, alive).eval()


# ---------------------------------------------------------------- full training state (resume)


def _optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, plain = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                plain[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "plain": plain}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta["plain"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for index, values in state.items():  # moments saved before packs: a pack of one's
        if index < len(parameters):
            values.update(as_pack_of_one({k: v for k, v in values.items() if k != "step" and torch.is_tensor(v)},
                                         dict.fromkeys(values, parameters[index])))
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_training_state(path: Path, model: nn.Module, best_state: dict[str, torch.Tensor],
                        optimizer: torch.optim.Optimizer, scheduler: Any, progress: dict[str, Any],
                        history_json: str) -> None:
    """Everything needed to continue after the last completed epoch, in one atomically written file
    (the best weights too, so the checkpoint never disagrees with itself about which epoch was best).
    history_json: the history rows as a JSON list, kept as its own metadata entry."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in best_state.items()})
    optimizer_tensors, optimizer_meta = _optimizer_state(optimizer)
    tensors.update(optimizer_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = cuda_state
    np_state = np.random.get_state()
    meta = {
        "progress": progress,
        "optimizer": optimizer_meta,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng_numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "rng_python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }
    save_tensors(path, tensors, metadata={"nnintro": json.dumps(meta), HISTORY_KEY: history_json})


def checkpoint_config(path: Path) -> dict[str, Any] | None:
    """The resolved config the checkpoint was written under (None for checkpoints older than that record)."""
    _, metadata = load_tensors(path)
    try:
        return json.loads(metadata["nnintro"])["progress"].get("config")
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as err:
        raise RunError(f"{path}: checkpoint metadata is damaged ({type(err).__name__}: {err})") from err


def load_training_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                        scheduler: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore model, optimizer, scheduler and RNG states; return the saved progress and the best weights."""
    tensors, metadata = load_tensors(path)
    try:
        meta = json.loads(metadata["nnintro"])
        best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        best_state = load_state_into(model, best_state, path)  # checks names and shapes; the last weights follow
        load_state_into(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
        _restore_optimizer(optimizer, tensors, meta["optimizer"])
        if scheduler is not None and meta["scheduler"] is not None:
            scheduler.load_state_dict(meta["scheduler"])
        torch.set_rng_state(tensors["rng.torch"])
        cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])
        name, keys, *rest = meta["rng_numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
        version, internal, gauss = meta["rng_python"]
        random.setstate((version, tuple(internal), gauss))
        progress = meta["progress"]
        if HISTORY_KEY in metadata:  # else a checkpoint that kept the history inside the progress
            progress["history"] = json.loads(metadata[HISTORY_KEY])
        if "members" not in progress:  # checkpoints before packs: one early stopping state
            progress["members"] = [progress.pop("early_stopping")]
        return progress, best_state
    except RunError:
        raise
    except (KeyError, ValueError, TypeError, RuntimeError, json.JSONDecodeError) as err:
        raise RunError(f"{path}: checkpoint does not fit this run ({type(err).__name__}: {err})") from err


class RunFolder:
    """The trainer's record in a run folder: the best weights, history.csv and the checkpoint, every epoch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # what grows every epoch, formatted a row at a time (see GrowingText)
        self.history_csv, self.steps_csv, self.history_json = GrowingText(csv_text), GrowingText(csv_text), \
            GrowingText(json_rows)

    def save_epoch(self, model: nn.Module, best_state: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
                   scheduler: Any, progress: dict[str, Any], improved: bool) -> None:
        if improved:  # every member's best weights so far
            save_tensors(self.path / WEIGHTS_FILE, best_state)
        write_atomic(self.path / HISTORY_FILE, self.history_csv(progress["history"]))
        write_atomic(self.path / STEPS_FILE, self.steps_csv(progress["steps"]))
        save_training_state(self.path / CHECKPOINT_FILE, model, best_state, optimizer, scheduler,
                            {k: v for k, v in progress.items() if k not in ("steps", "history")},  # steps: steps.csv
                            f"[{self.history_json(progress['history'])}]")

    def saved_steps(self, epoch: int) -> list[dict[str, float]]:
        """The step log of the epochs up to a checkpoint's, to continue it on resume."""
        return read_steps(self.path, epoch)

    def save_weights(self, model: nn.Module) -> None:
        save_weights(model, self.path / WEIGHTS_FILE)
