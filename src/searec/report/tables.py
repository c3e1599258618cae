"""Aggregate ``metrics.json`` files of several seeds into mean ± std tables.

``<prefix>.csv`` is tidy (one row per dataset × model × split × metric, with mean, sample
standard deviation over seeds (ddof = 1; empty for a single seed), the number of seeds and
which). ``<prefix>.md`` shows the headline test metrics, one table per dataset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from searec.errors import AggregationError
from searec.fileio import atomic_path, write_text_atomic

log = logging.getLogger(__name__)

HEADLINE_COLUMNS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


def load_run_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    results = []
    for path in paths:
        try:
            result = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise AggregationError(f"{path}: cannot read run metrics ({error}); rerun that training stage") from None
        for key in ("model", "dataset", "seed", "valid", "test", "params"):
            if key not in result:
                raise AggregationError(f"{path}: missing {key!r}; not a searec metrics.json")
        result["_path"] = str(path)
        results.append(result)
    return results


def aggregate_results(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Tidy mean/std table; one configuration per (dataset, model), several seeds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["dataset"], result["model"]), []).append(result)
    rows = []
    for (dataset, model), runs in groups.items():
        seeds = [run["seed"] for run in runs]
        if len(set(seeds)) != len(seeds):
            raise AggregationError(f"{dataset}/{model}: seed(s) given twice: "
                                   f"{sorted(s for s in set(seeds) if seeds.count(s) > 1)}")
        configurations = {json.dumps(run["params"], sort_keys=True) for run in runs}
        if len(configurations) > 1:
            paths = ", ".join(run["_path"] for run in runs)
            raise AggregationError(f"{dataset}/{model}: runs with different hyper-parameters ({paths}); "
                                   f"aggregate one configuration at a time")
        for split in ("valid", "test"):
            metrics = sorted(set().union(*(run[split].keys() for run in runs)))
            for metric in metrics:
                values = np.array([run[split][metric] for run in runs], dtype=np.float64)
                rows.append({
                    "dataset": dataset, "model": model, "split": split, "metric": metric,
                    "mean": float(values.mean()),
                    "std": float(values.std(ddof=1)) if values.size > 1 else float("nan"),
                    "n_seeds": int(values.size), "seeds": " ".join(str(s) for s in sorted(seeds)),
                })
    return pd.DataFrame(rows, columns=["dataset", "model", "split", "metric", "mean", "std", "n_seeds", "seeds"])


def _cell(mean: float, std: float) -> str:
    return f"{mean:.4f}" if np.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def markdown_table(table: pd.DataFrame, columns: Sequence[str] = HEADLINE_COLUMNS) -> str:
    """Headline test metrics as Markdown, one section per dataset, models in input order."""
    lines: list[str] = []
    test = table[table["split"] == "test"]
    for dataset in dict.fromkeys(test["dataset"]):
        part = test[test["dataset"] == dataset]
        lines += [f"## {dataset} (test, mean ± std over seeds)", "",
                  "| model | " + " | ".join(c.replace("recall", "Recall").replace("ndcg", "NDCG") for c in columns)
                  + " | seeds |",
                  "|---|" + "---|" * len(columns) + "---|"]
        for model in dict.fromkeys(part["model"]):
            cells = []
            rows = part[part["model"] == model].set_index("metric")
            for column in columns:
                cells.append(_cell(rows.at[column, "mean"], rows.at[column, "std"]) if column in rows.index else "—")
            lines.append(f"| {model} | " + " | ".join(cells) + f" | {int(rows['n_seeds'].iloc[0])} |")
        lines.append("")
    return "\n".join(lines)


def write_tables(results: Sequence[dict[str, Any]], prefix: Path) -> pd.DataFrame:
    """Write ``<prefix>.csv`` and ``<prefix>.md`` atomically; return the tidy table."""
    table = aggregate_results(results)
    with atomic_path(prefix.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    write_text_atomic(prefix.with_suffix(".md"), markdown_table(table))
    log.info("aggregated %d runs into %s.{csv,md}", len(results), prefix)
    return table
