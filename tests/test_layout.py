"""Where runs go: experiments, variants and seeds expand to one folder per run."""

from pathlib import Path

import pytest

from searec.experiments import experiment_runs
from searec.layout import variant_of_run

PARAMS = {
    "seeds": [0, 1, 2],
    "experiments": {
        "main": {"datasets": ["a", "b"], "models": ["bpr", "sea"]},
        "ablation": {"datasets": ["a"], "models": ["sea"], "seeds": [5],
                     "variants": {"full": {}, "no-club": {"ureg": 0.0}}},
    },
}


def test_plain_experiments_use_the_global_seeds_and_the_default_folder() -> None:
    runs = experiment_runs(PARAMS, "main")
    assert len(runs) == 2 * 2 * 3 and {r.variant for r in runs} == {"default"}
    assert runs[0].directory() == Path("runs/a/bpr/default/seed-0")


def test_variants_get_their_folder_their_overrides_and_the_experiments_seeds() -> None:
    runs = experiment_runs(PARAMS, "ablation")
    assert [(r.variant, dict(r.overrides), r.seed) for r in runs] == [("ablation-full", {}, 5),
                                                                      ("ablation-no-club", {"ureg": 0.0}, 5)]
    assert runs[1].directory(Path("out")) == Path("out/a/sea/ablation-no-club/seed-5")
    assert variant_of_run(runs[1].directory() / "metrics.json") == "ablation-no-club"
    assert variant_of_run(Path("somewhere/metrics.json")) == "default"


def test_an_undeclared_experiment_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="experiments.sensitivity"):
        experiment_runs(PARAMS, "sensitivity")
