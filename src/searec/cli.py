"""The ``searec`` command line: one sub-command per pipeline stage.

This module only parses and dispatches: each sub-command names the function of
``searec.commands`` that runs it, imported when the command runs. So ``searec --help`` is fast,
and a stage's code dependencies (``searec.codedeps``) are its own command's, not every command's.
"""

from __future__ import annotations

import argparse
import atexit
import errno
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from searec.errors import SearecError
from searec.layout import RUN_CHECKPOINT_SECONDS

Handler = Callable[[argparse.Namespace], int]


def handler(name: str) -> Handler:
    """The command function ``module:function`` of ``searec.commands``, imported when it is called."""
    module, _, function = name.partition(":")

    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(f"searec.commands.{module}"), function)(args))

    return run


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="MMRec-format dataset folder")
    parser.add_argument("--user-column", default="userID", help="user id column of the .inter file")
    parser.add_argument("--item-column", default="itemID", help="item id column of the .inter file")
    parser.add_argument("--label-column", default="x_label", help="split label column (0/1/2 = train/valid/test)")


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="registered dataset name (e.g. sample, baby, sports2023, mmrec-baby)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="params file whose `datasets:`, `download:`, `preprocess:`, `features:`, `graphs:` apply")
    parser.add_argument("--root", type=Path, default=Path("data"), help="data root (default: data)")


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    features = sub.add_parser("features", help="item features: text (sentence-transformers), image (vision model)")
    kinds = features.add_subparsers(dest="features_command", required=True, metavar="MODALITY")
    for name, help_text, func in (
            ("text", "embed item text -> data/features/<dataset>/text-<encoder>.npy", handler("features:cmd_features_text")),
            ("image", "pooled image features (or Amazon's CNN features) -> data/features/<dataset>/image-<encoder>.npy",
             handler("features:cmd_features_image"))):
        parser = kinds.add_parser(name, help=help_text)
        _add_dataset_arguments(parser)
        parser.set_defaults(func=func)
    graphs = sub.add_parser("graphs", help="user-item, item-item kNN and user-user graphs -> data/graphs/<dataset>/")
    _add_dataset_arguments(graphs)
    graphs.set_defaults(func=handler("graphs:cmd_graphs"))

    data = sub.add_parser("data", help="data stages: download, preprocess, images, export-mmrec, make-sample")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="STAGE")

    def stage(name: str, help_text: str, func: Handler) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        _add_dataset_arguments(parser)
        parser.set_defaults(func=func)
        return parser

    stage("download", "fetch and verify the dataset's files into data/raw/<dataset>/", handler("data:cmd_download"))
    stage("preprocess", "k-core, dense ids, seeded split, item text -> data/processed/<dataset>/",
          handler("data:cmd_preprocess"))
    images = stage("images", "fetch every item's image into data/images/<dataset>/", handler("data:cmd_images"))
    images.add_argument("--workers", type=int, default=0, help="parallel fetches (default: params images.workers or 8)")
    export = stage("export-mmrec", "write an MMRec folder (.inter, *_feat.npy, id maps)", handler("data:cmd_export_mmrec"))
    export.add_argument("--out", type=Path, default=None, help="output folder (default: data/mmrec/<dataset>)")
    export.add_argument("--feature", action="append", default=[], metavar="MODALITY=PATH",
                        help="add a feature matrix (.npy, one row per item) as <modality>_feat.npy")
    export.add_argument("--with-features", default="", metavar="MODALITIES",
                        help="comma-separated modalities whose params-configured feature files to include "
                             "(e.g. text,image: data/features/<dataset>/<modality>-<encoder>.npy)")
    sample = commands.add_parser("make-sample", help="regenerate the embedded sample catalog's raw files")
    sample.add_argument("--out", type=Path, required=True)
    sample.set_defaults(func=handler("data:cmd_make_sample"))


def thread_count(text: str) -> int:
    """An argparse type: a count of torch threads, 0 meaning the CPUs this process may use."""
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive count, or 0 for the CPUs this process may use")
    return count


