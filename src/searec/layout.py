"""Where artifacts live. The Snakefile, dvc.yaml and the CLI all follow these paths.

A path tells what a file is (DESIGN.md)::

    data/raw/<dataset>/                         exactly what was downloaded (manifest.json: URLs, hashes)
    data/processed/<dataset>/                   interactions/items/users parquet tables, manifest.json
    data/images/<dataset>/                      product images by URL hash, manifest.parquet/json
    data/features/<dataset>/<modality>-<encoder>.npy (+ .json)  item features, row = item index
    data/mmrec/<dataset>/                       MMRec-format folder a model trains on
    data/graphs/<dataset>/                      ui.npz, knn-<modality>-k<k>.npz, uu-k<k>.npz, manifest.json
    runs/<dataset>/<model>/<variant>/seed-<s>/  one training run (metrics.json, model.pt, ...)
    search/<dataset>/grid/<model>/<point>/seed-<s>/  one grid-search run (a point of grids.<model>)
    search/<dataset>/selected/<model>.json      the point chosen on validation (searec select)
    results/tables/<experiment>.{csv,md,tex}    aggregated tables
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_VARIANT = "default"

# The files of a run folder (searec.training.trainer writes them under these names).
RUN_METRICS = "metrics.json"
RUN_MODEL = "model.pt"
RUN_HISTORY = "history.csv"
RUN_CONFIG = "config.yaml"
RUN_PER_USER_TEST = "test_per_user.parquet"
RUN_CHECKPOINT = "checkpoint.pt"
RUN_CHECKPOINT_SECONDS = 60.0
"""A training writes its checkpoint after an epoch once this long has passed since the last one (0:
every epoch). A killed run redoes at most that much work and, being deterministic, ends the same; a
short run (the sample's take seconds) is not slowed by writing its model and Adam state every epoch
(SEA on the sample: 0.15 s of a 0.38 s epoch)."""
RUN_LOG = "train.log"
RUN_LOCK = ".lock"
RUN_OUTPUTS = (RUN_METRICS, RUN_MODEL, RUN_HISTORY, RUN_CONFIG, RUN_PER_USER_TEST)
"""What a finished run leaves: the tracked outputs of every training stage (the checkpoint is
deleted at the end; the log is not tracked)."""


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


def grid_run_dir(dataset: str, model: str, point: str, seed: int | str, root: Path = Path("search")) -> Path:
    return Path(root) / dataset / "grid" / model / point / f"seed-{seed}"


def selection_path(dataset: str, model: str, root: Path = Path("search")) -> Path:
    return Path(root) / dataset / "selected" / f"{model}.json"


def table_prefix(experiment: str) -> Path:
    return Path("results") / "tables" / experiment


def variant_of_run(metrics_path: Path) -> str:
    """The variant folder of ``runs/<dataset>/<model>/<variant>/seed-<s>/metrics.json`` (``default`` elsewhere)."""
    run = Path(metrics_path).parent
    return run.parent.name if run.name.startswith("seed-") and run.parent.name else DEFAULT_VARIANT
