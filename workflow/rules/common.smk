# The run plan (searec.plan) and what the rules need of it: every stage of the plan is one rule
# (workflow/rules/stages.smk), with the jobs, commands, inputs and outputs that `searec generate`
# writes into dvc.yaml.
import functools
import re
import shlex
import sys
from pathlib import Path

from searec.generated import DVC_FILE, dvc_text
from searec.graphs import GRAPH_MANIFEST
from searec.layout import graphs_dir
from searec.params import value_at
from searec.plan import TRAINING_STAGES, Plan
from searec.resources import (job_group, retry_note, shape_from_graphs, stage_request, training_priority,
                              training_request)

# Every stage is one call of the searec CLI of THIS interpreter (the project's venv).
SEAREC = f"{shlex.quote(sys.executable)} -m searec"
PLAN = Plan(config)

# Snakemake report entries: the tables, and each figure's PNG with the caption of its kind.
REPORT_CAPTIONS = {"training": "training.rst", "ablation": "ablation.rst", "sensitivity": "sensitivity.rst",
                   "representations": "representations.rst"}


def constraints(stage):
    """Each wildcard may take exactly the values of the stage's jobs (two stages can share a pattern)."""
    values = {name: sorted({str(job.fields[name]) for job in stage.jobs.values()}) for name in stage.wildcards()}
    return {name: "|".join(re.escape(value) for value in found) for name, found in values.items()}


def tracked_params(keys):
    """The values of the params.yaml keys a job depends on (DVC's `params:`), for Snakemake's params trigger."""
    return {key: value_at(config, key) for key in keys}


def reported(stage, path):
    """An output with its report entry (tables and PNG figures), else the path itself."""
    if stage.name == "aggregate" and path.endswith(".csv"):
        return report(path, caption="../report/table.rst", category="Tables")
    if stage.name == "figures" and path.endswith(".png"):
        kind = next(kind for name, kind, _ in PLAN.figures if Path(path).stem == name)
        return report(path, caption=f"../report/{REPORT_CAPTIONS[kind]}", category="Figures")
    return path


def planned_job(stage, job, wildcards):
    """The plan's job of a Snakemake job: the rule's own, or the one its wildcards name."""
    return job if job is not None else stage.job_for(wildcards)


def training_manifest(job):
    """The graphs manifest a training job consumes (its dataset's shape, once the graphs exist)."""
    return graphs_dir(job.fields["dataset"]) / GRAPH_MANIFEST


def job_request(stage, job, attempt):
    """What one job asks a scheduler for (searec.resources): a training from its model's measurements at
    its dataset's shape (read from the graphs it consumes, present when the job is scheduled), for each of
    the runs it trains."""
    if stage.name not in TRAINING_STAGES:
        return stage_request(config, stage.name, attempt)
    manifest = training_manifest(job)
    return _training_request(job.fields["model"], str(manifest), manifest.stat().st_mtime_ns
                             if manifest.exists() else None, len(job.fields.get("run_folders", [None])), attempt)


@functools.cache
def _training_request(model, manifest, manifest_version, runs, attempt):
    """Computed once per model, graphs version, run count and attempt: Snakemake re-evaluates every pending
    job's resources each time it selects jobs, which at a thousand jobs would otherwise cost CPU hours."""
    return training_request(config, model, shape_from_graphs(Path(manifest)), attempt, runs=runs)


def job_priority(stage, job):
    """The rule's priority (searec.resources.training_priority: the longest expected training first), a
    callable of the wildcards for a rule of patterns; 0 for the stages that are not trainings. Snakemake
    evaluates it when it builds the DAG."""
    if stage.name not in TRAINING_STAGES:
        return 0

    def priority(wildcards):
        planned = planned_job(stage, job, wildcards)
        return training_priority(planned.fields["model"], planned.fields["dataset"],
                                 shape_from_graphs(training_manifest(planned)), runs=PLAN.trained_runs(stage.name, planned))

    return priority if job is None else priority({})


RETRIES_NOTED = set()
"""(job, attempt) pairs whose retry has been logged: once each."""


def job_resources(stage, job):
    """The rule's resources as callables of the job and its attempt (a retry asks for more)."""

    def request(wildcards, attempt):
        return job_request(stage, planned_job(stage, job, wildcards), attempt)

    def mem_mb(wildcards, attempt):
        asked = request(wildcards, attempt)
        name = f"{stage.name} {planned_job(stage, job, wildcards).key}"
        if (name, attempt) not in RETRIES_NOTED:  # Snakemake re-evaluates resources every scheduling round
            RETRIES_NOTED.add((name, attempt))
            retry_note(name, attempt, asked)
        return asked["mem_mb"]

    resources = {"mem_mb": mem_mb, "runtime": lambda wildcards, attempt: request(wildcards, attempt)["runtime"]}
    if stage.name in TRAINING_STAGES:
        resources["gpu"] = lambda wildcards, attempt: request(wildcards, attempt)["gpu"]
        resources["gpu_model"] = lambda wildcards, attempt: request(wildcards, attempt)["gpu_model"]
    return resources


def stage_group(stage, job):
    """The job group (one cluster submission per group; ignored locally), or None: a pattern over the
    wildcards for a rule of patterns, filled with the job's fields for a rule of one job."""
    models = sorted({job.fields["model"] for job in stage.jobs.values() if "model" in job.fields})
    group = job_group(config, stage.name, models)
    return group.format(**job.fields) if group and job is not None else group


def stage_outputs(stage, job):
    paths = job.snakemake_outputs if job is not None else (stage.snakemake_outputs or [o.path for o in stage.outputs])
    if stage.directory_output:
        return [directory(path) for path in paths]
    return [reported(stage, path) for path in paths]


if Path(DVC_FILE).exists() and Path(DVC_FILE).read_text(encoding="utf-8") != dvc_text(Path("params.yaml")):
    # Snakemake plans from params.yaml itself; only `dvc repro` reads dvc.yaml.
    print(f"warning: {DVC_FILE} is stale for params.yaml (dvc repro would run other jobs): searec generate",
          file=sys.stderr)
