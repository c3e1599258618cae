"""One resolver for a run's settings, used by ``searec train`` and by the plan both tools run.

A run's hyper-parameters and training settings are layered, later over earlier::

    the model's declared defaults and TrainingConfig's defaults
      < models.<model>            (params.yaml)
      < training                  (params.yaml)
      < models.<model>.training   (that model's own training values, e.g. SEA's learning rate)
      < the experiment variant    (experiments.<E>.variants.<NAME>, for ablations and sweeps)
      < the grid point            (grids.<model>, for grid-search runs)
      < --set KEY=VALUE           (by hand)
      < the selection             (searec select's choice, for the searched experiment's runs)

Everything up to the grid point is known from params.yaml: :func:`configured_settings` computes
it, and the plan writes it into each training command as explicit ``--set`` options, so
Snakemake and DVC issue the same command line and notice any change of a value. The selection
is read by ``searec train --selected`` when the run starts (it is an input file).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from searec.errors import ParamsError

TRAINING_PREFIX = "training."


def split_training_keys(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model hyper-parameters, training settings) of ``{key: value}``: ``training.<key>`` is a training setting."""
    model = {key: value for key, value in values.items() if not key.startswith(TRAINING_PREFIX)}
    training = {key[len(TRAINING_PREFIX):]: value for key, value in values.items() if key.startswith(TRAINING_PREFIX)}
    return model, training


@dataclass(frozen=True)
class RunSettings:
    """A run's hyper-parameters and training settings where they differ from the declared defaults."""

    model: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def over(self, values: Mapping[str, Any]) -> RunSettings:
        """These settings with ``values`` over them (``training.<key>``: a training setting)."""
        model, training = split_training_keys(values)
        return RunSettings(self.model | model, self.training | training)

    def resolved(self, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every hyper-parameter and training setting a run of ``model`` with these settings uses: the declared
        defaults (read from the params schema, so no model code and no torch is imported) with these values
        over them. Runs with equal resolved settings, seed and data are the same computation, however their
        params.yaml entries spell it (a variant that sets a default, or repeats a grid point)."""
        from searec.params import params_schema
        from searec.sections import section

        declared = params_schema()["properties"]["models"]["properties"][model]["properties"]
        model_values = {key: entry.get("default") for key, entry in declared.items()} | self.model
        return model_values, section({"training": self.training}, "training")

    def set_options(self) -> list[str]:
        """As ``searec train`` options: ``--set KEY=VALUE`` (:func:`option_value`), training keys prefixed, sorted."""
        values = {key: value for key, value in self.model.items()} | {
            TRAINING_PREFIX + key: value for key, value in self.training.items()}
        options = []
        for key, value in sorted(values.items()):
            options += ["--set", shlex.quote(f"{key}={option_value(value)}")]
        return options


def option_value(value: Any) -> str:
    """``value`` as ``--set`` writes it: compact JSON, which ``searec train`` reads back as YAML, and a string
    bare where YAML reads it back as the same string (``auto``, ``recall@20``; ``"null"`` keeps its quotes),
    so that command lines need few shell quotes."""
    import yaml

    if isinstance(value, str):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, separators=(",", ":"))


def variant_values(params: Mapping[str, Any], experiment: str, name: str) -> dict[str, Any]:
    """``experiments.<experiment>.variants.<name>`` of params.yaml."""
    variants = ((params.get("experiments") or {}).get(experiment) or {}).get("variants") or {}
    if name not in variants:
        raise ParamsError(f"params declares no experiments.{experiment}.variants.{name}; "
                          f"its variants are {sorted(variants)}")
    return dict(variants[name] or {})


def configured_settings(params: Mapping[str, Any], model: str, variant: tuple[str, str] | None = None,
                        grid_point: Mapping[str, Any] | None = None) -> RunSettings:
    """The settings params.yaml gives one run: the layers above, up to the grid point's values."""
    values = dict((params.get("models") or {}).get(model) or {})
    own_training = dict(values.pop("training", None) or {})
    settings = RunSettings(values, dict(params.get("training") or {}) | own_training)
    if variant is not None:
        settings = settings.over(variant_values(params, *variant))
    if grid_point is not None:
        settings = settings.over(grid_point)
    return settings
