"""What a run folder rewrites after every epoch: history.csv, steps.csv and the checkpoint's history, formatted a
row at a time, must read back exactly as if every row had been formatted at once, and checkpoints that kept the
history inside their progress (0.3.0's) must still resume."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save

from nnintro.files import GrowingText, csv_text, json_rows, write_csv
from nnintro.run_folder.checkpoint import HISTORY_KEY, RunFolder, load_tensors, load_training_state
from nnintro.run_folder.layout import CHECKPOINT_FILE


def history_row(epoch: int) -> dict:
    return {"epoch": epoch, "train/loss": 1 / epoch, "val/loss": float("nan") if epoch == 2 else 0.5 / epoch}


def best(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.state_dict().items()}


def _small_training() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_rows_formatted_as_they_come_read_as_all_at_once(tmp_path: Path):
    history, steps = [], []
    folder = RunFolder(tmp_path)
    model, optimizer = _small_training()
    for epoch in range(1, 6):
        history.append(history_row(epoch))
        steps += [{"epoch": epoch, "step": s, "loss": 1 / (epoch + s)} for s in range(1, 4)]
        folder.save_epoch(model, best(model), optimizer, None, {"epoch": epoch, "history": history,
                                                                      "members": [], "steps": steps}, improved=False)
        write_csv(tmp_path / "all_history.csv", history)
        write_csv(tmp_path / "all_steps.csv", steps)
        assert (tmp_path / "history.csv").read_text() == (tmp_path / "all_history.csv").read_text()
        assert (tmp_path / "steps.csv").read_text() == (tmp_path / "all_steps.csv").read_text()
        progress, _ = load_training_state(tmp_path / CHECKPOINT_FILE, *_small_training(), None)
        assert json.dumps(progress["history"]) == json.dumps(history)  # NaN included


def test_another_list_is_formatted_from_its_first_row():
    text = GrowingText(csv_text)
    first = [{"a": 1}, {"a": 2}]
    assert text(first) == "a\r\n1\r\n2\r\n"
    assert text([{"a": 3}]) == "a\r\n3\r\n"
    rows = [{"b": 1}]
    as_json = GrowingText(json_rows)
    assert json.loads(f"[{as_json(rows)}]") == rows
    rows.append({"b": 2})
    assert json.loads(f"[{as_json(rows)}]") == rows


def test_a_checkpoint_with_the_history_in_its_progress_resumes(tmp_path: Path):
    model, optimizer = _small_training()
    history = [history_row(epoch) for epoch in range(1, 4)]
    RunFolder(tmp_path).save_epoch(model, best(model), optimizer, None,
                                   {"epoch": 3, "history": history, "members": [], "steps": []}, improved=True)
    path = tmp_path / CHECKPOINT_FILE
    tensors, metadata = load_tensors(path)
    meta = json.loads(metadata["nnintro"])
    meta["progress"]["history"] = json.loads(metadata.pop(HISTORY_KEY))  # as 0.3.0 wrote it
    path.write_bytes(save(tensors, metadata={"nnintro": json.dumps(meta)}))
    progress, _ = load_training_state(path, *_small_training(), None)
    assert progress["epoch"] == 3 and json.dumps(progress["history"]) == json.dumps(history)
