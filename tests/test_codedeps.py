"""The source files each stage runs: followed from its command function, precise at the entry."""

import pytest

from searec.codedeps import source_hashes, stage_sources, training_sources

ROOT = "src/searec/"


def test_a_training_runs_its_model_and_the_trainer_but_no_other_model_nor_the_report() -> None:
    files = set(training_sources("bpr"))
    assert {ROOT + name for name in ("models/bpr.py", "models/base.py", "models/losses.py", "training/trainer.py",
                                     "training/sampling.py", "commands/training.py", "cli.py")} <= files
    assert not {f for f in files if f.startswith(ROOT + "report/") or f.endswith(("/sea.py", "/lightgcn.py"))}
    assert ROOT + "models/backbone.py" in training_sources("sea") and ROOT + "models/backbone.py" not in files


def test_the_entry_function_is_read_precisely_the_rest_whole() -> None:
    """aggregate and figures share commands/report.py; each reaches only its own report module."""
    tables = set(stage_sources("searec.commands.report:cmd_aggregate"))
    figures = set(stage_sources("searec.commands.report:cmd_figures"))
    assert ROOT + "report/tables.py" in tables and ROOT + "report/figures.py" not in tables
    assert ROOT + "report/figures.py" in figures and ROOT + "models/sea.py" in figures  # the figure rebuilds SEA
    assert ROOT + "commands/report.py" in tables & figures


def test_package_data_a_module_reads_counts_as_its_code() -> None:
    download = set(stage_sources("searec.commands.data:cmd_download"))
    assert {ROOT + "data/registry.yaml", ROOT + "data/sample_catalog", ROOT + "data/releases.py"} <= download
    hashes = source_hashes([ROOT + "data/sample_catalog", ROOT + "cli.py"])
    assert all(len(digest) == 64 for digest in hashes.values())
    with pytest.raises(ValueError, match="no function 'cmd_nothing'"):
        stage_sources("searec.commands.report:cmd_nothing")
