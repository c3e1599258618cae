"""The pipeline backbone: Snakemake and DVC declare the same DAG and produce the same results."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from searec.generated import GUARD_STAGE, generate_sources
from searec.plan import TRAINING_STAGES, Plan
from searec.resources import training_priority
from searec.search import model_grid
from tests.conftest import PROJECT_ROOT

WORKFLOW_FILES = ("Snakefile", "workflow", "dvc.yaml", ".dvcignore", "environment.yml", "src")
"""What a workspace of the workflow needs: the rules, dvc.yaml, and the sources every stage depends on."""


def copy_workflow(root: Path, names: tuple[str, ...] = WORKFLOW_FILES) -> None:
    for name in names:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, root / name)
TINY_PARAMS = {
    "datasets": {"sample": {"source": "sample", "category": "Sample"}},
    "synthetic": {"toy": {"users": 60, "items": 40, "image_dim": 8, "text_dim": 4, "seed": 1}},
    "download": {"attempts": 2, "backoff_seconds": 0.1, "timeout_seconds": 10},
    "preprocess": {"k_core": 5, "split": "per_user", "seed": 0},
    "images": {"workers": 4},
    "features": {"text": {"encoder": "all-MiniLM-L6-v2", "batch_size": 64, "device": "cpu", "normalize": True,
                          "threads": 2},
                 "image": {"encoder": "efficientnet-lite0", "weights_path": None, "batch_size": 32, "workers": 0,
                           "device": "cpu", "threads": 2}},
    "graphs": {"knn_k": [10], "user_user_k": 10},
    "experiments": {"main": {"datasets": ["sample", "toy"], "models": ["bpr", "lightgcn", "sea"], "search": {"seed": 0}},
                    "ablation": {"datasets": ["toy"], "models": ["sea"], "seeds": [1],
                                 "variants": {"full": {}, "no-club": {"ureg": 0.0}}},
                    "sensitivity": {"datasets": ["toy"], "models": ["sea"], "seeds": [1],
                                    # ureg-0.006 spells out SEA's default: ablation-full's run, reused
                                    "variants": {"alpha-1.0": {"alpha": 1.0}, "ureg-0.006": {"ureg": 0.006}}}},
    "seeds": [0, 1],
    "training": {"epochs": 3, "patience": 20, "eval_every": 1, "batch_size": 128, "learning_rate": 0.01,
                 "weight_decay": 0.0, "eval_batch_size": 64, "topk": [5, 10, 20], "valid_metric": "recall@20",
                 "device": "cpu"},
    "models": {"bpr": {"embedding_size": 16, "reg_weight": 1.0e-3},
               "lightgcn": {"embedding_size": 16, "n_layers": 2, "reg_weight": 1.0e-4},
               "sea": {"embedding_size": 16, "club_steps": 5}},
    "grids": {"bpr": {"training.learning_rate": [0.01, 0.05]}, "lightgcn": {}, "sea": {}},
    # bpr's search (2 grid runs, 1 more seed) is a grid batch, a select and a main batch; lightgcn's and SEA's
    # (1 + 1) are one job each (stage search): both shapes of the plan run end to end
    "resources": {"runs_per_batch": 2},
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _job_stats(dry: str) -> Counter:
    """Jobs per rule from a dry run's ``Job stats`` table, its ``all`` and ``total`` rows left out."""
    counts = Counter({rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", dry, flags=re.MULTILINE)})
    return Counter({rule: count for rule, count in counts.items() if rule not in {"all", "total"}})


def _snakemake_dag(cwd: Path) -> tuple[Counter, set[tuple[str, str]]]:
    """(jobs per stage, {(stage, output)}) of a forced dry run, 'all' excluded: a stage's rule, or its
    rules where each job is one (training batches), named as the plan names them."""
    plan = Plan(yaml.safe_load((cwd / "params.yaml").read_text()))
    stage_of = {rule: stage.name for stage in plan.stages for rule, _ in stage.rules()}
    summary = _run([sys.executable, "-m", "snakemake", "--summary", "--cores", "1"], cwd)
    outputs = set()
    for line in summary.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0] != "output_file":
            outputs.add((stage_of[fields[2]], fields[0]))
    dry = _run([sys.executable, "-m", "snakemake", "--dry-run", "--forceall", "--cores", "1"], cwd)
    jobs: Counter = Counter()
    for rule, count in _job_stats(dry).items():
        jobs[stage_of[rule]] += count
    return jobs, outputs


def _dvc_dag(cwd: Path) -> tuple[Counter, set[tuple[str, str]]]:
    code = (
        "import json; from dvc.repo import Repo\n"
        "repo = Repo('.')\n"
        "print(json.dumps([[s.name, [str(o.def_path) for o in s.outs]] for s in repo.index.stages]))"
    )
    stages = json.loads(_run([sys.executable, "-c", code], cwd))
    # a foreach stage is `stage@key`; a stage whose jobs read different lists of files is one per job, `stage-key`
    rule = lambda name: re.split(r"[@-]", name)[0]  # noqa: E731
    stages = [(name, outs) for name, outs in stages if name != GUARD_STAGE]  # DVC's own: is dvc.yaml current?
    jobs = Counter(rule(name) for name, _ in stages)
    outputs = {(rule(name), out) for name, outs in stages for out in outs}
    return jobs, outputs


def snakemake_commands(cwd: Path) -> list[str]:
    """The `searec ...` command line of every job of a forced dry run (interpreter and log redirection cut)."""
    dry = _run([sys.executable, "-m", "snakemake", "--dry-run", "--forceall", "--printshellcmds", "--cores", "1"], cwd)
    commands = [line.removeprefix("Shell command: ") for line in dry.splitlines()
                if line.startswith("Shell command: ") and line != "Shell command: None"]  # None: rule all
    assert commands and all(re.match(r"^\S+python\S* -m searec ", command) for command in commands), commands[:3]
    return sorted(re.sub(r" > \S+ 2>&1$", "", re.sub(r"^\S+ -m searec ", "searec ", command)) for command in commands)


def dvc_commands(cwd: Path) -> list[str]:
    """The command of every DVC stage but the first (which checks that dvc.yaml is current)."""
    code = ("import json; from dvc.repo import Repo\n"
            f"print(json.dumps([s.cmd for s in Repo('.').index.stages if s.name != {GUARD_STAGE!r}]))")
    return sorted(json.loads(_run([sys.executable, "-c", code], cwd)))


def test_trainings_start_longest_first_and_other_jobs_keep_the_default_priority(tmp_path: Path) -> None:
    """Every training rule's Snakemake priority is resources.training_priority of its job (before the graphs
    exist: the sample's measured shape), SEA's batches first and bpr's search last; other rules print none (0)."""
    copy_workflow(tmp_path, WORKFLOW_FILES + ("params.yaml",))
    dry = _run([sys.executable, "-m", "snakemake", "--dry-run", "--forceall", "--cores", "2"], tmp_path)
    priorities, rule = {}, None
    for line in dry.splitlines():
        if found := re.match(r"\s*(?:local)?rule (\w+):$", line):
            rule = found.group(1)
        elif found := re.match(r"\s*priority: (\d+)$", line):
            priorities[rule] = int(found.group(1))
    plan = Plan(yaml.safe_load((tmp_path / "params.yaml").read_text()))
    expected = {name: training_priority(job.fields["model"], job.fields["dataset"], None, plan.trained_runs(stage.name, job))
                for stage in plan.stages if stage.name in TRAINING_STAGES for name, job in stage.rules()}
    assert priorities == expected
    order = sorted(priorities, key=priorities.__getitem__)
    assert order[0] == "search_sample_bpr"
    assert set(order[-2:]) == {"search_sample_sea", "train_variant_sample_sea_ablation_1"}


def test_snakemake_and_dvc_declare_the_same_stages_and_outputs(tmp_path: Path) -> None:
    copy_workflow(tmp_path, WORKFLOW_FILES + ("params.yaml",))
    _run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], tmp_path)
    snakemake_jobs, snakemake_outputs = _snakemake_dag(tmp_path)
    dvc_jobs, dvc_outputs = _dvc_dag(tmp_path)
    assert snakemake_jobs == dvc_jobs
    # Snakemake names files where DVC tracks their folder (a manifest written last marks a stage
    # done; the folder keeps partial downloads and cached images): each Snakemake output lies
    # in (or is) an output of the same stage in DVC, and every DVC output holds one.
    def covered(rule: str, path: str, by: set[tuple[str, str]]) -> bool:
        return any(r == rule and (path == p or path.startswith(p + "/")) for r, p in by)

    assert [o for o in snakemake_outputs if not covered(*o, dvc_outputs)] == []
    assert [o for o in dvc_outputs if not any(r == o[0] and covered(r, p, {o}) for r, p in snakemake_outputs)] == []
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    declared = sum(len(e["datasets"]) * len(e["models"]) * len(e.get("variants") or [None])
                   * len(e.get("seeds", params["seeds"])) for e in params["experiments"].values())
    # a job trains several runs (a batch); a short search's job also its grid runs (under search/)
    finished = [(stage, path) for stage, path in dvc_outputs if path.endswith("/metrics.json")]
    runs = Counter(stage for stage, path in finished if not path.startswith("search/"))
    grid_runs = Counter(stage for stage, path in finished if path.startswith("search/"))
    assert runs["train"] + runs["search"] + runs["train_variant"] == declared
    assert dvc_jobs["aggregate"] == len(params["experiments"])
    main = params["experiments"]["main"]
    assert dvc_jobs["select"] + dvc_jobs["search"] == len(main["datasets"]) * len(main["models"])
    assert sum(grid_runs.values()) == len(main["datasets"]) * sum(len(model_grid(params, m)) for m in main["models"])
    # group_trainings (the default): the sample's short searches are one job per model x dataset (its grid, select
    # and main runs), and each other experiment's variants in batches of at most runs_per_batch
    assert dvc_jobs["search"] == len(main["datasets"]) * len(main["models"]) and dvc_jobs["train_grid"] == 0
    most = params["resources"]["runs_per_batch"]
    assert dvc_jobs["train_variant"] == sum(
        len(e["datasets"]) * len(e["models"]) * math.ceil(len(e["variants"]) * len(e.get("seeds", params["seeds"])) / most)
        for name, e in params["experiments"].items() if name != "main")
    # one resolver: for every job, both tools issue the identical searec command line
    assert snakemake_commands(tmp_path) == dvc_commands(tmp_path)


