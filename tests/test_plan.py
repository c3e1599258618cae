"""The run plan's training jobs: one run each, or batches of a model's runs (resources.group_trainings)."""

from __future__ import annotations

import copy
import shlex

import yaml
from hypothesis import given
from hypothesis import strategies as st

from searec.layout import RUN_OUTPUTS
from searec.plan import TRAINING_STAGES, Job, Plan, _even_batches
from tests.conftest import PROJECT_ROOT

PARAMS = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def _with(params: dict, **resources: object) -> dict:
    changed = copy.deepcopy(params)
    changed.setdefault("resources", {}).update(resources)
    return changed


def _jobs(plan: Plan, stages: tuple[str, ...]) -> list[Job]:
    """The jobs of those of ``stages`` the plan has (a stage without jobs is left out of it)."""
    return [job for stage in plan.stages if stage.name in stages for job in stage.jobs.values()]


def _run_commands(plan: Plan, stages: tuple[str, ...] = TRAINING_STAGES) -> dict[str, str]:
    """Each run's `searec train` options, by run folder, whichever way the stages' jobs carry them."""
    runs = {}
    for job in _jobs(plan, stages):
        words = shlex.split(job.command)
        options = [shlex.split(run) for run in words[1:]] if words[0] == "train-batch" else [words[1:]]
        for option in options:
            if option[0] != "select":  # a one-job search's selection step
                runs[option[option.index("--out") + 1]] = shlex.join(option)
    return runs


def test_a_batch_trains_exactly_the_runs_and_commands_of_the_unbatched_plan() -> None:
    batched, alone = Plan(_with(PARAMS, group_trainings=True)), Plan(_with(PARAMS, group_trainings=False))
    assert _run_commands(batched) == _run_commands(alone)  # one resolver of a run's settings
    searched = (*TRAINING_STAGES, "select")
    assert {o for job in _jobs(batched, searched) for o in job.outputs} == {
        o for job in _jobs(alone, searched) for o in job.outputs}
    assert all(job.command.startswith("train ") for job in _jobs(alone, TRAINING_STAGES))
    assert "search" not in {stage.name for stage in alone.stages}
    # one job per model x dataset x experiment, at most runs_per_batch runs each, in even batches and in order
    variants = batched.stage("train_variant").jobs
    assert sorted(variants) == ["sample-sea-ablation-1", "sample-sea-ablation-2", "sample-sea-sensitivity-1",
                                "sample-sea-sensitivity-2", "sample-sea-sensitivity-3"]
    apart = Plan(_with(PARAMS, runs_per_batch=3))  # a search of 2 grid points and 2 more seeds no longer fits one job
    assert len(apart.stage("train_grid").jobs) == len(apart.stage("train").jobs) == 14
    assert _run_commands(apart) == _run_commands(alone)
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


def test_a_short_search_is_one_job_its_grid_runs_select_and_selected_runs_in_order() -> None:
    """Where a model's grid runs and its other seeds fit in one batch (resources.runs_per_batch), the train_grid,
    select and train jobs are one job: their commands, in their order, and all their outputs."""
    together, apart = Plan(PARAMS), Plan(_with(PARAMS, runs_per_batch=3))
    models = PARAMS["experiments"]["main"]["models"]
    assert together.searches_in_one_job == {("sample", model) for model in models}
    assert apart.searches_in_one_job == set() and "search" not in {stage.name for stage in apart.stages}
    assert not {stage.name for stage in together.stages} & {"train_grid", "select", "train"}
    searches = together.stage("search").jobs
    assert sorted(searches) == sorted(f"sample-{model}" for model in models)
    for key, job in searches.items():
        parts = [apart.stage("train_grid").jobs[f"{key}-search"], apart.stage("select").job_for(
            {"dataset": "sample", "model": key.split("-")[1]}), apart.stage("train").jobs[f"{key}-main"]]
        steps = [*shlex.split(parts[0].command)[1:], parts[1].command, *shlex.split(parts[2].command)[1:]]
        assert shlex.split(job.command) == ["train-batch", *steps]
        assert set(job.outputs) == {output for part in parts for output in part.outputs}  # DVC's kinds too
        assert set(parts[1].dvc_deps) - set(job.dvc_deps) == set(parts[1].dvc_deps[:2])  # the grid: its own output
        assert job.fields["run_folders"] == parts[0].fields["run_folders"] + parts[2].fields["run_folders"]
    assert together.stage("search").log.format(**searches["sample-sea"].fields) == "logs/search/sample/sea.log"


