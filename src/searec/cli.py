"""The ``searec`` command line: one sub-command per pipeline stage.

Heavy libraries (torch, pandas) are imported inside the commands, so ``searec --help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from searec.cli_data import add_data_commands
from searec.errors import SearecError

if TYPE_CHECKING:
    from searec.data.mmrec import InterColumns


class CliError(SearecError):
    """A wrong command-line argument."""


def _parse_assignment(text: str) -> tuple[str, Any]:
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CliError(f"--set expects key=value, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def _split_overrides(model_defaults: dict[str, Any], assignments: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route ``--set`` assignments to model params or training settings (``training.`` prefix optional)."""
    from searec.training.config import TrainingConfig

    training_keys = set(TrainingConfig().to_dict())
    model_params: dict[str, Any] = {}
    training: dict[str, Any] = {}
    for text in assignments:
        key, value = _parse_assignment(text)
        if key.startswith("training."):
            training[key[len("training."):]] = value
        elif key in model_defaults:
            model_params[key] = value
        elif key in training_keys:
            training[key] = value
        else:
            raise CliError(f"--set {key}: not a hyper-parameter of this model ({sorted(model_defaults)}) nor a "
                           f"training setting ({sorted(training_keys)})")
    return model_params, training


def _variant_overrides(params: dict[str, Any], variant: str, source: Path | None) -> dict[str, Any]:
    """``experiments.<EXPERIMENT>.variants.<NAME>`` of the params file, for ``--variant EXPERIMENT:NAME``."""
    experiment, _, name = variant.partition(":")
    variants = ((params.get("experiments") or {}).get(experiment) or {}).get("variants") or {}
    if not name or name not in variants:
        raise CliError(f"--variant {variant!r}: {source or 'no --params file'} declares no "
                       f"experiments.{experiment}.variants.{name or '<NAME>'} (expected EXPERIMENT:NAME)")
    return dict(variants[name] or {})


def _read_params_file(path: Path | None) -> dict[str, Any]:
    from searec.params import read_params

    return {} if path is None else read_params(path)


def _columns(args: argparse.Namespace) -> InterColumns:
    from searec.data.mmrec import InterColumns

    return InterColumns(user=args.user_column, item=args.item_column, label=args.label_column)


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="MMRec-format dataset folder")
    parser.add_argument("--user-column", default="userID", help="user id column of the .inter file")
    parser.add_argument("--item-column", default="itemID", help="item id column of the .inter file")
    parser.add_argument("--label-column", default="x_label", help="split label column (0/1/2 = train/valid/test)")


