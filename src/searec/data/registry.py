"""The dataset registry: which files make up a dataset, where they come from, how to check them.

The package ships ``registry.yaml`` (Amazon 2014 / 2018 / 2023 categories, MMRec folders, the
embedded sample); params.yaml's ``datasets:`` entries add datasets or override fields, so a
user can register any other category by name. Sources are URL templates over a base URL,
which a mirror (``SEAREC_MIRROR`` or ``download.mirror`` in params.yaml) replaces.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from searec.data.releases import RELEASES
from searec.errors import DatasetError

SOURCE_KINDS = tuple(RELEASES)  # the release formats (searec.data.releases)
MIRROR_ENVIRONMENT_VARIABLE = "SEAREC_MIRROR"
PACKAGE_URL_PREFIX = "package:"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its local name, URL, and what it must be when it arrives."""

    role: str
    name: str
    url: str
    size: int | None = None
    sha256: str | None = None
    extract: bool = False
    optional: bool = False  # absent at the source: a logged skip, not an error


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its source kind, category and files."""

    name: str
    source: str
    category: str
    files: tuple[RemoteFile, ...]

    def file(self, role: str) -> RemoteFile:
        for remote in self.files:
            if remote.role == role:
                return remote
        raise DatasetError(f"dataset {self.name!r} ({self.source}) has no {role!r} file; it has "
                           f"{[f.role for f in self.files]}")


PACKAGE_DATA = ("data/registry.yaml", "data/sample_catalog")
"""Files of the package this module reads (the registry; the embedded sample's ``package:`` URLs):
inputs of every stage that runs it (``searec.codedeps``)."""


def package_registry() -> dict[str, Any]:
    text = resources.files("searec").joinpath(PACKAGE_DATA[0]).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def package_url_path(url: str) -> Path:
    """``package:searec.data/sample/x`` -> the file inside the installed package."""
    package, _, relative = url[len(PACKAGE_URL_PREFIX):].partition("/")
    return Path(str(resources.files(package))) / relative


def resolve_base_url(source_base: str | None, mirror: str | None) -> str | None:
    """The base URL files are fetched from: the mirror if one is set (environment first), else the source's."""
    return os.environ.get(MIRROR_ENVIRONMENT_VARIABLE) or mirror or source_base


FILE_FIELDS: dict[str, dict[str, Any]] = {
    "path": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"},
    "size": {"type": "integer", "minimum": 0}, "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    "extract": {"type": "boolean"}, "optional": {"type": "boolean"}}
"""What a ``datasets.<name>.files.<role>`` entry may set, with its JSON schema."""
DATASET_FIELDS = ("source", "category", "base_url", "files")
"""What a ``datasets.<name>`` entry may set (:func:`dataset_fields_schema` gives their schemas)."""


def dataset_fields_schema() -> dict[str, Any]:
    """The params schema of a ``datasets.<name>`` entry's fields (``searec generate`` writes it)."""
    fields = {"source": {"enum": list(RELEASES),
                         "description": "; ".join(f"{r.name}: {r.description}" for r in RELEASES.values())},
              "category": {"type": "string"}, "base_url": {"type": "string"},
              "files": {"type": "object", "description": "per file role: fields over the release's",
                        "additionalProperties": {"type": "object", "additionalProperties": False,
                                                 "properties": FILE_FIELDS}}}
    return {name: fields[name] for name in DATASET_FIELDS}


def _refuse_unknown(where: str, given: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise DatasetError(f"{where}: unknown field(s) {unknown}; known: {', '.join(known)}")


def dataset_entry(name: str, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                  mirror: str | None = None) -> DatasetEntry:
    """Look ``name`` up in the package registry, with params.yaml's ``datasets`` entries applied on top.

    An override entry may set ``source``, ``category``, ``base_url`` and per-role ``files``
    fields (``path``, ``name``, ``url``, ``size``, ``sha256``, ``extract``, ``optional``; a role
    the source does not know needs a ``path``); a new name needs ``source`` and ``category``.
    """
    registry = package_registry()
    override = dict((overrides or {}).get(name) or {})
    _refuse_unknown(f"params.yaml datasets.{name}", override, DATASET_FIELDS)
    for role, fields in (override.get("files") or {}).items():
        _refuse_unknown(f"params.yaml datasets.{name}.files.{role}", dict(fields or {}), tuple(FILE_FIELDS))
    entry = dict(registry["datasets"].get(name, {})) | override
    if not entry:
        known = sorted(set(registry["datasets"]) | set(overrides or {}))
        raise DatasetError(f"unknown dataset {name!r}; registered: {known}. Add it under `datasets:` in "
                           f"params.yaml with a `source` ({', '.join(SOURCE_KINDS)}) and a `category`.")
    source = entry.get("source")
    if source not in SOURCE_KINDS:
        raise DatasetError(f"dataset {name!r}: source {source!r} is not one of {SOURCE_KINDS}")
    if not entry.get("category"):
        raise DatasetError(f"dataset {name!r}: no `category` (e.g. Baby, Sports_and_Outdoors)")
    category = str(entry["category"])
    release = RELEASES[source]
    base = resolve_base_url(entry.get("base_url", release.base_url), mirror)
    file_overrides = entry.get("files") or {}
    files = []
    for role in list(release.files) + [r for r in file_overrides if r not in release.files]:
        template = release.files.get(role)
        spec = (dict(template) if isinstance(template, dict) else {"path": template}) | dict(file_overrides.get(role) or {})
        if not spec.get("path"):
            raise DatasetError(f"dataset {name!r}: file role {role!r} needs a `path` (relative to the base URL)")
        relative = spec["path"].format(category=category)
        url = spec.get("url") or (f"{base.rstrip('/')}/{relative}" if base else "")
        files.append(RemoteFile(role=role, name=spec.get("name", Path(relative).name), url=url,
                                size=spec.get("size"), sha256=spec.get("sha256"), optional=bool(spec.get("optional")),
                                extract=bool(spec.get("extract", relative.endswith((".tar", ".tar.gz", ".zip"))))))
    return DatasetEntry(name=name, source=source, category=category, files=tuple(files))
