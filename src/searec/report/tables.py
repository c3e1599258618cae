"""Aggregate ``metrics.json`` files of several seeds into mean ± std tables, with SEA's significance.

``<prefix>.csv`` is tidy: one row per dataset × model × split × metric with the mean, the sample
standard deviation over seeds (ddof = 1; empty for a single seed), the number of seeds and which,
whether the model is the best of its column (``best``), and on the proposed model's (SEA's) test
rows its comparison with the best other model of that column: ``vs_model``, ``improvement_pct``
= 100 · (SEA − best baseline) / best baseline, and ``p_value``. ``<prefix>.md`` and
``<prefix>.tex`` show the headline test metrics, one table per dataset, the best of each column
in bold, and SEA's improvement with its p-value as the last row.

The test: two-sided Wilcoxon signed-rank test on paired per-user test metrics (each user's
value averaged over the seeds, from every run's ``test_per_user.parquet``), users with equal
values dropped (Wilcoxon's treatment of zero differences; ``scipy.stats.wilcoxon``); p = 1
when every user ties. Per-user metrics are far from normal (mostly zeros and a few 1/n values),
which is why a rank test, not a paired t-test.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from searec.errors import AggregationError
from searec.experiments import PROPOSED_MODEL
from searec.fileio import atomic_path, write_text_atomic
from searec.layout import DEFAULT_VARIANT, variant_of_run

log = logging.getLogger(__name__)

HEADLINE_COLUMNS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
PER_USER_FILE = "test_per_user.parquet"


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
        for split in ("valid", "test"):  # a NaN mean would sit in the table as if it were a result
            undefined = sorted(metric for metric, value in result[split].items() if not math.isfinite(value))
            if undefined:
                raise AggregationError(f"{path}: {split} metrics {undefined} are not numbers (no user was "
                                       f"evaluated?); retrain that run on a dataset with {split} users")
        result["_path"] = str(path)
        result["_variant"] = variant_of_run(Path(path))
        results.append(result)
    return results


def aggregate_results(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Tidy mean/std table; one configuration per (dataset, model), several seeds.

    ``setting`` is the grid point the runs trained (``searec select``'s choice, recorded in their
    ``metrics.json``); empty for runs without a grid search.
    """
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["dataset"], result["model"], result.get("_variant", DEFAULT_VARIANT)), []).append(result)
    rows = []
    for (dataset, model, variant), runs in groups.items():
        seeds = [run["seed"] for run in runs]
        if len(set(seeds)) != len(seeds):
            raise AggregationError(f"{dataset}/{model}/{variant}: seed(s) given twice: "
                                   f"{sorted(s for s in set(seeds) if seeds.count(s) > 1)}")
        configurations = {json.dumps(run["params"], sort_keys=True) for run in runs}
        if len(configurations) > 1:
            paths = ", ".join(run["_path"] for run in runs)
            raise AggregationError(f"{dataset}/{model}/{variant}: runs with different hyper-parameters ({paths}); "
                                   f"aggregate one configuration at a time")
        setting = " ".join(sorted({(run.get("selection") or {}).get("point", "") for run in runs}))
        for split in ("valid", "test"):
            metrics = sorted(set().union(*(run[split].keys() for run in runs)))
            for metric in metrics:
                values = np.array([run[split][metric] for run in runs], dtype=np.float64)
                rows.append({
                    "dataset": dataset, "model": model, "variant": variant, "setting": setting,
                    "split": split, "metric": metric,
                    "mean": float(values.mean()),
                    "std": float(values.std(ddof=1)) if values.size > 1 else float("nan"),
                    "n_seeds": int(values.size), "seeds": " ".join(str(s) for s in sorted(seeds)),
                })
    return pd.DataFrame(rows, columns=["dataset", "model", "variant", "setting", "split", "metric", "mean", "std",
                                       "n_seeds", "seeds"])


def _column_title(metric: str) -> str:
    return metric.replace("recall", "Recall").replace("ndcg", "NDCG")


