"""The command line as users call it: exit codes, JSON output, errors without tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from searec.cli import main
from searec.data.mmrec import load_mmrec_folder
from searec.training.evaluation import RankingEvaluator, score_matrix_function
from tests.conftest import PROJECT_ROOT


def test_help_lists_every_stage() -> None:
    out = subprocess.run([sys.executable, "-m", "searec", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("synth", "train", "metrics", "aggregate", "models", "data"):
        assert command in out


def test_the_process_exits_with_the_status_output_and_exit_handlers_of_a_normal_exit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m searec` skips the interpreter's teardown (cli.exit_without_teardown), nothing else: every
    line printed reaches the pipe, an error's status and message come out, and the exit handlers run."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import atexit, os, pathlib, sys\n"
        "atexit.register(lambda: pathlib.Path(os.environ['EXIT_MARK']).write_text(' '.join(sys.argv[1:])))\n")
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    cases = [(["models"], 0, listing, ""),
             (["train", "--data", str(tmp_path / "missing"), "--model", "bpr", "--out", str(tmp_path / "r")], 2, "",
              "not a folder")]
    for argv, status, out, err in cases:
        mark = tmp_path / "exit-handlers-ran"
        mark.unlink(missing_ok=True)
        done = subprocess.run([sys.executable, "-m", "searec", *argv], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(hook), "EXIT_MARK": str(mark)})
        assert done.returncode == status and done.stdout == out and err in done.stderr, done.stderr
        assert mark.read_text() == " ".join(argv)
    profile = tmp_path / "profile.out"  # a profiler writes its results after the program returns: an ordinary exit
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "searec", "models"], check=True,
                   capture_output=True)
    assert profile.stat().st_size > 0


def test_synth_train_metrics_aggregate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "toy"
    assert main(["synth", "--out", str(data), "--users", "80", "--items", "40", "--image-dim", "8",
                 "--text-dim", "4", "--seed", "1"]) == 0
    params = tmp_path / "params.yaml"
    params.write_text("training: {epochs: 3, batch_size: 128, device: cpu}\nmodels: {bpr: {reg_weight: 0.001}}\n")
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--model", "BPR", "--out", str(run), "--seed", "3",
                 "--params", str(params), "--set", "epochs=2", "--set", "embedding_size=16"]) == 0
    printed = json.loads(capsys.readouterr().out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert printed["test"] == metrics["test"]
    assert metrics["params"]["reg_weight"] == 0.001 and metrics["params"]["embedding_size"] == 16
    assert metrics["params"]["training"]["epochs"] == 2 and metrics["epochs_run"] == 2
    assert (run / "train.log").read_text().count("epoch 2:") == 1

    scores = np.random.default_rng(0).normal(size=(80, 40)).astype(np.float32)
    np.save(tmp_path / "scores.npy", scores)
    assert main(["metrics", "--data", str(data), "--scores", str(tmp_path / "scores.npy"), "--split", "test",
                 "--k", "10,20"]) == 0
    reported = json.loads(capsys.readouterr().out)
    expected = RankingEvaluator(load_mmrec_folder(data), "test", (10, 20)).evaluate(score_matrix_function(scores))
    assert reported["metrics"] == pytest.approx(expected.means())
    assert set(reported["metrics"]) == {f"{m}@{k}" for m in ("recall", "ndcg", "precision", "map") for k in (10, 20)}

    assert main(["aggregate", "--out", str(tmp_path / "tables" / "main"), str(run / "metrics.json")]) == 0
    assert "| bpr |" in (tmp_path / "tables" / "main.md").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "{data}", "--model", "nope", "--out", "{tmp}/r"], "unknown model 'nope'"),
        (["train", "--data", "{data}", "--model", "bpr", "--out", "{tmp}/r", "--set", "layers=2"],
         "--set layers: not a hyper-parameter"),
        (["train", "--data", "{tmp}/missing", "--model", "bpr", "--out", "{tmp}/r"], "not a folder"),
        (["train", "--data", "{data}", "--model", "sea", "--out", "{tmp}/r", "--params", "{root}/params.yaml",
          "--variant", "ablation:no-such"], "declares no experiments.ablation.variants.no-such"),
        (["metrics", "--data", "{data}", "--scores", "{tmp}/wrong.npy", "--split", "valid"], "expected (120, 60)"),
    ],
)
def test_user_errors_exit_2_with_a_message(argv: list[str], message: str, tiny_synth: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "wrong.npy", np.zeros((3, 3), dtype=np.float32))
    argv = [a.format(data=tiny_synth, tmp=tmp_path, root=PROJECT_ROOT) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_rerun_with_other_settings_in_a_finished_run_folder_is_a_clear_error(
        tiny_synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--data", str(tiny_synth), "--model", "bpr", "--out", str(tmp_path / "r"), "--set", "epochs=1"]
    assert main(base) == 0
    assert main(base) == 0  # the same configuration: nothing to do
    capsys.readouterr()
    assert main(base + ["--set", "reg_weight=0.5"]) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "Traceback" not in err


def test_data_stages_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, missing_params = tmp_path / "data", str(tmp_path / "none.yaml")
    assert main(["data", "preprocess", "sample", "--root", str(root)]) == 2
    assert "run `searec data download sample` first" in capsys.readouterr().err
    assert main(["data", "download", "nosuch", "--root", str(root)]) == 2
    assert "unknown dataset 'nosuch'" in capsys.readouterr().err
    assert main(["data", "download", "sample", "--params", missing_params]) == 2
    assert "params file not found" in capsys.readouterr().err

    params = tmp_path / "params.yaml"
    params.write_text("preprocess: {k_core: 5, split: temporal, seed: 0}\nimages: {workers: 2}\n")
    for stage in ("download", "preprocess", "images", "export-mmrec"):
        assert main(["data", stage, "sample", "--root", str(root), "--params", str(params)]) == 0, stage
    capsys.readouterr()
    dataset = load_mmrec_folder(root / "mmrec" / "sample")
    assert dataset.name == "sample" and len(dataset.train) > 0
    manifest = json.loads((root / "processed" / "sample" / "manifest.json").read_text())
    assert manifest["config"]["split"] == "temporal"
    assert main(["data", "export-mmrec", "sample", "--root", str(root), "--feature", "image=nope.npy"]) == 2
    assert "nope.npy: cannot read the 'image' feature matrix" in capsys.readouterr().err


def _run_options(data: Path, model: str, out: Path, seed: int) -> list[str]:
    return ["--data", str(data), "--model", model, "--out", str(out), "--seed", str(seed), "--threads", "1",
            "--set", "epochs=2", "--set", "batch_size=256", "--set", "embedding_size=8"]


def test_train_batch_writes_what_each_separate_training_writes(tiny_synth: Path, tmp_path: Path) -> None:
    """A batch is only a way to run trainings: the same results as `searec train` one run at a time, also for
    runs after the first in the process (SEA's optimisers, seeds and the deterministic switch are per run)."""
    import shlex

    runs = [("sea", "a", 1), ("lightgcn", "b", 2), ("sea", "c", 3)]
    for model, name, seed in runs:
        assert main(["train", *_run_options(tiny_synth, model, tmp_path / "alone" / name, seed)]) == 0
    assert main(["train-batch", *(shlex.join(_run_options(tiny_synth, model, tmp_path / "batch" / name, seed))
                                  for model, name, seed in runs)]) == 0
    for _, name, _ in runs:
        alone, batch = (json.loads((tmp_path / kind / name / "metrics.json").read_text()) for kind in ("alone", "batch"))
        assert (batch["test"], batch["valid"], batch["best_epoch"]) == (alone["test"], alone["valid"], alone["best_epoch"])
        for file in ("model.pt", "config.yaml", "test_per_user.parquet"):  # byte-reproducible outputs
            assert (tmp_path / "alone" / name / file).read_bytes() == (tmp_path / "batch" / name / file).read_bytes()


def test_train_batch_runs_a_search_with_its_select_between_the_grid_and_the_selected_runs(
        tiny_synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The pipeline's one-job search (plan stage ``search``): grid runs, ``select``, the selected point's seeds;
    at the search seed the grid run is reused, and a failing step names its own command."""
    import shlex

    params = {"experiments": {"main": {"datasets": ["tiny"], "models": ["bpr"], "search": {"seed": 5}}},
              "seeds": [5, 6], "training": {"epochs": 2, "batch_size": 256}, "models": {"bpr": {"embedding_size": 8}},
              "grids": {"bpr": {"reg_weight": [1.0e-4, 0.5]}}}
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    search, selection = tmp_path / "search", tmp_path / "search" / "tiny" / "selected" / "bpr.json"
    common = ["--data", str(tiny_synth), "--model", "bpr", "--params", str(params_file), "--threads", "1"]
    grid = [shlex.join([*common, "--seed", "5", "--grid-point", point, "--out", str(search / "tiny" / "grid" / "bpr" /
                                                                                   point / "seed-5")])
            for point in ("reg_weight=0.0001", "reg_weight=0.5")]
    select = shlex.join(["select", "--dataset", "tiny", "--model", "bpr", "--params", str(params_file),
                         "--search-root", str(search), "--out", str(selection)])
    selected = [shlex.join([*common, "--seed", str(seed), "--selected", str(selection), "--out",
                            str(tmp_path / "runs" / f"seed-{seed}")]) for seed in (5, 6)]
    assert main(["train-batch", *grid, select, *selected]) == 0
    chosen = json.loads(selection.read_text())
    assert len(chosen["candidates"]) == 2 and chosen["valid"] == max(c["valid"] for c in chosen["candidates"])
    at_search_seed = json.loads((tmp_path / "runs" / "seed-5" / "metrics.json").read_text())
    assert at_search_seed["reused_from"] == chosen["run"]
    assert "reused_from" not in json.loads((tmp_path / "runs" / "seed-6" / "metrics.json").read_text())
    assert "run 3 of 5: searec select --dataset tiny" in capsys.readouterr().err
    broken = select.replace("--model bpr", "--model lightgcn")  # lightgcn's grid was never trained
    assert main(["train-batch", broken, *selected]) != 0
    err = capsys.readouterr().err
    assert "run 1 of 3 failed" in err and "2 later run(s) not started: searec select --dataset tiny" in err


def test_train_reuse_copies_a_finished_run_of_the_same_computation_and_trains_otherwise(
        tiny_synth: Path, tmp_path: Path) -> None:
    """``searec train --reuse RUN`` (the plan's answer to a variant that repeats a grid point or another variant):
    RUN's files when its identity equals this run's, a training of its own when any of it differs."""
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"experiments": {"sweep": {"datasets": ["tiny"], "models": ["bpr"],
                                                                     "variants": {"same": {"reg_weight": 0.5}}}},
                                           "seeds": [5], "training": {"epochs": 2, "batch_size": 256}}))
    common = ["--data", str(tiny_synth), "--model", "bpr", "--params", str(params_file), "--threads", "1"]
    source, copy, other_seed = tmp_path / "grid", tmp_path / "variant", tmp_path / "variant-seed-6"
    assert main(["train", *common, "--seed", "5", "--set", "reg_weight=0.5", "--out", str(source)]) == 0
    assert main(["train", *common, "--seed", "5", "--variant", "sweep:same", "--reuse", str(source),
                 "--out", str(copy)]) == 0
    trained = json.loads((source / "metrics.json").read_text())
    reused = json.loads((copy / "metrics.json").read_text())
    assert reused.pop("reused_from") == str(source) and reused == trained
    for name in ("model.pt", "history.csv", "config.yaml", "test_per_user.parquet"):
        assert (copy / name).read_bytes() == (source / name).read_bytes()
    assert main(["train", *common, "--seed", "6", "--variant", "sweep:same", "--reuse", str(source),
                 "--out", str(other_seed)]) == 0
    assert "reused_from" not in json.loads((other_seed / "metrics.json").read_text())
    with pytest.raises(SystemExit):  # one source of a reused run at a time
        main(["train", *common, "--reuse", str(source), "--selected", str(tmp_path / "s.json"), "--out", str(copy)])


def test_train_batch_stops_at_the_first_failing_run_and_names_it(tiny_synth: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    good = shlex.join(_run_options(tiny_synth, "bpr", tmp_path / "first", 0))
    bad = shlex.join(_run_options(tiny_synth, "bpr", tmp_path / "second", 0) + ["--set", "layers=2"])
    never = shlex.join(_run_options(tiny_synth, "bpr", tmp_path / "third", 0))
    assert main(["train-batch", good, bad, never]) == 2
    err = capsys.readouterr().err
    assert "--set layers: not a hyper-parameter" in err and "Traceback" not in err
    assert "run 2 of 3 failed (exit 2); 1 later run(s) not started" in err
    assert (tmp_path / "first" / "metrics.json").exists() and not (tmp_path / "third").exists()
    assert main(["train-batch", "--data 'unclosed"]) == 2  # a run that is not one shell word list
    assert "No closing quotation" in capsys.readouterr().err
