"""Training settings (MMRec's ``overall.yaml`` defaults, declared in ``searec.sections``) and their resolution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from searec.errors import ModelConfigError
from searec.sections import section, section_defaults
from searec.training.evaluation import METRIC_NAMES, metric_key

_DEFAULTS = section_defaults("training")


@dataclass(frozen=True)
class TrainingConfig:
    """How a model is trained and selected; defaults, meanings and ranges are ``sections.SECTIONS["training"]``.

    Early stopping follows MMRec: training stops once more than ``patience`` consecutive
    evaluations fail to improve ``valid_metric`` (strictly); the best-validation checkpoint is
    the one tested, once.
    """

    epochs: int = _DEFAULTS["epochs"]
    patience: int = _DEFAULTS["patience"]
    eval_every: int = _DEFAULTS["eval_every"]
    batch_size: int = _DEFAULTS["batch_size"]
    learning_rate: float = _DEFAULTS["learning_rate"]
    weight_decay: float = _DEFAULTS["weight_decay"]
    eval_batch_size: int = _DEFAULTS["eval_batch_size"]
    topk: list[int] = field(default_factory=lambda: list(_DEFAULTS["topk"]))
    valid_metric: str = _DEFAULTS["valid_metric"]
    device: str = _DEFAULTS["device"]
    deterministic: bool = _DEFAULTS["deterministic"]

    def __post_init__(self) -> None:
        """What no single setting can check: the validation metric must be one the cut-offs compute."""
        allowed = {metric_key(m, k) for m in METRIC_NAMES for k in self.topk}
        if self.valid_metric not in allowed:
            raise ModelConfigError(f"training.valid_metric {self.valid_metric!r} is not computed; "
                                   f"choose one of {sorted(allowed)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainingConfig:
        """The declared defaults with ``values`` over them, each checked against its declaration."""
        resolved = section({"training": dict(values)}, "training")
        resolved["topk"] = sorted(set(resolved["topk"]))
        return cls(**resolved)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