def test_trainings_asking_for_a_gpu_or_hours_long_are_one_run_per_job() -> None:
    for params in (_with(PARAMS, group_trainings=False), _with(PARAMS, gpus=True)):
        plan = Plan(params)
        assert len(_jobs(plan, TRAINING_STAGES)) == len(_run_commands(plan))
        assert all(name == stage.name and job is None for stage in plan.stages if stage.name in TRAINING_STAGES
                   for name, job in stage.rules())  # one rule of output patterns per stage, as before


def test_each_batch_is_its_own_snakemake_rule_with_a_unique_name() -> None:
    plan = Plan(_with(PARAMS, runs_per_batch=3))
    rules = [(name, stage.name, job) for stage in plan.stages for name, job in stage.rules()]
    assert len({name for name, _, _ in rules}) == len(rules)
    searches = [name for stage in Plan(PARAMS).stages if stage.name == "search" for name, _ in stage.rules()]
    assert "search_sample_sea" in searches and len(searches) == 14
    grid = {name: job for name, stage, job in rules if stage == "train_grid"}
    assert grid["train_grid_sample_sea_search"].fields["model"] == "sea"
    assert [(name, job) for name, stage, job in rules if stage == "select"] == [("select", None)]  # patterns
    variants = plan.stage("train_variant").jobs["sample-sea-sensitivity-1"]
    assert "train_variant_sample_sea_sensitivity_1" in {name for name, stage, _ in rules if stage == "train_variant"}
    assert plan.stage("train_variant").log.format(**variants.fields) == "logs/train_variant/sample/sea/sensitivity-1.log"


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


def _training_folders(plan: Plan) -> set[str]:
    return set(_run_commands(plan))