def test_dvc_params_diff_shows_what_changed_since_the_commit(tmp_path: Path) -> None:
    copy_workflow(tmp_path, WORKFLOW_FILES + ("params.yaml",))
    git = ["git", "-c", "user.email=test@example.org", "-c", "user.name=test"]
    _run(git + ["init", "-q"], tmp_path)
    _run([sys.executable, "-m", "dvc", "init", "-q"], tmp_path)
    _run(git + ["add", "-A"], tmp_path)
    _run(git + ["commit", "-q", "-m", "quick preset"], tmp_path)
    _run([sys.executable, "-m", "searec", "preset", "use", "paper"], tmp_path)
    diff = json.loads(_run([sys.executable, "-m", "dvc", "params", "diff", "--json"], tmp_path))["params.yaml"]
    assert diff["models.sea.training.learning_rate"] == {"old": None, "new": 1.0e-4}
    assert "training.patience" not in diff  # unchanged: not listed
    assert diff["experiments.main.search.seed"]["new"] == 999


def test_a_dry_run_works_on_a_fresh_clone(tmp_path: Path) -> None:
    """A fresh clone has none of the intermediate files. DVC 3.67's plain ``dvc repro --dry`` then
    fails (its run cache hashes the missing dependency of the second stage: DVC #9021, #9818); with
    ``--force-downstream`` it lists every stage, as the README says."""
    copy_workflow(tmp_path, WORKFLOW_FILES + ("params.yaml", "dvc.yaml"))
    (tmp_path / ".dvc").mkdir()
    shutil.copy(PROJECT_ROOT / ".dvc" / "config", tmp_path / ".dvc" / "config")
    _run(["git", "init", "-q"], tmp_path)
    dry = _run([sys.executable, "-m", "dvc", "repro", "--dry", "--force-downstream"], tmp_path)
    planned = set(re.findall(r"^Running stage '([^']+)'", dry, flags=re.MULTILINE))
    code = "import json; from dvc.repo import Repo; print(json.dumps([s.addressing for s in Repo('.').index.stages]))"
    assert planned == set(json.loads(_run([sys.executable, "-c", code], tmp_path)))
    assert not (tmp_path / "data").exists()  # a dry run ran nothing


