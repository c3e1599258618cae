"""The run plan's training jobs: one run each, or batches of a model's runs (resources.group_trainings)."""

from __future__ import annotations

import copy
import shlex

import yaml
from hypothesis import given
from hypothesis import strategies as st

from searec.layout import RUN_OUTPUTS
from searec.plan import TRAINING_STAGES, Plan, _even_batches
from tests.conftest import PROJECT_ROOT

PARAMS = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def _with(params: dict, **resources: object) -> dict:
    changed = copy.deepcopy(params)
    changed.setdefault("resources", {}).update(resources)
    return changed


def _run_commands(plan: Plan, stage: str) -> dict[str, str]:
    """Each run's `searec train` options, by run folder, whichever way the stage's jobs carry them."""
    runs = {}
    for job in plan.stage(stage).jobs.values():
        words = shlex.split(job.command)
        options = [shlex.split(run) for run in words[1:]] if words[0] == "train-batch" else [words[1:]]
        for option in options:
            runs[option[option.index("--out") + 1]] = shlex.join(option)
    return runs


def test_a_batch_trains_exactly_the_runs_and_commands_of_the_unbatched_plan() -> None:
    batched, alone = Plan(_with(PARAMS, group_trainings=True)), Plan(_with(PARAMS, group_trainings=False))
    for stage in TRAINING_STAGES:
        assert _run_commands(batched, stage) == _run_commands(alone, stage)  # one resolver of a run's settings
        alone_outputs = {o for job in alone.stage(stage).jobs.values() for o in job.outputs}
        assert {o for job in batched.stage(stage).jobs.values() for o in job.outputs} == alone_outputs
        assert all(job.command.startswith("train ") for job in alone.stage(stage).jobs.values())
    # one job per model x dataset x experiment, at most runs_per_batch runs each, in even batches and in order
    variants = batched.stage("train_variant").jobs
    assert sorted(variants) == ["sample-sea-ablation-1", "sample-sea-ablation-2", "sample-sea-sensitivity-1",
                                "sample-sea-sensitivity-2", "sample-sea-sensitivity-3"]
    assert len(batched.stage("train_grid").jobs) == len(batched.stage("train").jobs) == 14
    most = PARAMS["resources"]["runs_per_batch"]
    for experiment in ("ablation", "sensitivity"):
        batches = [job.fields["run_folders"] for key, job in variants.items() if f"-{experiment}-" in key]
        sizes = [len(folders) for folders in batches]
        assert max(sizes) <= most and max(sizes) - min(sizes) <= 1
        assert [folder for folders in batches for folder in folders] == [
            str(run.directory()) for run in batched.runs[experiment]]
    ablation = variants["sample-sea-ablation-1"]
    folders = ablation.fields["run_folders"]
    assert ablation.snakemake_outputs == tuple(f"{folder}/{file}" for file in RUN_OUTPUTS for folder in folders)
    assert {o.kind for o in ablation.outputs if o.path.endswith("metrics.json")} == {"metrics"}  # DVC metrics still
    assert ablation.dvc_deps[:2] == ("data/mmrec/sample", "data/graphs/sample")
    assert "src/searec/models/sea.py" in ablation.dvc_deps
    one_batch = Plan(_with(PARAMS, runs_per_batch=100)).stage("train_variant").jobs
    assert sorted(one_batch) == ["sample-sea-ablation", "sample-sea-sensitivity"]


def test_trainings_asking_for_a_gpu_or_hours_long_are_one_run_per_job() -> None:
    for params in (_with(PARAMS, group_trainings=False), _with(PARAMS, gpus=True)):
        plan = Plan(params)
        runs = sum(len(plan.stage(stage).jobs) for stage in TRAINING_STAGES)
        assert runs == len({folder for stage in TRAINING_STAGES for folder in _run_commands(plan, stage)})
        assert all(name == stage.name and job is None for stage in plan.stages if stage.name in TRAINING_STAGES
                   for name, job in stage.rules())  # one rule of output patterns per stage, as before


def test_each_batch_is_its_own_snakemake_rule_with_a_unique_name() -> None:
    plan = Plan(PARAMS)
    rules = [(name, stage.name, job) for stage in plan.stages for name, job in stage.rules()]
    assert len({name for name, _, _ in rules}) == len(rules)
    grid = {name: job for name, stage, job in rules if stage == "train_grid"}
    assert grid["train_grid_sample_sea_search"].fields["model"] == "sea"
    assert [(name, job) for name, stage, job in rules if stage == "select"] == [("select", None)]  # patterns
    variants = plan.stage("train_variant").jobs["sample-sea-sensitivity-2"]
    assert "train_variant_sample_sea_sensitivity_2" in {name for name, stage, _ in rules if stage == "train_variant"}
    assert plan.stage("train_variant").log.format(**variants.fields) == "logs/train_variant/sample/sea/sensitivity-2.log"


@given(runs=st.integers(min_value=1, max_value=60), most=st.integers(min_value=1, max_value=12))
def test_runs_are_cut_into_the_fewest_even_batches_in_order(runs: int, most: int) -> None:
    items = [{"n": n} for n in range(runs)]
    batches = _even_batches("sensitivity", items, most)
    assert len(batches) == -(-runs // most)
    sizes = [len(chunk) for _, chunk in batches]
    assert max(sizes) <= most and max(sizes) - min(sizes) <= 1
    assert [item for _, chunk in batches for item in chunk] == items
    names = [name for name, _ in batches]
    assert names == (["sensitivity"] if len(batches) == 1 else [f"sensitivity-{i}" for i in range(1, len(batches) + 1)])
