"""Job resources: measured figures interpolated to a dataset's shape, headroom, retries, GPUs, groups."""

from __future__ import annotations

import copy
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from searec import resources
from searec.graphs import GRAPH_MANIFEST, write_graph_artifacts
from searec.models import model_names
from searec.plan import TRAINING_STAGES, Plan
from searec.resources import (
    JOB_GROUPS,
    STAGE_REQUESTS,
    STARTUP_MINUTES,
    Shape,
    interpolated,
    job_group,
    retry_note,
    shape_from_graphs,
    stage_request,
    training_priority,
    training_request,
)
from tests.conftest import PROJECT_ROOT

FAKE = {"shapes": {
    "small": {"users": 100, "items": 100, "interactions": 1_000,
              "models": {"bpr": {"peak_rss_mib": 1000, "train_seconds_per_epoch": 1.0, "eval_seconds": 0.5}}},
    "large": {"users": 1_000, "items": 400, "interactions": 4_000,
              "models": {"bpr": {"peak_rss_mib": 2000, "train_seconds_per_epoch": 4.0, "eval_seconds": 2.0}}},
}}


@pytest.fixture
def fake_measurements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "measurements", lambda: FAKE)


def test_interpolation_is_a_power_law_between_points_and_holds_below_the_smallest() -> None:
    points = [(100.0, 1.0), (400.0, 4.0), (1600.0, 8.0)]
    assert interpolated(points, 100.0) == pytest.approx(1.0)
    assert interpolated(points, 200.0) == pytest.approx(2.0)  # slope 1 on the first segment
    assert interpolated(points, 800.0) == pytest.approx(4.0 * 2 ** 0.5)  # slope 1/2 on the second
    assert interpolated(points, 3200.0) == pytest.approx(8.0 * 2 ** 0.5)  # the last slope beyond
    assert interpolated(points, 10.0) == 1.0  # the process's base below the smallest shape
    assert interpolated([(1.0, 5.0), (2.0, 3.0)], 4.0) == 5.0  # never shrinks as the data grows


def test_a_training_request_is_the_measurement_times_headroom_and_attempt(fake_measurements: None) -> None:
    params = {"training": {"epochs": 100, "eval_every": 2, "device": "cpu"}}
    small = training_request(params, "bpr", Shape(100, 100, 1_000))
    assert small["mem_mb"] == 1500 and small["gpu"] == 0
    assert small["runtime"] == math.ceil((1.0 + 0.5 / 2) * 100 * 1.5 / 60) + STARTUP_MINUTES
    second = training_request(params, "bpr", Shape(100, 100, 1_000), attempt=2)
    assert second["mem_mb"] == 3000 and second["runtime"] == math.ceil((1.0 + 0.25) * 100 * 1.5 * 2 / 60) + 2
    between = training_request(params, "bpr", Shape(400, 200, 2_000))
    assert 1500 < between["mem_mb"] < 3000 and small["runtime"] < between["runtime"]
    assert training_request(params, "bpr", None) == training_request(params, "bpr", Shape(1_000, 400, 4_000))
    capped = training_request(params | {"resources": {"max_runtime_minutes": 3}}, "bpr", Shape(100, 100, 1_000))
    assert capped["runtime"] == 3


def test_a_gpu_is_asked_for_cuda_runs_and_for_auto_where_the_site_offers_gpus(fake_measurements: None) -> None:
    shape = Shape(100, 100, 1_000)
    for device, gpus, wanted in (("cpu", True, 0), ("cuda", False, 1), ("cuda:1", False, 1), ("auto", False, 0),
                                 ("auto", True, 1)):
        params = {"training": {"device": device}, "resources": {"gpus": gpus}}
        assert training_request(params, "bpr", shape)["gpu"] == wanted, (device, gpus)
    per_model = {"training": {"device": "cpu"}, "models": {"bpr": {"training": {"device": "cuda"}}}}
    assert training_request(per_model, "bpr", shape)["gpu"] == 1
    typed = {"resources": {"gpu_model": "a100"}}  # the type goes only with a GPU (the plugin would add one)
    assert training_request(typed | {"training": {"device": "cuda"}}, "bpr", shape)["gpu_model"] == "a100"
    assert training_request(typed | {"training": {"device": "cpu"}}, "bpr", shape)["gpu_model"] == ""


def test_unmeasured_models_are_an_error_naming_the_benchmark(fake_measurements: None) -> None:
    with pytest.raises(KeyError, match="benchmarks/model_speed.py --models sea"):
        training_request({}, "sea", Shape(10, 10, 10))


def test_every_model_is_measured_at_every_recorded_shape() -> None:
    """A new model needs its measurements (benchmarks/model_speed.py --record) before a cluster can size its jobs."""
    recorded = yaml.safe_load(resources.MEASURED_FILE.read_text())["shapes"]
    assert {"sample", "baby", "clothing"} <= set(recorded)
    for name, entry in recorded.items():
        assert set(entry["models"]) == set(model_names()), name
        for model, figures in entry["models"].items():
            assert figures["peak_rss_mib"] > 500 and figures["train_seconds_per_epoch"] >= 0, (name, model)
            assert figures["threads"] == 1, (name, model)  # what every pipeline training runs with


def test_the_shape_is_read_from_the_graphs_a_training_consumes(tmp_path: Path) -> None:
    users = np.array([0, 0, 1, 2, 2, 2])
    items = np.array([0, 1, 1, 0, 2, 3])
    features = {"image": np.random.default_rng(0).random((4, 3), dtype=np.float32)}
    write_graph_artifacts(tmp_path, 3, 4, users, items, features, [2], 2, {})
    assert shape_from_graphs(tmp_path / GRAPH_MANIFEST) == Shape(users=3, items=4, interactions=6)
    assert shape_from_graphs(tmp_path / "absent" / GRAPH_MANIFEST) is None


