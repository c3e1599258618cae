"""Figures of the paper's argument, from the pipeline's run folders and tables (PNG and PDF, one style).

* ``training-<dataset>``: the validation metric (``training.valid_metric``) per epoch of every model (mean over seeds, a
  line per model) and, one panel per model, each logged term per epoch as it entered the loss,
  divided by its largest absolute value (shown in the legend) so that terms of very different
  size (SEA's BPR vs its CLUB terms and the variational net's log-likelihood) are all visible.
* ``ablation``: test Recall@20 and NDCG@20 of each ablation variant, mean ± std over seeds.
* ``sensitivity``: test Recall@20 against each swept hyper-parameter (α, ureg, τ), mean ± std.
* ``representations-<dataset>``: a 2-D PCA of SEA's generic and unique item representations
  per modality (input reading: the two halves of each projected feature matrix E_m; output
  reading: the halves of the graph encoder's item output Z_m) — the separation the paper is
  about: generic parts of the two modalities should overlap, unique parts should not.

Colours follow matplotlib's default cycle; every figure is written as ``<name>.png`` (150 dpi)
and ``<name>.pdf``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from searec.errors import SearecError
from searec.fileio import atomic_path
from searec.layout import DEFAULT_VARIANT, variant_of_run

log = logging.getLogger(__name__)
METRIC_LABELS = {"recall": "Recall", "ndcg": "NDCG", "precision": "Precision", "map": "MAP"}
STYLE = {"figure.dpi": 100, "savefig.dpi": 150, "font.size": 9, "axes.spines.top": False,
         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False}


class FigureError(SearecError):
    """A figure's inputs are missing or unusable."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def save_figure(figure: Any, out_dir: Path, name: str) -> list[Path]:
    """``<name>.png`` and ``<name>.pdf`` written atomically; the figure is closed."""
    paths = []
    for suffix in ("png", "pdf"):
        path = Path(out_dir) / f"{name}.{suffix}"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=suffix, bbox_inches="tight", metadata={"CreationDate": None}
                           if suffix == "pdf" else None)
        paths.append(path)
    _pyplot().close(figure)
    return paths


def read_histories(metrics_paths: Sequence[Path]) -> pd.DataFrame:
    """Every run's history.csv with ``dataset``, ``model``, ``variant`` and ``seed`` columns."""
    import json

    frames = []
    for metrics_path in metrics_paths:
        run = Path(metrics_path).parent
        result = json.loads(Path(metrics_path).read_text(encoding="utf-8"))
        try:
            history = pd.read_csv(run / "history.csv")
        except OSError as error:
            raise FigureError(f"{run / 'history.csv'}: cannot read ({error}); rerun that training stage") from None
        frames.append(history.assign(dataset=result["dataset"], model=result["model"], seed=result["seed"],
                                     variant=variant_of_run(Path(metrics_path))))
    if not frames:
        raise FigureError("no runs given")
    return pd.concat(frames, ignore_index=True)


