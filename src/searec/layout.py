"""Where artifacts live. The Snakefile, dvc.yaml and the CLI all follow these paths.

A path tells what a file is (DESIGN.md)::

    data/raw/<dataset>/                         exactly what was downloaded (manifest.json: URLs, hashes)
    data/processed/<dataset>/                   interactions/items/users parquet tables, manifest.json
    data/images/<dataset>/                      product images by URL hash, manifest.parquet/json
    data/features/<dataset>/<modality>-<encoder>.npy (+ .json)  item features, row = item index
    data/mmrec/<dataset>/                       MMRec-format folder a model trains on
    data/graphs/<dataset>/                      ui.npz, knn-<modality>-k<k>.npz, uu-k<k>.npz, manifest.json
    runs/<dataset>/<model>/<variant>/seed-<s>/  one training run (metrics.json, model.pt, ...)
    results/tables/<experiment>.{csv,md}        aggregated tables
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_VARIANT = "default"
RUN_OUTPUTS = ("metrics.json", "model.pt", "history.csv", "config.yaml")


def raw_dir(dataset: str, root: Path = Path("data")) -> Path:
    return Path(root) / "raw" / dataset


def processed_dir(dataset: str, root: Path = Path("data")) -> Path:
    return Path(root) / "processed" / dataset


def images_dir(dataset: str, root: Path = Path("data")) -> Path:
    return Path(root) / "images" / dataset


def features_dir(dataset: str, root: Path = Path("data")) -> Path:
    return Path(root) / "features" / dataset


def graphs_dir(dataset: str, root: Path = Path("data")) -> Path:
    return Path(root) / "graphs" / dataset


def mmrec_dir(dataset: str, root: Path = Path("data")) -> Path:
    return Path(root) / "mmrec" / dataset


def run_dir(dataset: str, model: str, seed: int | str, variant: str = DEFAULT_VARIANT,
            root: Path = Path("runs")) -> Path:
    return Path(root) / dataset / model / variant / f"seed-{seed}"


def table_prefix(experiment: str) -> Path:
    return Path("results") / "tables" / experiment


def experiment_runs(params: Mapping[str, Any], experiment: str) -> list[tuple[str, str, int]]:
    """(dataset, model, seed) of every run an experiment of ``params.yaml`` declares."""
    try:
        spec = params["experiments"][experiment]
        return [(d, m, int(s)) for d in spec["datasets"] for m in spec["models"] for s in params["seeds"]]
    except (KeyError, TypeError) as error:
        raise KeyError(f"params: experiments.{experiment}.datasets / .models and seeds are required ({error})") from None
