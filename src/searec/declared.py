"""Settings declared once: default, one-line meaning, type and accepted values.

A :class:`Setting` is the single statement of one configurable value. The value a run uses is
checked by :meth:`Setting.check` (type, range, choices: a clear error naming the key and what it
accepts), and the params schema's entry for it is :meth:`Setting.json_schema` (``searec
generate`` writes it), so Snakemake's validation and the code accept exactly the same values. A
model's hyper-parameters (``searec.models.declaration``) and the pipeline's sections
(``searec.sections``) are declared this way.

The type is the default's (``bool``, ``int``, ``float``, ``str``, a list of numbers), or ``kind``
where the default is ``None`` (``nullable``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from searec.errors import ParamsError
from searec.params import number_from_text

Scalar = bool | int | float | str
KINDS = ("boolean", "integer", "number", "string", "array")


@dataclass(frozen=True)
class Setting:
    """One setting: its default, what it means, and the values it accepts.

    ``minimum`` / ``maximum`` bound numbers (``exclusive_*`` make a bound strict) and, for a list,
    each of its items; ``choices`` lists the accepted strings; ``pattern`` is a regular expression
    a string must match. A list's items are ``item_kind`` numbers, between ``min_items`` and
    ``max_items`` of them; ``scalar_ok`` also accepts one item without the list.
    """

    name: str
    default: Any
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    kind: str | None = None
    nullable: bool = False
    item_kind: str = "integer"
    min_items: int | None = None
    max_items: int | None = None
    scalar_ok: bool = False
    error: type[Exception] = ParamsError

    def __post_init__(self) -> None:
        if self.type not in KINDS:
            raise TypeError(f"{self.name}: cannot tell the type of default {self.default!r}; give kind=")
        self.check(self.default, self.name)

    @property
    def type(self) -> str:
        """The JSON-schema type of the value: the default's, or ``kind``."""
        if self.kind:
            return self.kind
        default = self.default
        if isinstance(default, bool):
            return "boolean"
        if isinstance(default, int):
            return "integer"
        if isinstance(default, float):
            return "number"
        if isinstance(default, str):
            return "string"
        return "array" if isinstance(default, (list, tuple)) else "unknown"

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

    def check(self, value: Any, where: str) -> Any:
        """``value`` converted to this setting's type and checked against what it accepts, or a clear error."""
        if value is None and self.nullable:
            return None
        if self.type == "array":
            if self.scalar_ok and not isinstance(value, (list, tuple)):
                value = [value]
            if not isinstance(value, (list, tuple)):
                raise self.error(f"{where}: expected a list, got {value!r}")
            if (self.min_items is not None and len(value) < self.min_items) or (
                    self.max_items is not None and len(value) > self.max_items):
                counts = (self.min_items, self.max_items)
                wanted = f"{counts[0]}" if counts[0] == counts[1] else f"{counts[0] or 0} to {counts[1] or 'any'}"
                raise self.error(f"{where}: expected {wanted} items, got {len(value)}")
            return [self._scalar(item, self.item_kind, f"{where}[{index}]") for index, item in enumerate(value)]
        return self._scalar(value, self.type, where)

    def _scalar(self, value: Any, kind: str, where: str) -> Scalar:
        if kind in ("integer", "number"):
            value = number_from_text(value)  # PyYAML reads 1e-5 (no dot) as text
        expected = {"boolean": "true or false", "integer": "an integer", "number": "a number", "string": "a string"}[kind]
        if kind == "boolean":
            if isinstance(value, str) and value.lower() in {"true", "false"}:
                value = value.lower() == "true"
            if not isinstance(value, bool):
                raise self.error(f"{where}: expected {expected}, got {value!r}")
            return value
        if kind == "string":
            if not isinstance(value, str):
                raise self.error(f"{where}: expected {expected}, got {value!r}")
            if self.choices and value not in self.choices:
                raise self.error(f"{where}: expected one of {' | '.join(self.choices)}, got {value!r}")
            if self.pattern:
                import re

                if not re.fullmatch(self.pattern, value):
                    raise self.error(f"{where}: {value!r} does not match {self.pattern!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"{where}: expected {expected}, got {value!r}")
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise self.error(f"{where}: expected {expected}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise self.error(f"{where}: expected a finite number, got {value!r}")
        if not self._in_range(value):
            raise self.error(f"{where}: {value!r} is out of range; expected {self.range_text()}")
        return value

    def _in_range(self, value: float) -> bool:
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            return False
        return not (self.maximum is not None
                    and (value >= self.maximum if self.exclusive_maximum else value > self.maximum))

    def _scalar_schema(self, kind: str) -> dict[str, Any]:
        if kind == "boolean":
            return {"type": "boolean"}
        if kind == "string":
            if self.choices:
                return {"enum": list(self.choices)}
            return {"type": "string"} | ({"pattern": f"^(?:{self.pattern})$"} if self.pattern else {})
        bounds: dict[str, Any] = {}
        if self.minimum is not None:
            bounds["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            bounds["exclusiveMaximum" if self.exclusive_maximum else "maximum"] = self.maximum
        if kind == "integer":
            return {"type": "integer"} | bounds
        # '1e-5' written without a dot is text to PyYAML; its range is checked where it is used
        return {"anyOf": [{"type": "number"} | bounds, {"$ref": "#/$defs/number_text"}]}

    def json_schema(self) -> dict[str, Any]:
        """This setting's entry in the params schema, with its meaning and ``default``."""
        described: dict[str, Any] = {"description": self.meaning + (f" ({self.range_text()})" if self.range_text()
                                                                   else "")}
        if self.type == "array":
            schema: dict[str, Any] = {"type": "array", "items": self._scalar_schema(self.item_kind)}
            if self.min_items is not None:
                schema["minItems"] = self.min_items
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
            if self.scalar_ok:
                schema = {"oneOf": [self._scalar_schema(self.item_kind), schema]}
        else:
            schema = self._scalar_schema(self.type)
        if self.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        default = list(self.default) if isinstance(self.default, tuple) else self.default
        return described | schema | {"default": default}


def declared_defaults(settings: Sequence[Setting]) -> dict[str, Any]:
    """``{name: default}`` of a declaration; a name declared twice is an error."""
    names = [s.name for s in settings]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"setting(s) declared twice: {repeated}")
    return {s.name: list(s.default) if isinstance(s.default, tuple) else s.default for s in settings}
