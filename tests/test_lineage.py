"""searec lineage: from a result back to its inputs through dvc.lock, and a changed parameter shows."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from searec.cli import main
from searec.lineage import LineageError, lineage_lines, load_lock
from searec.params import numbers_from_text, value_at
from tests.conftest import PROJECT_ROOT

PIPELINE = {
    "stages": {
        "synth": {"cmd": "searec synth --out data/toy --users 60 --items 30 --image-dim 4 --text-dim 4 "
                         "--seed ${synthetic.toy.seed}",
                  "params": ["synthetic.toy"], "outs": ["data/toy"]},
        "train": {"cmd": "searec train --data data/toy --model bpr --out runs/bpr --seed 0 --params params.yaml",
                  "deps": ["data/toy"], "params": ["models.bpr", "training"], "outs": ["runs/bpr/model.pt"],
                  "metrics": [{"runs/bpr/metrics.json": {"cache": False}}]},
        "aggregate": {"cmd": "searec aggregate --out results/main runs/bpr/metrics.json",
                      "deps": ["runs/bpr/metrics.json"], "outs": [{"results/main.csv": {"cache": False}}]},
    }
}


def _dvc(args: list[str], cwd: Path) -> None:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.slow
def test_lineage_walks_back_to_the_first_stage_and_shows_a_changed_parameter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE))
    params = {"synthetic": {"toy": {"users": 60, "items": 30, "seed": 1}}, "models": {"bpr": {"reg_weight": 0.001}},
              "training": {"epochs": 2, "device": "cpu", "batch_size": 256}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    _dvc(["init", "--no-scm", "-q"], tmp_path)
    _dvc(["repro", "-q"], tmp_path)
    monkeypatch.chdir(tmp_path)

    assert main(["lineage", "results/main.csv"]) == 0
    first = capsys.readouterr().out.splitlines()
    text = "\n".join(first)
    assert first[0].startswith("results/main.csv md5 ") and first[0].endswith("same on disk")
    for expected in ("made by stage aggregate: searec aggregate", "made by stage train: searec train",
                     "made by stage synth: searec synth", 'param models.bpr = {"reg_weight": 0.001}',
                     'param synthetic.toy = {"items": 30, "seed": 1, "users": 60}',
                     "runs/bpr/metrics.json md5 ", "data/toy md5 "):
        assert expected in text, expected
    assert text.count("code version: 0.1.0") == 2  # synth's run record and the run's metrics.json record it
    assert "code version: not recorded" in text  # the table stage writes no manifest

    params["synthetic"]["toy"]["seed"] = 2  # change an input at the start of the chain
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    _dvc(["repro", "-q"], tmp_path)
    assert main(["lineage", "results/main.csv"]) == 0
    second = capsys.readouterr().out.splitlines()
    changed = [line for line in second if line not in first]
    assert any(line.strip() == 'param synthetic.toy = {"items": 30, "seed": 2, "users": 60}' for line in changed)
    assert any(line.strip().startswith("data/toy md5") for line in changed)  # a different hash for the data
    assert any(line.startswith("results/main.csv md5") for line in changed)


def test_lineage_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(LineageError, match="no lock file"):
        load_lock(tmp_path / "dvc.lock")
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {}}))
    with pytest.raises(LineageError, match="neither produced nor used"):
        lineage_lines(load_lock(tmp_path / "dvc.lock"), tmp_path / "results" / "x.csv")


def test_the_committed_lock_is_the_default_run_and_traces_it_back_to_the_sample() -> None:
    """dvc.lock is committed for the default run, so lineage is inspectable from a clone without any data."""
    lock = yaml.safe_load((PROJECT_ROOT / "dvc.lock").read_text())["stages"]
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    listed = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    stale = "dvc.lock is not the default run of this dvc.yaml and params.yaml: run `dvc repro` and commit dvc.lock"
    assert set(lock) == set(listed.stdout.split()), stale
    params = numbers_from_text(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text()))
    for stage, entry in lock.items():
        for key, value in ((entry.get("params") or {}).get("params.yaml") or {}).items():
            assert value_at(params, key) == numbers_from_text(value), (stage, key, stale)

    graph = load_lock(PROJECT_ROOT / "dvc.lock")
    text = "\n".join(lineage_lines(graph, PROJECT_ROOT / "results" / "tables" / "main.csv"))
    sea_alphas = params["grids"]["sea"]["alpha"]
    for stage in ("aggregate-main", "search-sample-sea", "graphs@sample", "export_mmrec@sample",
                  "features_text@sample", "features_image@sample", "images@sample", "preprocess@sample",
                  "download@sample", "generated_current"):
        assert f"stage {stage}" in text, stage
    # SEA's search, one job on the sample: every grid point trained, then the selection, then the seeds
    assert all(f"--out search/sample/grid/sea/alpha={alpha}/seed-0" in text for alpha in sea_alphas)
    assert "select --dataset sample --model sea" in text
    assert '"search": {"seed": 0}}' in text and "param seeds = [0, 1, 2]" in text  # aggregate's params, as DVC wrote them
    assert "data/raw/sample md5 " in text
    assert "--set training.learning_rate=0.001" in text  # a training's settings are in its command
    assert re.search(r"code: \d+ source files \(src/searec\)", text)  # the code a stage ran: one line
