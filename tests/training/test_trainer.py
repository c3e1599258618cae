import csv
import json
from pathlib import Path

import pytest
import torch

from searec.data.mmrec import load_mmrec_folder
from searec.training.config import TrainingConfig
from searec.training.trainer import CHECKPOINT, RunConflictError, train_run

FAST = TrainingConfig(epochs=8, patience=100, batch_size=256, device="cpu")


def _comparable(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in {"seconds", "code_version"}}


def _history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("model", ["bpr", "lightgcn"])
def test_loss_falls_and_run_directory_is_complete(model: str, small_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(small_synth)
    result = train_run(dataset, model, {}, FAST, seed=1, run_dir=tmp_path)
    history = _history(tmp_path)
    assert len(history) == 8
    assert float(history[-1]["loss"]) < float(history[0]["loss"])
    assert {"loss_bpr", "loss_reg", "train_seconds", "eval_seconds", "valid_recall@20"} <= set(history[0])
    for key in ("model", "dataset", "seed", "best_epoch", "epochs_run", "valid", "test", "seconds", "params",
                "inputs", "code_version"):
        assert key in result
    for split in ("valid", "test"):
        assert {f"{m}@{k}" for m in ("recall", "ndcg", "precision", "map") for k in (5, 10, 20, 50)} == set(result[split])
    assert set(result["seconds"]) == {"train_epoch_mean", "eval_mean", "total"}
    assert result["params"]["embedding_size"] == 64 and result["params"]["training"]["epochs"] == 8
    assert set(result["inputs"]) == {"small.inter"}  # ID-only models do not record the unused features
    import pandas as pd

    per_user = pd.read_parquet(tmp_path / "test_per_user.parquet")
    assert len(per_user) == result["evaluated_users"]["test"] and per_user["user"].is_unique
    for metric, value in result["test"].items():
        assert per_user[metric].mean() == pytest.approx(value, rel=1e-12)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["test"] == result["test"]
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert state["user_embedding"].shape == (600, 64)
    assert not (tmp_path / CHECKPOINT).exists()
    assert (tmp_path / "config.yaml").exists()


def test_models_learn_the_planted_preferences(small_synth: Path, tmp_path: Path) -> None:
    """Trained models must beat popularity-free chance by a wide margin on validation Recall@20."""
    dataset = load_mmrec_folder(small_synth)
    config = TrainingConfig(epochs=40, patience=100, batch_size=512, learning_rate=5e-3, device="cpu")
    result = train_run(dataset, "lightgcn", {}, config, seed=0, run_dir=tmp_path)
    chance = 20 / dataset.n_items
    assert result["valid"]["recall@20"] > 2 * chance


def test_fixed_seed_reproduces_the_run(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    first = train_run(dataset, "lightgcn", {}, FAST, seed=4, run_dir=tmp_path / "a")
    second = train_run(dataset, "lightgcn", {}, FAST, seed=4, run_dir=tmp_path / "b")
    other = train_run(dataset, "lightgcn", {}, FAST, seed=5, run_dir=tmp_path / "c")
    assert _comparable(first) == _comparable(second)
    assert first["test"] != other["test"]
    # byte-identical model files: equal content hashes for DVC and `searec lineage`
    assert (tmp_path / "a" / "model.pt").read_bytes() == (tmp_path / "b" / "model.pt").read_bytes()
    assert (tmp_path / "a" / "test_per_user.parquet").read_bytes() == (tmp_path / "b" / "test_per_user.parquet").read_bytes()


class Interrupted(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_result(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=12, patience=3, batch_size=128, device="cpu")
    reference = train_run(dataset, "bpr", {"reg_weight": 1e-3}, config, seed=2, run_dir=tmp_path / "whole")

    def interrupt_after_four(epoch: int) -> None:
        if epoch == 4:
            raise Interrupted

    with pytest.raises(Interrupted):
        train_run(dataset, "bpr", {"reg_weight": 1e-3}, config, seed=2, run_dir=tmp_path / "cut",
                  on_epoch_end=interrupt_after_four, checkpoint_seconds=0)
    assert (tmp_path / "cut" / CHECKPOINT).exists() and not (tmp_path / "cut" / "metrics.json").exists()
    assert len(_history(tmp_path / "cut")) == 4
    resumed = train_run(dataset, "bpr", {"reg_weight": 1e-3}, config, seed=2, run_dir=tmp_path / "cut")
    assert _comparable(resumed) == _comparable(reference)
    whole, cut = _history(tmp_path / "whole"), _history(tmp_path / "cut")
    drop_time = lambda rows: [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]  # noqa: E731
    assert drop_time(whole) == drop_time(cut)


def test_checkpoints_are_written_once_the_interval_has_passed(tiny_synth: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint after an epoch only once ``checkpoint_seconds`` passed since the last (a fake clock here);
    the history of a finished run is complete whatever the interval."""
    from searec.training import trainer

    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=6, patience=100, batch_size=128, device="cpu")
    clock = iter(range(0, 10_000, 25))  # every reading of the clock is 25 s after the last
    monkeypatch.setattr(trainer.time, "monotonic", lambda: float(next(clock)))
    saved: list[int] = []
    original = trainer.Trainer._save_checkpoint
    monkeypatch.setattr(trainer.Trainer, "_save_checkpoint",
                        lambda self, model, optimizer, rng, state: saved.append(state["epoch"]) or
                        original(self, model, optimizer, rng, state))
    result = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path / "a", checkpoint_seconds=60)
    assert saved == [3, 6]  # clock 75 s after the start at epoch 3, then 75 s after that save at epoch 6
    assert [int(row["epoch"]) for row in _history(tmp_path / "a")] == list(range(1, 7))
    saved.clear()
    every = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path / "b", checkpoint_seconds=0)
    assert saved == [1, 2, 3, 4, 5, 6] and _comparable(every) == _comparable(result)


def test_run_interrupted_right_after_its_stopping_epoch_stops_on_resume(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=200, patience=2, learning_rate=0.05, batch_size=64, device="cpu")
    reference = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path / "whole")
    assert reference["epochs_run"] < 200

    def interrupt_at_the_stop(epoch: int) -> None:
        if epoch == reference["epochs_run"]:
            raise Interrupted

    with pytest.raises(Interrupted):
        train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path / "cut", on_epoch_end=interrupt_at_the_stop,
                  checkpoint_seconds=0)
    resumed = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path / "cut")
    assert _comparable(resumed) == _comparable(reference)


def test_finished_run_is_reused_and_a_different_config_refused(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=2, device="cpu")
    first = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path)
    again = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path)
    assert again == json.loads(json.dumps(first))
    with pytest.raises(RunConflictError, match="different configuration"):
        train_run(dataset, "bpr", {"reg_weight": 0.5}, config, seed=0, run_dir=tmp_path)


def test_early_stopping_counts_evaluations_without_improvement(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=200, patience=2, learning_rate=0.05, batch_size=64, device="cpu")
    result = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path)
    assert result["epochs_run"] < 200
    assert result["epochs_run"] == result["best_epoch"] + config.patience + 1


def test_evaluation_every_n_epochs(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=7, eval_every=3, patience=100, device="cpu")
    train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path)
    evaluated = [int(row["epoch"]) for row in _history(tmp_path) if row["valid_recall@20"]]
    assert evaluated == [3, 6, 7]


@pytest.mark.slow
def test_killed_process_resumes_to_the_same_result(tiny_synth: Path, tmp_path: Path) -> None:
    """SIGKILL mid-run (no cleanup at all), then `searec train` again: same result as uninterrupted."""
    import os
    import signal
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "searec", "train", "--data", str(tiny_synth), "--model", "lightgcn",
               "--seed", "6", "--threads", "1", "--set", "epochs=150", "--set", "patience=1000",
               "--set", "batch_size=64", "--set", "device=cpu", "--checkpoint-seconds", "0"]
    subprocess.run(command + ["--out", str(tmp_path / "whole")], check=True, capture_output=True, timeout=600)
    process = subprocess.Popen(command + ["--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    history = tmp_path / "killed" / "history.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if history.exists() and len(history.read_text().splitlines()) > 10:
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "metrics.json").exists(), "the run finished before it could be killed"
    subprocess.run(command + ["--out", str(tmp_path / "killed")], check=True, capture_output=True, timeout=600)
    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    killed = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert _comparable(whole) == _comparable(killed)
    assert "resuming" in (tmp_path / "killed" / "train.log").read_text()
