"""``searec train`` and ``searec select``: one training run, and the grid point chosen on validation."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from searec.commands.common import CliError, inter_columns, read_params_file


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


def _variant(text: str) -> tuple[str, str]:
    """``EXPERIMENT:NAME`` of ``--variant``."""
    experiment, _, name = text.partition(":")
    if not experiment or not name:
        raise CliError(f"--variant {text!r}: expected EXPERIMENT:NAME (an experiments.<E>.variants.<NAME> of --params)")
    return experiment, name


def cmd_train(args: argparse.Namespace) -> int:
    from searec.data.mmrec import load_mmrec_folder
    from searec.models import get_model_class
    from searec.runtime import configure_threads
    from searec.search import find_point, read_selection
    from searec.settings import configured_settings
    from searec.training.config import TrainingConfig
    from searec.training.trainer import train_run

    threads = configure_threads(args.threads)
    model_cls = get_model_class(args.model)
    params_file = read_params_file(args.params)
    variant = _variant(args.variant) if args.variant else None
    point = dict(find_point(params_file, model_cls.name, args.grid_point).values) if args.grid_point else None
    settings = configured_settings(params_file, model_cls.name, variant, point)
    model_overrides, training_overrides = _split_overrides(model_cls.default_params, args.set)
    settings = settings.over(model_overrides | {f"training.{key}": value for key, value in training_overrides.items()})
    reuse_from, annotations = args.reuse, {}
    if args.selected:  # last: the grid search's choice wins over everything configured
        selection = read_selection(args.selected)
        if selection["model"] != model_cls.name:
            raise CliError(f"--selected {args.selected}: a selection for {selection['model']}, not {model_cls.name}")
        settings = settings.over(selection["values"])
        reuse_from = Path(selection["run"]) if int(selection["seed"]) == args.seed else None
        annotations["selection"] = {"file": str(args.selected), "point": selection["point"],
                                    "seed": selection["seed"], "metric": selection["metric"],
                                    "valid": selection["valid"], "candidates": len(selection["candidates"])}
    training = TrainingConfig.from_mapping(settings.training)
    dataset = load_mmrec_folder(args.data, inter_columns(args))
    result = train_run(dataset, model_cls.name, settings.model, training, args.seed, args.out,
                       graph_cache_dir=args.graph_cache, reuse_from=reuse_from, annotations=annotations,
                       threads=threads, checkpoint_seconds=args.checkpoint_seconds)
    print(json.dumps({"run": str(args.out), "best_epoch": result["best_epoch"], "test": result["test"]}, indent=2))
    return 0


def cmd_train_batch(args: argparse.Namespace) -> int:
    """Each run through :func:`searec.cli.main` (``searec train`` itself: its checks, its one-line errors), in this
    process; a RUN that starts with ``select`` is that ``searec select`` (a grid search's choice, between its grid
    runs and the runs that read it). A step that fails stops the batch with its exit code, naming it; the steps
    before it are complete (run by hand, the same batch again finds them finished), the ones after it are not
    started."""
    import shlex
    import sys

    from searec.cli import main

    prefix = ["-v"] if args.verbose else []
    for number, run in enumerate(args.runs, 1):
        try:
            words = shlex.split(run)
        except ValueError as error:
            raise CliError(f"run {number} ({run!r}): {error}") from None
        command, options = ("select", words[1:]) if words[:1] == ["select"] else ("train", words)
        shown = f"searec {run.strip()}" if command == "select" else f"searec train {run}"
        print(f"searec train-batch: run {number} of {len(args.runs)}: {shown}", file=sys.stderr, flush=True)
        argv = [*prefix, command, *options]
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse refused the run's options (it printed why)
            status = stop.code if isinstance(stop.code, int) else 2
        if status != 0:
            print(f"searec train-batch: run {number} of {len(args.runs)} failed (exit {status}); "
                  f"{len(args.runs) - number} later run(s) not started: {shown}", file=sys.stderr)
            return status
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from searec.fileio import write_json_atomic
    from searec.layout import selection_path
    from searec.search import select

    selection = select(read_params_file(args.params), args.dataset, args.model, args.search_root)
    out = args.out or selection_path(args.dataset, args.model, args.search_root)
    write_json_atomic(out, selection)
    print(f"{args.model} on {args.dataset}: {selection['point']} ({selection['metric']} {selection['valid']:.4f}, "
          f"best of {len(selection['candidates'])}) -> {out}")
    return 0
