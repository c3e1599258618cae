"""Reading params.yaml: YAML, checked against the schema that Snakemake's ``validate`` uses too.

The schema ships inside the package (``searec/schemas/params.schema.yaml``; the workflow's
``workflow/schemas/params.schema.yaml`` links to it), so ``dvc repro`` — whose stages are
``searec`` commands — stops on the same mistakes as ``snakemake``, before any work is done.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from searec.errors import ParamsError


@cache
def params_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of params.yaml."""
    text = resources.files("searec").joinpath("schemas/params.schema.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def validate_params(params: dict[str, Any], source: str = "params.yaml") -> None:
    """Raise :class:`ParamsError` listing every schema violation as ``source: a.b.c: message``."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(params_schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = [f"{source}: {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {_explained(e)}"
                 for e in errors]
        raise ParamsError("params do not match workflow/schemas/params.schema.yaml:\n  " + "\n  ".join(lines)
                          + "\nfix these entries (the comments in params.yaml say what each one takes)")


def _explained(error: Any) -> str:
    """A schema error's message, with the keys that are allowed where an unknown key was found."""
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.schema.get("properties"), dict):
        message += f"; known keys: {', '.join(error.schema['properties'])}"
    return message  # an unknown name under propertyNames is an `enum` error, which lists the known ones


def value_at(params: Any, dotted: str) -> Any:
    """``params["a"]["b"]`` for ``"a.b"``, or ``None`` where a part is absent."""
    node = params
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def reference_grid(model: str) -> dict[str, list[Any]]:
    """The grid a model declares (``reference_grid`` in its file), as the schema's default for ``grids.<model>``.

    Read from the generated schema, so planning a search needs no model code (and no torch).
    """
    grids = params_schema()["properties"]["grids"]["properties"]
    if model not in grids:
        raise ParamsError(f"no model {model!r}; known: {', '.join(grids)}")
    return dict(grids[model]["default"])


def read_params(path: Path, missing_ok: bool = False) -> dict[str, Any]:
    """The mapping in ``path``, validated; ``{}`` for a missing file when ``missing_ok``."""
    if not path.exists():
        if missing_ok:
            return {}
        raise ParamsError(f"{path}: params file not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(loaded, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    validate_params(loaded, str(path))
    return loaded


def number_from_text(value: Any) -> Any:
    """'1e-5' -> 1e-05: YAML 1.1 (PyYAML) reads exponent floats without a dot as strings."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return value


def numbers_from_text(value: Any) -> Any:
    """:func:`number_from_text` throughout nested lists and mappings (e.g. values DVC wrote to dvc.lock)."""
    if isinstance(value, dict):
        return {key: numbers_from_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [numbers_from_text(item) for item in value]
    return number_from_text(value)
