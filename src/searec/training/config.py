"""Training hyper-parameters (MMRec's ``overall.yaml`` defaults) and their resolution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from searec.errors import ModelConfigError
from searec.params import number_from_text
from searec.training.evaluation import DEFAULT_TOPK, METRIC_NAMES, metric_key


def coerce_like(default: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to the type of ``default`` (bool/int/float/str/list), or raise.

    Numbers written as text ('1e-5', as PyYAML reads it) are accepted for numeric settings.
    """
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        value = number_from_text(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise ModelConfigError(f"{key}: expected true/false, got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ModelConfigError(f"{key}: expected an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise ModelConfigError(f"{key}: expected a list, got {value!r}")
        return list(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ModelConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


@dataclass(frozen=True)
class TrainingConfig:
    """How a model is trained and selected.

    Early stopping follows MMRec: training stops once more than ``patience`` consecutive
    evaluations fail to improve ``valid_metric`` (strictly); the best-validation checkpoint is
    the one tested, once.
    """

    epochs: int = 1000
    patience: int = 20
    eval_every: int = 1
    batch_size: int = 2048
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    eval_batch_size: int = 4096
    topk: list[int] = field(default_factory=lambda: list(DEFAULT_TOPK))
    valid_metric: str = "recall@20"
    device: str = "auto"

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "eval_every": self.eval_every, "batch_size": self.batch_size,
                    "eval_batch_size": self.eval_batch_size}
        for key, value in positive.items():
            if value < 1:
                raise ModelConfigError(f"training.{key} must be >= 1, got {value}")
        if self.patience < 0 or self.learning_rate <= 0 or self.weight_decay < 0:
            raise ModelConfigError("training.patience >= 0, learning_rate > 0 and weight_decay >= 0 are required")
        if not self.topk or any(int(k) < 1 for k in self.topk):
            raise ModelConfigError(f"training.topk must be positive integers, got {self.topk}")
        allowed = {metric_key(m, k) for m in METRIC_NAMES for k in self.topk}
        if self.valid_metric not in allowed:
            raise ModelConfigError(f"training.valid_metric {self.valid_metric!r} is not computed; "
                                   f"choose one of {sorted(allowed)}")
        if self.device not in {"auto", "cpu"} and not self.device.startswith("cuda"):
            raise ModelConfigError(f"training.device must be auto, cpu or cuda[:N], got {self.device!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainingConfig:
        defaults = cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelConfigError(f"unknown training setting(s) {unknown}; known: {sorted(known)}")
        resolved = {key: coerce_like(getattr(defaults, key), value, f"training.{key}") for key, value in values.items()}
        if "topk" in resolved:
            resolved["topk"] = sorted({int(k) for k in resolved["topk"]})
        return cls(**resolved)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
