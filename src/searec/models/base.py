"""The one interface every recommender implements, and the registry of models by name.

A model is a ``torch.nn.Module`` that the generic trainer drives:

1. ``loss_terms(users, pos_items, neg_items)`` returns the named scalar terms of the training
   loss for one batch of (u, i⁺, i⁻) triples. The trainer minimises their SUM and logs each
   term separately (already weighted, i.e. as it enters the sum).
2. ``ranking_representations()`` returns user and item matrices whose inner products are the
   ranking scores, computed fresh (eval mode, no grad) for full-ranking evaluation.
3. ``after_backward()`` is an optional hook run after ``loss.backward()`` and before the main
   optimiser step, for models with inner optimisation loops (SEA's CLUB variational net). It
   returns extra per-batch values to log.
4. ``trainable_parameters()`` are what the main optimiser updates (default: all parameters);
   a model with a separately trained sub-network excludes it here.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from searec.errors import ModelConfigError
from searec.models.declaration import HyperParameter, check_reference_grid, declared_defaults
from searec.models.inputs import ModelInputs


class Recommender(nn.Module, ABC):
    """Base class of all models; see the module docstring for the contract."""

    name: ClassVar[str]
    hyperparameters: ClassVar[tuple[HyperParameter, ...]]
    """The model's hyper-parameters, declared once (default, meaning, range); see ``declaration``."""
    reference_grid: ClassVar[dict[str, list[Any]]] = {}
    """The grid experiments.main searches when params.yaml gives no ``grids.<model>`` (MMRec's, BASELINES.md)."""
    default_params: ClassVar[dict[str, Any]]
    """Derived from ``hyperparameters`` by :func:`register_model`."""
    uses_features: ClassVar[bool] = False
    """Whether the model reads item features (decides which input files a run records)."""

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__()
        self.n_users = inputs.n_users
        self.n_items = inputs.n_items
        self.params = resolve_params(type(self), params)

    @abstractmethod
    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named scalar loss terms of one batch; the trainer minimises their sum."""

    @abstractmethod
    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(users [U, d], items [I, d])``; score(u, i) = ⟨users[u], items[i]⟩."""

    def before_epoch(self) -> None:
        """Hook at the start of every training epoch (FREEDOM resamples its pruned graph here).

        Randomness must come from torch's global generator, which checkpoints save and restore.
        """

    def after_backward(self) -> dict[str, float]:
        """Hook between ``backward()`` and the main optimiser step; returns values to log."""
        return {}

    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        """Parameters of the main optimiser."""
        return self.parameters()

    def use_training_learning_rate(self, learning_rate: float) -> None:
        """The trainer's learning rate, given once after construction and before a checkpoint is restored:
        for a model with an inner optimiser of its own whose rate follows it (SEA's CLUB net)."""


MODEL_REGISTRY: dict[str, type[Recommender]] = {}
"""The models imported so far, by name; :func:`model_classes` imports and returns all of them."""


def model_names() -> list[str]:
    """Every model of the package, without importing any: the modules of ``searec.models`` that
    declare a ``@register_model`` class (each model file is named after its model)."""
    import ast
    from importlib import resources

    names = []
    for entry in resources.files("searec.models").iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("_"):
            continue
        tree = ast.parse(entry.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.ClassDef) and any(getattr(d, "id", None) == "register_model"
                                                       for d in node.decorator_list) for node in tree.body):
            names.append(entry.name.removesuffix(".py"))
    return sorted(names)


def register_model(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make a model available by its lower-case ``name`` and derive its
    ``default_params`` from its declared ``hyperparameters``.

    A model lives in ``searec/models/<name>.py``, so a run imports only the model it trains
    (and each training stage depends on that file alone among the models).
    """
    key = cls.name.lower()
    if cls.__module__ != f"searec.models.{key}":
        raise ValueError(f"model {cls.name!r} must be declared in searec/models/{key}.py, not {cls.__module__}")
    if key in MODEL_REGISTRY and MODEL_REGISTRY[key] is not cls:
        raise ValueError(f"model name {cls.name!r} registered twice")
    cls.default_params = declared_defaults(cls.hyperparameters)
    check_reference_grid(key, cls.hyperparameters, cls.reference_grid)
    MODEL_REGISTRY[key] = cls
    return cls


def get_model_class(name: str) -> type[Recommender]:
    """The model called ``name`` (case-insensitive), importing its file ``searec/models/<name>.py``."""
    key = name.lower()
    if key not in MODEL_REGISTRY:
        if key not in model_names():
            raise ModelConfigError(f"unknown model {name!r}; available: {', '.join(model_names())}")
        importlib.import_module(f"searec.models.{key}")
    return MODEL_REGISTRY[key]


def model_classes() -> dict[str, type[Recommender]]:
    """Every model, by name (imports all model files)."""
    return {name: get_model_class(name) for name in model_names()}


def resolve_params(cls: type[Recommender], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The model's declared defaults updated by ``overrides``; unknown keys, wrong types and
    out-of-range values are errors naming the key and what it accepts."""
    declared = {p.name: p for p in cls.hyperparameters}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ModelConfigError(f"model {cls.name!r} has no hyper-parameter(s) {unknown}; "
                               f"known: {sorted(declared)} (searec models {cls.name} says what each means)")
    resolved = dict(cls.default_params)
    for key, value in overrides.items():
        resolved[key] = declared[key].check(value, f"{cls.name}.{key}")
    return resolved
