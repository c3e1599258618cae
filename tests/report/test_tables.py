import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from searec.errors import AggregationError
from searec.report.tables import aggregate_results, load_run_results, markdown_table, write_tables


def _run(model: str, seed: int, recall20: float, params: dict | None = None) -> dict:
    metrics = {"recall@10": recall20 / 2, "recall@20": recall20, "ndcg@10": 0.1, "ndcg@20": 0.2}
    return {"model": model, "dataset": "toy", "seed": seed, "valid": metrics, "test": metrics,
            "params": params or {"reg": 1}, "_path": f"{model}-{seed}"}


def test_mean_and_sample_std_over_seeds() -> None:
    table = aggregate_results([_run("bpr", 0, 0.1), _run("bpr", 1, 0.2), _run("bpr", 2, 0.6), _run("lgn", 0, 0.5)])
    row = table[(table.model == "bpr") & (table.split == "test") & (table.metric == "recall@20")].iloc[0]
    assert row["mean"] == pytest.approx(0.3)
    assert row["std"] == pytest.approx(np.std([0.1, 0.2, 0.6], ddof=1))
    assert row["n_seeds"] == 3 and row["seeds"] == "0 1 2"
    single = table[(table.model == "lgn") & (table.metric == "recall@20")].iloc[0]
    assert np.isnan(single["std"])


def test_markdown_shows_mean_pm_std_in_input_order_with_the_best_in_bold() -> None:
    text = markdown_table(aggregate_results([_run("lgn", 0, 0.5), _run("bpr", 0, 0.1), _run("bpr", 1, 0.3)]))
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| model | Recall@10 | Recall@20 | NDCG@10 | NDCG@20")
    assert lines[1].startswith("| lgn | **0.2500** | **0.5000** |")
    assert "| bpr | 0.1000 ± 0.0707 | 0.2000 ± 0.1414 | **0.1000 ± 0.0000** |" in lines[2]  # ties: both bold


def test_duplicate_seeds_and_mixed_configurations_are_refused() -> None:
    with pytest.raises(AggregationError, match="seed"):
        aggregate_results([_run("bpr", 0, 0.1), _run("bpr", 0, 0.2)])
    with pytest.raises(AggregationError, match="different hyper-parameters"):
        aggregate_results([_run("bpr", 0, 0.1), _run("bpr", 1, 0.2, params={"reg": 2})])


def test_write_tables_from_files(tmp_path: Path) -> None:
    paths = []
    for seed in (0, 1):
        path = tmp_path / f"m{seed}.json"
        run = _run("bpr", seed, 0.1 * (seed + 1))
        run.pop("_path")
        run["selection"] = {"point": "reg_weight=0.1", "file": "search/toy/selected/bpr.json"}  # searec train --selected
        path.write_text(json.dumps(run))
        paths.append(path)
    write_tables(load_run_results(paths), tmp_path / "out" / "main")
    table = pd.read_csv(tmp_path / "out" / "main.csv")
    assert list(table.columns[:7]) == ["dataset", "model", "variant", "setting", "split", "metric", "mean"]
    assert set(table["setting"]) == {"reg_weight=0.1"}
    assert "Settings selected on validation: bpr: reg_weight=0.1." in (tmp_path / "out" / "main.md").read_text()
    assert "% settings selected on validation: bpr: reg_weight=0.1" in (tmp_path / "out" / "main.tex").read_text()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AggregationError, match="bad.json"):
        load_run_results([tmp_path / "bad.json"])


def _write_run(folder: Path, model: str, seed: int, per_user_recall: np.ndarray) -> Path:
    """A run folder with metrics.json (means of the per-user values) and test_per_user.parquet."""
    import pandas as pd

    folder.mkdir(parents=True)
    frame = pd.DataFrame({"user": np.arange(per_user_recall.size), "recall@20": per_user_recall,
                          "recall@10": per_user_recall / 2, "ndcg@10": per_user_recall / 4, "ndcg@20": per_user_recall / 3})
    frame.to_parquet(folder / "test_per_user.parquet", index=False)
    means = {c: float(frame[c].mean()) for c in frame.columns if c != "user"}
    (folder / "metrics.json").write_text(json.dumps({"model": model, "dataset": "toy", "seed": seed, "valid": means,
                                                    "test": means, "params": {}}))
    return folder / "metrics.json"


