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

from collections.abc import Mapping
from dataclasses import dataclass, field
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


def grid_run_dir(dataset: str, model: str, point: str, seed: int | str, root: Path = Path("search")) -> Path:
    return Path(root) / dataset / "grid" / model / point / f"seed-{seed}"


def selection_path(dataset: str, model: str, root: Path = Path("search")) -> Path:
    return Path(root) / dataset / "selected" / f"{model}.json"


def table_prefix(experiment: str) -> Path:
    return Path("results") / "tables" / experiment


@dataclass(frozen=True)
class PlannedRun:
    """One run an experiment declares: where it goes and the hyper-parameters its variant changes."""

    dataset: str
    model: str
    seed: int
    variant: str = DEFAULT_VARIANT
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def directory(self, root: Path = Path("runs")) -> Path:
        return run_dir(self.dataset, self.model, self.seed, self.variant, root)


def variant_directory(experiment: str, variant: str) -> str:
    """The run-folder name of an experiment's variant (``ablation-no-club``); plain experiments use ``default``."""
    return f"{experiment}-{variant}"


def experiment_runs(params: Mapping[str, Any], experiment: str) -> list[PlannedRun]:
    """Every run an experiment of ``params.yaml`` declares: datasets × models × variants × seeds.

    An experiment without ``variants`` trains each model with its ``models:`` settings (folder
    ``default``); with ``variants: {NAME: {param: value, ...}}`` (SEA's ablation, the sensitivity
    sweeps) each variant's values override those settings, in folder ``<experiment>-<NAME>``.
    An experiment's own ``seeds`` replace the global ``seeds``.
    """
    try:
        spec = params["experiments"][experiment]
        seeds = [int(s) for s in spec.get("seeds", params["seeds"])]
        variants = spec.get("variants")
        plans = [(DEFAULT_VARIANT, {})] if variants is None else [
            (variant_directory(experiment, name), dict(values or {})) for name, values in variants.items()]
        return [PlannedRun(d, m, s, variant, overrides) for d in spec["datasets"] for m in spec["models"]
                for variant, overrides in plans for s in seeds]
    except (KeyError, TypeError, AttributeError) as error:
        raise KeyError(f"params: experiments.{experiment}.datasets / .models and seeds are required ({error})") from None


def variant_of_run(metrics_path: Path) -> str:
    """The variant folder of ``runs/<dataset>/<model>/<variant>/seed-<s>/metrics.json`` (``default`` elsewhere)."""
    run = Path(metrics_path).parent
    return run.parent.name if run.name.startswith("seed-") and run.parent.name else DEFAULT_VARIANT
