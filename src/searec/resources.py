"""What each pipeline job asks a scheduler for: threads, memory, wall time and GPUs.

A training job's request derives from measurements, not guesses: ``benchmarks/model_speed.py
--record`` trains every model with the real ``searec train`` at known shapes (the embedded
sample, Amazon Baby, Amazon Clothing: users × items × interactions, 4096-d image and 384-d text
features, one CPU thread as every pipeline training runs) and writes its peak RSS and seconds per
epoch to :data:`MEASURED_FILE`. For a job's dataset (its shape read from the ``searec graphs``
manifest the job consumes) the figures are interpolated between the measured shapes, log-log
and piecewise: memory over the item count (item features, item graphs, all-items InfoNCE and
score rows grow with it), time per epoch over the training interactions (the batches of an
epoch). Beyond the largest shape the last segment's slope extrapolates; below the smallest its
figure holds (the process's own base: Python, torch, the CLI). Then

* ``mem_mb`` = measured peak RSS × ``resources.memory_headroom`` × attempt;
* ``runtime`` (minutes) = (train seconds + evaluation seconds / ``eval_every``) per epoch × the
  run's epoch cap × ``resources.runtime_headroom`` × attempt × the job's runs (a batch trains its
  runs one after another) + :data:`STARTUP_MINUTES`, at most
  ``resources.max_runtime_minutes``. A run cut by its time limit is not lost: the retry resumes
  from ``checkpoint.pt``;
* ``gpu`` = 1 when the run's device is ``cuda[:N]``, or ``auto`` with ``resources.gpus: true``
  (a cluster with GPU nodes), with ``gpu_model`` = ``resources.gpu_model`` where the site names
  GPU types; else 0, and the job runs on a CPU node. A GPU job keeps the CPU
  measurement as its time bound (no GPU was measured: an upper bound, since the GPU is faster).

The names are the resources Snakemake 9's SLURM executor plugin maps to ``sbatch``: ``mem_mb``,
``runtime``, ``gpu`` and ``gpu_model`` (``--gpus=TYPE:N``). The other
stages have :data:`STAGE_REQUESTS`: allowances for the full Amazon datasets (the raw files are
not at hand offline to measure; the sample's stages stay far below them), doubled on each retry
as well. Snakemake's ``--retries`` re-evaluates these with the next ``attempt``, so a job SLURM
kills as ``OUT_OF_MEMORY`` or ``TIMEOUT`` is resubmitted with twice, then three times, the
request, and :func:`retry_note` says so in Snakemake's log.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from searec.sections import section

MEASURED_FILE = Path(__file__).with_name("measured_resources.yaml")
STARTUP_MINUTES = 2
"""Process start, imports, data and graph loading, writing the outputs: on top of the epochs."""
GPU_DEVICE_PREFIX = "cuda"
SMALLEST_FIGURE = 1e-3
"""Measured figures below this (seconds of a tiny epoch) count as this, so that log-log interpolation holds."""


@dataclass(frozen=True)
class Shape:
    """The size of a dataset as the trainer sees it."""

    users: int
    items: int
    interactions: int


@dataclass(frozen=True)
class StageRequest:
    """A non-training stage's first-attempt request."""

    mem_mb: int
    runtime: int


STAGE_REQUESTS: dict[str, StageRequest] = {
    "download": StageRequest(mem_mb=1000, runtime=240),  # streaming to disk; Clothing's files are ~1.5 GB
    "preprocess": StageRequest(mem_mb=12000, runtime=120),  # every review and metadata record in pandas
    "images": StageRequest(mem_mb=4000, runtime=480),  # one fetch per item, resumable
    "features_text": StageRequest(mem_mb=6000, runtime=240),  # sentence-transformers on CPU
    "features_image": StageRequest(mem_mb=6000, runtime=480),  # EfficientNet over every image on CPU
    "export_mmrec": StageRequest(mem_mb=8000, runtime=60),
    "synth": StageRequest(mem_mb=8000, runtime=60),
    "graphs": StageRequest(mem_mb=8000, runtime=120),  # kNN over 4096-d features, chunked
    "select": StageRequest(mem_mb=1000, runtime=10),
    "aggregate": StageRequest(mem_mb=4000, runtime=30),
    "figures": StageRequest(mem_mb=4000, runtime=30),
}
"""Requests of the stages that are not trainings, on their first attempt (see the module docstring)."""


@cache
def measurements() -> dict[str, Any]:
    """The recorded measurements (:data:`MEASURED_FILE`): ``shapes.<shape>`` with its size and ``models``."""
    return yaml.safe_load(MEASURED_FILE.read_text(encoding="utf-8"))


