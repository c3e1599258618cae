"""params.yaml against its schema: the shipped file passes, mistakes are named, both tools stop on them."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from searec.cli import main
from searec.errors import ParamsError
from searec.params import read_params, validate_params
from tests.conftest import PROJECT_ROOT


def shipped() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def test_the_shipped_params_file_and_the_workflow_link_agree_with_the_schema() -> None:
    validate_params(shipped())
    linked = PROJECT_ROOT / "workflow" / "schemas" / "params.schema.yaml"
    assert linked.read_text() == (PROJECT_ROOT / "src" / "searec" / "schemas" / "params.schema.yaml").read_text()


@pytest.mark.parametrize(("change", "named"), [
    (lambda p: p.update(experiment={"main": {}}), "(top level): Additional properties are not allowed ('experiment'"),
    (lambda p: p["training"].update(learning_rate="fast"), "training.learning_rate"),
    (lambda p: p["training"].update(learnig_rate=0.1), "training: Additional properties are not allowed ('learnig_rate'"),
    (lambda p: p["graphs"].update(knn_k=0), "graphs.knn_k"),
    (lambda p: p["download"].update(timeout_seconds=0), "download.timeout_seconds"),
    (lambda p: p["training"].update(valid_metric="recall"), "training.valid_metric"),
    (lambda p: p["preprocess"].update(split="random"), "preprocess.split: 'random' is not one of"),
    (lambda p: p["seeds"].append(p["seeds"][0]), "seeds: "),
    (lambda p: p["experiments"]["main"].update(models=[]), "experiments.main.models"),
    (lambda p: p["grids"]["bpr"].update(reg_weight=[]), "grids.bpr.reg_weight"),
    (lambda p: p["grids"]["bpr"].update({"Reg weight": [0.1]}), "grids.bpr: 'Reg weight' is not one of ['embedding_size'"),
    (lambda p: p["grids"]["bpr"].update({"training.learning_rat": [0.1]}), "grids.bpr: 'training.learning_rat' is not"),
    (lambda p: p["experiments"]["main"].pop("search"), "experiments.main: 'search' is a required property"),
    (lambda p: p["experiments"]["ablation"].update(search={"seed": 1}), "experiments.ablation"),
    (lambda p: p["models"].update(sea={"training": {"learning_rate": "slow"}}), "models.sea.training.learning_rate"),
    # model hyper-parameters, from each model's declaration: name, type and range, with the known keys
    (lambda p: p["models"].update(sea={"alpah": 0.1}),
     "models.sea: Additional properties are not allowed ('alpah' was unexpected); known keys: embedding_size, split,"),
    (lambda p: p["models"].update(lightgcn={"n_layers": "two"}), "models.lightgcn.n_layers: 'two' is not of type 'integer'"),
    (lambda p: p["models"].update(lightgcn={"n_layers": -1}), "models.lightgcn.n_layers: -1 is less than the minimum of 0"),
    (lambda p: p["models"].update(sea={"split": "middle"}), "models.sea.split: 'middle' is not one of ['input', 'output']"),
    (lambda p: p["models"].update(sae={}), "models: 'sae' is not one of ['bm3'"),
    (lambda p: p["experiments"]["main"]["models"].append("sae"), "experiments.main.models.14: 'sae' is not one of"),
    # datasets entries: only the fields a release record can take (a misspelt one was silently ignored)
    (lambda p: p.setdefault("datasets", {}).update(sample={"base_ulr": "http://x"}),
     "datasets.sample: Additional properties are not allowed ('base_ulr'"),
    (lambda p: p.setdefault("datasets", {}).update(sample={"files": {"reviews": {"sha": "0"}}}),
     "datasets.sample.files.reviews: Additional properties are not allowed ('sha'"),
    (lambda p: p.update(seeds=0), "seeds: 0 is not of type 'array'"),
    (lambda p: p["experiments"]["main"].update(seeds=0), "experiments.main.seeds: 0 is not of type 'array'"),
])
def test_mistakes_are_named_by_their_path(change, named: str) -> None:
    params = shipped()
    change(params)
    with pytest.raises(ParamsError, match="params do not match") as caught:
        validate_params(params)
    assert named in str(caught.value)


def test_exponent_numbers_written_without_a_dot_pass() -> None:
    params = shipped()
    params["training"]["learning_rate"] = "1e-3"  # what PyYAML makes of `1e-3`
    validate_params(params)


def test_searec_commands_refuse_a_bad_params_file(tmp_path: Path, tiny_synth: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    params = shipped()
    params["training"]["patience"] = -1
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match="training.patience"):
        read_params(bad)
    assert main(["train", "--data", str(tiny_synth), "--model", "bpr", "--out", str(tmp_path / "run"),
                 "--params", str(bad)]) == 2
    assert "training.patience: -1 is less than the minimum of 0" in capsys.readouterr().err
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("change", "named"), [
    (lambda p: p["preprocess"].update(k_core=0), "preprocess.k_core: 0 is less than the minimum of 1"),
    (lambda p: p["models"].update(sea={"alpah": 0.1}),
     "params.yaml: models.sea: Additional properties are not allowed ('alpah' was unexpected); known keys: "),
])
def test_snakemake_stops_on_a_bad_params_file_before_any_job(tmp_path: Path, change, named: str) -> None:
    from tests.test_workflow import copy_workflow

    copy_workflow(tmp_path)
    params = shipped()
    change(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and named in done.stdout + done.stderr, done.stderr[-2000:]
