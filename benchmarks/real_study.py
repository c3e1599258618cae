"""Real-data study: every model selected on VALIDATION, then seeds of the chosen setting, and SEA's ablations.

    python benchmarks/real_study.py --data ../shared/data/tiktok --out benchmarks/out/tiktok \\
        [--models bpr,lightgcn,sea] [--grid sea:split=input,output] [--grid MODEL:KEY=V1,V2] \\
        [--search full|coordinate] [--per split] [--seeds 0,1,2] [--ablations] \\
        [--set KEY=VALUE] [--set MODEL:KEY=VALUE] [--jobs 2] [--summarize-only]

1. Grid (seed ``--selection-seed``, MMRec's 999): each model's grid is the ``grids`` entry of
   ``--params`` (default: the paper profile, MMRec's grids), with ``--grid`` replacing or adding
   axes. Axes named by ``--per`` (default ``split``, SEA's two readings) are not searched: each
   of their values is its own selection group.
   ``--search full`` trains the product of the other axes; ``coordinate`` varies one axis at a
   time from the grid value nearest the model's default, keeping each axis's best (fewer runs;
   the choice is said in the summary).
2. Seeds: each group's chosen configuration with every ``--seeds`` seed; test metrics as
   mean ± sample std over those seeds. ``--seeds 999`` (the selection seed) reports the chosen
   grid run's own test metrics: one seed, nothing retrained.
3. ``--ablations``: for SEA at its default reading, the chosen configuration with ``ureg: 0`` (no CLUB),
   ``alpha: 0`` (no Solosim) and both, with every seed.

``--set KEY=VALUE`` changes a training setting for all models, ``--set MODEL:KEY=VALUE`` for one
(e.g. ``--set sea:learning_rate=1e-4``, SEA.md's learning rate, or an epoch cap). Every run is
a run folder under --out (finished ones are reused, interrupted ones resume), so a study can be
stopped and continued, and ``--summarize-only`` reports whatever has finished.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from searec.params import reference_grid
from searec.settings import configured_settings, split_training_keys

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
PUBLISHED = {  # test R@10, R@20, N@10, N@20 (PROTOCOL.md / SEA.md), printed beside ours by dataset name
    "baby": {"bpr": (0.0357, 0.0575, 0.0192, 0.0249), "lightgcn": (0.0479, 0.0754, 0.0257, 0.0328)},
}
ABLATIONS = {"no CLUB (ureg 0)": {"ureg": 0.0}, "no Solosim (alpha 0)": {"alpha": 0.0},
             "neither": {"ureg": 0.0, "alpha": 0.0}}


@dataclass(frozen=True)
class Job:
    """One training run: a model configuration and a seed, in its own run folder."""

    model: str
    params: tuple[tuple[str, Any], ...]
    training: tuple[tuple[str, Any], ...]
    seed: int
    run_dir: str


@dataclass
class Group:
    """A selection group: one model, with fixed values of the ``--per`` axes."""

    model: str
    fixed: dict[str, Any]
    axes: dict[str, list[Any]]
    base: dict[str, Any]
    chosen: dict[str, Any] = field(default_factory=dict)
    grid_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.model + "".join(f" {k}={v}" for k, v in sorted(self.fixed.items()))


def parse_value(text: str) -> Any:
    """'1e-4' -> 0.0001 (PyYAML alone keeps exponent floats without a dot as strings)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_grid_overrides(texts: list[str]) -> dict[str, dict[str, list[Any]]]:
    overrides: dict[str, dict[str, list[Any]]] = {}
    for text in texts:
        model, _, assignment = text.partition(":")
        key, _, values = assignment.partition("=")
        if not (model and key and values):
            raise SystemExit(f"--grid expects MODEL:KEY=V1,V2, got {text!r}")
        overrides.setdefault(model, {})[key] = [parse_value(v) for v in values.split(",")]
    return overrides


