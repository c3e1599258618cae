"""A model's hyper-parameters, declared once in its own file: default, meaning, type, range, grid.

Every other view derives from a model's ``hyperparameters`` and ``reference_grid``:
``default_params`` (the class attribute the trainer resolves against), ``searec models`` (the
meanings), the ``models.<model>`` and ``grids.<model>`` parts of the params schema (so Snakemake's
``validate`` and every ``searec`` command refuse ``models.sea.alpah`` or
``models.lightgcn.n_layers: two`` before any work starts), and the presets, which hold only their
deviations from the declarations. The type of a hyper-parameter is the type of its default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from searec.errors import ModelConfigError
from searec.params import number_from_text
from searec.settings import TRAINING_PREFIX

Scalar = bool | int | float | str


@dataclass(frozen=True)
class HyperParameter:
    """One hyper-parameter: its default, a one-line meaning, and the values it accepts.

    ``minimum`` / ``maximum`` bound numbers (``exclusive_*`` make a bound strict); ``choices``
    lists the accepted strings. Integers are accepted where the default is a float.
    """

    name: str
    default: Scalar
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.default, (bool, int, float, str)):
            raise TypeError(f"{self.name}: a default must be a bool, int, float or str, got {self.default!r}")
        self.check(self.default, self.name)

    @property
    def kind(self) -> str:
        """``boolean``, ``integer``, ``number`` or ``string``: the JSON-schema type of the default."""
        if isinstance(self.default, bool):
            return "boolean"
        if isinstance(self.default, int):
            return "integer"
        return "number" if isinstance(self.default, float) else "string"

    def range_text(self) -> str:
        """The accepted values in words (``> 0``, ``[0, 1)``, ``input | output``), or ``''``."""
        if self.choices:
            return " | ".join(self.choices)
        if self.minimum is not None and self.maximum is not None:
            left, right = "(" if self.exclusive_minimum else "[", ")" if self.exclusive_maximum else "]"
            return f"{left}{self.minimum:g}, {self.maximum:g}{right}"
        if self.minimum is not None:
            return f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}"
        if self.maximum is not None:
            return f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}"
        return ""

    def check(self, value: Any, where: str) -> Scalar:
        """``value`` converted to this hyper-parameter's type and checked against its range, or a clear error."""
        kind = self.kind
        if kind != "string" and kind != "boolean":
            value = number_from_text(value)  # PyYAML reads 1e-5 (no dot) as text
        expected = {"boolean": "true or false", "integer": "an integer", "number": "a number",
                    "string": "a string"}[kind]
        if kind == "boolean":
            if isinstance(value, str) and value.lower() in {"true", "false"}:
                value = value.lower() == "true"
            if not isinstance(value, bool):
                raise ModelConfigError(f"{where}: expected {expected}, got {value!r}")
            return value
        if kind == "string":
            if not isinstance(value, str):
                raise ModelConfigError(f"{where}: expected {expected}, got {value!r}")
            if self.choices and value not in self.choices:
                raise ModelConfigError(f"{where}: expected one of {' | '.join(self.choices)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelConfigError(f"{where}: expected {expected}, got {value!r}")
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise ModelConfigError(f"{where}: expected {expected}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ModelConfigError(f"{where}: expected a finite number, got {value!r}")
        if not self._in_range(value):
            raise ModelConfigError(f"{where}: {value!r} is out of range; expected {self.range_text()}")
        return value

    def _in_range(self, value: float) -> bool:
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            return False
        return not (self.maximum is not None
                    and (value >= self.maximum if self.exclusive_maximum else value > self.maximum))

    def json_schema(self) -> dict[str, Any]:
        """This hyper-parameter's entry in the params schema (numbers also as PyYAML's exponent text)."""
        described: dict[str, Any] = {"description": self.meaning + (f" ({self.range_text()})" if self.range_text()
                                                                   else "")}
        if self.kind == "boolean":
            return described | {"type": "boolean"}
        if self.kind == "string":
            return described | ({"enum": list(self.choices)} if self.choices else {"type": "string"})
        bounds: dict[str, Any] = {}
        if self.minimum is not None:
            bounds["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            bounds["exclusiveMaximum" if self.exclusive_maximum else "maximum"] = self.maximum
        if self.kind == "integer":
            return described | {"type": "integer"} | bounds
        # '1e-5' written without a dot is text to PyYAML; its range is checked when the model is built
        return described | {"anyOf": [{"type": "number"} | bounds, {"$ref": "#/$defs/number_text"}]}


def declared_defaults(parameters: Sequence[HyperParameter]) -> dict[str, Scalar]:
    """``{name: default}`` of a declaration; a name declared twice is an error."""
    names = [p.name for p in parameters]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"hyper-parameter(s) declared twice: {repeated}")
    return {p.name: p.default for p in parameters}


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
def embedding_size(default: int = 64) -> HyperParameter:
    return HyperParameter("embedding_size", default, "width of the user and item representations", minimum=1)


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
        properties = {p.name: p.json_schema() | {"default": p.default} for p in cls.hyperparameters}
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