def test_repository_dvc_config_disables_analytics() -> None:
    config = (PROJECT_ROOT / ".dvc" / "config").read_text()
    assert re.search(r"analytics\s*=\s*false", config)


def test_snakemake_lint_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=PROJECT_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Congratulations" in done.stdout + done.stderr, done.stdout + done.stderr


def _workspace(root: Path) -> Path:
    root.mkdir()
    copy_workflow(root)
    (root / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS, sort_keys=False))
    _run([sys.executable, "-m", "searec", "generate"], root)
    return root


@pytest.mark.slow
def test_snakemake_and_dvc_run_end_to_end_and_agree(tmp_path: Path) -> None:
    with_snakemake = _workspace(tmp_path / "snakemake")
    with_dvc = _workspace(tmp_path / "dvc")
    _run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], with_dvc)
    # Both tools at once, one job each (dvc repro is sequential): the two workspaces share nothing.
    dvc_repro = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "--quiet"], cwd=with_dvc, env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _run([sys.executable, "-m", "snakemake", "--cores", "1"], with_snakemake)
        out, err = dvc_repro.communicate(timeout=900)
    finally:
        dvc_repro.kill()
    assert dvc_repro.returncode == 0, f"dvc repro failed:\n{out[-3000:]}\n{err[-3000:]}"

    runs = [(d, m, s) for d in ("sample", "toy") for m in ("bpr", "lightgcn", "sea") for s in (0, 1)]
    for dataset, model, seed in runs:
        path = Path("runs") / dataset / model / "default" / f"seed-{seed}" / "metrics.json"
        a = json.loads((with_snakemake / path).read_text())
        b = json.loads((with_dvc / path).read_text())
        assert a["epochs_run"] == 3 and a["params"]["training"]["epochs"] == 3
        for key in ("best_epoch", "valid", "test", "params", "inputs"):
            assert a[key] == b[key], (path, key)
        model = path.parent / "model.pt"  # byte-identical: the same DVC content hash as Snakemake's output
        assert (with_snakemake / model).read_bytes() == (with_dvc / model).read_bytes(), model
    for dataset in ("sample", "toy"):  # the grid search: the same selections, the selected values trained
        for model in ("bpr", "lightgcn", "sea"):
            selection = Path("search") / dataset / "selected" / f"{model}.json"
            assert (with_snakemake / selection).read_text() == (with_dvc / selection).read_text(), selection
            chosen = json.loads((with_dvc / selection).read_text())
            assert len(chosen["candidates"]) == {"bpr": 2, "lightgcn": 1, "sea": 1}[model]
            assert chosen["valid"] == max(c["valid"] for c in chosen["candidates"])
            run = Path("runs") / dataset / model / "default"
            reused = json.loads((with_dvc / run / "seed-0" / "metrics.json").read_text())
            assert reused["reused_from"] == chosen["run"]  # the search seed: the grid run itself
            grid_run = json.loads((with_dvc / chosen["run"] / "metrics.json").read_text())
            assert {k: v for k, v in reused.items() if k not in {"reused_from", "selection"}} == grid_run
            trained = json.loads((with_dvc / run / "seed-1" / "metrics.json").read_text())
            assert "reused_from" not in trained
            assert trained["params"]["training"]["learning_rate"] == chosen["values"].get("training.learning_rate", 0.01)
    for variant in ("ablation-full", "ablation-no-club", "sensitivity-alpha-1.0", "sensitivity-ureg-0.006"):
        path = Path("runs") / "toy" / "sea" / variant / "seed-1" / "metrics.json"
        a, b = json.loads((with_snakemake / path).read_text()), json.loads((with_dvc / path).read_text())
        assert a["test"] == b["test"] and a["params"] == b["params"], path
    full = Path("runs/toy/sea/ablation-full/seed-1")
    for workspace in (with_snakemake, with_dvc):  # the same computation as ablation-full: its copy, in both tools
        repeated = json.loads((workspace / "runs/toy/sea/sensitivity-ureg-0.006/seed-1/metrics.json").read_text())
        assert repeated.pop("reused_from") == str(full)
        assert repeated == json.loads((workspace / full / "metrics.json").read_text())
    no_club = json.loads((with_dvc / "runs/toy/sea/ablation-no-club/seed-1/metrics.json").read_text())
    assert no_club["params"]["ureg"] == 0.0 and no_club["params"]["embedding_size"] == 16  # variant over models.sea
    for experiment in ("main", "ablation", "sensitivity"):
        for suffix in ("csv", "md", "tex"):
            a = (with_snakemake / "results" / "tables" / f"{experiment}.{suffix}").read_text()
            assert a == (with_dvc / "results" / "tables" / f"{experiment}.{suffix}").read_text(), (experiment, suffix)
    table_a = pd.read_csv(with_snakemake / "results" / "tables" / "main.csv")
    assert set(table_a["model"]) == {"bpr", "lightgcn", "sea"} and (table_a["n_seeds"] == 2).all()
    assert set(table_a["dataset"]) == {"sample", "toy"}
    assert set(table_a[table_a["model"] == "lightgcn"]["setting"]) == {"default"}  # the grid point trained
    assert table_a["p_value"].notna().sum() == 2 * 4  # SEA vs the best baseline: each dataset, each headline metric
    ablation = pd.read_csv(with_snakemake / "results" / "tables" / "ablation.csv")
    assert set(ablation["variant"]) == {"ablation-full", "ablation-no-club"}
    assert "| sea ablation-no-club |" in (with_snakemake / "results" / "tables" / "ablation.md").read_text()
    for workspace in (with_snakemake, with_dvc):  # the data stages ran on the embedded sample
        processed = json.loads((workspace / "data" / "processed" / "sample" / "manifest.json").read_text())
        assert processed["counts"][-1]["step"] == "split (per_user)"
        images = json.loads((workspace / "data" / "images" / "sample" / "manifest.json").read_text())
        assert images["ok"] == images["items"] > 200
        for name, dim in (("text-all-MiniLM-L6-v2", 384), ("image-efficientnet-lite0", 1280)):
            feature = json.loads((workspace / "data" / "features" / "sample" / f"{name}.json").read_text())
            assert feature["dim"] == dim and feature["items_imputed"] == 0
        graphs = json.loads((workspace / "data" / "graphs" / "sample" / "manifest.json").read_text())
        assert {g["file"] for g in graphs["graphs"]} == {"ui.npz", "knn-image-k10.npz", "knn-text-k10.npz", "uu-k10.npz"}
        assert "graph knn-text-k10.npz read from" in (workspace / "runs" / "sample" / "sea" / "default" / "seed-1" /
                                                       "train.log").read_text()
    for name in ("interactions", "items", "users"):
        pd.testing.assert_frame_equal(pd.read_parquet(with_snakemake / "data" / "processed" / "sample" / f"{name}.parquet"),
                                      pd.read_parquet(with_dvc / "data" / "processed" / "sample" / f"{name}.parquet"))
    figures = {f"{name}.{ext}" for name in ("training-sample", "training-toy", "ablation", "sensitivity",
                                              "representations-sample", "representations-toy") for ext in ("png", "pdf")}
    from PIL import Image

    for name in sorted(figures):  # Snakemake sets OMP_NUM_THREADS, DVC does not: the same bytes regardless
        assert (with_snakemake / "results" / "figures" / name).read_bytes() == \
            (with_dvc / "results" / "figures" / name).read_bytes(), name
    for workspace in (with_snakemake, with_dvc):
        assert {p.name for p in (workspace / "results" / "figures").iterdir()} == figures
        with Image.open(workspace / "results" / "figures" / "representations-toy.png") as image:
            assert image.size[0] > 300
    _run([sys.executable, "-m", "snakemake", "--report", "results/report.html"], with_snakemake)
    report = (with_snakemake / "results" / "report.html").read_text()
    assert "SEA's ablation" in report and "Wilcoxon" in report and len(report) > 100_000  # captions, images inlined
    assert (with_dvc / "dvc.lock").exists()
    metrics_show = _run([sys.executable, "-m", "dvc", "metrics", "show", "--json"], with_dvc)
    assert "recall@20" in metrics_show
    plots = json.loads(_run([sys.executable, "-m", "dvc", "plots", "show", "--json"], with_dvc))["data"]
    assert "runs/toy/sea/ablation-no-club/seed-1/history.csv" in plots
    # lineage of the main table in the real pipeline: through the selection and the grid back to the raw files
    lineage = _run([sys.executable, "-m", "searec", "lineage", "results/tables/main.csv"], with_dvc)
    for stage in ("aggregate-main", "train-toy-bpr-main", "select-toy-bpr", "train_grid-toy-bpr-search",
                  "search-toy-sea", "synth@toy", "graphs@sample", "export_mmrec@sample", "download@sample"):
        assert stage in lineage, stage
    _dvc_commit_records_a_snakemake_run(with_snakemake, with_dvc)
    _code_edits_rerun_exactly_what_depends_on_them(with_snakemake, with_dvc)


