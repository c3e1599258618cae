"""Shared fixtures: small planted datasets and helpers to write MMRec folders by hand."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from searec.data.synth import SynthConfig, write_synthetic_folder

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEAREC_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def write_inter(folder: Path, rows: list[tuple], header: str = "userID\titemID\tx_label", name: str = "toy") -> Path:
    """Write ``<folder>/<name>.inter`` from literal rows (no validation: tests feed bad input too)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.inter"
    lines = [header] + ["\t".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 users × 60 items, 16-d image and 8-d text features."""
    out = tmp_path_factory.mktemp("data") / "tiny"
    write_synthetic_folder(out, SynthConfig(n_users=120, n_items=60, image_dim=16, text_dim=8, seed=3))
    return out


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 users × 300 items: big enough for models to learn the planted preferences."""
    out = tmp_path_factory.mktemp("data") / "small"
    write_synthetic_folder(out, SynthConfig(n_users=600, n_items=300, image_dim=32, text_dim=16, seed=11))
    return out


def shared_dataset(name: str) -> Path:
    """A folder of ../shared/data, or skip the test when it is absent (users do not have it)."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} not present (real data for checks only)")
    return path


def random_features(n_items: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n_items, dim)).astype(np.float32)