def test_a_run_the_plan_already_has_is_reused_not_trained_again() -> None:
    """Runs of one dataset, model, seed and resolved settings are one computation: the first in plan order
    trains; each other gets ``--reuse`` its folder and depends on its metrics, never on its own job's outputs."""
    plan = Plan(PARAMS)
    # the sample's sweep of alpha repeats SEA's two grid points at the search seed
    assert plan.same_computation == {
        "runs/sample/sea/sensitivity-alpha-0.01/seed-0": "search/sample/grid/sea/alpha=0.01/seed-0",
        "runs/sample/sea/sensitivity-alpha-0.1/seed-0": "search/sample/grid/sea/alpha=0.1/seed-0"}
    commands = _run_commands(plan)
    reusing = {run: shlex.split(command) for run, command in commands.items() if "--reuse" in command}
    assert {run: words[words.index("--reuse") + 1] for run, words in reusing.items()} == plan.same_computation
    (job,) = [job for job in plan.stage("train_variant").jobs.values() if "--reuse" in job.command]
    sources = {f"{source}/metrics.json" for source in plan.same_computation.values()}
    assert sources <= set(job.dvc_deps) and sources <= set(job.snakemake_inputs)
    for stage in plan.stages:
        for job in stage.jobs.values():
            assert not {o.path for o in job.outputs} & set(job.dvc_deps), (stage.name, job.key)
    # without a repeated run the stage keeps its plain dependencies
    unique = copy.deepcopy(PARAMS)
    unique["experiments"]["sensitivity"]["variants"] = {"alpha-1.0": {"alpha": 1.0}}
    assert Plan(unique).same_computation == {}
    assert "reused_metrics" not in next(iter(Plan(unique).stage("train_variant").jobs.values())).fields

    # a variant that spells out a default is that default: reused within its own batch, trained before it there
    spelled = _with(PARAMS, runs_per_batch=100)
    spelled["experiments"]["sensitivity"]["variants"] = {"tau-0.2": {"tau": 0.2}, "ureg-0.006": {"ureg": 0.006}}
    del spelled["experiments"]["ablation"]  # its `full` would be the first of the three
    spelled_plan = Plan(spelled)
    assert spelled_plan.same_computation == {
        "runs/sample/sea/sensitivity-ureg-0.006/seed-0": "runs/sample/sea/sensitivity-tau-0.2/seed-0"}
    (batch,) = [job for key, job in spelled_plan.stage("train_variant").jobs.items() if "sensitivity" in key]
    assert batch.fields["reused_metrics"] == []  # its own output: the batch order is the dependency
    runs = shlex.split(batch.command)[1:]
    assert "--reuse" not in runs[0] and "--reuse runs/sample/sea/sensitivity-tau-0.2/seed-0" in runs[1]

    # the paper preset: ablation `full` is the sweeps' default points at every seed, and the sweep of alpha at
    # seed 999 is the grid's points at the default ureg
    paper = Plan(yaml.safe_load((PROJECT_ROOT / "src/searec/presets/paper.yaml").read_text()))
    same = paper.same_computation
    for seed in (999, 1000, 1001):
        for sweep in ("tau-0.2", "ureg-0.006"):
            assert same[f"runs/baby/sea/sensitivity-{sweep}/seed-{seed}"] == f"runs/baby/sea/ablation-full/seed-{seed}"
    assert same["runs/clothing/sea/sensitivity-alpha-0.5/seed-999"] == \
        "search/clothing/grid/sea/alpha=0.5_ureg=0.006/seed-999"
    assert "runs/clothing/sea/sensitivity-alpha-0.5/seed-1000" not in same
    assert not set(same.values()) & set(same)  # every source is trained, not reused itself
    assert set(same.values()) <= _training_folders(paper)


def test_a_job_counts_the_runs_it_trains_leaving_out_the_ones_it_copies() -> None:
    """``trained_runs`` (what resources.training_priority weighs): a batch's runs less those given ``--reuse``,
    a search's grid runs and the selected point's seeds other than the search seed (that one is its grid run)."""
    plan = Plan(PARAMS)
    seeds = {run.seed for run in plan.runs["main"]}
    for key, job in plan.stage("search").jobs.items():
        grid = sum(folder.startswith("search/") for folder in job.fields["run_folders"])
        assert job.fields["trained_runs"] == grid + len(seeds) - 1, key
    for key, job in plan.stage("train_variant").jobs.items():
        copies = sum("--reuse" in run for run in shlex.split(job.command)[1:])
        assert job.fields["trained_runs"] == len(job.fields["run_folders"]) - copies, key
    assert plan.stage("train_variant").jobs["sample-sea-sensitivity-1"].fields["trained_runs"] == 1  # 2 of 3 reused
    apart = Plan(_with(PARAMS, runs_per_batch=3))
    assert [job.fields["trained_runs"] for job in apart.stage("train").jobs.values()] == [len(seeds) - 1] * 14
    # a job per run: 1, or 0 for a run that copies another; in all, what the batches train
    alone = Plan(_with(PARAMS, group_trainings=False))
    per_run = {(stage.name, key): alone.trained_runs(stage.name, job)
               for stage in alone.stages if stage.name in TRAINING_STAGES for key, job in stage.jobs.items()}
    assert set(per_run.values()) == {0, 1}
    assert sum(per_run.values()) == sum(plan.trained_runs(stage.name, job) for stage in plan.stages
                                        if stage.name in TRAINING_STAGES for job in stage.jobs.values())
    copies = {key for (_, key), runs in per_run.items() if runs == 0}
    assert len(copies) == len(plan.same_computation) + 14  # the variants reused, and each main run at the search seed
