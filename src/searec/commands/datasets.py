"""What the data, feature and graph stages share: their params file and the dataset's registry entry."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def data_params(path: Path | None) -> dict[str, Any]:
    """The validated params file of a data stage; the default ``params.yaml`` may be absent (registry defaults apply)."""
    from searec.params import read_params

    if path is None:
        return {}
    return read_params(path, missing_ok=path == Path("params.yaml"))


def dataset_entry(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The registry entry of ``args.dataset`` (params.yaml's ``datasets:`` over the registry) and the params."""
    from searec.data.registry import dataset_entry as registry_entry

    params = data_params(args.params)
    mirror = (params.get("download") or {}).get("mirror")
    return registry_entry(args.dataset, params.get("datasets") or {}, mirror=mirror), params
