"""``searec lineage PATH``: the chain from a result file back to the raw files, from ``dvc.lock``.

``dvc.lock`` (committed for the default run) records, for every stage that ran, its command, the
values of the parameters it declares, and the content hash of each dependency and output. Walking
it from the stage that produced PATH through the producers of that stage's dependencies gives the
whole chain down to files no stage produced (raw inputs, shipped files). Each node shows the
recorded hash and whether the file on disk still has it, and every stage shows the ``searec``
code version of the execution that wrote its outputs (data stages record it in the untracked
``<output>.run.json`` beside an output, runs in ``metrics.json``). A changed parameter upstream
changes the recorded values and hashes along the chain, so two lineages can be compared with ``diff``.

Hashes are DVC's: MD5 of a file's bytes; for a directory, the MD5 of its listing (``.dir``),
which this module does not recompute — a directory is checked file by file against the listing
in DVC's cache when it is there, otherwise reported as "not checked".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from searec.codedeps import SOURCE_ROOT
from searec.errors import SearecError
from searec.params import numbers_from_text
from searec.runtime import run_record_path


class LineageError(SearecError):
    """No lock file, or the path is not something a stage of it produced or used."""


@dataclass
class Stage:
    name: str
    cmd: str
    params: dict[str, Any]
    deps: list[dict[str, Any]]
    outs: list[dict[str, Any]]


@dataclass
class LockGraph:
    stages: dict[str, Stage]
    root: Path

    def producer(self, path: str) -> tuple[Stage, dict[str, Any]] | None:
        """The stage with ``path`` among its outputs (exactly or inside an output directory)."""
        for stage in self.stages.values():
            for out in stage.outs:
                if path == out["path"] or path.startswith(out["path"].rstrip("/") + "/"):
                    return stage, out
        return None

    def producers_inside(self, folder: str) -> list[tuple[Stage, dict[str, Any]]]:
        """Stages whose outputs lie inside a dependency directory (e.g. ``runs`` for the aggregate stage)."""
        prefix = folder.rstrip("/") + "/"
        return [(stage, out) for stage in self.stages.values() for out in stage.outs if out["path"].startswith(prefix)]


def load_lock(lock_path: Path) -> LockGraph:
    if not lock_path.exists():
        raise LineageError(f"{lock_path}: no lock file; run `dvc repro` (or `dvc commit` after a Snakemake run) first")
    lock = yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}
    stages = {}
    for name, entry in (lock.get("stages") or {}).items():
        params = {key: numbers_from_text(value)  # DVC writes YAML 1.2: 1e-05 is a number, not PyYAML's text
                  for values in (entry.get("params") or {}).values() for key, value in values.items()}
        stages[name] = Stage(name, entry.get("cmd", ""), params, list(entry.get("deps") or []),
                             list(entry.get("outs") or []))
    return LockGraph(stages, lock_path.parent)


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recorded_hash(entry: dict[str, Any]) -> str:
    return str(entry.get("md5") or entry.get("hash") or entry.get("etag") or "?")


def disk_state(root: Path, entry: dict[str, Any]) -> str:
    """'same', 'CHANGED', 'missing' or 'not checked' for a lock entry against the working tree."""
    path = root / entry["path"]
    if not path.exists():
        return "missing"
    recorded = recorded_hash(entry)
    if path.is_dir():
        return "not checked (directory)" if recorded.endswith(".dir") else "not checked"
    return "same" if file_md5(path) == recorded else "CHANGED"


def code_version_of(root: Path, stage: Stage) -> str | None:
    """The ``code_version`` of the execution that wrote the stage's outputs: from the untracked
    ``<output>.run.json`` beside an output (data stages) or a JSON among them (a run's ``metrics.json``)."""
    for out in stage.outs:
        path = root / out["path"]
        candidates = [run_record_path(path)]  # the untracked record of the execution that wrote it
        candidates += [path] if path.suffix == ".json" else sorted(path.glob("*.json")) if path.is_dir() else []
        for candidate in candidates:
            try:
                value = json.loads(candidate.read_text(encoding="utf-8")).get("code_version")
            except (OSError, json.JSONDecodeError, AttributeError):
                continue
            if value:
                return str(value)
    return None


def _relative(graph: LockGraph, path: Path) -> str:
    absolute = path if path.is_absolute() else (Path.cwd() / path)
    try:
        return str(PurePosixPath(absolute.resolve().relative_to(graph.root.resolve())))
    except ValueError:
        raise LineageError(f"{path} is outside the project at {graph.root}") from None


def lineage_lines(graph: LockGraph, path: Path) -> list[str]:
    """The chain as indented lines; each stage is expanded once, later mentions refer back."""
    target = _relative(graph, path)
    found = graph.producer(target)
    if found is None:
        used_by = [s.name for s in graph.stages.values() for d in s.deps if d["path"] == target]
        if not used_by:
            raise LineageError(f"{target}: neither produced nor used by any stage of {graph.root / 'dvc.lock'}")
    lines: list[str] = []
    seen: set[str] = set()

    def visit(path_text: str, entry: dict[str, Any] | None, depth: int) -> None:
        pad = "  " * depth
        state = f", {disk_state(graph.root, entry)} on disk" if entry else ""
        hashed = f" md5 {recorded_hash(entry)}" if entry else ""
        lines.append(f"{pad}{path_text}{hashed}{state}")
        produced = graph.producer(path_text)
        children = [produced] if produced else graph.producers_inside(path_text)
        if not children:
            lines.append(f"{pad}  source file (no stage made it)")
            return
        for stage, _ in children:
            if stage.name in seen:
                lines.append(f"{pad}  made by stage {stage.name} (see above)")
                continue
            seen.add(stage.name)
            lines.append(f"{pad}  made by stage {stage.name}: {stage.cmd}")
            version = code_version_of(graph.root, stage)
            if version is None and not any((graph.root / out["path"]).exists() for out in stage.outs):
                version = "unknown here (its outputs are not on disk)"
            lines.append(f"{pad}  code version: {version or 'not recorded'}")
            for key, value in sorted(stage.params.items()):
                lines.append(f"{pad}  param {key} = {json.dumps(value, sort_keys=True)}")
            code = [dep for dep in stage.deps if dep["path"].startswith(f"{SOURCE_ROOT}/")]
            if code:  # the source files it ran: one line, naming only those that differ on disk now
                changed = [dep["path"] for dep in code if disk_state(graph.root, dep) in ("CHANGED", "missing")]
                lines.append(f"{pad}  code: {len(code)} source files ({SOURCE_ROOT}), "
                             + (f"CHANGED on disk: {', '.join(changed)}" if changed else "all same on disk"))
            for dep in stage.deps:
                if dep not in code:
                    visit(dep["path"], dep, depth + 2)

    if found is None:
        visit(target, None, 0)
    else:
        visit(target, found[1] if found[1]["path"] == target else None, 0)
    return lines
