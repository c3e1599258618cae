"""searec status: the plan's jobs as done, stale or missing, per experiment × model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from searec.cli import main
from searec.plan import TRAINING_STAGES, Plan
from searec.status import status_counts
from tests.conftest import PROJECT_ROOT


def _every_file_of_the_plan(root: Path, plan: Plan) -> None:
    """Empty inputs, then outputs 10 s newer: every job done."""
    later = time.time() + 10
    folders = {path for stage in plan.stages if stage.directory_output
               for job in stage.jobs.values() for path in job.snakemake_outputs}
    for stage in plan.stages:
        for job in stage.jobs.values():
            for path in job.snakemake_inputs:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).mkdir(exist_ok=True) if path in folders else (root / path).touch()
    for stage in plan.stages:
        for job in stage.jobs.values():
            for path in job.snakemake_outputs:
                target = root / path
                if stage.directory_output:
                    target.mkdir(parents=True, exist_ok=True)
                    target = target / "export.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch()
                os.utime(target, (later, later))


def test_status_counts_done_stale_and_missing_jobs(tmp_path: Path, capsys) -> None:
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    plan = Plan(params)
    assert all(value["missing"] for value in status_counts(params, tmp_path).values())  # nothing there yet
    _every_file_of_the_plan(tmp_path, plan)
    counts = status_counts(params, tmp_path)
    training_jobs = [job for stage in plan.stages if stage.name in TRAINING_STAGES for job in stage.jobs.values()]
    runs = {folder for job in training_jobs for folder in job.fields["run_folders"]}  # a search's: grid and main
    others = sum(len(stage.jobs) for stage in plan.stages if stage.name not in TRAINING_STAGES)
    assert len(runs) > len(training_jobs)  # batches of runs
    assert sum(c["done"] for c in counts.values()) == len(runs) + others  # trainings counted by run
    assert counts[("main", "sea")]["done"] == 3 and counts[("search", "sea")]["done"] == 2
    variants = {name: len(params["experiments"][name]["variants"]) for name in ("ablation", "sensitivity")}
    assert counts[("ablation", "sea")]["done"] == variants["ablation"]  # one seed each on the sample
    assert counts[("sensitivity", "sea")]["done"] == variants["sensitivity"]

    newer = time.time() + 20  # an edit of SEA's file: every SEA run is stale, nothing else
    os.utime(tmp_path / "src" / "searec" / "models" / "sea.py", (newer, newer))
    (tmp_path / "runs" / "sample" / "bpr" / "default" / "seed-2" / "metrics.json").unlink()
    counts = status_counts(params, tmp_path)
    assert counts[("main", "sea")]["stale"] == 3 and counts[("ablation", "sea")]["stale"] == variants["ablation"]
    assert counts[("main", "bpr")] == {"done": 2, "missing": 1}
    assert counts[("main", "lightgcn")] == {"done": 3}

    (tmp_path / "params.yaml").write_text((PROJECT_ROOT / "params.yaml").read_text())
    assert main(["status", "--params", str(tmp_path / "params.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["experiment", "model", "done", "stale", "missing"]
    assert "main         sea               0        3        0" in out
    assert out.strip().endswith("(stale: an input is newer than an output; a changed parameter shows in `snakemake -n`)")
    assert len(out.splitlines()) < 60  # a screenful
