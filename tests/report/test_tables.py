import json
from pathlib import Path

import numpy as np
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


def test_markdown_shows_mean_pm_std_in_input_order() -> None:
    text = markdown_table(aggregate_results([_run("lgn", 0, 0.5), _run("bpr", 0, 0.1), _run("bpr", 1, 0.3)]))
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| model | Recall@10 | Recall@20 | NDCG@10 | NDCG@20")
    assert lines[1].startswith("| lgn | 0.2500 | 0.5000 |")
    assert "| bpr | 0.1000 ± 0.0707 | 0.2000 ± 0.1414 |" in lines[2]


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
        path.write_text(json.dumps(run))
        paths.append(path)
    write_tables(load_run_results(paths), tmp_path / "out" / "main")
    assert (tmp_path / "out" / "main.csv").read_text().startswith("dataset,model,split,metric,mean,std")
    assert "bpr" in (tmp_path / "out" / "main.md").read_text()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AggregationError, match="bad.json"):
        load_run_results([tmp_path / "bad.json"])
