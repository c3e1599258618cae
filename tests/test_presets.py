"""Presets: params.yaml is the quick preset; the paper preset plans the paper's runs; switching is safe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from searec.cli import main
from searec.data.registry import dataset_entry
from searec.errors import ParamsError
from searec.experiments import experiment_runs
from searec.generated import dvc_text
from searec.models import model_names
from searec.presets import available_presets, current_preset, preset_text, use_preset
from searec.search import model_grid, planned_grid_runs
from tests.conftest import PROJECT_ROOT
from tests.test_workflow import _env, copy_workflow, dvc_commands, snakemake_commands


def test_the_repository_params_file_is_the_quick_preset() -> None:
    assert available_presets() == ["paper", "quick"]
    assert (PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8") == preset_text("quick"), \
        "params.yaml and src/searec/presets/quick.yaml must be the same file: copy one over the other"
    assert current_preset(PROJECT_ROOT / "params.yaml") == "quick"


def test_the_paper_preset_declares_the_paper_setting() -> None:
    paper = yaml.safe_load(preset_text("paper"))
    main_experiment = paper["experiments"]["main"]
    assert main_experiment["datasets"] == ["baby", "sports", "clothing"]
    for name in main_experiment["datasets"]:
        dataset = dataset_entry(name, paper["datasets"])
        assert dataset.source == "amazon2014" and {f.role for f in dataset.files} >= {"reviews", "meta", "image_features"}
    assert paper["features"]["image"]["encoder"] == "amazon2014-cnn"
    assert paper["features"]["text"]["encoder"] == "all-MiniLM-L6-v2"
    assert main_experiment["search"]["seed"] == 999 and 999 in paper["seeds"]
    assert paper["models"] == {"sea": {"training": {"learning_rate": 1.0e-4}}}  # SEA.md's released runs; the rest
    assert paper["grids"] == {}  # as declared: every model searches its reference grid (MMRec's)
    assert set(main_experiment["models"]) == set(model_names())
    assert len(model_grid(paper, "sea")) == 20
    assert "training.learning_rate" in model_grid(paper, "lattice")[0].values
    ablation = set(paper["experiments"]["ablation"]["variants"])
    assert {"no-club", "no-solosim", "neither", "neg-l2", "paper-reading"} <= ablation
    runs = planned_grid_runs(paper)
    datasets, models = main_experiment["datasets"], main_experiment["models"]
    assert {(r.dataset, r.model) for r in runs} == {(d, m) for d in datasets for m in models}
    assert len(experiment_runs(paper, "main")) == len(datasets) * len(model_names()) * len(paper["seeds"])


def test_switching_presets_rewrites_params_and_dvc_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params, dvc_yaml = tmp_path / "params.yaml", tmp_path / "dvc.yaml"
    arguments = ["--params", str(params)]
    assert main(["preset", "use", "paper", *arguments]) == 0
    assert params.read_text() == preset_text("paper") and current_preset(params) == "paper"
    assert dvc_yaml.read_text() == dvc_text(params)
    assert main(["preset", "list", "--params", str(params)]) == 0
    assert "* paper" in capsys.readouterr().out
    params.write_text(params.read_text() + "\n# my edit\n")
    with pytest.raises(ParamsError, match="edits that are in no preset.*--force"):
        use_preset("quick", params)
    assert params.read_text().endswith("# my edit\n")  # kept
    assert main(["preset", "use", "quick", "--force", *arguments]) == 0
    assert params.read_text() == preset_text("quick") and dvc_yaml.read_text() == dvc_text(params)
    assert main(["preset", "use", "nope", *arguments]) == 2
    assert "no preset 'nope'; available: paper, quick" in capsys.readouterr().err


def test_searec_profile_is_a_deprecated_alias_of_searec_preset(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The command's old name still works, and says it is deprecated and what replaces it."""
    params = tmp_path / "params.yaml"
    assert main(["profile", "use", "paper", "--params", str(params)]) == 0
    assert current_preset(params) == "paper"
    warning = capsys.readouterr().err
    assert "`searec profile` is deprecated" in warning and "`searec preset`" in warning


@pytest.mark.slow
def test_both_tools_plan_the_paper_preset(tmp_path: Path) -> None:
    """Snakemake's dry run and DVC's stage list of the paper preset: the Amazon data stages and the grids."""
    copy_workflow(tmp_path)
    use_preset("paper", tmp_path / "params.yaml")
    dry = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1", "--quiet", "rules"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "train_grid" in dry.stdout and "download" in dry.stdout
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, env=_env(), check=True)
    stages = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=tmp_path, env=_env(),
                            capture_output=True, text=True, timeout=600)
    assert stages.returncode == 0, stages.stderr[-3000:]
    names = stages.stdout.split()
    assert {"download@baby", "download@sports", "download@clothing", "select-clothing-sea"} <= set(names)
    assert sum(name.startswith("train_grid@") for name in names) == 708
    commands = snakemake_commands(tmp_path)
    assert len(commands) == len(names) - 1 == 1081  # every job but DVC's first stage (is dvc.yaml current?)
    assert commands == dvc_commands(tmp_path)  # the same command for every job