# ----------------------------------------------------------------------------- commands
def cmd_synth(args: argparse.Namespace) -> int:
    from searec.data.synth import SynthConfig, write_synthetic_folder

    config = SynthConfig(n_users=args.users, n_items=args.items, image_dim=args.image_dim, text_dim=args.text_dim,
                         seed=args.seed, n_clusters=args.clusters, mean_interactions=args.mean_interactions)
    try:
        write_synthetic_folder(args.out, config, name=args.name)
    except ValueError as error:
        raise CliError(str(error)) from None
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from searec.data.mmrec import load_mmrec_folder
    from searec.models import get_model_class
    from searec.params import model_settings
    from searec.runtime import setup_logging
    from searec.search import find_point, read_selection, split_training_keys
    from searec.training.config import TrainingConfig
    from searec.training.trainer import CHECKPOINT, METRICS, train_run

    args.out.mkdir(parents=True, exist_ok=True)
    log_file = args.out / "train.log"
    if not (args.out / CHECKPOINT).exists() and not (args.out / METRICS).exists():
        log_file.unlink(missing_ok=True)  # a fresh run starts a fresh log; a resumed one appends
    setup_logging(log_file=log_file)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model_cls = get_model_class(args.model)
    params_file = _read_params_file(args.params)
    model_params, training_values = model_settings(params_file, model_cls.name)

    def apply(values: dict[str, Any]) -> None:
        """Hyper-parameters to the model, ``training.<key>`` values to the training settings."""
        model_values, training_changes = split_training_keys(values)
        model_params.update(model_values)
        training_values.update(training_changes)

    if args.variant:
        apply(_variant_overrides(params_file, args.variant, args.params))
    if args.grid_point:
        apply(dict(find_point(params_file, model_cls.name, args.grid_point).values))
    model_overrides, training_overrides = _split_overrides(model_cls.default_params, args.set)
    model_params.update(model_overrides)
    training_values.update(training_overrides)
    reuse_from, annotations = None, {}
    if args.selected:  # last: the grid search's choice wins over everything configured
        selection = read_selection(args.selected)
        if selection["model"] != model_cls.name:
            raise CliError(f"--selected {args.selected}: a selection for {selection['model']}, not {model_cls.name}")
        apply(selection["values"])
        reuse_from = Path(selection["run"]) if int(selection["seed"]) == args.seed else None
        annotations["selection"] = {"file": str(args.selected), "point": selection["point"],
                                    "seed": selection["seed"], "metric": selection["metric"],
                                    "valid": selection["valid"], "candidates": len(selection["candidates"])}
    training = TrainingConfig.from_mapping(training_values)
    dataset = load_mmrec_folder(args.data, _columns(args))
    result = train_run(dataset, model_cls.name, model_params, training, args.seed, args.out,
                       graph_cache_dir=args.graph_cache, reuse_from=reuse_from, annotations=annotations)
    print(json.dumps({"run": str(args.out), "best_epoch": result["best_epoch"], "test": result["test"]}, indent=2))
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from searec.fileio import write_json_atomic
    from searec.layout import selection_path
    from searec.params import read_params
    from searec.search import select

    selection = select(read_params(args.params), args.dataset, args.model, args.search_root)
    out = args.out or selection_path(args.dataset, args.model, args.search_root)
    write_json_atomic(out, selection)
    print(f"{args.model} on {args.dataset}: {selection['point']} ({selection['metric']} {selection['valid']:.4f}, "
          f"best of {len(selection['candidates'])}) -> {out}")
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from searec.fileio import write_text_atomic
    from searec.params import read_params
    from searec.search import grid_runs_text, planned_grid_runs, stale_grid_runs_file

    params = read_params(args.params)
    if args.write:
        write_text_atomic(args.write, grid_runs_text(params))
        print(f"{args.write}: {len(planned_grid_runs(params))} grid runs")
        return 0
    if args.check:
        problem = stale_grid_runs_file(params, args.check)
        if problem:
            print(f"{problem}; regenerate it: searec grid --write {args.check}", file=sys.stderr)
            return 1
        print(f"{args.check} is current ({len(planned_grid_runs(params))} grid runs)")
        return 0
    for run in planned_grid_runs(params):
        print(f"{run.dataset}\t{run.model}\t{run.point.name}\tseed {run.seed}\t{run.directory()}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from searec.profile import available_profiles, current_profile, profile_summary, use_profile

    if args.action == "list":
        active = current_profile(args.params)
        for name in available_profiles():
            mark = "*" if name == active else " "
            print(f"{mark} {name:8s} {profile_summary(name)}")
        if active is None:
            print(f"  ({args.params} is no profile's copy: edited, or missing)")
        return 0
    if not args.name:
        raise CliError("searec profile use NAME: name a profile (searec profile list)")
    use_profile(args.name, args.params, args.grid_runs, force=args.force)
    print(f"{args.params} is now the {args.name} profile; {args.grid_runs} regenerated")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    import numpy as np

    from searec.data.mmrec import load_mmrec_folder
    from searec.training.evaluation import RankingEvaluator, score_matrix_function

    dataset = load_mmrec_folder(args.data, _columns(args))
    try:
        scores = np.load(args.scores, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CliError(f"{args.scores}: cannot load a score matrix ({error}); save a float32 users × items "
                       f"array with numpy.save") from None
    expected = (dataset.n_users, dataset.n_items)
    if scores.ndim != 2 or scores.shape != expected:
        raise CliError(f"{args.scores}: shape {scores.shape}, expected {expected} (users × items of {args.data}); "
                       f"row u must hold user u's scores for items 0..{dataset.n_items - 1}")
    if not np.issubdtype(scores.dtype, np.floating):
        raise CliError(f"{args.scores}: dtype {scores.dtype}, expected a float array")
    topk = sorted({int(k) for k in args.k.split(",")})
    evaluator = RankingEvaluator(dataset, args.split, topk, args.batch_size)
    result = evaluator.evaluate(score_matrix_function(scores))
    print(json.dumps({"dataset": dataset.name, "split": args.split, "users": int(result.users.size),
                      "cold_users_dropped": result.cold_users_dropped, "metrics": result.means()}, indent=2))
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    from searec.layout import experiment_runs
    from searec.report.tables import load_run_results, write_tables

    runs = list(args.runs)
    if args.experiment:
        if runs:
            raise CliError("give either metrics.json files or --experiment, not both")
        try:
            declared = experiment_runs(_read_params_file(args.params), args.experiment)
        except KeyError as error:
            raise CliError(f"{args.params}: {error.args[0]}") from None
        runs = [plan.directory(args.runs_root) / "metrics.json" for plan in declared]
    if not runs:
        raise CliError("no runs to aggregate: pass metrics.json files or --experiment NAME")
    missing = [str(path) for path in runs if not path.exists()]
    if missing:
        raise CliError(f"{len(missing)} run(s) have no metrics.json yet: {', '.join(missing[:5])}; train them first")
    write_tables(load_run_results(runs), args.out)
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    import pandas as pd

    from searec.layout import experiment_runs, graphs_dir, mmrec_dir
    from searec.report import figures

    params = _read_params_file(args.params)
    experiments = params.get("experiments") or {}
    try:
        main_runs = experiment_runs(params, "main")
    except KeyError as error:
        raise CliError(f"{args.params}: {error.args[0]}") from None
    written = figures.training_curves(
        figures.read_histories([plan.directory(args.runs_root) / "metrics.json" for plan in main_runs]), args.out)
    if "ablation" in experiments:
        written += figures.ablation_bars(pd.read_csv(args.tables / "ablation.csv"), args.out)
    if "sensitivity" in experiments:
        written += figures.sensitivity_lines(pd.read_csv(args.tables / "sensitivity.csv"),
                                             experiments["sensitivity"]["variants"], args.out)
    first_seed = min(int(s) for s in params["seeds"])
    for dataset in dict.fromkeys(plan.dataset for plan in main_runs if plan.model == "sea"):
        run = next(p for p in main_runs if p.dataset == dataset and p.model == "sea" and p.seed == first_seed)
        parts = figures.sea_item_parts(run.directory(args.runs_root) / "metrics.json",
                                       mmrec_dir(dataset, args.data_root), graphs_dir(dataset, args.data_root))
        written += figures.representation_pca(parts, args.out, dataset)
    print("\n".join(str(path) for path in written))
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from searec.lineage import lineage_lines, load_lock

    print("\n".join(lineage_lines(load_lock(args.lock), args.path)))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from searec.models import MODEL_REGISTRY

    for name, cls in sorted(MODEL_REGISTRY.items()):
        summary = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"{name:12s} {summary}\n{'':12s} defaults: {json.dumps(cls.default_params)}")
    return 0


# ------------------------------------------------------------------------------ parser
def _default_graph_cache() -> Path:
    import os

    configured = os.environ.get("SEAREC_GRAPH_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "searec" / "graphs"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="searec", description="Multimodal recommendation pipeline around SEA (arXiv 2406.08270). "
                                   "Each sub-command is one pipeline stage.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = sub.add_parser("synth", help="write a synthetic MMRec folder with planted structure")
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--users", type=int, required=True)
    synth.add_argument("--items", type=int, required=True)
    synth.add_argument("--image-dim", type=int, default=128)
    synth.add_argument("--text-dim", type=int, default=64)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--clusters", type=int, default=0, help="latent item clusters (0: about sqrt(items)/2)")
    synth.add_argument("--mean-interactions", type=float, default=8.3, help="mean interactions per user (>= 5)")
    synth.add_argument("--name", default=None, help="dataset name (default: the folder's name)")
    synth.set_defaults(func=cmd_synth)

    train = sub.add_parser("train", help="train one model with one seed into a run folder")
    _add_data_arguments(train)
    train.add_argument("--model", required=True, help="model name (see `searec models`)")
    train.add_argument("--out", type=Path, required=True, help="run folder (an existing one is resumed)")
    train.add_argument("--seed", type=int, default=999)
    train.add_argument("--params", type=Path, default=None,
                       help="YAML with `training:` and `models: {NAME: {...}}` sections (e.g. params.yaml)")
    train.add_argument("--variant", metavar="EXPERIMENT:NAME",
                       help="apply that experiment variant's hyper-parameters from --params (before --set)")
    train.add_argument("--grid-point", metavar="POINT",
                       help="train this point of grids.<model> of --params (a `searec grid` name, e.g. "
                            "alpha=0.1_ureg=0.006; before --set)")
    train.add_argument("--selected", type=Path, metavar="FILE",
                       help="a `searec select` file: its point's values override everything else; at the "
                            "seed it was searched with, the grid run is reused instead of trained again")
    train.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    train.add_argument("--graph-cache", type=Path, default=_default_graph_cache(),
                       help="cache of feature-derived graphs, keyed by feature content "
                            "(default: $SEAREC_GRAPH_CACHE or ~/.cache/searec/graphs)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a model hyper-parameter or training setting (repeatable)")
    train.set_defaults(func=cmd_train)

    metrics = sub.add_parser("metrics", help="evaluate an external users × items score matrix on our protocol")
    _add_data_arguments(metrics)
    metrics.add_argument("--scores", type=Path, required=True, help="float .npy of shape [n_users, n_items]")
    metrics.add_argument("--split", choices=("valid", "test"), required=True)
    metrics.add_argument("--k", default="5,10,20,50", help="comma-separated cut-offs")
    metrics.add_argument("--batch-size", type=int, default=4096)
    metrics.set_defaults(func=cmd_metrics)

    aggregate = sub.add_parser("aggregate", help="mean ± std tables over seeds from metrics.json files")
    aggregate.add_argument("--out", type=Path, required=True, help="output prefix, e.g. results/tables/main")
    aggregate.add_argument("--experiment", help="aggregate the runs this experiment of --params declares")
    aggregate.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (with --experiment)")
    aggregate.add_argument("--runs-root", type=Path, default=Path("runs"), help="root of run folders (with --experiment)")
    aggregate.add_argument("runs", type=Path, nargs="*", help="metrics.json files")
    aggregate.set_defaults(func=cmd_aggregate)

    grid = sub.add_parser("grid", help="the grid-search runs params.yaml declares (experiments.main.search)")
    grid.add_argument("--params", type=Path, default=Path("params.yaml"))
    grid_output = grid.add_mutually_exclusive_group()
    grid_output.add_argument("--write", type=Path, metavar="FILE",
                             help="write them as DVC vars (workflow/grid_runs.yaml)")
    grid_output.add_argument("--check", type=Path, metavar="FILE",
                             help="exit 1 when FILE differs from what --params declares")
    grid.set_defaults(func=cmd_grid)

    profile = sub.add_parser("profile", help="list the params profiles (quick, paper) or make one params.yaml")
    profile.add_argument("action", choices=("list", "use"))
    profile.add_argument("name", nargs="?", help="the profile to use")
    profile.add_argument("--params", type=Path, default=Path("params.yaml"))
    profile.add_argument("--grid-runs", type=Path, default=Path("workflow/grid_runs.yaml"),
                         help="the DVC grid-runs file, regenerated for the profile")
    profile.add_argument("--force", action="store_true", help="replace a params file with edits in no profile")
    profile.set_defaults(func=cmd_profile)

    select = sub.add_parser("select", help="pick a model's grid point with the best validation metric")
    select.add_argument("--dataset", required=True)
    select.add_argument("--model", required=True)
    select.add_argument("--params", type=Path, default=Path("params.yaml"))
    select.add_argument("--search-root", type=Path, default=Path("search"), help="root of the grid runs")
    select.add_argument("--out", type=Path, default=None,
                        help="selection file (default search/<dataset>/selected/<model>.json)")
    select.set_defaults(func=cmd_select)

    models = sub.add_parser("models", help="list the available models and their defaults")
    models.set_defaults(func=cmd_models)

    figures = sub.add_parser("figures", help="training curves, ablation bars, sensitivity lines, SEA's representations")
    figures.add_argument("--out", type=Path, default=Path("results/figures"))
    figures.add_argument("--params", type=Path, default=Path("params.yaml"))
    figures.add_argument("--runs-root", type=Path, default=Path("runs"))
    figures.add_argument("--tables", type=Path, default=Path("results/tables"), help="where the experiments' tables are")
    figures.add_argument("--data-root", type=Path, default=Path("data"), help="root of data/mmrec and data/graphs")
    figures.set_defaults(func=cmd_figures)

    lineage = sub.add_parser("lineage", help="the chain of stages, parameters and hashes behind a file (from dvc.lock)")
    lineage.add_argument("path", type=Path, help="any output or input of the pipeline, e.g. results/tables/main.csv")
    lineage.add_argument("--lock", type=Path, default=Path("dvc.lock"), help="the lock file (default ./dvc.lock)")
    lineage.set_defaults(func=cmd_lineage)

    add_data_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from searec.runtime import setup_logging

    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args))
    except SearecError as error:
        print(f"searec {args.command}: error: {error}", file=sys.stderr)
        return 2