def training_settings(params: dict[str, Any], texts: list[str], models: list[str]) -> dict[str, dict[str, Any]]:
    """Each model's training settings: the params file's (with ``models.<m>.training``), then
    ``--set [MODEL:]KEY=VALUE`` in order; always on the CPU."""
    per_model = {model: configured_settings(params, model).training | {"device": "cpu"} for model in models}
    for text in texts:
        head, _, value = text.partition("=")
        target, _, key = head.rpartition(":")
        if not key or not value:
            raise SystemExit(f"--set expects [MODEL:]KEY=VALUE, got {text!r}")
        for model in [target] if target else models:
            if model not in per_model:
                raise SystemExit(f"--set {text!r}: model {model!r} is not in --models")
            per_model[model][key] = parse_value(value)
    return per_model


def value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def run_name(model: str, varied: dict[str, Any], seed: int) -> str:
    return model + "".join(f"-{k}={value_text(v)}" for k, v in sorted(varied.items())) + f"-seed={seed}"


def product_configs(axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


def nearest(values: list[Any], target: Any) -> Any:
    """The grid value closest to the default (numeric axes), else the first value."""
    if isinstance(target, int | float) and all(isinstance(v, int | float) for v in values):
        return min(values, key=lambda v: abs(math.log(v / target)) if v > 0 and target > 0 else abs(v - target))
    return target if target in values else values[0]


def train_one(job: Job, data: str, threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    from searec.data.mmrec import load_mmrec_folder
    from searec.runtime import setup_logging
    from searec.training.config import TrainingConfig
    from searec.training.trainer import train_run

    setup_logging(log_file=Path(job.run_dir) / "train.log")
    dataset = load_mmrec_folder(data)
    return train_run(dataset, job.model, dict(job.params), TrainingConfig.from_mapping(dict(job.training)), job.seed,
                     Path(job.run_dir))


class Study:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.params = yaml.safe_load(args.params.read_text())
        self.models = args.models.split(",")
        self.training = training_settings(self.params, args.set, self.models)
        self.threads = max(1, len(os.sched_getaffinity(0)) // args.jobs)
        self.missing: list[str] = []

    # ------------------------------------------------------------------ running
    def job(self, group: Group, config: dict[str, Any], seed: int, tag: str = "") -> Job:
        varied = group.fixed | config  # the grid axes and any ablation change: what differs between runs
        folder = self.args.out / (tag + run_name(group.model, varied, seed))
        params, training = split_training_keys(group.base | group.fixed | config)  # grid axes may be training.<key>
        return Job(group.model, tuple(sorted(params.items())),
                   tuple(sorted((self.training[group.model] | training).items())), seed, str(folder))

    def run(self, jobs: list[Job]) -> list[dict[str, Any] | None]:
        """Results in job order; with --summarize-only, None for runs that have not finished."""
        if self.args.summarize_only:
            results: list[dict[str, Any] | None] = []
            for job in jobs:
                path = Path(job.run_dir) / "metrics.json"
                results.append(json.loads(path.read_text()) if path.exists() else None)
                if not path.exists():
                    self.missing.append(job.run_dir)
            return results
        print(f"training {len(jobs)} run(s), {self.args.jobs} at a time, {self.threads} thread(s) each", flush=True)
        with ProcessPoolExecutor(max_workers=self.args.jobs) as pool:
            return list(pool.map(train_one, jobs, itertools.repeat(str(self.args.data)),
                                 itertools.repeat(self.threads)))

    # ---------------------------------------------------------------- selection
    def groups(self) -> list[Group]:
        overrides = parse_grid_overrides(self.args.grid)
        per = set(self.args.per.split(",")) if self.args.per else set()
        groups = []
        for model in self.models:
            declared = (self.params.get("grids") or {}).get(model)
            grid = {k: list(v) for k, v in (reference_grid(model) if declared is None else declared).items()}
            grid |= overrides.get(model, {})
            fixed_axes = {k: v for k, v in grid.items() if k in per}
            searched = {k: v for k, v in grid.items() if k not in per}
            keys = sorted(fixed_axes)
            for values in itertools.product(*(fixed_axes[k] for k in keys)):
                base = configured_settings(self.params, model).model
                groups.append(Group(model, dict(zip(keys, values)), searched, base))
        return groups

    def select(self, groups: list[Group]) -> None:
        """Fill each group's ``chosen`` configuration from validation Recall@20 at the selection seed."""
        seed = self.args.selection_seed
        if self.args.search == "full":
            configs = {g.label: product_configs(g.axes) for g in groups}
            self._evaluate_configs(groups, configs, seed)
            for group in groups:
                group.chosen = self._best(group) or {}
            return
        # Coordinate search: every group advances one axis per round (their runs share a pool).
        current = {g.label: {k: nearest(v, g.base.get(k)) for k, v in g.axes.items()} for g in groups}
        for axis_round in range(max((len(g.axes) for g in groups), default=0)):
            configs = {}
            for group in groups:
                axes = sorted(group.axes)
                if axis_round < len(axes):
                    axis = axes[axis_round]
                    configs[group.label] = [current[group.label] | {axis: v} for v in group.axes[axis]]
            self._evaluate_configs(groups, configs, seed)
            for group in groups:
                best = self._best(group)
                if best is not None:
                    current[group.label] = best
        for group in groups:
            group.chosen = current[group.label]

    def _evaluate_configs(self, groups: list[Group], configs: dict[str, list[dict[str, Any]]], seed: int) -> None:
        pending = [(g, c) for g in groups for c in configs.get(g.label, [])
                   if not any(r["config"] == c for r in g.grid_results)]
        results = self.run([self.job(g, c, seed, "grid/") for g, c in pending])
        for (group, config), result in zip(pending, results):
            if result is not None:
                group.grid_results.append({"config": config, "valid": result["valid"]["recall@20"],
                                           "best_epoch": result["best_epoch"], "epochs_run": result["epochs_run"],
                                           "train_epoch_s": result["seconds"]["train_epoch_mean"]})

    @staticmethod
    def _best(group: Group) -> dict[str, Any] | None:
        if not group.grid_results:
            return None
        return max(group.grid_results, key=lambda r: r["valid"])["config"]

    # ------------------------------------------------------------------ report
    def seeded(self, groups: list[Group]) -> list[dict[str, Any]]:
        seeds = [int(s) for s in self.args.seeds.split(",")]
        rows = [(g, "chosen", g.chosen) for g in groups if g.chosen or not g.axes]
        if self.args.ablations:
            # At the default reading only (the released code's), as the "chosen setting".
            ablated = [g for g in groups if g.model == "sea" and (g.base | g.fixed).get("split") == g.base.get("split")]
            rows += [(g, name, g.chosen | change) for g in ablated for name, change in ABLATIONS.items()]
        # A seed equal to the selection seed is the grid run itself (``--seeds 999``: one seed, no retraining).
        jobs = [self.job(g, config, seed, "grid/" if seed == self.args.selection_seed else "seeds/")
                for g, _, config in rows for seed in seeds]
        results = self.run(jobs)
        table = []
        for index, (group, variant, config) in enumerate(rows):
            finished = [r for r in results[index * len(seeds): (index + 1) * len(seeds)] if r is not None]
            table.append({"group": group.label, "variant": variant, "config": config, "seeds": len(finished),
                          "valid": {k: [r["valid"][k] for r in finished] for k in HEADLINE},
                          "test": {k: [r["test"][k] for r in finished] for k in HEADLINE},
                          "seconds": [r["seconds"]["total"] for r in finished],
                          "best_epochs": [r["best_epoch"] for r in finished],
                          "epochs_run": [r["epochs_run"] for r in finished],
                          "train_epoch_s": [r["seconds"]["train_epoch_mean"] for r in finished]})
        return table


def mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def report(study: Study, groups: list[Group], table: list[dict[str, Any]]) -> str:
    lines = [f"# Study on {study.args.data} ({study.args.search} search on validation Recall@20, "
             f"selection seed {study.args.selection_seed}, test over seeds {study.args.seeds})", ""]
    for model in study.models:
        changed = {k: v for k, v in study.training[model].items() if study.params["training"].get(k) != v}
        lines.append(f"- {model} training: params.yaml's, with {json.dumps(changed) if changed else 'no changes'}")
    lines += ["", "## Grid (validation Recall@20, selection seed)", ""]
    for group in groups:
        lines.append(f"- **{group.label}** (chosen {json.dumps(group.chosen)}):")
        for result in sorted(group.grid_results, key=lambda r: -r["valid"]):
            lines.append(f"  - {json.dumps(result['config'])}: {result['valid']:.4f} (best epoch "
                         f"{result['best_epoch']}/{result['epochs_run']}, {result['train_epoch_s']:.1f} s/epoch)")
    lines += ["", "## Chosen settings (mean ± sample std over seeds; validation at the best epoch, test once)", "",
              "| model | variant | seeds | split | R@10 | R@20 | N@10 | N@20 | best epochs | s/epoch | run seconds |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in table:
        epochs = ",".join(f"{b}/{e}" for b, e in zip(row["best_epochs"], row["epochs_run"]))
        speed = f"{statistics.mean(row['train_epoch_s']):.1f}" if row["train_epoch_s"] else "—"
        total = f"{sum(row['seconds']):.0f} ({study.threads} thread(s) each)" if row["seconds"] else "—"
        for split in ("valid", "test"):
            lines.append(f"| {row['group']} | {row['variant']} | {row['seeds']} | {split} | "
                         + " | ".join(mean_std(row[split][k]) for k in HEADLINE) + f" | {epochs} | {speed} | {total} |")
    published = PUBLISHED.get(study.args.data.name, {})
    if published:
        lines += ["", "Published (MMRec, test): " + "; ".join(
            f"{m} " + " ".join(f"{v:.4f}" for v in values) for m, values in published.items())]
    if study.missing:
        lines += ["", f"Not finished yet ({len(study.missing)} runs): " + ", ".join(Path(m).name for m in study.missing)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="an MMRec folder, e.g. ../shared/data/tiktok")
    parser.add_argument("--out", type=Path, help="study folder (default benchmarks/out/<data folder name>)")
    parser.add_argument("--params", type=Path, default=PROJECT_ROOT / "src" / "searec" / "presets" / "paper.yaml",
                        help="models, training settings and MMRec's grids (default: the paper preset)")
    parser.add_argument("--models", default="bpr,lightgcn,sea")
    parser.add_argument("--grid", action="append", default=[], help="MODEL:KEY=V1,V2 (replaces or adds that axis)")
    parser.add_argument("--per", default="split", help="comma-separated axes whose values are separate groups")
    parser.add_argument("--search", choices=("full", "coordinate"), default="full")
    parser.add_argument("--selection-seed", type=int, default=999)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--ablations", action="store_true", help="SEA without CLUB / Solosim / both")
    parser.add_argument("--set", action="append", default=[], metavar="[MODEL:]KEY=VALUE")
    parser.add_argument("--jobs", type=int, default=2,
                        help="parallel runs (each gets usable cores // jobs threads; taskset restricts)")
    parser.add_argument("--summarize-only", action="store_true", help="train nothing; report finished runs")
    args = parser.parse_args()
    if not any(args.data.glob("*.inter")):
        raise SystemExit(f"{args.data}: no .inter file; pass --data an MMRec folder (e.g. ../shared/data/tiktok)")
    args.out = args.out or PROJECT_ROOT / "benchmarks" / "out" / args.data.name

    study = Study(args)
    groups = study.groups()
    study.select(groups)
    table = study.seeded(groups)
    text = report(study, groups, table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(text)
    (args.out / "summary.json").write_text(json.dumps(
        {"groups": [g.__dict__ for g in groups], "test": table, "missing": study.missing}, indent=2, default=str))
    print(text)
    print(f"wrote {args.out / 'summary.md'}")


if __name__ == "__main__":
    sys.exit(main())
