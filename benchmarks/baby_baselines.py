"""BPR-MF and LightGCN on real Amazon Baby, selected on validation over MMRec's grids.

    python benchmarks/baby_baselines.py [--data ../shared/data/baby] [--jobs 2]
        [--grid bpr:reg_weight=0.1,0.01] [--grid lightgcn:n_layers=2,3] [--max-configs N]

Grids default to params.yaml's ``grids`` section; ``--grid MODEL:KEY=V1,V2`` replaces one axis.
Each configuration is one run folder under --out (a finished one is reused, an interrupted one
resumes), trained with params.yaml's ``training`` settings. Among all finished runs under --out
(so trimmed grids of several invocations add up), the configuration with the best VALIDATION
Recall@20 is selected; its test metrics are printed beside MMRec's published numbers.
The data folder's split is not MMRec's (see its README), so expect numbers near, not equal.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MMREC_PUBLISHED = {  # test Recall@10, Recall@20, NDCG@10, NDCG@20 on Baby (PROTOCOL.md)
    "bpr": (0.0357, 0.0575, 0.0192, 0.0249),
    "lightgcn": (0.0479, 0.0754, 0.0257, 0.0328),
}
HEADLINE = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


def parse_grid_overrides(texts: list[str]) -> dict[str, dict[str, list[Any]]]:
    overrides: dict[str, dict[str, list[Any]]] = {}
    for text in texts:
        model, _, assignment = text.partition(":")
        key, _, values = assignment.partition("=")
        if not (model and key and values):
            raise SystemExit(f"--grid expects MODEL:KEY=V1,V2, got {text!r}")
        overrides.setdefault(model, {})[key] = [parse_value(v) for v in values.split(",")]
    return overrides


def parse_value(text: str) -> Any:
    """'1e-4' -> 0.0001 (PyYAML alone would keep exponent floats without a dot as strings)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def configurations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def run_name(model: str, config: dict[str, Any]) -> str:
    return model + "".join(f"-{k}={v:g}" if isinstance(v, float) else f"-{k}={v}" for k, v in sorted(config.items()))


def train_one(job: tuple[str, str, dict[str, Any], dict[str, Any], int, str, int]) -> dict[str, Any]:
    data, model, params, training, seed, run_dir, threads = job
    import torch

    torch.set_num_threads(threads)
    from searec.data.mmrec import load_mmrec_folder
    from searec.runtime import setup_logging
    from searec.training.config import TrainingConfig
    from searec.training.trainer import train_run

    setup_logging(log_file=Path(run_dir) / "train.log")
    dataset = load_mmrec_folder(data)
    return train_run(dataset, model, params, TrainingConfig.from_mapping(training), seed, Path(run_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared" / "data" / "baby")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "out" / "baby")
    parser.add_argument("--params", type=Path, default=PROJECT_ROOT / "params.yaml")
    parser.add_argument("--models", default="bpr,lightgcn")
    parser.add_argument("--grid", action="append", default=[], help="MODEL:KEY=V1,V2 (replaces that axis)")
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs (each gets cores // jobs threads)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="training setting override")
    parser.add_argument("--summarize-only", action="store_true", help="train nothing; summarise finished runs")
    args = parser.parse_args()
    if not (args.data / "baby.inter").exists():
        raise SystemExit(f"{args.data}: no baby.inter (the real Baby folder of ../shared/data); pass --data")

    params = yaml.safe_load(args.params.read_text())
    training = dict(params["training"]) | {"device": "cpu"}
    for text in args.set:
        key, _, value = text.partition("=")
        training[key] = parse_value(value)
    overrides = parse_grid_overrides(args.grid)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    jobs = []
    per_model = {}
    for model in args.models.split(","):
        grid = {key: list(values) for key, values in params["grids"][model].items()}
        grid.update(overrides.get(model, {}))
        base = dict(params["models"][model])
        per_model[model] = [base | config for config in configurations(grid)]
    # Interleave the models so that every model has results early.
    for group in itertools.zip_longest(*per_model.values()):
        for model, config in zip(per_model, group):
            if config is None:
                continue
            run_dir = args.out / run_name(model, {k: config[k] for k in sorted(config)})
            jobs.append((str(args.data), model, config, training, args.seed, str(run_dir), threads))
    if not args.summarize_only:
        print(f"{len(jobs)} configurations, {args.jobs} at a time, {threads} thread(s) each", flush=True)
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(train_one, jobs))
    summarize(args.out, list(per_model))


def summarize(out: Path, models: list[str]) -> None:
    """Every finished run under ``out`` (this invocation's grid or earlier ones), selected on validation."""
    rows = []
    for path in sorted(out.glob("*/metrics.json")):
        result = json.loads(path.read_text())
        if result["model"] not in models:
            continue
        config = {k: v for k, v in result["params"].items() if k != "training"}
        rows.append({"model": result["model"], "config": config, "valid_recall@20": result["valid"]["recall@20"],
                     "test": {k: result["test"][k] for k in HEADLINE}, "best_epoch": result["best_epoch"],
                     "epochs_run": result["epochs_run"], "seconds": result["seconds"], "run": str(path.parent)})
    print("\nall finished configurations (validation Recall@20 decides):")
    for row in rows:
        print(f"  {row['model']:9s} {json.dumps(row['config'])}: valid R@20 {row['valid_recall@20']:.4f}, "
              f"best epoch {row['best_epoch']}/{row['epochs_run']}, {row['seconds']['train_epoch_mean']:.2f} s/epoch "
              f"train + {row['seconds']['eval_mean']:.2f} s eval")
    print("\nselected on validation -> test (ours | MMRec published), R@10 R@20 N@10 N@20:")
    for model in models:
        candidates = [r for r in rows if r["model"] == model]
        if not candidates:
            continue
        best = max(candidates, key=lambda r: r["valid_recall@20"])
        ours = " ".join(f"{best['test'][k]:.4f}" for k in HEADLINE)
        published = " ".join(f"{v:.4f}" for v in MMREC_PUBLISHED[model])
        print(f"  {model:9s} {json.dumps(best['config'])}: {ours} | {published}  "
              f"(of {len(candidates)} configurations; best epoch {best['best_epoch']})")
    summary = out / "summary.json"
    summary.write_text(json.dumps(rows, indent=2))
    print(f"\nwrote {summary}")


if __name__ == "__main__":
    sys.exit(main())
