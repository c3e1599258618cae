"""Grid search: points of a grid, reference grids, selection on validation, and reuse of the grid run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from searec.cli import main
from searec.models import get_model_class
from searec.params import read_params
from searec.search import SearchError, find_point, grid_points, model_grid, planned_grid_runs, select
from searec.settings import split_training_keys
from tests.conftest import PROJECT_ROOT


def _params(grids: dict, models: list[str], datasets: tuple[str, ...] = ("d",), seed: int = 7) -> dict:
    return {"experiments": {"main": {"datasets": list(datasets), "models": models, "search": {"seed": seed}}},
            "grids": grids, "training": {"valid_metric": "recall@20"}}


def test_points_are_the_product_in_written_order_named_by_their_values() -> None:
    points = grid_points({"alpha": [0.01, 1.0], "ureg": ["1e-3", 0.1], "training.learning_rate": [1e-4]})
    assert [p.name for p in points] == [
        "alpha=0.01_ureg=0.001_training.learning_rate=0.0001", "alpha=0.01_ureg=0.1_training.learning_rate=0.0001",
        "alpha=1.0_ureg=0.001_training.learning_rate=0.0001", "alpha=1.0_ureg=0.1_training.learning_rate=0.0001"]
    assert points[0].values["ureg"] == 0.001  # '1e-3' (how PyYAML reads it) is the number
    assert split_training_keys(points[0].values) == ({"alpha": 0.01, "ureg": 0.001}, {"learning_rate": 0.0001})
    assert [(p.name, dict(p.values)) for p in grid_points({})] == [("default", {})]
    assert [p.name for p in grid_points(None)] == ["default"]
    assert [p.name for p in grid_points({"flag": [True, False], "n": [2]})] == ["flag=true_n=2", "flag=false_n=2"]


def test_points_that_cannot_name_a_folder_or_repeat_are_refused() -> None:
    with pytest.raises(SearchError, match="name run folders"):
        grid_points({"distance": ["neg l2"]})
    with pytest.raises(SearchError, match="same name"):
        grid_points({"reg_weight": [0.1, "0.1"]})


def test_planned_runs_and_the_reference_grid_of_a_model_without_an_entry() -> None:
    params = _params({"bpr": {"reg_weight": [0.1, 0.01]}, "sea": {}}, ["bpr", "sea"], datasets=("a", "b"))
    runs = planned_grid_runs(params)
    assert [(r.dataset, r.model, r.point.name, r.seed) for r in runs] == [
        ("a", "bpr", "reg_weight=0.1", 7), ("a", "bpr", "reg_weight=0.01", 7), ("a", "sea", "default", 7),
        ("b", "bpr", "reg_weight=0.1", 7), ("b", "bpr", "reg_weight=0.01", 7), ("b", "sea", "default", 7)]
    assert runs[0].directory() == Path("search/a/grid/bpr/reg_weight=0.1/seed-7")
    assert runs[-1].key == "b-sea-default"
    assert planned_grid_runs({"experiments": {"main": {"datasets": ["a"], "models": ["bpr"]}}}) == []
    # no grids.lightgcn: its declared reference grid (MMRec's 4 layers x 5 reg weights), read from the schema
    points = model_grid(_params({}, ["lightgcn"]), "lightgcn")
    reference = get_model_class("lightgcn").reference_grid
    assert len(points) == 20 and [dict(p.values) for p in points] == [dict(p.values) for p in grid_points(reference)]


def test_the_repository_default_run_searches() -> None:
    assert planned_grid_runs(read_params(PROJECT_ROOT / "params.yaml"))


def _finished_point(root: Path, model: str, point: str, valid: float, test: float, seed: int = 7) -> None:
    run = root / "d" / "grid" / model / point / f"seed-{seed}"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"seed": seed, "best_epoch": 3, "valid": {"recall@20": valid},
                                                  "test": {"recall@20": test}}))


def test_selection_takes_the_best_validation_point_and_never_reads_test(tmp_path: Path) -> None:
    params = _params({"sea": {"alpha": [0.01, 0.1, 1.0]}}, ["sea"])
    _finished_point(tmp_path, "sea", "alpha=0.01", valid=0.20, test=0.99)  # best test, worse validation
    _finished_point(tmp_path, "sea", "alpha=0.1", valid=0.30, test=0.10)
    _finished_point(tmp_path, "sea", "alpha=1.0", valid=0.30, test=0.50)  # ties with the earlier point
    chosen = select(params, "d", "sea", tmp_path)
    assert chosen["point"] == "alpha=0.1" and chosen["values"] == {"alpha": 0.1} and chosen["valid"] == 0.30
    assert chosen["run"] == str(tmp_path / "d/grid/sea/alpha=0.1/seed-7")
    assert [c["valid"] for c in chosen["candidates"]] == [0.20, 0.30, 0.30]
    assert chosen["metric"] == "valid recall@20" and chosen["seed"] == 7


def test_selection_refuses_an_unfinished_grid(tmp_path: Path) -> None:
    params = _params({"sea": {"alpha": [0.01, 0.1]}}, ["sea"])
    _finished_point(tmp_path, "sea", "alpha=0.01", valid=0.2, test=0.1)
    with pytest.raises(SearchError, match=r"1 point\(s\) have no result: .*alpha=0.1/seed-7/metrics.json"):
        select(params, "d", "sea", tmp_path)
    _finished_point(tmp_path, "sea", "alpha=0.1", valid=0.2, test=0.1, seed=8)  # another seed is not this grid
    with pytest.raises(SearchError, match="no result"):
        select(params, "d", "sea", tmp_path)


def test_an_unknown_point_names_the_grid() -> None:
    params = _params({"bpr": {"reg_weight": [0.1]}}, ["bpr"])
    assert dict(find_point(params, "bpr", "reg_weight=0.1").values) == {"reg_weight": 0.1}
    with pytest.raises(SearchError, match=r"no point 'reg_weight=0.5'.*\['reg_weight=0.1'\]"):
        find_point(params, "bpr", "reg_weight=0.5")


def test_grid_select_train_from_the_command_line(tiny_synth: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """searec train --grid-point, searec select, searec train --selected: reuse at the search seed only."""
    params = {"experiments": {"main": {"datasets": ["tiny"], "models": ["bpr"], "search": {"seed": 5}}},
              "seeds": [5, 6], "training": {"epochs": 2, "batch_size": 256, "eval_batch_size": 64, "topk": [10, 20],
                                            "valid_metric": "recall@20"},
              "models": {"bpr": {"embedding_size": 8, "training": {"eval_batch_size": 32}}},  # bpr's own setting
              "grids": {"bpr": {"reg_weight": [1.0e-4, 0.5], "training.learning_rate": [0.01]}}}
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    search_root = tmp_path / "search"
    for run in planned_grid_runs(read_params(params_file)):
        assert main(["train", "--data", str(tiny_synth), "--model", "bpr", "--seed", "5", "--params", str(params_file),
                     "--grid-point", run.point.name, "--out", str(run.directory(search_root))]) == 0
        result = json.loads((run.directory(search_root) / "metrics.json").read_text())
        assert result["params"]["reg_weight"] == run.point.values["reg_weight"]
        assert result["params"]["training"]["learning_rate"] == 0.01 and result["params"]["embedding_size"] == 8
        assert result["params"]["training"]["eval_batch_size"] == 32 and "training" not in result["params"]["training"]
    assert main(["select", "--dataset", "tiny", "--model", "bpr", "--params", str(params_file),
                 "--search-root", str(search_root)]) == 0
    selection_file = search_root / "tiny" / "selected" / "bpr.json"
    chosen = json.loads(selection_file.read_text())
    assert "best of 2" in capsys.readouterr().out
    grid_result = json.loads((Path(chosen["run"]) / "metrics.json").read_text())

    at_search_seed, other_seed = tmp_path / "runs" / "seed-5", tmp_path / "runs" / "seed-6"
    for out, seed in ((at_search_seed, 5), (other_seed, 6)):
        assert main(["train", "--data", str(tiny_synth), "--model", "bpr", "--seed", str(seed), "--params",
                     str(params_file), "--selected", str(selection_file), "--out", str(out)]) == 0
    reused = json.loads((at_search_seed / "metrics.json").read_text())
    assert reused.pop("reused_from") == chosen["run"]
    assert reused.pop("selection") == {"file": str(selection_file), "point": chosen["point"], "seed": 5,
                                       "metric": "valid recall@20", "valid": chosen["valid"], "candidates": 2}
    assert reused == grid_result
    for name in ("model.pt", "history.csv", "config.yaml", "test_per_user.parquet"):
        assert (at_search_seed / name).read_bytes() == (Path(chosen["run"]) / name).read_bytes()
    trained = json.loads((other_seed / "metrics.json").read_text())
    assert "reused_from" not in trained and trained["seed"] == 6 and trained["selection"]["point"] == chosen["point"]
    assert trained["params"]["reg_weight"] == chosen["values"]["reg_weight"]
    assert trained["params"]["training"]["learning_rate"] == 0.01

    # --set that changes the configuration: the grid run is not the same computation, so it trains
    changed = tmp_path / "runs" / "changed"
    assert main(["train", "--data", str(tiny_synth), "--model", "bpr", "--seed", "5", "--params", str(params_file),
                 "--selected", str(selection_file), "--set", "embedding_size=4", "--out", str(changed)]) == 0
    assert "reused_from" not in json.loads((changed / "metrics.json").read_text())