def seconds(text: str) -> float:
    """An argparse type: a duration in seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds, 0 or more")
    return value


def _default_graph_cache() -> Path:
    import os

    configured = os.environ.get("SEAREC_GRAPH_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "searec" / "graphs"


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows every option's default (``(default: 999)``), except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default is None or action.default is False or action.default in ([], "")
                or "default" in text or action.default is argparse.SUPPRESS):
            return text
        return super()._get_help_string(action) or text


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and every sub-command parser below it the defaults-showing help."""
    parser.formatter_class = _DefaultsShown
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _show_defaults(child)


def build_parser() -> argparse.ArgumentParser:
    parser = _build_commands()
    _show_defaults(parser)
    return parser


def _build_commands() -> argparse.ArgumentParser:
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
    synth.set_defaults(func=handler("data:cmd_synth"))

    train = sub.add_parser("train", help="train one model with one seed into a run folder")
    _add_data_arguments(train)
    train.add_argument("--model", required=True, help="model name (see `searec models`)")
    train.add_argument("--out", type=Path, required=True, help="run folder (an existing one is resumed)")
    train.add_argument("--seed", type=int, default=999, help="the run's seed (999 is MMRec's)")
    train.add_argument("--params", type=Path, default=None,
                       help="YAML with `training:` and `models: {NAME: {...}}` sections (e.g. params.yaml)")
    train.add_argument("--variant", metavar="EXPERIMENT:NAME",
                       help="apply that experiment variant's hyper-parameters from --params (before --set)")
    train.add_argument("--grid-point", metavar="POINT",
                       help="train this point of grids.<model> of --params (a `searec grid` name, e.g. "
                            "alpha=0.1_ureg=0.006; before --set)")
    reused = train.add_mutually_exclusive_group()
    reused.add_argument("--selected", type=Path, metavar="FILE",
                        help="a `searec select` file: its point's values override everything else; at the "
                             "seed it was searched with, the grid run is reused instead of trained again")
    reused.add_argument("--reuse", type=Path, metavar="RUN",
                        help="a finished run folder of the same computation (the plan passes it where two "
                             "experiments declare the same run): its files are copied when its model, "
                             "settings, seed and data equal this run's; otherwise this run trains")
    train.add_argument("--threads", type=thread_count, default=0,
                       help="torch CPU threads, recorded and part of the run's identity (0: the CPUs this process "
                            "may use: its affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS; beside "
                            "other jobs give each a share)")
    train.add_argument("--checkpoint-seconds", type=seconds, default=RUN_CHECKPOINT_SECONDS, metavar="S",
                       help="write the resumable checkpoint after an epoch once S seconds passed since the last "
                            "(0: every epoch); not part of the run's identity (default %(default)s)")
    train.add_argument("--graph-cache", type=Path, default=_default_graph_cache(),
                       help="cache of feature-derived graphs, keyed by feature content "
                            "(default: $SEAREC_GRAPH_CACHE or ~/.cache/searec/graphs)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a model hyper-parameter or training setting (repeatable)")
    train.set_defaults(func=handler("training:cmd_train"))

    batch = sub.add_parser("train-batch", help="several `searec train` runs in one process, one after another",
                           description="Train each RUN (the options of one `searec train`, as one argument) in this "
                                       "process, in order, stopping at the first that fails: the start-up (Python, "
                                       "torch, the data) is paid once. The pipeline runs a model's short trainings "
                                       "this way (resources.group_trainings), a short grid search with its "
                                       "`select` and the selected runs as one batch. Each run's result is exactly "
                                       "what `searec train RUN` writes.")
    batch.add_argument("runs", nargs="+", metavar="RUN", help="one run's `searec train` options, e.g. "
                                                              "'--data data/mmrec/sample --model bpr --out runs/x'; "
                                                              "or `select` and a `searec select`'s options")
    batch.set_defaults(func=handler("training:cmd_train_batch"))

    metrics = sub.add_parser("metrics", help="evaluate an external users × items score matrix on our protocol")
    _add_data_arguments(metrics)
    metrics.add_argument("--scores", type=Path, required=True, help="float .npy of shape [n_users, n_items]")
    metrics.add_argument("--split", choices=("valid", "test"), required=True)
    metrics.add_argument("--k", default="5,10,20,50", help="comma-separated cut-offs")
    metrics.add_argument("--batch-size", type=int, default=4096)
    metrics.set_defaults(func=handler("project:cmd_metrics"))

    aggregate = sub.add_parser("aggregate", help="mean ± std tables over seeds from metrics.json files")
    aggregate.add_argument("--out", type=Path, required=True, help="output prefix, e.g. results/tables/main")
    aggregate.add_argument("--experiment", help="aggregate the runs this experiment of --params declares")
    aggregate.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (with --experiment)")
    aggregate.add_argument("--runs-root", type=Path, default=Path("runs"), help="root of run folders (with --experiment)")
    aggregate.add_argument("runs", type=Path, nargs="*", help="metrics.json files")
    aggregate.set_defaults(func=handler("report:cmd_aggregate"))

    status = sub.add_parser("status", help="per experiment x model: runs done, stale or missing (fast at any size)")
    status.add_argument("--params", type=Path, default=Path("params.yaml"))
    status.set_defaults(func=handler("project:cmd_status"))

    grid = sub.add_parser("grid", help="list the grid-search runs params.yaml declares (experiments.main.search)")
    grid.add_argument("--params", type=Path, default=Path("params.yaml"))
    grid.set_defaults(func=handler("project:cmd_grid"))

    for name, command, help_text in (
            ("preset", "cmd_preset", "list the params presets (quick, paper) or make one params.yaml"),
            ("profile", "cmd_profile", "deprecated: the old name of `searec preset`")):
        preset = sub.add_parser(name, help=help_text)
        preset.add_argument("action", choices=("list", "use"))
        preset.add_argument("name", nargs="?", help="the preset to use")
        preset.add_argument("--params", type=Path, default=Path("params.yaml"))
        preset.add_argument("--force", action="store_true", help="replace a params file with edits in no preset")
        preset.set_defaults(func=handler(f"project:{command}"))

    select = sub.add_parser("select", help="pick a model's grid point with the best validation metric")
    select.add_argument("--dataset", required=True)
    select.add_argument("--model", required=True)
    select.add_argument("--params", type=Path, default=Path("params.yaml"))
    select.add_argument("--search-root", type=Path, default=Path("search"), help="root of the grid runs")
    select.add_argument("--out", type=Path, default=None,
                        help="selection file (default search/<dataset>/selected/<model>.json)")
    select.set_defaults(func=handler("training:cmd_select"))

    models = sub.add_parser("models", help="list the models, or one model's hyper-parameters (defaults, meanings)")
    models.add_argument("name", nargs="?", help="a model: show its declared hyper-parameters and reference grid")
    models.set_defaults(func=handler("project:cmd_models"))

    datasets = sub.add_parser("datasets", help="list the release formats and the registered datasets")
    datasets.add_argument("--params", type=Path, default=Path("params.yaml"))
    datasets.set_defaults(func=handler("project:cmd_datasets"))

    generate = sub.add_parser("generate", help="rewrite the generated files (dvc.yaml, the params schema's models)")
    generate.add_argument("--params", type=Path, default=Path("params.yaml"))
    generate.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale, writing nothing")
    generate.add_argument("--mark", type=Path, metavar="FILE",
                          help="with --check: when all are current, write FILE (dvc.yaml's first stage does)")
    generate.set_defaults(func=handler("project:cmd_generate"))

    figures = sub.add_parser("figures", help="training curves, ablation bars, sensitivity lines, SEA's representations")
    figures.add_argument("--out", type=Path, default=Path("results/figures"))
    figures.add_argument("--params", type=Path, default=Path("params.yaml"))
    figures.add_argument("--runs-root", type=Path, default=Path("runs"))
    figures.add_argument("--tables", type=Path, default=Path("results/tables"), help="where the experiments' tables are")
    figures.add_argument("--data-root", type=Path, default=Path("data"), help="root of data/mmrec and data/graphs")
    figures.add_argument("--threads", type=thread_count, default=1,
                         help="torch threads for SEA's representations (0: the CPUs this process may use); "
                              "figures are bitwise equal only for equal counts")
    figures.set_defaults(func=handler("report:cmd_figures"))

    lineage = sub.add_parser("lineage", help="the chain of stages, parameters and hashes behind a file (from dvc.lock)")
    lineage.add_argument("path", type=Path, help="any output or input of the pipeline, e.g. results/tables/main.csv")
    lineage.add_argument("--lock", type=Path, default=Path("dvc.lock"), help="the lock file (default ./dvc.lock)")
    lineage.set_defaults(func=handler("project:cmd_lineage"))

    _add_data_commands(sub)
    return parser


