"""Grid search on validation: the points of each model's grid, their runs, and the selection.

An experiment with ``search: {seed: S}`` (params.yaml's ``main``) trains every point of each
model's ``grids.<model>`` entry once, at seed ``S``, into
``search/<dataset>/grid/<model>/<point>/seed-<S>/``; ``searec select`` then picks the point with
the best VALIDATION ``training.valid_metric`` (the test split is never read) and writes
``search/<dataset>/selected/<model>.json``; the experiment's runs train that point once per seed.
This is MMRec's protocol (grid at seed 999, best validation Recall@20), with the re-runs per seed
that a mean ± std needs.

A grid is the Cartesian product of its axes, in the order written. An axis is a model
hyper-parameter (``reg_weight``) or a training setting (``training.learning_rate``: MMRec's grids
of MMGCN, GRCN, DualGNN, LATTICE and SLMRec search the learning rate). A point's name lists its
values (``alpha=0.1_ureg=0.006``), so run folders say what they hold; an empty grid is the one
point ``default``.

DVC cannot compute products of per-model axes in dvc.yaml, so ``searec grid --write`` writes the
points' runs to ``workflow/grid_runs.yaml`` (read as DVC ``vars``); ``searec grid --check`` and a
test keep it equal to what params.yaml declares, and ``searec select`` refuses a grid with a
missing point, so a stale file cannot silently drop points.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from searec.errors import SearecError
from searec.layout import grid_run_dir
from searec.params import number_from_text

SEARCHING_EXPERIMENT = "main"
DEFAULT_POINT = "default"
TRAINING_PREFIX = "training."
POINT_NAME = re.compile(r"^[A-Za-z0-9_.=+\-]+$")
GRID_RUNS_FILE = Path("workflow/grid_runs.yaml")
GRID_RUNS_HEADER = (
    "# Generated from params.yaml by `searec grid --write workflow/grid_runs.yaml`; do not edit.\n"
    "# The grid-search runs of experiments.main (dvc.yaml's train_grid stages read this file as vars;\n"
    "# DVC cannot form the product of each model's grid axes itself). `searec grid --check` and\n"
    "# tests/test_search.py fail when it differs from what params.yaml declares.\n"
)


class SearchError(SearecError):
    """A grid that cannot be searched or selected from as asked."""


@dataclass(frozen=True)
class GridPoint:
    """One combination of a model's grid values: its folder name and the values it sets."""

    name: str
    values: Mapping[str, Any] = field(default_factory=dict)