def training_curves(histories: pd.DataFrame, out_dir: Path, valid_metric: str = "recall@20") -> list[Path]:
    """Per dataset: the validation metric per epoch (mean over seeds) and every model's loss terms."""
    plt = _pyplot()
    written = []
    main = histories[histories["variant"] == DEFAULT_VARIANT]
    for dataset in sorted(main["dataset"].unique()):
        part = main[main["dataset"] == dataset]
        models = list(dict.fromkeys(part["model"]))
        columns = 4
        rows = 1 + -(-len(models) // columns)
        figure, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 2.3 * rows), squeeze=False)
        curve = axes[0][0]
        for model in models:
            mean = part[part["model"] == model].groupby("epoch")[f"valid_{valid_metric}"].mean()
            curve.plot(mean.index, mean.values, label=model, linewidth=1)
        name, _, k = valid_metric.partition("@")
        curve.set(title=f"{dataset}: validation {METRIC_LABELS.get(name, name)}@{k}", xlabel="epoch")
        curve.legend(fontsize=6, ncol=2)
        for axis in axes[0][1:]:
            axis.axis("off")
        for index, model in enumerate(models):
            axis = axes[1 + index // columns][index % columns]
            runs = part[part["model"] == model]
            terms = [c for c in runs.columns if c.startswith("loss_") and runs[c].notna().any()]
            for term in terms:
                mean = runs.groupby("epoch")[term].mean()
                scale = float(mean.abs().max()) or 1.0  # terms differ by orders of magnitude: each on its own scale
                axis.plot(mean.index, mean.values / scale, label=f"{term[len('loss_'):]} (÷{scale:.2g})", linewidth=1)
            axis.set(title=f"{model}: loss terms", xlabel="epoch")
            axis.legend(fontsize=6)
        for index in range(len(models), (rows - 1) * columns):
            axes[1 + index // columns][index % columns].axis("off")
        figure.tight_layout()
        written += save_figure(figure, out_dir, f"training-{dataset}")
    return written


def _test_rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = table[(table["split"] == "test") & (table["metric"] == metric)]
    if rows.empty:
        raise FigureError(f"the table has no test {metric}")
    return rows


def ablation_bars(table: pd.DataFrame, out_dir: Path, metrics: Sequence[str] = ("recall@20", "ndcg@20")) -> list[Path]:
    """Bars of each variant's test metric with ± std whiskers, one panel per dataset × metric."""
    plt = _pyplot()
    datasets = list(dict.fromkeys(table["dataset"]))
    figure, axes = plt.subplots(len(datasets), len(metrics), figsize=(4.2 * len(metrics), 2.8 * len(datasets)),
                                squeeze=False)
    for row, dataset in enumerate(datasets):
        for column, metric in enumerate(metrics):
            rows = _test_rows(table[table["dataset"] == dataset], metric)
            labels = [v.split("-", 1)[1] if "-" in v else v for v in rows["variant"]]
            axis = axes[row][column]
            axis.bar(labels, rows["mean"], yerr=rows["std"].fillna(0), capsize=3, color="C0")
            axis.set(title=f"{dataset}: test {metric}")
            axis.tick_params(axis="x", labelrotation=30, labelsize=7)
    figure.tight_layout()
    return save_figure(figure, out_dir, "ablation")


def sensitivity_lines(table: pd.DataFrame, variants: dict[str, dict[str, Any]], out_dir: Path,
                      metric: str = "recall@20") -> list[Path]:
    """Test ``metric`` against each swept hyper-parameter; ``variants`` maps a variant name to its one change."""
    plt = _pyplot()
    swept: dict[str, list[tuple[float, str]]] = {}
    for name, change in variants.items():
        if len(change or {}) != 1:
            raise FigureError(f"sensitivity variant {name!r} changes {sorted(change or {})}; "
                              "a sweep point changes one value")
        (key, value), = change.items()
        swept.setdefault(key, []).append((float(value), f"sensitivity-{name}"))
    rows = _test_rows(table, metric)
    datasets = list(dict.fromkeys(rows["dataset"]))
    figure, axes = plt.subplots(1, len(swept), figsize=(3.4 * len(swept), 2.6), squeeze=False)
    for axis, (key, points) in zip(axes[0], sorted(swept.items()), strict=True):
        points.sort()
        for dataset in datasets:
            part = rows[rows["dataset"] == dataset].set_index("variant")
            present = [(x, v) for x, v in points if v in part.index]
            xs = np.array([x for x, _ in present])
            means = np.array([part.at[v, "mean"] for _, v in present])
            stds = np.nan_to_num(np.array([part.at[v, "std"] for _, v in present]))
            axis.plot(xs, means, marker="o", linewidth=1, label=dataset)
            axis.fill_between(xs, means - stds, means + stds, alpha=0.2)
        if all(x > 0 for x, _ in points):
            axis.set_xscale("log")
        axis.set(title=f"test {metric} vs {key}", xlabel=key)
        axis.legend(fontsize=7)
    figure.tight_layout()
    return save_figure(figure, out_dir, "sensitivity")


def pca_2d(blocks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Project several row blocks with one PCA (fitted on all rows, each block's width padded to the widest).

    The SVD and the projection run in torch, whose thread count ``searec figures --threads`` sets.
    numpy's LAPACK and BLAS take theirs from ``OMP_NUM_THREADS``, which Snakemake sets to the rule's
    threads and DVC leaves unset (every core), and round differently per count: the two tools drew
    the representations PDF with different coordinates (the PNG rounded them away).
    """
    import torch

    width = max(block.shape[1] for block in blocks)
    padded = [np.pad(np.asarray(b, np.float64), ((0, 0), (0, width - b.shape[1]))) for b in blocks]
    stacked = torch.from_numpy(np.concatenate(padded))
    centred = stacked - stacked.mean(dim=0)
    _, _, vt = torch.linalg.svd(centred, full_matrices=False)
    projected = (centred @ vt[:2].T).numpy()
    sizes = np.cumsum([len(b) for b in blocks])[:-1]
    return np.split(projected, sizes)


def sea_item_parts(metrics_path: Path, data: Path, graph_cache: Path | None) -> dict[str, np.ndarray]:
    """SEA's generic and unique item representations per modality, from a finished run (``<modality> generic``...)."""
    import json

    import torch

    from searec.data.mmrec import load_mmrec_folder
    from searec.models import ModelInputs
    from searec.models.sea import SEA

    result = json.loads(Path(metrics_path).read_text(encoding="utf-8"))
    params = {k: v for k, v in result["params"].items() if k != "training"}
    dataset = load_mmrec_folder(data)
    model = SEA(ModelInputs.from_dataset(dataset, graph_cache), params)
    model.load_state_dict(torch.load(Path(metrics_path).parent / "model.pt", weights_only=True))
    parts = {}
    for modality, (generic, unique) in model.item_parts().items():
        parts[f"{modality} generic"], parts[f"{modality} unique"] = generic.numpy(), unique.numpy()
    return parts


def representation_pca(parts: dict[str, np.ndarray], out_dir: Path, name: str) -> list[Path]:
    """Scatter of the 2-D PCA of every part (one colour each, generic filled, unique hollow)."""
    plt = _pyplot()
    labels = list(parts)
    points = pca_2d([parts[label] for label in labels])
    figure, axis = plt.subplots(figsize=(4.2, 3.6))
    for index, (label, xy) in enumerate(zip(labels, points, strict=True)):
        hollow = "unique" in label
        axis.scatter(xy[:, 0], xy[:, 1], s=6, label=label, alpha=0.6,
                     facecolors="none" if hollow else f"C{index}", edgecolors=f"C{index}", linewidths=0.5)
    axis.set(title=f"{name}: item representations (PCA)", xlabel="PC 1", ylabel="PC 2")
    axis.legend(fontsize=7, markerscale=2)
    figure.tight_layout()
    return save_figure(figure, out_dir, f"representations-{name}")
