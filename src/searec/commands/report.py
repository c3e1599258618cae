"""``searec aggregate`` and ``searec figures``: tables and figures from the runs an experiment declares."""

from __future__ import annotations

import argparse

from searec.commands.common import CliError, read_params_file
from searec.sections import section


def cmd_aggregate(args: argparse.Namespace) -> int:
    from searec.experiments import experiment_runs
    from searec.report.tables import load_run_results, write_tables

    runs = list(args.runs)
    if args.experiment:
        if runs:
            raise CliError("give either metrics.json files or --experiment, not both")
        try:
            declared = experiment_runs(read_params_file(args.params), args.experiment)
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

    from searec.layout import graphs_dir, mmrec_dir
    from searec.plan import FIGURE_FORMATS, REPRESENTATION_MODEL, Plan
    from searec.report import figures
    from searec.runtime import configure_threads

    params = read_params_file(args.params)
    plan = Plan(params)  # which figures there are: the plan's list, which both tools declare as outputs
    try:
        main_runs = plan.runs.get("main", [])
    except KeyError as error:
        raise CliError(f"{args.params}: {error.args[0]}") from None
    kinds = {kind for _, kind, _ in plan.figures}
    written = []
    if "training" in kinds:
        written += figures.training_curves(
            figures.read_histories([run.directory(args.runs_root) / "metrics.json" for run in main_runs]), args.out,
            section(params, "training")["valid_metric"])
    if "ablation" in kinds:
        written += figures.ablation_bars(pd.read_csv(args.tables / "ablation.csv"), args.out)
    if "sensitivity" in kinds:
        written += figures.sensitivity_lines(pd.read_csv(args.tables / "sensitivity.csv"),
                                             params["experiments"]["sensitivity"]["variants"], args.out)
    represented = [dataset for _, kind, dataset in plan.figures if kind == "representations"]
    if represented:
        configure_threads(args.threads)  # SEA's forward pass: the same bytes only at the same thread count
    for dataset in represented:
        first = min((run for run in main_runs if run.dataset == dataset and run.model == REPRESENTATION_MODEL),
                    key=lambda run: run.seed)
        parts = figures.sea_item_parts(first.directory(args.runs_root) / "metrics.json",
                                       mmrec_dir(dataset, args.data_root), graphs_dir(dataset, args.data_root))
        written += figures.representation_pca(parts, args.out, dataset)
    planned = {f"{name}.{ext}" for name, _, _ in plan.figures for ext in FIGURE_FORMATS}
    if {path.name for path in written} != planned:
        raise CliError(f"drew {sorted(p.name for p in written)}, but the plan declares {sorted(planned)}")
    print("\n".join(str(path) for path in written))
    return 0
