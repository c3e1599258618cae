"""One resolver for a run's settings: the layers in order, and the plan's command equals `--params --variant`."""

import json
import shlex
from pathlib import Path

import yaml

from searec.cli import main
from searec.plan import Plan
from searec.settings import RunSettings, configured_settings

PARAMS = {
    "experiments": {"main": {"datasets": ["tiny"], "models": ["bpr"], "search": {"seed": 0}},
                    "ablation": {"datasets": ["tiny"], "models": ["bpr"],
                                 "variants": {"small": {"embedding_size": 4, "training.epochs": 1}}}},
    "seeds": [0],
    "training": {"epochs": 2, "learning_rate": 0.01, "batch_size": 256, "eval_batch_size": 64, "topk": [10, 20]},
    "models": {"bpr": {"embedding_size": 8, "training": {"learning_rate": 0.05}}},
    "grids": {"bpr": {"reg_weight": [0.001]}},
}


def test_layers_apply_in_order_model_training_own_training_variant_grid_point() -> None:
    settings = configured_settings(PARAMS, "bpr", ("ablation", "small"), {"reg_weight": 0.1, "training.epochs": 5})
    assert settings.model == {"embedding_size": 4, "reg_weight": 0.1}
    assert settings.training == {"epochs": 5, "learning_rate": 0.05, "batch_size": 256, "eval_batch_size": 64,
                                 "topk": [10, 20]}
    assert configured_settings(PARAMS, "lightgcn").model == {}  # no entry: the declared defaults
    assert RunSettings({"split": "output"}, {"topk": [5]}).set_options() == [
        "--set", "split=output", "--set", "'training.topk=[5]'"]  # bare where YAML reads the same string back
    assert RunSettings({"textual": "null", "mm_image_weight": 0.5}).set_options() == [
        "--set", "mm_image_weight=0.5", "--set", "'textual=\"null\"'"]  # YAML would read null


def test_the_planned_command_trains_what_searec_train_resolves_from_params(tiny_synth: Path, tmp_path: Path) -> None:
    """The plan's explicit --set options and `searec train --params ... --variant` give the same run."""
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(PARAMS))
    job = next(iter(Plan(PARAMS).stage("train_variant").jobs.values()))
    batch, first_run = shlex.split(job.command)[:2]  # `train-batch RUN ...` (group_trainings, the default)
    assert batch == "train-batch"
    planned = shlex.split(first_run)
    planned[planned.index("--data") + 1] = str(tiny_synth)
    planned[planned.index("--out") + 1] = str(tmp_path / "planned")
    planned[planned.index("--graph-cache") + 1] = str(tmp_path / "graphs")
    assert main(["train", *planned]) == 0
    assert main(["train", "--data", str(tiny_synth), "--model", "bpr", "--seed", "0", "--params", str(params_file),
                 "--variant", "ablation:small", "--threads", "1", "--graph-cache", str(tmp_path / "graphs"),
                 "--out", str(tmp_path / "by-hand")]) == 0
    a = json.loads((tmp_path / "planned" / "metrics.json").read_text())
    b = json.loads((tmp_path / "by-hand" / "metrics.json").read_text())
    assert a["params"] == b["params"] and a["params"]["embedding_size"] == 4 and a["params"]["training"]["epochs"] == 1
    assert a["test"] == b["test"]
    assert "src/searec/models/bpr.py" in a["code"] and "src/searec/models/sea.py" not in a["code"]
