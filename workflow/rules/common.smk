# Shared helpers. Paths come from searec.layout, so the workflow and the CLI agree on them.
import json
import shlex
import sys

from searec.layout import experiment_runs, mmrec_dir, run_dir

# Every stage is one call of the searec CLI of THIS interpreter (the project's venv).
SEAREC = f"{shlex.quote(sys.executable)} -m searec"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    model=r"[a-z0-9_]+",
    seed=r"\d+",


def synth_arguments(wildcards):
    """`searec synth` options of one `source: synth` dataset entry."""
    spec = config["datasets"][wildcards.dataset]
    if spec.get("source") != "synth":
        raise ValueError(f"params.yaml: datasets.{wildcards.dataset}.source must be 'synth' for now")
    return (f"--users {spec['users']} --items {spec['items']} --image-dim {spec['image_dim']} "
            f"--text-dim {spec['text_dim']} --seed {spec['seed']}")


def training_overrides(wildcards):
    """Model hyper-parameters and training settings of the config as explicit --set options.

    Passing values (not a file name) makes `snakemake --config ...` overrides reach the run and
    lets Snakemake's params rerun-trigger notice any change.
    """
    values = dict(config["models"].get(wildcards.model) or {})
    values.update({f"training.{key}": value for key, value in config["training"].items()})
    return " ".join(
        "--set " + shlex.quote(f"{key}={json.dumps(value)}") for key, value in sorted(values.items())
    )


def experiment_metrics(experiment):
    return [str(run_dir(d, m, s) / "metrics.json") for d, m, s in experiment_runs(config, experiment)]
