# Shared helpers. Paths come from searec.layout, so the workflow and the CLI agree on them.
import json
import re
import shlex
import sys
from pathlib import Path

from searec.features.common import configured_encoder, feature_path
from searec.layout import (DEFAULT_VARIANT, experiment_runs, graphs_dir, grid_run_dir, images_dir,
                           mmrec_dir, processed_dir, raw_dir, run_dir, selection_path)
from searec.params import model_settings
from searec.search import GRID_RUNS_FILE, find_point, planned_grid_runs, search_seed, stale_grid_runs_file

# Every stage is one call of the searec CLI of THIS interpreter (the project's venv).
SEAREC = f"{shlex.quote(sys.executable)} -m searec"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    model=r"[a-z0-9_]+",
    variant=r"[A-Za-z0-9_.=\-]+",
    point=r"[A-Za-z0-9_.=+\-]+",
    seed=r"\d+",


REGISTRY_DATASETS = sorted(config.get("datasets") or {})
SYNTHETIC_DATASETS = sorted(config.get("synthetic") or {})
overlap = set(REGISTRY_DATASETS) & set(SYNTHETIC_DATASETS)
if overlap:
    raise ValueError(f"params.yaml: {sorted(overlap)} named under both `datasets` and `synthetic`")


def name_pattern(names):
    """A wildcard constraint matching exactly these dataset names (nothing when there are none)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def synth_arguments(wildcards):
    """`searec synth` options of one `synthetic:` entry."""
    spec = config["synthetic"][wildcards.dataset]
    return (f"--users {spec['users']} --items {spec['items']} --image-dim {spec['image_dim']} "
            f"--text-dim {spec['text_dim']} --seed {spec['seed']}")


def all_planned_runs():
    return [plan for experiment in config.get("experiments") or {} for plan in experiment_runs(config, experiment)]


# (model, variant folder) -> hyper-parameters the variant overrides (SEA's ablation, the sweeps)
VARIANT_OVERRIDES = {(plan.model, plan.variant): dict(plan.overrides) for plan in all_planned_runs()}


def set_options(values):
    return " ".join("--set " + shlex.quote(f"{key}={json.dumps(value)}") for key, value in sorted(values.items()))


def configured_values(model):
    """The model's hyper-parameters and the training settings of the config, as `--set` keys."""
    values, training = model_settings(config, model)  # models.<m>.training: that model's own settings
    values.update({f"training.{key}": value for key, value in training.items()})
    return values


def training_overrides(wildcards):
    """Model hyper-parameters (with the variant's), training settings of the config as explicit --set options.

    Passing values (not a file name) makes `snakemake --config ...` overrides reach the run and
    lets Snakemake's params rerun-trigger notice any change.
    """
    values = configured_values(wildcards.model)
    values.update(VARIANT_OVERRIDES.get((wildcards.model, wildcards.variant), {}))
    return set_options(values)


def grid_point_overrides(wildcards):
    """The configured values with one grid point's values over them, as explicit --set options."""
    point = find_point(config, wildcards.model, wildcards.point)
    return set_options(configured_values(wildcards.model) | dict(point.values))


def grid_metrics(wildcards):
    """Every grid point's metrics.json of one model on one dataset (the select rule's input)."""
    return [str(run.directory() / "metrics.json") for run in planned_grid_runs(config)
            if run.dataset == wildcards.dataset and run.model == wildcards.model]


def searched(wildcards):
    """Whether this run is one of experiments.main's runs, whose configuration the grid search selects."""
    return wildcards.variant == DEFAULT_VARIANT and SEARCH_SEED is not None


def run_selection(wildcards):
    return [str(selection_path(wildcards.dataset, wildcards.model))] if searched(wildcards) else []


SEARCH_SEED = search_seed(config)
if SEARCH_SEED is not None and (problem := stale_grid_runs_file(config, Path(GRID_RUNS_FILE))):
    # Snakemake plans the grid from params.yaml itself; only `dvc repro` reads that file.
    print(f"warning: {problem}; dvc repro would run other grid points: searec grid --write {GRID_RUNS_FILE}",
          file=sys.stderr)


def experiment_metrics(experiment):
    return [str(plan.directory() / "metrics.json") for plan in experiment_runs(config, experiment)]


def experiment_per_user(experiment):
    """The runs' per-user test metrics: the aggregate stage's significance tests read them beside metrics.json."""
    return [str(plan.directory() / "test_per_user.parquet") for plan in experiment_runs(config, experiment)]


def experiment_images(experiment):
    """Image manifests of the registry datasets an experiment uses (the images stage is part of the DAG)."""
    datasets = {plan.dataset for plan in experiment_runs(config, experiment)}
    return [str(images_dir(d) / "manifest.json") for d in sorted(datasets) if d in REGISTRY_DATASETS]


EXPERIMENTS = sorted(config.get("experiments") or {})


FEATURE_MODALITIES = ("text", "image")


def feature_file(dataset, modality):
    return str(feature_path(Path("data"), dataset, modality, configured_encoder(config, modality)))


def figure_names():
    """The figures `searec figures` draws for this config (Snakemake needs them by name)."""
    main = experiment_runs(config, "main") if "main" in EXPERIMENTS else []
    names = [f"training-{d}" for d in dict.fromkeys(plan.dataset for plan in main)]
    names += [name for name in ("ablation", "sensitivity") if name in EXPERIMENTS]
    names += [f"representations-{d}" for d in dict.fromkeys(plan.dataset for plan in main if plan.model == "sea")]
    return names


def figure_caption(name):
    return f"../report/{name.split('-')[0]}.rst"
