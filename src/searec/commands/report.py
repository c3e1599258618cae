"""``searec aggregate`` and ``searec figures``: tables and figures from the runs an experiment declares."""

from __future__ import annotations

import argparse

from searec.commands.common import CliError, read_params_file


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

    from searec.experiments import experiment_runs
    from searec.layout import graphs_dir, mmrec_dir
    from searec.report import figures

    params = read_params_file(args.params)
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
