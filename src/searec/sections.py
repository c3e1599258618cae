"""The pipeline's settings outside the models, each declared once: its default, meaning and range.

Every section of params.yaml that a stage reads is a tuple of :class:`~searec.declared.Setting`
here. A stage asks :func:`section` for its values (the declared defaults with params.yaml's
entries over them, each checked), and ``searec generate`` writes the same declarations into the
params schema, so the range of a value is stated once and both Snakemake and every ``searec``
command check it. A preset may leave out any of these keys: the default applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from searec.declared import Setting, declared_defaults
from searec.errors import ParamsError
from searec.params import value_at

DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?"
METRIC_PATTERN = r"(recall|ndcg|precision|map)@\d+"

SECTIONS: dict[str, tuple[Setting, ...]] = {
    "download": (
        Setting("mirror", None, "base URL replacing every source's (or $SEAREC_MIRROR)", kind="string", nullable=True),
        Setting("attempts", 5, "tries per file before giving up", minimum=1),
        Setting("backoff_seconds", 1.0, "wait backoff · 2^(attempt − 1) seconds between tries", minimum=0.0),
        Setting("timeout_seconds", 60.0, "seconds without data before a try fails", minimum=0.0,
                exclusive_minimum=True),
    ),
    "preprocess": (
        Setting("k_core", 5, "every user and item keeps at least this many interactions (PROTOCOL.md)", minimum=1),
        Setting("split", "per_user", "seeded per-user split, or one global temporal split",
                choices=("per_user", "temporal")),
        Setting("seed", 0, "seed of the per-user split", minimum=0),
        Setting("temporal_fractions", (0.8, 0.1), "train and valid shares of the temporal split (test: the rest)",
                item_kind="number", minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True,
                min_items=2, max_items=2),
    ),
    "images": (
        Setting("workers", 8, "parallel image fetches", minimum=1),
    ),
    "features.text": (
        Setting("encoder", "all-MiniLM-L6-v2", "a sentence-transformers model name or local folder"),
        Setting("batch_size", 64, "texts per encoder batch", minimum=1),
        Setting("device", "auto", "auto, cpu or cuda[:N]", pattern=DEVICE_PATTERN),
        Setting("normalize", True, "L2-normalise each item's embedding"),
        Setting("threads", 2, "CPU threads (features are bitwise reproducible for a given count)", minimum=1),
    ),
    "features.image": (
        Setting("encoder", "efficientnet-lite0", "a vision model over the product images, or amazon2014-cnn "
                                                 "(the 2014 release's 4096-d CNN features)"),
        Setting("weights_path", None, "a local weights file for the vision model", kind="string", nullable=True),
        Setting("batch_size", 8, "images per encoder batch (small batches are faster on 2 CPU cores)", minimum=1),
        Setting("workers", 2, "image decoding workers (0: in the main process)", minimum=0),
        Setting("device", "auto", "auto, cpu or cuda[:N]", pattern=DEVICE_PATTERN),
        Setting("threads", 2, "CPU threads (features are bitwise reproducible for a given count)", minimum=1),
    ),
    "graphs": (
        Setting("knn_k", (10,), "neighbours per item of the item-item kNN graphs, one graph per value", minimum=1,
                min_items=1, scalar_ok=True),
        Setting("user_user_k", 40, "neighbours per user of the user-user co-occurrence graph", minimum=1),
    ),
    "training": (
        Setting("epochs", 1000, "most epochs of one run", minimum=1),
        Setting("patience", 20, "evaluations without improvement before early stopping", minimum=0),
        Setting("eval_every", 1, "epochs between validation evaluations", minimum=1),
        Setting("batch_size", 2048, "training triples per batch", minimum=1),
        Setting("learning_rate", 1e-3, "Adam's learning rate", minimum=0.0, exclusive_minimum=True),
        Setting("weight_decay", 0.0, "Adam's weight decay", minimum=0.0),
        Setting("eval_batch_size", 4096, "users per full-ranking evaluation batch", minimum=1),
        Setting("topk", (5, 10, 20, 50), "cut-offs of the ranking metrics", minimum=1, min_items=1),
        Setting("valid_metric", "recall@20", "the validation metric of early stopping and selection",
                pattern=METRIC_PATTERN),
        Setting("device", "auto", "auto, cpu or cuda[:N]", pattern=DEVICE_PATTERN),
        Setting("deterministic", True, "torch's deterministic algorithms: same seed, same result (on CUDA, ops "
                                       "without a deterministic kernel stop the run, naming the op)"),
    ),
    "resources": (
        Setting("gpus", False, "training jobs whose device is auto ask the scheduler for a GPU (a cluster with GPU "
                               "nodes; cuda always asks, cpu never)"),
        Setting("memory_headroom", 1.5, "a training job asks for its measured peak RSS times this (searec.resources)",
                minimum=1.0),
        Setting("runtime_headroom", 1.5, "a training job asks for its measured time per epoch x its epoch cap "
                                         "times this", minimum=1.0),
        Setting("max_runtime_minutes", 2880, "the longest wall time any job asks for (your partition's limit); "
                                             "a training cut by it resumes from its checkpoint on the retry",
                minimum=1),
        Setting("gpu_model", None, "the GPU type a training that asks for a GPU requests (SLURM --gpus=TYPE:1), "
                                   "where the site names them", kind="string", nullable=True),
        Setting("group_trainings", True, "short trainings travel together: one job (one process) per model x "
                                         "dataset x experiment (its grid search, main runs or variants), its "
                                         "runs one after another, and one cluster submission per job group "
                                         "(not for hours-long runs; GPU trainings never do)"),
        Setting("runs_per_batch", 4, "the most runs one such job trains: longer lists are cut into even "
                                     "batches, so that a model's many variants run side by side on a "
                                     "machine's cores instead of one after another", minimum=1),
    ),
}
"""params.yaml's sections by their dotted path, each setting with its default, meaning and range."""


def section_defaults(path: str) -> dict[str, Any]:
    return declared_defaults(SECTIONS[path])


def section(params: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The settings of section ``path`` (``features.text``): declared defaults, params.yaml's values
    over them, each checked; an unknown key is an error naming the known ones."""
    given = dict(value_at(dict(params), path) or {})
    declared = {setting.name: setting for setting in SECTIONS[path]}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParamsError(f"params.yaml {path}: unknown setting(s) {unknown}; known: {', '.join(declared)}")
    return section_defaults(path) | {key: declared[key].check(value, f"{path}.{key}") for key, value in given.items()}


def sections_schema() -> dict[str, Any]:
    """The params schema's entries of every section (nested sections as objects of objects)."""
    entries: dict[str, Any] = {}
    for path, settings in SECTIONS.items():
        schema = {"type": "object", "additionalProperties": False,
                  "properties": {setting.name: setting.json_schema() for setting in settings}}
        head, _, tail = path.partition(".")
        if tail:
            parent = entries.setdefault(head, {"type": "object", "additionalProperties": False, "properties": {}})
            parent["properties"][tail] = schema
        else:
            entries[head] = schema
    return entries
