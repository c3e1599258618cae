"""Where the pipeline stands, in a screenful: per experiment × model, its runs done, stale or missing.

At the paper preset's size (1,081 jobs) ``snakemake -n`` and ``dvc status`` print thousands of
lines. This reads the run plan (:mod:`searec.plan`, the jobs both tools run) and the files on
disk, nothing else: a job is **missing** when one of its outputs is absent, **stale** when an
input (data, graphs, a selection, a source file) is newer than its oldest output — Snakemake's
own rule for rerunning — and **done** otherwise. A changed parameter value is not seen here (it
leaves no trace on disk): ``snakemake -n`` and ``dvc status`` see those.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from searec.plan import TRAINING_STAGES, Job, Plan

STATES = ("done", "stale", "missing")
SEARCH_ROW = "search"
"""The experiment name the grid runs are counted under (experiments.main's search)."""


class _Clock:
    """Modification times, each path looked at once (a folder: its newest file, as its content)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, float | None] = {}

    def mtime(self, path: str) -> float | None:
        if path not in self._seen:
            self._seen[path] = self._newest(self.root / path)
        return self._seen[path]

    @staticmethod
    def _newest(path: Path) -> float | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        if not path.is_dir():
            return stat.st_mtime
        newest = stat.st_mtime
        for folder, _, files in os.walk(path):
            for name in files:
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
        return newest


def job_state(job: Job, clock: _Clock, outputs: Iterable[str] | None = None) -> str:
    """``missing``, ``stale`` or ``done`` for one job of the plan (module docstring), or for some of its
    ``outputs`` (one run of a training batch)."""
    times = [clock.mtime(path) for path in (job.snakemake_outputs if outputs is None else outputs)]
    if any(time is None for time in times):
        return "missing"
    inputs = [time for time in (clock.mtime(path) for path in job.snakemake_inputs) if time is not None]
    return "stale" if inputs and max(inputs) > min(times) else "done"  # type: ignore[type-var]


def _run_outputs(job: Job) -> dict[str, list[str]]:
    """A training job's outputs by run folder (one folder, or a batch's several; a search's selection file is
    no run's)."""
    folders = job.fields.get("run_folders")
    runs: dict[str, list[str]] = {}
    for path in job.snakemake_outputs:
        folder = str(Path(path).parent)
        if folders is None or folder in folders:
            runs.setdefault(folder, []).append(path)
    return runs


def _experiment_of_runs(plan: Plan) -> dict[str, str]:
    """Each planned run folder's experiment."""
    return {str(run.directory()): experiment for experiment, runs in plan.runs.items() for run in runs}


def status_counts(params: Mapping[str, Any], root: Path = Path(".")) -> dict[tuple[str, str], Counter[str]]:
    """``(experiment, model)`` → counts of done / stale / missing jobs; the other stages as ``(stage, "")``."""
    plan = Plan(params)
    clock = _Clock(root)
    experiments = _experiment_of_runs(plan)
    counts: dict[tuple[str, str], Counter[str]] = {}
    for stage in plan.stages:
        for job in stage.jobs.values():
            if stage.name not in TRAINING_STAGES:
                counts.setdefault((stage.name, ""), Counter())[job_state(job, clock)] += 1
                continue
            for run_folder, outputs in _run_outputs(job).items():  # runs are counted, not batches
                experiment = experiments.get(run_folder, SEARCH_ROW)  # a grid run is no experiment's
                counts.setdefault((experiment, job.fields["model"]), Counter())[job_state(job, clock, outputs)] += 1
    return counts


def status_lines(counts: Mapping[tuple[str, str], Counter[str]]) -> Iterable[str]:
    """The table a person reads: one line per experiment × model, then the other stages, then the total."""
    trainings = {key: value for key, value in counts.items() if key[1]}
    others = {key: value for key, value in counts.items() if not key[1]}
    yield f"{'experiment':<13}{'model':<10}" + "".join(f"{state:>9}" for state in STATES)
    for (experiment, model), counter in trainings.items():
        yield f"{experiment:<13}{model:<10}" + "".join(f"{counter[state]:>9}" for state in STATES)
    yield f"{'stage':<23}" + "".join(f"{state:>9}" for state in STATES)
    for (stage, _), counter in others.items():
        yield f"{stage:<23}" + "".join(f"{counter[state]:>9}" for state in STATES)
    total: Counter[str] = sum(counts.values(), Counter())
    yield (f"{sum(total.values())} runs and jobs: " + ", ".join(f"{total[state]} {state}" for state in STATES)
           + " (stale: an input is newer than an output; a changed parameter shows in `snakemake -n`)")
