"""Tracked data artifacts are a function of their inputs: every data, feature and graph stage of the
plan, run in two directories (different absolute paths) and rerun in one, writes the same bytes.

Timings, the host, the device and what happened to be cached go to each output's untracked
``<output>.run.json`` (searec.runtime.RUN_FACTS), never into a tracked file; so ``dvc status`` stays
clean after a rerun and another machine's ``dvc repro`` reproduces the committed ``dvc.lock``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from searec.params import read_params
from searec.plan import Plan
from searec.runtime import run_record_path
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

DATA_ROOT = "data"
EXPENSIVE = {"features_text", "features_image"}  # rerun only in the second directory: ~9 s each


def data_jobs() -> list[tuple[str, str, list[str]]]:
    """(stage, command, output paths) of every job that writes under data/, in plan order."""
    plan = Plan(read_params(PROJECT_ROOT / "params.yaml"))
    return [(stage.name, job.command, [output.path for output in job.outputs])
            for stage in plan.stages for job in stage.jobs.values()
            if all(output.path.startswith(f"{DATA_ROOT}/") for output in job.outputs)]


def run_jobs(project: Path, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    for stage, command, _ in data_jobs():
        if stage in skip:
            continue
        result = subprocess.run([sys.executable, "-m", "searec", *command.split()], cwd=project,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (stage, result.stderr[-2000:])


def tracked_bytes(project: Path) -> dict[str, str]:
    """SHA-256 of every file of every data job's outputs (a directory output: each file in it)."""
    digests: dict[str, str] = {}
    for _, _, outputs in data_jobs():
        for output in outputs:
            path = project / output
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            assert files, f"{output} is empty or missing"
            for file in files:
                digests[str(file.relative_to(project))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digests


def test_data_feature_and_graph_stages_write_the_same_bytes_anywhere_and_on_rerun(tmp_path: Path) -> None:
    first = tmp_path / "a" / "project"
    second = tmp_path / "b" / "elsewhere" / "project"
    for project in (first, second):
        project.mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "params.yaml", project / "params.yaml")
        run_jobs(project)
    digests = tracked_bytes(first)
    assert digests == tracked_bytes(second)
    run_jobs(first, skip=EXPENSIVE)  # a rerun: downloads verified, images cached, tables rebuilt
    assert tracked_bytes(first) == digests
    assert len(digests) > 20 and any(name.endswith("manifest.json") for name in digests)
    for _, _, outputs in data_jobs():  # the facts of each execution went beside, not into, the outputs
        records = [run_record_path(first / o) for o in outputs if (first / o).is_dir() or o.endswith(".npy")]
        assert records and all(record.exists() for record in records), outputs
    for name in digests:
        if name.endswith((".json", ".csv", ".inter")):
            text = (first / name).read_text(encoding="utf-8")
            assert str(tmp_path) not in text and '"seconds"' not in text and "code_version" not in text, name