def _readme_dvc_commit() -> list[list[str]]:
    """The commands of the README's block that records a Snakemake run with DVC (up to `dvc status`)."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL) if "dvc commit" in b)
    commands = [line.split("#")[0].split() for line in block.splitlines()]
    return [command for command in commands if command and command[:2] != ["dvc", "status"]]


TIMING_OUTPUTS = ("metrics.json", "history.csv")
"""A training's outputs that hold its timings, so differ between two runs of the same job."""


def _untimed(entries: list[dict] | None) -> list[dict]:
    """A dvc.lock entry list without the files that hold a training's timings."""
    return [entry for entry in entries or [] if not entry["path"].endswith(TIMING_OUTPUTS)]


def _dvc_commit_records_a_snakemake_run(with_snakemake: Path, with_dvc: Path) -> None:
    """After Snakemake (or a cluster) ran the pipeline, the README's `dvc commit` records its outputs: `dvc status`
    is then clean, the lock holds the hashes DVC's own run wrote (a training's timings aside), and Snakemake
    still has nothing to do (`--no-relink`: DVC leaves the workspace's files as they are)."""
    for name in ("figures", "tables"):  # drawn with one thread under either tool: the same bytes
        for path in sorted((with_snakemake / "results" / name).iterdir()):
            assert path.read_bytes() == (with_dvc / "results" / name / path.name).read_bytes(), path
    _run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], with_snakemake)
    for command in _readme_dvc_commit():
        _run([sys.executable, "-m", *command], with_snakemake)
    assert "Data and pipelines are up to date" in _run([sys.executable, "-m", "dvc", "status"], with_snakemake)
    assert _snakemake_planned(with_snakemake) == set()
    committed = yaml.safe_load((with_snakemake / "dvc.lock").read_text())["stages"]
    reproduced = yaml.safe_load((with_dvc / "dvc.lock").read_text())["stages"]
    assert set(committed) == set(reproduced)
    for stage, entry in committed.items():
        assert entry.get("params") == reproduced[stage].get("params"), stage
        # the tables, selections, figures and a reusing run read runs' metrics.json: each tool's own timings
        assert _untimed(entry.get("deps")) == _untimed(reproduced[stage].get("deps")), stage
        theirs = {out["path"]: out["md5"] for out in reproduced[stage].get("outs", [])}
        for out in entry.get("outs", []):
            if not out["path"].endswith(TIMING_OUTPUTS):
                assert out["md5"] == theirs[out["path"]], (stage, out["path"])