def test_sea_against_the_best_baseline_with_a_paired_wilcoxon_test(tmp_path: Path) -> None:
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(0)
    base = rng.random(200)
    paths = []
    for seed in (0, 1):
        paths.append(_write_run(tmp_path / f"bpr{seed}", "bpr", seed, base * 0.5))
        paths.append(_write_run(tmp_path / f"lgn{seed}", "lightgcn", seed, base))
        paths.append(_write_run(tmp_path / f"sea{seed}", "sea", seed, base + 0.05 * (seed + 1) * (rng.random(200) > 0.3)))
    table = write_tables(load_run_results(paths), tmp_path / "main")
    row = table[(table.model == "sea") & (table.split == "test") & (table.metric == "recall@20")].iloc[0]
    sea_users = np.mean([np.asarray(__import__("pandas").read_parquet(tmp_path / f"sea{s}" / "test_per_user.parquet")
                                    ["recall@20"]) for s in (0, 1)], axis=0)
    assert row["vs_model"] == "lightgcn" and bool(row["best"])
    assert row["improvement_pct"] == pytest.approx(100 * (sea_users.mean() - base.mean()) / base.mean())
    differences = sea_users - base
    assert row["p_value"] == pytest.approx(wilcoxon(differences[differences != 0]).pvalue)
    assert row["p_value"] < 1e-6 and row["paired_users"] == 200
    markdown = (tmp_path / "main.md").read_text()
    assert "| sea vs best baseline | +" in markdown and "vs lightgcn (p = " in markdown
    assert "**" in [line for line in markdown.splitlines() if line.startswith("| sea |")][0]
    assert "**" not in [line for line in markdown.splitlines() if line.startswith("| bpr |")][0]
    latex = (tmp_path / "main.tex").read_text()
    assert "\\begin{tabular}{lcccc}" in latex and "\\textbf{" in latex and "Improv. of sea" in latex


def test_identical_models_tie_with_p_one_and_a_missing_per_user_file_is_named(tmp_path: Path) -> None:
    values = np.linspace(0, 1, 50)
    paths = [_write_run(tmp_path / "lgn", "lightgcn", 0, values), _write_run(tmp_path / "sea", "sea", 0, values)]
    table = write_tables(load_run_results(paths), tmp_path / "main")
    row = table[(table.model == "sea") & (table.split == "test") & (table.metric == "ndcg@20")].iloc[0]
    assert row["p_value"] == 1.0 and row["improvement_pct"] == 0.0
    (tmp_path / "lgn" / "test_per_user.parquet").unlink()
    with pytest.raises(AggregationError, match="lgn/test_per_user.parquet"):
        write_tables(load_run_results(paths), tmp_path / "again")


def test_variants_are_rows_of_their_own_and_get_no_significance_row(tmp_path: Path) -> None:
    values = np.linspace(0, 1, 40)
    paths = [_write_run(tmp_path / "runs" / "toy" / "sea" / variant / f"seed-{seed}", "sea", seed, values * scale)
             for variant, scale in (("ablation-full", 1.0), ("ablation-no-club", 0.5)) for seed in (0, 1)]
    table = write_tables(load_run_results(paths), tmp_path / "ablation")
    assert set(table["variant"]) == {"ablation-full", "ablation-no-club"} and table["p_value"].isna().all()
    markdown = (tmp_path / "ablation.md").read_text()
    assert "| sea ablation-full | **" in markdown and "| sea ablation-no-club | 0." in markdown
    assert "vs best baseline" not in markdown


def test_a_run_with_nan_metrics_is_refused_naming_its_file(tmp_path: Path) -> None:
    run = _run("bpr", 0, float("nan"))
    run.pop("_path")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(run))  # json writes NaN, as metrics of 0 evaluated users once did
    with pytest.raises(AggregationError, match=r"nan.json: valid metrics \['recall@10', 'recall@20'\] are not numbers"):
        load_run_results([path])
