"""The runs an experiment of params.yaml declares: datasets × models × variants × seeds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searec.layout import DEFAULT_VARIANT, run_dir

PROPOSED_MODEL = "sea"
"""The model the experiments are about (SEA): its rows are compared with the best baseline, its
representations drawn, and the ablation and sensitivity experiments vary it."""


@dataclass(frozen=True)
class PlannedRun:
    """One run an experiment declares: where it goes and the hyper-parameters its variant changes."""

    dataset: str
    model: str
    seed: int
    variant: str = DEFAULT_VARIANT
    overrides: Mapping[str, Any] = field(default_factory=dict)
    variant_name: str | None = None
    """The variant's name in ``experiments.<E>.variants`` (``None``: the experiment has no variants)."""

    def directory(self, root: Path = Path("runs")) -> Path:
        return run_dir(self.dataset, self.model, self.seed, self.variant, root)


def variant_directory(experiment: str, variant: str) -> str:
    """The run-folder name of an experiment's variant (``ablation-no-club``); plain experiments use ``default``."""
    return f"{experiment}-{variant}"


def experiment_models(spec: Mapping[str, Any]) -> list[str]:
    """An experiment's ``models``; without the key, every declared model (``searec models``), so a new
    model file joins the experiments that do not name their models."""
    if "models" in spec:
        return list(spec["models"])
    from searec.params import params_schema

    return sorted(params_schema()["properties"]["models"]["properties"])


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
        plans = [(DEFAULT_VARIANT, {}, None)] if variants is None else [
            (variant_directory(experiment, name), dict(values or {}), name) for name, values in variants.items()]
        return [PlannedRun(d, m, s, variant, overrides, name) for d in spec["datasets"] for m in experiment_models(spec)
                for variant, overrides, name in plans for s in seeds]
    except (KeyError, TypeError, AttributeError) as error:
        raise KeyError(f"params: experiments.{experiment}.datasets and seeds are required ({error})") from None