WRITE_FAILURES = {errno.EACCES: "choose a folder you can write to",
                  errno.EPERM: "choose a folder you can write to",
                  errno.EROFS: "the file system is read-only: choose a writable folder",
                  errno.ENOSPC: "the disk is full: free space (or write elsewhere) and run the command again",
                  errno.EDQUOT: "the disk quota is used up: free space and run the command again"}
"""OSErrors that say the environment cannot take a write, with what the user can do about each."""

INTERRUPTED_EXIT = 130
BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a tool killed by the signal reports


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A user-fixable problem is one line and exit 2, never a traceback:
    :class:`SearecError`, a folder that cannot be written (read-only, no permission, disk full),
    an interruption (exit 130: every output is written atomically, so rerunning is safe), and a
    closed output pipe (``searec grid | head``)."""
    from searec.runtime import setup_logging

    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    prefix = f"searec {args.command}"
    try:
        return int(args.func(args))
    except SearecError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return BROKEN_PIPE_EXIT
    except OSError as error:
        if error.errno not in WRITE_FAILURES:
            raise
        where = error.filename or "a file"
        print(f"{prefix}: error: cannot write {where}: {error.strerror}; {WRITE_FAILURES[error.errno]}. "
              f"Nothing half-written was kept.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = (" to resume from the last complete epoch (the checkpoint)" if args.command == "train" else "")
        print(f"\n{prefix}: interrupted. Nothing half-written was kept (outputs are written atomically); run "
              f"the same command again{resume}.", file=sys.stderr)
        return INTERRUPTED_EXIT


def console_main() -> NoReturn:
    """The ``searec`` command and ``python -m searec``: :func:`main`, then :func:`exit_without_teardown`
    with its status. Under a profiler or tracer (``python -m cProfile -m searec``, ``coverage run``, a
    debugger) the exit stays an ordinary one: those tools write their results after the program
    returns. argparse's own exits (``--help``, usage errors) are ordinary ones too."""
    status = main()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(status)
    exit_without_teardown(status)


def exit_without_teardown(status: int) -> NoReturn:
    """End the process with ``status`` after everything a normal exit runs for the user, skipping the
    interpreter's teardown of its modules and objects.

    That teardown frees torch, pandas and every tensor one by one, which the operating system does at
    once when the process ends: 0.4 s in a process that only imported torch, 0.9-1.3 s after a
    training, paid by each of the ~30 processes of `make run` between one job and the next. Nothing
    of ours is lost by skipping it: every output is written atomically and closed before its command
    returns, no thread of ours outlives its command, and what is registered to run at exit still runs,
    first (the flush of logging's handlers, a profiler's or coverage hook, multiprocessing's clean-up),
    then the flush of stdout and stderr. ``os._exit`` is how a process leaves without the teardown;
    ``atexit._run_exitfuncs`` is the interpreter's own call of the exit handlers at a normal exit."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a reader gone, or a stream already closed: as a normal exit
            pass
    os._exit(status)