def _snakemake_planned(workspace: Path) -> set[tuple[str, str]]:
    """(stage, job key) of every job a dry run plans, the job found in the plan by its first output.

    A job of a group is printed indented under its ``Group job …`` line, so the pattern allows indentation.
    """
    plan = Plan(TINY_PARAMS)
    by_output = {(stage.name, job.snakemake_outputs[0]): key for stage in plan.stages for key, job in stage.jobs.items()}
    stage_of = {rule: stage.name for stage in plan.stages for rule, _ in stage.rules()}  # a batch is a rule of its own
    dry = _run([sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1"], workspace)
    planned = [(stage_of[rule], by_output[(stage_of[rule], outputs.split(", ")[0])])
               for rule, outputs in re.findall(r"^ *rule (\w+):\n(?: +.*\n)*? +output: ([^\n]+)", dry, flags=re.MULTILINE)
               if rule != "all"]
    assert len(planned) == sum(_job_stats(dry).values()), dry  # every planned job was read
    return set(planned)


def _dvc_changed(workspace: Path) -> set[str]:
    return set(json.loads(_run([sys.executable, "-m", "dvc", "status", "--json"], workspace) or "{}"))


def _code_edits_rerun_exactly_what_depends_on_them(with_snakemake: Path, with_dvc: Path) -> None:
    """Code is an input: after an edit of one source file, each tool plans exactly the jobs that run it.

    DVC's status names the stages whose own dependencies changed; Snakemake's dry run adds what
    consumes their outputs (the selections, the tables, the figures). Each edit is undone, with
    its modification time, before the next.
    """
    assert _snakemake_planned(with_snakemake) == set() and _dvc_changed(with_dvc) == set()  # up to date
    # the training batches (group_trainings): bpr's grid search and main runs per dataset, lightgcn's and SEA's
    # searches as one job each, SEA's variants per experiment (toy-sea-ablation, toy-sea-sensitivity)
    plan = Plan(TINY_PARAMS)
    datasets = ("sample", "toy")
    searches = lambda models: {("search", f"{d}-{m}") for d in datasets for m in models}  # noqa: E731
    bpr_batches = {(stage, f"{d}-bpr-{kind}") for d in datasets for stage, kind in (("train_grid", "search"),
                                                                                   ("train", "main"))}
    assert set(plan.stage("search").jobs) == {f"{d}-{m}" for d in datasets for m in ("lightgcn", "sea")}
    variants = {("train_variant", key) for key in plan.stage("train_variant").jobs}
    assert variants == {("train_variant", "toy-sea-ablation"), ("train_variant", "toy-sea-sensitivity")}
    sea_runs = searches(["sea"]) | variants
    all_runs = sea_runs | searches(["lightgcn"]) | bpr_batches
    tables = {("aggregate", e) for e in ("main", "ablation", "sensitivity")}
    figures = {("figures", "")}
    selections = {("select", f"{d}-bpr") for d in datasets}  # bpr's; the others' are inside their search jobs
    for edited, direct, downstream in (
            ("src/searec/models/sea.py", sea_runs | figures, tables),  # the figure rebuilds SEA
            ("src/searec/training/sampling.py", all_runs, selections | tables | figures),
            ("src/searec/report/tables.py", tables, figures)):
        for workspace in (with_snakemake, with_dvc):
            path = workspace / edited
            before, stat = path.read_text(), path.stat()
            path.write_text(before + "\n# an edit\n")
        try:
            assert _snakemake_planned(with_snakemake) == direct | downstream, edited
            expected = {plan.stage(rule).dvc_name(key) for rule, key in direct}
            if edited in generate_sources():  # the first stage checks the schema the declarations make
                expected.add(GUARD_STAGE)
            assert _dvc_changed(with_dvc) == expected, edited
        finally:
            for workspace in (with_snakemake, with_dvc):
                path = workspace / edited
                path.write_text(before)
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
