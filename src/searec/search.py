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

A model without a ``grids.<model>`` entry searches its declared ``reference_grid`` (MMRec's). The
grid runs are jobs of the plan (``searec.plan``), which both Snakemake and the generated
``dvc.yaml`` run; ``searec select`` refuses a grid with a missing point.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searec.errors import SearecError
from searec.experiments import experiment_models
from searec.layout import grid_run_dir
from searec.params import number_from_text, reference_grid
from searec.sections import section

SEARCHING_EXPERIMENT = "main"
DEFAULT_POINT = "default"
POINT_NAME = re.compile(r"^[A-Za-z0-9_.=+\-]+$")



class SearchError(SearecError):
    """A grid that cannot be searched or selected from as asked."""


@dataclass(frozen=True)
class GridPoint:
    """One combination of a model's grid values: its folder name and the values it sets."""

    name: str
    values: Mapping[str, Any] = field(default_factory=dict)


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
    """The points of ``grids.<model>``, or of the model's declared reference grid when params gives none."""
    grids = params.get("grids") or {}
    return grid_points(grids[model] if model in grids else reference_grid(model))


def find_point(params: Mapping[str, Any], model: str, name: str) -> GridPoint:
    """The point ``name`` of ``grids.<model>`` (``searec train --grid-point``)."""
    points = model_grid(params, model)
    for point in points:
        if point.name == name:
            return point
    raise SearchError(f"grids.{model} has no point {name!r}; its points are {[p.name for p in points]} "
                      f"(after changing params.yaml, run `searec generate`)")


def planned_grid_runs(params: Mapping[str, Any]) -> list[GridRun]:
    """Every grid run of the searching experiment: datasets × models × grid points, at its search seed."""
    seed = search_seed(params)
    if seed is None:
        return []
    spec = params["experiments"][SEARCHING_EXPERIMENT]
    return [GridRun(dataset, model, point, seed) for dataset in spec["datasets"] for model in experiment_models(spec)
            for point in model_grid(params, model)]


def select(params: Mapping[str, Any], dataset: str, model: str, root: Path = Path("search")) -> dict[str, Any]:
    """The grid point with the best validation metric of ``model`` on ``dataset``.

    Reads each point's ``metrics.json`` (its ``valid`` block: the validation metrics at the run's
    best epoch) and nothing of the test split. Ties go to the earlier point in grid order. Every
    point of the grid must have finished: a missing one is an error naming it.
    """
    seed = search_seed(params)
    if seed is None:
        raise SearchError(f"params: experiments.{SEARCHING_EXPERIMENT}.search is not set; nothing to select")
    metric = section(params, "training")["valid_metric"]
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
                          "run `searec generate` after changing params.yaml)")
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

