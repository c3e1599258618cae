"""Figures: drawn from run histories and tables, PNG + PDF each; the PCA is one basis for all parts."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from searec.data.mmrec import load_mmrec_folder
from searec.report.figures import (
    FigureError,
    ablation_bars,
    pca_2d,
    read_histories,
    representation_pca,
    sea_item_parts,
    sensitivity_lines,
    training_curves,
)
from searec.training.config import TrainingConfig
from searec.training.trainer import train_run


def _table(variants: dict[str, float]) -> pd.DataFrame:
    rows = []
    for variant, value in variants.items():
        for metric in ("recall@20", "ndcg@20"):
            rows.append({"dataset": "toy", "model": "sea", "variant": variant, "split": "test", "metric": metric,
                         "mean": value, "std": value / 10, "n_seeds": 2, "seeds": "0 1"})
    return pd.DataFrame(rows)


def test_pca_separates_blocks_that_differ_along_one_direction() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 3)) * [0.1, 0.1, 0.1]
    b = a + [5.0, 0.0, 0.0]
    pa, pb = pca_2d([a, b[:, :2]])  # different widths are padded to one basis
    assert abs(pa[:, 0].mean() - pb[:, 0].mean()) == pytest.approx(5.0, rel=0.05)
    assert pa.shape == (50, 2) and pb.shape == (50, 2)


def test_ablation_and_sensitivity_figures(tmp_path: Path) -> None:
    written = ablation_bars(_table({"ablation-full": 0.3, "ablation-no-club": 0.25}), tmp_path)
    assert sorted(p.name for p in written) == ["ablation.pdf", "ablation.png"]
    variants = {"alpha-0.1": {"alpha": 0.1}, "alpha-1.0": {"alpha": 1.0}, "tau-0.5": {"tau": 0.5}}
    table = _table({f"sensitivity-{name}": 0.2 for name in variants})
    assert len(sensitivity_lines(table, variants, tmp_path)) == 2
    assert (tmp_path / "sensitivity.png").stat().st_size > 5000
    with pytest.raises(FigureError, match="changes one value"):
        sensitivity_lines(table, {"both": {"alpha": 0.1, "tau": 0.5}}, tmp_path)


def test_training_curves_and_sea_representations_from_real_runs(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=2, batch_size=256, device="cpu")
    paths = []
    for model in ("bpr", "sea"):
        run = tmp_path / "runs" / "tiny" / model / "default" / "seed-0"
        train_run(dataset, model, {"club_steps": 2} if model == "sea" else {}, config, seed=0, run_dir=run)
        paths.append(run / "metrics.json")
    histories = read_histories(paths)
    assert set(histories["model"]) == {"bpr", "sea"} and "loss_solo" in histories
    assert [p.name for p in training_curves(histories, tmp_path / "figures")] == ["training-tiny.png",
                                                                                  "training-tiny.pdf"]
    parts = sea_item_parts(paths[1], tiny_synth, None)
    assert sorted(parts) == ["image generic", "image unique", "text generic", "text unique"]
    assert parts["image generic"].shape == (dataset.n_items, 8)  # input reading: half of the 16-d projection
    representation_pca(parts, tmp_path / "figures", "tiny")
    assert (tmp_path / "figures" / "representations-tiny.pdf").exists()