def test_stage_requests_cover_every_other_stage_and_grow_with_the_attempt() -> None:
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    stages = {stage.name for stage in Plan(params).stages} | {"figures", "aggregate", "select", "synth"}
    assert set(STAGE_REQUESTS) == stages - set(TRAINING_STAGES)
    first, third = stage_request(params, "preprocess"), stage_request(params, "preprocess", attempt=3)
    assert third["mem_mb"] == 3 * first["mem_mb"] and third["runtime"] == 3 * first["runtime"]


def test_a_retry_says_what_it_asks_for_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    retry_note("train sample/sea", 1, {"mem_mb": 1, "runtime": 1})
    assert capsys.readouterr().err == ""
    retry_note("train sample/sea", 2, {"mem_mb": 3000, "runtime": 10})
    note = capsys.readouterr().err
    assert "train sample/sea: attempt 2" in note and "mem_mb 3000" in note and "OUT_OF_MEMORY" in note


def test_groups_join_short_trainings_but_never_gpu_ones() -> None:
    assert job_group({}, "train_grid", ["bpr"]) == job_group({}, "select", ["bpr"]) == "search-{dataset}-{model}"
    assert job_group({}, "search", ["bpr"]) == "search-{dataset}-{model}"  # the same search as one job
    assert job_group({}, "train", ["bpr"]) == "{batch}-{dataset}-{model}"  # main, or main-2 where runs are cut
    assert job_group({}, "graphs", []) is None  # one job per dataset: nothing to join
    assert job_group({"resources": {"gpus": True}}, "train", ["bpr"]) is None
    assert job_group({"models": {"sea": {"training": {"device": "cuda"}}}}, "train", ["bpr", "sea"]) is None
    assert job_group({"resources": {"group_trainings": False}}, "train_variant", ["sea"]) is None
    assert job_group({"resources": {"group_trainings": False}}, "aggregate", []) == "report"


def test_every_job_group_is_connected_so_the_slurm_profile_spans_none() -> None:
    """A group of jobs that do not depend on each other would be one submission each unless the profile named it in
    group-components; with the trainings batched (jobs per model x dataset x experiment) no group needs that: a group
    holds one job (a short search is one), a grid search's batches with its select, or the tables with the figures
    that read them."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    apart = copy.deepcopy(params)
    apart["resources"]["runs_per_batch"] = 3  # the sample's searches no longer fit one job each
    plans = Plan(params), Plan(apart)
    assert set(JOB_GROUPS) <= {stage.name for plan in plans for stage in plan.stages}
    for plan in plans:
        members: dict[str, set[str]] = {}
        for stage in plan.stages:
            models = sorted({job.fields["model"] for job in stage.jobs.values() if "model" in job.fields})
            group = job_group(plan.params, stage.name, models)
            for job in stage.jobs.values():
                if group:
                    members.setdefault(group.format(**job.fields), set()).add(stage.name)
        assert {"search-sample-sea", "ablation-1-sample-sea", "sensitivity-3-sample-sea", "report"} <= set(members)
        for group, stages in members.items():
            assert stages in ({"search"}, {"train_grid", "select"}, {"train"}, {"train_variant"},
                              {"aggregate", "figures"}), group
        batches = Counter(group.format(**job.fields) for s in plan.stages if s.name in ("train", "train_variant", "search")
                          for job in s.jobs.values() if (group := job_group(plan.params, s.name, [job.fields["model"]])))
        assert set(batches.values()) == {1}  # a group per batch of main or variant runs, per one-job search
    assert "main-sample-sea" in {job_group(apart, "train", ["sea"]).format(**job.fields)  # type: ignore[union-attr]
                                 for job in plans[1].stage("train").jobs.values()}
    profile = yaml.safe_load((PROJECT_ROOT / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert "group-components" not in profile


def test_a_batch_asks_for_the_time_of_all_its_runs_and_the_memory_of_one() -> None:
    one, three = (training_request({}, "sea", Shape(300, 238, 3100), runs=runs) for runs in (1, 3))
    assert three["mem_mb"] == one["mem_mb"]
    assert three["runtime"] - STARTUP_MINUTES == pytest.approx(3 * (one["runtime"] - STARTUP_MINUTES), abs=2)



def test_the_longest_expected_training_has_the_highest_priority(fake_measurements: None) -> None:
    """Priority is expected milliseconds per epoch times the runs trained: longest first (LPT), so the last
    trainings to start are short ones; a batch that only copies runs still gets a start, never before others."""
    small, large = Shape(100, 100, 1_000), Shape(1_000, 400, 4_000)
    assert training_priority("bpr", "any", small) == 1500
    assert training_priority("bpr", "any", small, runs=4) == 4 * training_priority("bpr", "any", small)
    assert training_priority("bpr", "any", small, runs=0) == 1
    # before the graphs exist: the shape measured under the dataset's name, else the largest
    assert training_priority("bpr", "small", None) == 1500
    assert training_priority("bpr", "unmeasured", None) == 6000 == training_priority("bpr", "any", large)


def test_on_the_sample_sea_comes_first_and_the_cheapest_baselines_last() -> None:
    """The sample's measured order (its own shape, as in `make run` before the graphs exist), not Clothing's."""
    order = sorted(model_names(), key=lambda model: -training_priority(model, "sample", None))
    assert order[0] == "sea" and set(order[-3:]) == {"bpr", "lightgcn", "freedom"}
    assert order.index("mgcn") < order.index("lgmrec")  # at Clothing's shape lgmrec would go first
    assert training_priority("mgcn", "clothing", None) < training_priority("lgmrec", "clothing", None)
