"""Project commands (not stages): models, generated files, presets, the grid listing, lineage, external scores."""

from __future__ import annotations

import argparse
import json
import sys

from searec.commands.common import CliError, inter_columns


def cmd_models(args: argparse.Namespace) -> int:
    from searec.models import get_model_class, model_classes
    from searec.models.declaration import model_summary

    if not args.name:
        for name, cls in model_classes().items():
            print(f"{name:10s} {model_summary(cls)}")
        print("\n`searec models NAME` lists a model's hyper-parameters: default, range and meaning")
        return 0
    cls = get_model_class(args.name)
    print(f"{cls.name}: {model_summary(cls)}\n")
    width = max(len(p.name) for p in cls.hyperparameters)
    for parameter in cls.hyperparameters:
        default = json.dumps(parameter.default)
        accepted = f"  [{parameter.range_text()}]" if parameter.range_text() else ""
        print(f"  {parameter.name:{width}s}  {default:>8s}  {parameter.meaning}{accepted}")
    grid = "  ".join(f"{axis} {values}" for axis, values in cls.reference_grid.items()) or "(none)"
    print(f"\nreference grid (grids.{cls.name} when params.yaml gives none): {grid}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from searec.commands.datasets import data_params
    from searec.data.registry import dataset_entry, package_registry
    from searec.data.releases import RELEASES

    print("release formats (a dataset's `source`):")
    for release in RELEASES.values():
        print(f"  {release.name:11s} {release.description}\n  {'':11s} files: {', '.join(release.files)}")
    overrides = data_params(args.params).get("datasets") or {}
    print("\ndatasets (data/registry.yaml, with params.yaml's `datasets:`):")
    for name in sorted(set(package_registry()["datasets"]) | set(overrides)):
        entry = dataset_entry(name, overrides)
        print(f"  {name:15s} {entry.source:11s} {entry.category}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from searec.fileio import write_text_atomic
    from searec.generated import generated_files

    files = generated_files(args.params)
    if args.check:
        problems = [problem for generated in files if (problem := generated.stale())]
        for problem in problems:
            print(f"{problem}; regenerate it: searec generate", file=sys.stderr)
        if not problems:
            print("generated files are current: " + ", ".join(str(g.path) for g in files))
            if args.mark:
                write_text_atomic(args.mark, "the generated files were current for params.yaml\n")
        return 1 if problems else 0
    for generated in files:
        write_text_atomic(generated.path, generated.text())
        print(f"wrote {generated.path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from searec.params import read_params
    from searec.status import status_counts, status_lines

    print("\n".join(status_lines(status_counts(read_params(args.params), args.params.parent))))
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from searec.params import read_params
    from searec.search import planned_grid_runs

    for run in planned_grid_runs(read_params(args.params)):
        print(f"{run.dataset}\t{run.model}\t{run.point.name}\tseed {run.seed}\t{run.directory()}")
    return 0


def cmd_preset(args: argparse.Namespace) -> int:
    from searec.presets import available_presets, current_preset, preset_summary, use_preset

    if args.action == "list":
        active = current_preset(args.params)
        for name in available_presets():
            mark = "*" if name == active else " "
            print(f"{mark} {name:8s} {preset_summary(name)}")
        if active is None:
            print(f"  ({args.params} is no preset's copy: edited, or missing)")
        return 0
    if not args.name:
        raise CliError("searec preset use NAME: name a preset (searec preset list)")
    written = use_preset(args.name, args.params, force=args.force)
    print(f"{args.params} is now the {args.name} preset; {', '.join(str(path) for path in written)} regenerated")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """``searec profile``: the old name of ``searec preset`` (deprecated; it says so, then does the same)."""
    import logging

    logging.getLogger("searec").warning("`searec profile` is deprecated and will be removed: it is now `searec preset` "
                                        "(Snakemake's profiles, workflow/profiles/, are how jobs run)")
    return cmd_preset(args)


def cmd_lineage(args: argparse.Namespace) -> int:
    from searec.lineage import lineage_lines, load_lock

    print("\n".join(lineage_lines(load_lock(args.lock), args.path)))
    return 0


def _cutoffs(text: str) -> list[int]:
    """``--k 5,10,20``: sorted distinct positive cut-offs."""
    try:
        cutoffs = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise CliError(f"--k {text!r}: expected comma-separated positive integers, e.g. 5,10,20,50") from None
    if not cutoffs or cutoffs[0] < 1:
        raise CliError(f"--k {text!r}: expected comma-separated positive integers, e.g. 5,10,20,50")
    return cutoffs


def cmd_metrics(args: argparse.Namespace) -> int:
    import numpy as np

    from searec.data.mmrec import load_mmrec_folder
    from searec.errors import NonFiniteScoresError
    from searec.training.evaluation import RankingEvaluator, score_matrix_function

    topk = _cutoffs(args.k)
    if args.batch_size < 1:
        raise CliError(f"--batch-size {args.batch_size}: give a positive number of users per batch")
    dataset = load_mmrec_folder(args.data, inter_columns(args))
    try:
        scores = np.load(args.scores, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        size = args.scores.stat().st_size if args.scores.exists() else None
        raise CliError(f"{args.scores}: cannot load a score matrix ({error or type(error).__name__}"
                       f"{'' if size is None else f'; {size} bytes'}); save a float32 users × items array with "
                       f"numpy.save") from None
    expected = (dataset.n_users, dataset.n_items)
    if scores.ndim != 2 or scores.shape != expected:
        raise CliError(f"{args.scores}: shape {scores.shape}, expected {expected} (users × items of {args.data}); "
                       f"row u must hold user u's scores for items 0..{dataset.n_items - 1}")
    if not np.issubdtype(scores.dtype, np.floating):
        raise CliError(f"{args.scores}: dtype {scores.dtype}, expected a float array")
    evaluator = RankingEvaluator(dataset, args.split, topk, args.batch_size, masked_items=True)
    try:
        result = evaluator.evaluate(score_matrix_function(scores))
    except NonFiniteScoresError as error:
        raise CliError(f"{args.scores}: {error}") from None
    print(json.dumps({"dataset": dataset.name, "split": args.split, "users": int(result.users.size),
                      "cold_users_dropped": result.cold_users_dropped, "metrics": result.means()}, indent=2))
    return 0