def mark_best(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``best``: the highest mean of each dataset × split × metric (ties all marked)."""
    table = table.copy()
    top = table.groupby(["dataset", "split", "metric"])["mean"].transform("max")
    table["best"] = np.isclose(table["mean"], top, rtol=0, atol=1e-12)
    return table


def per_user_means(results: Sequence[dict[str, Any]], dataset: str, model: str, metric: str) -> pd.Series:
    """Each test user's ``metric`` averaged over the model's seeds (index: user id)."""
    frames = []
    for result in results:
        variant = result.get("_variant", DEFAULT_VARIANT)
        if result["dataset"] != dataset or result["model"] != model or variant != DEFAULT_VARIANT:
            continue
        path = Path(result["_path"]).parent / PER_USER_FILE
        try:
            frame = pd.read_parquet(path, columns=["user", metric])
        except (OSError, ValueError, KeyError) as error:
            raise AggregationError(f"{path}: cannot read per-user test metrics ({error}); runs trained before "
                                   f"per-user results existed lack it: rerun that training stage") from None
        frames.append(frame)
    return pd.concat(frames).groupby("user")[metric].mean()


def paired_wilcoxon(first: pd.Series, second: pd.Series) -> tuple[float, int]:
    """(two-sided p-value, number of paired users) of the Wilcoxon signed-rank test on shared users."""
    from scipy.stats import wilcoxon

    joined = pd.concat([first.rename("a"), second.rename("b")], axis=1, join="inner")
    differences = (joined["a"] - joined["b"]).to_numpy()
    if not np.any(differences != 0):
        return 1.0, len(joined)
    return float(wilcoxon(differences, zero_method="wilcox", alternative="two-sided").pvalue), len(joined)


def compare_with_best_baseline(results: Sequence[dict[str, Any]], table: pd.DataFrame,
                               proposed: str = PROPOSED_MODEL) -> pd.DataFrame:
    """Add ``vs_model``, ``improvement_pct``, ``p_value`` and ``paired_users`` to the proposed model's test rows."""
    table = table.copy()
    for column in ("vs_model", "improvement_pct", "p_value", "paired_users"):
        table[column] = None if column == "vs_model" else np.nan
    test = table[(table["split"] == "test") & (table["variant"] == DEFAULT_VARIANT)]  # variants: no baselines to beat
    for dataset in dict.fromkeys(test["dataset"]):
        part = test[test["dataset"] == dataset]
        if proposed not in set(part["model"]) or part["model"].nunique() < 2:
            continue
        for metric in HEADLINE_COLUMNS:
            rows = part[part["metric"] == metric]
            if rows.empty:
                continue
            others = rows[rows["model"] != proposed]
            baseline = others.loc[others["mean"].idxmax()]
            own = rows[rows["model"] == proposed].iloc[0]
            p_value, paired = paired_wilcoxon(per_user_means(results, dataset, proposed, metric),
                                              per_user_means(results, dataset, baseline["model"], metric))
            improvement = 100 * (own["mean"] - baseline["mean"]) / baseline["mean"] if baseline["mean"] else np.nan
            index = own.name
            table.loc[index, ["improvement_pct", "p_value", "paired_users"]] = [improvement, p_value, paired]
            table.loc[index, "vs_model"] = baseline["model"]
    return table


def _row_label(model: str, variant: str) -> str:
    return model if variant == DEFAULT_VARIANT else f"{model} {variant}"


def _dataset_rows(table: pd.DataFrame, dataset: str) -> tuple[list[str], pd.DataFrame]:
    """Row labels (model, plus the variant when not ``default``) in input order, and the dataset's test rows."""
    part = table[(table["split"] == "test") & (table["dataset"] == dataset)].copy()
    part["label"] = [_row_label(m, v) for m, v in zip(part["model"], part["variant"], strict=True)]
    return list(dict.fromkeys(part["label"])), part


def _metric_cells(part: pd.DataFrame, label: str, columns: Sequence[str], plus_minus: str, bold: str,
                  missing: str) -> tuple[list[str], int]:
    """One table row's cells (mean ± std, the column's best wrapped in ``bold`` % text) and its seed count."""
    rows = part[part["label"] == label].set_index("metric")
    cells = []
    for column in columns:
        if column not in rows.index:
            cells.append(missing)
            continue
        mean, std = rows.at[column, "mean"], rows.at[column, "std"]
        text = f"{mean:.4f}" if np.isnan(std) else f"{mean:.4f} {plus_minus} {std:.4f}"
        cells.append(bold % text if rows.at[column, "best"] else text)
    return cells, int(rows["n_seeds"].iloc[0])


def _improvement_cells(part: pd.DataFrame, proposed: str, columns: Sequence[str], template: str,
                       missing: str) -> list[str] | None:
    """The proposed model's improvement row (``template`` gets improvement, baseline, p), or None without one."""
    own = part[part["label"] == proposed].set_index("metric")
    if "improvement_pct" not in own or not own["improvement_pct"].notna().any():
        return None
    return [template.format(improvement=own.at[c, "improvement_pct"], baseline=own.at[c, "vs_model"],
                            p=own.at[c, "p_value"]) if c in own.index and pd.notna(own.at[c, "improvement_pct"])
            else missing for c in columns]


def _selected_settings(part: pd.DataFrame) -> str:
    """``label: point`` of every row trained with a grid-search selection, in row order."""
    rows = part.drop_duplicates("label")
    return ", ".join(f"{label}: {setting}" for label, setting in zip(rows["label"], rows["setting"], strict=True)
                     if isinstance(setting, str) and setting)


def markdown_table(table: pd.DataFrame, columns: Sequence[str] = HEADLINE_COLUMNS,
                   proposed: str = PROPOSED_MODEL) -> str:
    """Headline test metrics as Markdown, one section per dataset, models in input order, best in bold."""
    table = table if "best" in table else mark_best(table)
    lines: list[str] = []
    for dataset in dict.fromkeys(table[table["split"] == "test"]["dataset"]):
        labels, part = _dataset_rows(table, dataset)
        lines += [f"## {dataset} (test, mean ± std over seeds; best in bold)", "",
                  "| model | " + " | ".join(_column_title(c) for c in columns) + " | seeds |",
                  "|---|" + "---|" * len(columns) + "---|"]
        for label in labels:
            cells, seeds = _metric_cells(part, label, columns, "±", "**%s**", "—")
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {seeds} |")
        improvement = _improvement_cells(part, proposed, columns, "{improvement:+.1f} % vs {baseline} (p = {p:.2g})", "—")
        if improvement is not None:
            lines.append(f"| {proposed} vs best baseline | " + " | ".join(improvement) + " | |")
            lines += ["", "p: two-sided Wilcoxon signed-rank test on per-user test metrics (averaged over seeds)."]
        if settings := _selected_settings(part):
            lines += ["", f"Settings selected on validation: {settings}."]
        lines.append("")
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def latex_table(table: pd.DataFrame, columns: Sequence[str] = HEADLINE_COLUMNS, proposed: str = PROPOSED_MODEL) -> str:
    """The Markdown table's content as LaTeX ``tabular`` environments (booktabs rules), one per dataset."""
    table = table if "best" in table else mark_best(table)
    blocks: list[str] = []
    for dataset in dict.fromkeys(table[table["split"] == "test"]["dataset"]):
        labels, part = _dataset_rows(table, dataset)
        lines = [f"% {_latex_escape(dataset)}: test, mean $\\pm$ std over seeds; best in bold",
                 "\\begin{tabular}{l" + "c" * len(columns) + "}", "\\toprule",
                 "Model & " + " & ".join(_column_title(c) for c in columns) + " \\\\", "\\midrule"]
        for label in labels:
            cells, _ = _metric_cells(part, label, columns, "$\\pm$", "\\textbf{%s}", "--")
            lines.append(f"{_latex_escape(label)} & " + " & ".join(cells) + " \\\\")
        improvement = _improvement_cells(part, proposed, columns, "{improvement:+.1f}\\% ($p$ = {p:.2g})", "--")
        if improvement is not None:
            lines += ["\\midrule", f"Improv. of {_latex_escape(proposed)} & " + " & ".join(improvement) + " \\\\"]
        lines += ["\\bottomrule", "\\end{tabular}"]
        if settings := _selected_settings(part):
            lines.append(f"% settings selected on validation: {settings}")
        lines.append("")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def write_tables(results: Sequence[dict[str, Any]], prefix: Path, proposed: str = PROPOSED_MODEL) -> pd.DataFrame:
    """Write ``<prefix>.csv``, ``.md`` and ``.tex`` atomically; return the tidy table."""
    table = compare_with_best_baseline(results, mark_best(aggregate_results(results)), proposed)
    with atomic_path(prefix.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    write_text_atomic(prefix.with_suffix(".md"), markdown_table(table, proposed=proposed))
    write_text_atomic(prefix.with_suffix(".tex"), latex_table(table, proposed=proposed))
    log.info("aggregated %d runs into %s.{csv,md,tex}", len(results), prefix)
    return table