def shape_from_graphs(manifest: Path) -> Shape | None:
    """A dataset's shape from its ``searec graphs`` manifest (None until the graphs exist).

    The user–item adjacency is (users + items)² with both directions of every training pair;
    the user–user graph is users².
    """
    if not manifest.exists():
        return None
    graphs = {entry["kind"]: entry for entry in json.loads(manifest.read_text(encoding="utf-8"))["graphs"]}
    users = int(graphs["uu"]["shape"][0])
    nodes = int(graphs["ui"]["shape"][0])
    return Shape(users=users, items=nodes - users, interactions=int(graphs["ui"]["nnz"]) // 2)


def interpolated(points: Sequence[tuple[float, float]], x: float) -> float:
    """``y`` at ``x`` on the log-log polyline through ``points`` (x ascending): a power law per segment,
    the last segment's beyond the largest x, the first point's value below the smallest."""
    points = sorted((x, max(y, SMALLEST_FIGURE)) for x, y in points)
    if x <= points[0][0] or len(points) == 1:
        return points[0][1]
    segments = list(zip(points, points[1:]))
    (x0, y0), (x1, y1) = next(((a, b) for a, b in segments if x <= b[0]), segments[-1])
    slope = max(math.log(y1 / y0) / math.log(x1 / x0), 0.0)  # a figure never shrinks as data grows
    return y0 * (x / x0) ** slope


def measured_model(model: str, shape: Shape) -> tuple[float, float, float]:
    """(peak RSS in MiB, train seconds per epoch, evaluation seconds) of ``model`` at ``shape``."""
    shapes = [entry for entry in measurements()["shapes"].values() if model in entry["models"]]
    if not shapes:
        raise KeyError(f"{MEASURED_FILE}: no measurement of model {model!r}; run "
                       f"python benchmarks/model_speed.py --models {model} --record {MEASURED_FILE} (each --shape)")
    rss = interpolated([(e["items"], e["models"][model]["peak_rss_mib"]) for e in shapes], shape.items)
    train = interpolated([(e["interactions"], e["models"][model]["train_seconds_per_epoch"]) for e in shapes],
                         shape.interactions)
    evaluation = interpolated([(e["users"] * e["items"], e["models"][model]["eval_seconds"]) for e in shapes],
                              shape.users * shape.items)
    return rss, train, evaluation


def measured_shape(name: str) -> Shape | None:
    """The shape measured under ``name`` (a dataset's, where it was measured), or None."""
    entry = measurements()["shapes"].get(name)
    return None if entry is None else Shape(entry["users"], entry["items"], entry["interactions"])


def largest_shape() -> Shape:
    """The largest measured shape: what a job is sized for before its data exists (a dry run)."""
    entry = max(measurements()["shapes"].values(), key=lambda e: e["items"])
    return Shape(entry["users"], entry["items"], entry["interactions"])


JOB_GROUPS: dict[str, str] = {
    "train_grid": "search-{dataset}-{model}", "select": "search-{dataset}-{model}", "search": "search-{dataset}-{model}",
    "train": "{batch}-{dataset}-{model}", "train_variant": "{batch}-{dataset}-{model}",
    "aggregate": "report", "figures": "report",
}
"""Snakemake job groups by stage: each group is one cluster submission (executed locally, groups
are ignored). A model's grid search batches and its ``select`` are one connected group (a short search
is one job, stage ``search``: :attr:`searec.plan.Plan.searches_in_one_job`); each
batch of its main runs, or of an experiment's variants, is a group of its own (``{batch}``:
``main``, ``ablation``, ``sensitivity-2``; :func:`trainings_together`, ``resources.runs_per_batch``),
so no group spans jobs that are not connected (which the SLURM profile would have to name in
``group-components``). Inside a group job Snakemake runs as many
jobs side by side as the profile's ``cores`` allow and the rest in series, asking for the sum of
their memory and the longest runtime of each such layer, summed over the layers."""
TRAINING_GROUPED_STAGES = ("train_grid", "select", "train", "train_variant", "search")
"""The stages ``resources.group_trainings: false`` (or a training on a GPU) leaves ungrouped."""
def job_group(params: Mapping[str, Any], stage: str, models: Sequence[str]) -> str | None:
    """The group pattern of a stage's jobs, or None. Trainings are grouped for short runs only
    (:func:`trainings_together`)."""
    if stage in TRAINING_GROUPED_STAGES and not trainings_together(params, models):
        return None
    return JOB_GROUPS.get(stage)


def trainings_together(params: Mapping[str, Any], models: Sequence[str]) -> bool:
    """Whether the trainings of ``models`` travel together: a model's grid, main or variant runs on one
    dataset in one job (``searec train-batch``: one process, one run after another), and a grid search
    with its ``select`` in one job group (one cluster submission). Only for short runs
    (``resources.group_trainings``: a batch asks for the sum of its runs' runtimes, which for
    hours-long runs exceeds a partition's limit) and never when a training asks for a GPU (a group
    asks for the GPUs of all the jobs it runs side by side)."""
    settings = section(params, "resources")
    return bool(settings["group_trainings"]) and not any(
        asks_for_gpu(_run_training(params, model)["device"], bool(settings["gpus"])) for model in models)


def _run_training(params: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The training settings of ``model``'s runs: the section's, with ``models.<model>.training`` over them."""
    from searec.settings import configured_settings

    return section(params, "training") | configured_settings(params, model).training


def asks_for_gpu(device: str, gpus_offered: bool) -> bool:
    return str(device).startswith(GPU_DEVICE_PREFIX) or (device == "auto" and gpus_offered)


def training_request(params: Mapping[str, Any], model: str, shape: Shape | None,
                     attempt: int = 1, runs: int = 1) -> dict[str, int | str]:
    """``mem_mb``, ``runtime``, ``gpu`` and ``gpu_model`` of one training job of ``model`` (module docstring)
    that trains ``runs`` runs one after another (a batch: the memory of one, the time of all);
    ``gpu_model`` is empty unless the job asks for a GPU (the plugin would otherwise ask a GPU for it)."""
    settings = section(params, "resources")
    training = _run_training(params, model)
    rss, train_seconds, eval_seconds = measured_model(model, shape or largest_shape())
    gpu = asks_for_gpu(training["device"], bool(settings["gpus"]))
    epoch_seconds = train_seconds + eval_seconds / int(training["eval_every"])
    minutes = epoch_seconds * int(training["epochs"]) * float(settings["runtime_headroom"]) * attempt * runs / 60
    return {"mem_mb": math.ceil(rss * float(settings["memory_headroom"]) * attempt),
            "runtime": min(math.ceil(minutes) + STARTUP_MINUTES, int(settings["max_runtime_minutes"])),
            "gpu": int(gpu), "gpu_model": (settings["gpu_model"] or "") if gpu else ""}


def training_priority(model: str, dataset: str, shape: Shape | None, runs: int = 1) -> int:
    """The Snakemake ``priority`` of a training job (higher starts first among ready jobs): its expected
    milliseconds per epoch (train and evaluation, :func:`measured_model`) at its dataset's ``shape``
    times the runs it trains (a batch's runs that copy an identical run count nothing). Snakemake
    evaluates priorities when it builds the DAG, before a fresh run has graphs to read the shape
    from: then the measured shape of the dataset's name (the measurements are of the sample, Baby
    and Clothing), or the largest one for a dataset never measured.

    Longest expected first (LPT) keeps the last jobs to start short, so a run does not end with one
    core training a long model while the others idle: on the 2-core sample run the longest batch
    (mgcn, 42 s) started last by Snakemake's own tie-break (input size) and ran alone for 28 s.
    The epochs early stopping will take are unknown before training, so every model counts the same
    epochs; only the order matters, never the value."""
    expected = shape or measured_shape(dataset) or largest_shape()
    _, train_seconds, eval_seconds = measured_model(model, expected)
    return max(1, round(1000 * (train_seconds + eval_seconds) * runs))


def stage_request(params: Mapping[str, Any], stage: str, attempt: int = 1) -> dict[str, int]:
    """``mem_mb`` and ``runtime`` of a job of a stage that is not a training."""
    request = STAGE_REQUESTS[stage]
    limit = int(section(params, "resources")["max_runtime_minutes"])
    return {"mem_mb": request.mem_mb * attempt, "runtime": min(request.runtime * attempt, limit)}


def retry_note(job: str, attempt: int, request: Mapping[str, int]) -> None:
    """One line in Snakemake's log when a job is tried again, and with what."""
    if attempt > 1:
        print(f"searec: {job}: attempt {attempt} asks for {attempt}x the first request (mem_mb {request['mem_mb']}, "
              f"runtime {request['runtime']} min): the last attempt failed; if SLURM reported OUT_OF_MEMORY or "
              f"TIMEOUT, this is the remedy (a training resumes from its checkpoint)", file=sys.stderr)