def split_training_keys(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model hyper-parameters, training settings) of ``{key: value}``: ``training.<key>`` is a training setting."""
    model = {key: value for key, value in values.items() if not key.startswith(TRAINING_PREFIX)}
    training = {key[len(TRAINING_PREFIX):]: value for key, value in values.items() if key.startswith(TRAINING_PREFIX)}
    return model, training


@dataclass(frozen=True)
class GridRun:
    """One grid point of one model on one dataset, trained at the search seed."""

    dataset: str
    model: str
    point: GridPoint
    seed: int

    def directory(self, root: Path = Path("search")) -> Path:
        return grid_run_dir(self.dataset, self.model, self.point.name, self.seed, root)

    @property
    def key(self) -> str:
        """The DVC stage key (``train_grid@<key>``)."""
        return f"{self.dataset}-{self.model}-{self.point.name}"


def format_value(value: Any) -> str:
    """A grid value as it appears in a point name: shortest round-trip text (``1e-05``, ``0.1``, ``true``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def grid_points(axes: Mapping[str, list[Any]] | None) -> list[GridPoint]:
    """Every combination of ``axes`` (the product, first axis slowest), named by its values."""
    axes = dict(axes or {})
    if not axes:
        return [GridPoint(DEFAULT_POINT, {})]
    axes = {key: [number_from_text(value) for value in values] for key, values in axes.items()}
    points = []
    for combination in itertools.product(*axes.values()):
        values = dict(zip(axes, combination, strict=True))
        name = "_".join(f"{key}={format_value(value)}" for key, value in values.items())
        if not POINT_NAME.match(name):
            raise SearchError(f"grid point {name!r}: values must be numbers, booleans or names of letters, "
                              f"digits, '.', '_' or '-' (they name run folders)")
        points.append(GridPoint(name, values))
    names = [point.name for point in points]
    if len(set(names)) != len(names):
        raise SearchError(f"grid {axes}: two points have the same name (a value is listed twice)")
    return points


def search_seed(params: Mapping[str, Any], experiment: str = SEARCHING_EXPERIMENT) -> int | None:
    """The experiment's search seed, or ``None`` when it does not search."""
    spec = ((params.get("experiments") or {}).get(experiment) or {}).get("search")
    return None if spec is None else int(spec["seed"])


def model_grid(params: Mapping[str, Any], model: str) -> list[GridPoint]:
    """The points of ``grids.<model>``; a searched model without an entry is an error naming the fix."""
    grids = params.get("grids") or {}
    if model not in grids:
        raise SearchError(f"params: experiments.{SEARCHING_EXPERIMENT} searches its models' grids, but grids.{model} "
                          f"is missing; add it (`grids.{model}: {{}}` is the single point models.{model})")
    return grid_points(grids[model])


def find_point(params: Mapping[str, Any], model: str, name: str) -> GridPoint:
    """The point ``name`` of ``grids.<model>`` (``searec train --grid-point``)."""
    points = model_grid(params, model)
    for point in points:
        if point.name == name:
            return point
    raise SearchError(f"grids.{model} has no point {name!r}; its points are {[p.name for p in points]} "
                      f"(regenerate workflow/grid_runs.yaml with `searec grid --write workflow/grid_runs.yaml` "
                      f"after changing params.yaml)")


def planned_grid_runs(params: Mapping[str, Any]) -> list[GridRun]:
    """Every grid run of the searching experiment: datasets × models × grid points, at its search seed."""
    seed = search_seed(params)
    if seed is None:
        return []
    spec = params["experiments"][SEARCHING_EXPERIMENT]
    return [GridRun(dataset, model, point, seed) for dataset in spec["datasets"] for model in spec["models"]
            for point in model_grid(params, model)]


def grid_runs_document(params: Mapping[str, Any]) -> dict[str, Any]:
    """What ``workflow/grid_runs.yaml`` holds: ``grid_runs: {key: {dataset, model, point, seed}}``."""
    return {"grid_runs": {run.key: {"dataset": run.dataset, "model": run.model, "point": run.point.name,
                                    "seed": run.seed} for run in planned_grid_runs(params)}}


def grid_runs_text(params: Mapping[str, Any]) -> str:
    return GRID_RUNS_HEADER + yaml.safe_dump(grid_runs_document(params), sort_keys=False)


def stale_grid_runs_file(params: Mapping[str, Any], path: Path) -> str | None:
    """Why ``path`` differs from what ``params`` declares, or ``None`` when it is current."""
    if not path.exists():
        return f"{path} does not exist"
    written = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    expected = grid_runs_document(params)
    if written == expected:
        return None
    have, want = set(written.get("grid_runs") or {}), set(expected["grid_runs"])
    details = ([f"missing {sorted(want - have)}"] if want - have else []) + (
        [f"extra {sorted(have - want)}"] if have - want else [])
    return f"{path} is stale for params.yaml: " + (", ".join(details) or "entries differ")


def select(params: Mapping[str, Any], dataset: str, model: str, root: Path = Path("search")) -> dict[str, Any]:
    """The grid point with the best validation metric of ``model`` on ``dataset``.

    Reads each point's ``metrics.json`` (its ``valid`` block: the validation metrics at the run's
    best epoch) and nothing of the test split. Ties go to the earlier point in grid order. Every
    point of the grid must have finished: a missing one is an error naming it.
    """
    seed = search_seed(params)
    if seed is None:
        raise SearchError(f"params: experiments.{SEARCHING_EXPERIMENT}.search is not set; nothing to select")
    metric = (params.get("training") or {}).get("valid_metric", "recall@20")
    candidates, missing = [], []
    for point in model_grid(params, model):
        run = GridRun(dataset, model, point, seed)
        path = run.directory(root) / "metrics.json"
        if not path.exists():
            missing.append(str(path))
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("seed") != seed or metric not in (result.get("valid") or {}):
            raise SearchError(f"{path}: expected a run at seed {seed} with validation {metric}; rerun this grid point")
        candidates.append({"point": point.name, "values": dict(point.values), "valid": result["valid"][metric],
                           "best_epoch": result["best_epoch"], "run": str(run.directory(root))})
    if missing:
        raise SearchError(f"grid search of {model} on {dataset}: {len(missing)} point(s) have no result: "
                          + ", ".join(missing) + " — train them first (snakemake/dvc repro build them; with DVC, "
                          "regenerate workflow/grid_runs.yaml by `searec grid --write workflow/grid_runs.yaml` "
                          "after changing params.yaml)")
    best = max(candidates, key=lambda c: c["valid"])  # max keeps the first of equal values
    return {"dataset": dataset, "model": model, "seed": seed, "metric": f"valid {metric}",
            "point": best["point"], "values": best["values"], "valid": best["valid"], "run": best["run"],
            "candidates": candidates}


def read_selection(path: Path) -> dict[str, Any]:
    try:
        selection = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SearchError(f"{path}: no selection file; run `searec select` for this dataset and model first") from None
    except json.JSONDecodeError as error:
        raise SearchError(f"{path}: not valid JSON ({error}); rerun `searec select`") from None
    for key in ("model", "point", "values", "seed", "run", "metric", "valid", "candidates"):
        if key not in selection:
            raise SearchError(f"{path}: no {key!r}; not a `searec select` file (rerun it)")
    return selection

