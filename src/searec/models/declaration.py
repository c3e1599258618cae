"""A model's hyper-parameters, declared once in its own file: default, meaning, type, range, grid.

Every other view derives from a model's ``hyperparameters`` and ``reference_grid``:
``default_params`` (the class attribute the trainer resolves against), ``searec models`` (the
meanings), the ``models.<model>`` and ``grids.<model>`` parts of the params schema (so Snakemake's
``validate`` and every ``searec`` command refuse ``models.sea.alpah`` or
``models.lightgcn.n_layers: two`` before any work starts), and the presets, which hold only their
deviations from the declarations. The type of a hyper-parameter is the type of its default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from searec.declared import Setting, declared_defaults
from searec.errors import ModelConfigError
from searec.settings import TRAINING_PREFIX

__all__ = ["HyperParameter", "declared_defaults"]


@dataclass(frozen=True)
class HyperParameter(Setting):
    """One hyper-parameter of a model (a :class:`~searec.declared.Setting`; a wrong value is a ModelConfigError)."""

    error: type[Exception] = ModelConfigError


def check_reference_grid(model: str, parameters: Sequence[HyperParameter],
                         grid: Mapping[str, Sequence[Any]]) -> None:
    """Every axis of a model's reference grid names a declared hyper-parameter (or ``training.<key>``)
    and every value is one that hyper-parameter accepts."""
    by_name = {p.name: p for p in parameters}
    for axis, values in grid.items():
        if axis.startswith(TRAINING_PREFIX):
            continue
        if axis not in by_name:
            raise ValueError(f"{model}.reference_grid: {axis!r} is not a declared hyper-parameter ({sorted(by_name)})")
        for value in values:
            by_name[axis].check(value, f"{model}.reference_grid.{axis}")


# ----------------------------------------------------------- hyper-parameters several models share
MAX_EMBEDDING_SIZE = 16384
"""Far above any published setting (MMRec: 64): a larger width is a typo that would allocate gigabytes."""


def embedding_size(default: int = 64) -> HyperParameter:
    return HyperParameter("embedding_size", default, "width of the user and item representations", minimum=1,
                          maximum=MAX_EMBEDDING_SIZE)


def reg_weight(default: float, meaning: str = "weight of the embedding penalty in the loss") -> HyperParameter:
    return HyperParameter("reg_weight", default, meaning, minimum=0.0)


def layer_count(name: str, default: int, meaning: str, minimum: int = 0) -> HyperParameter:
    return HyperParameter(name, default, meaning, minimum=minimum)


def knn_k(default: int = 10) -> HyperParameter:
    return HyperParameter("knn_k", default, "neighbours per item in the frozen kNN item graphs (searec graphs)",
                          minimum=1)


def mm_image_weight(default: float = 0.1) -> HyperParameter:
    return HyperParameter("mm_image_weight", default, "share of the visual kNN graph in the mixed item graph",
                          minimum=0.0, maximum=1.0)


def dropout(default: float, meaning: str) -> HyperParameter:
    return HyperParameter("dropout", default, meaning, minimum=0.0, maximum=1.0, exclusive_maximum=True)


def user_k(default: int = 40) -> HyperParameter:
    return HyperParameter("user_k", default, "neighbours per user in the user-user graph (artifact uu-k<user_k>)",
                          minimum=1)


def train_features(default: bool = True) -> HyperParameter:
    return HyperParameter("train_features", default, "the raw feature tables are trained (MMRec's freeze=False)")


def temperature(name: str, default: float, meaning: str) -> HyperParameter:
    return HyperParameter(name, default, meaning, minimum=0.0, exclusive_minimum=True)


def modality_roles() -> tuple[HyperParameter, HyperParameter]:
    """Which item modalities play the visual and the textual role (models that need exactly two)."""
    return (HyperParameter("visual", "auto", "modality in the visual role (auto: image)"),
            HyperParameter("textual", "auto", "modality in the textual role (auto: text, else the other one, "
                                              "e.g. TikTok's audio)"))


def model_summary(cls: type) -> str:
    """The first line of the model file's docstring (what the model is, with its paper)."""
    import sys

    return ((sys.modules[cls.__module__].__doc__ or cls.__name__).strip().splitlines() or [cls.__name__])[0]


def params_schema_entries(models: Mapping[str, Any], training_keys: Sequence[str]) -> dict[str, Any]:
    """The ``models`` and ``grids`` entries of the params schema, from the models' declarations.

    ``models.<m>`` accepts exactly the declared hyper-parameters (each with its type, range and
    ``default``) plus ``training``; ``grids.<m>`` accepts axes over declared hyper-parameters and
    ``training.<key>``, and its ``default`` is the model's reference grid (what an absent entry means).
    """
    model_entries, grid_entries = {}, {}
    for name, cls in sorted(models.items()):
        summary = model_summary(cls)
        properties = {p.name: p.json_schema() for p in cls.hyperparameters}
        properties["training"] = {"$ref": "#/properties/training",
                                  "description": "training settings for this model only"}
        model_entries[name] = {"description": summary, "type": "object", "additionalProperties": False,
                               "properties": properties}
        axes = [p.name for p in cls.hyperparameters] + [TRAINING_PREFIX + key for key in training_keys]
        grid_entries[name] = {
            "description": f"axes of {name}'s grid search (their product); absent: the reference grid (the default)",
            "type": ["object", "null"], "default": {axis: list(values) for axis, values in cls.reference_grid.items()},
            "propertyNames": {"enum": axes},
            "additionalProperties": {"type": "array", "minItems": 1, "uniqueItems": True}}
    names = sorted(models)
    return {
        "models": {"description": "each model's hyper-parameters where they differ from its declaration "
                                  "(`searec models NAME`); `training` sets training values for that model only",
                   "type": "object", "additionalProperties": False, "propertyNames": {"enum": names},
                   "properties": model_entries},
        "grids": {"description": "per model, the axes experiments.main searches on validation; a model without an "
                                 "entry searches its reference grid, `{}` is the single point models.<model>",
                  "type": "object", "additionalProperties": False, "properties": grid_entries},
    }
