"""A run folder is never corrupted: one process at a time, nothing written before the identity check,
the thread count part of what a run is, only the run's own outputs written, clear refusals."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from searec.cli import INTERRUPTED_EXIT, main
from searec.fileio import exclusive_lock
from searec.layout import RUN_LOCK
from tests.conftest import write_inter


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (the lock file aside: it only names its holder)."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != RUN_LOCK}


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--model", "bpr", "--out", str(out), "--threads", "1", "--set", "epochs=2",
            "--set", "embedding_size=8", *extra]


def test_a_refused_run_leaves_a_finished_run_folder_byte_for_byte(tiny_synth: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(train_args(tiny_synth, run, "--set", "learning_rate=0.01")) == 0
    before = digests(run)
    capsys.readouterr()
    assert main(train_args(tiny_synth, run, "--set", "learning_rate=0.001", "--set", "epochs=3")) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "training.learning_rate: 0.01 -> 0.001" in err
    assert "Traceback" not in err
    assert digests(run) == before  # config.yaml, train.log, metrics.json, model.pt: untouched


def test_resuming_with_another_thread_count_is_refused(tiny_synth: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(train_args(tiny_synth, run)) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["threads"] == 1 and "threads: 1" in (run / "config.yaml").read_text()
    assert "1 CPU thread(s)" in (run / "train.log").read_text()
    before = digests(run)
    capsys.readouterr()
    args = train_args(tiny_synth, run)
    args[args.index("--threads") + 1] = "2"
    assert main(args) == 2
    assert "threads: 1 -> 2" in capsys.readouterr().err
    assert digests(run) == before


def test_a_second_process_on_the_same_folder_exits_2_naming_the_holder(tiny_synth: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with exclusive_lock(run / RUN_LOCK):  # this test process holds the folder, as a running trainer does
        second = subprocess.run([sys.executable, "-m", "searec", *train_args(tiny_synth, run)], capture_output=True,
                                text=True, timeout=300)
    assert second.returncode == 2, second.stderr
    assert "is in use by pid" in second.stderr and "Traceback" not in second.stderr
    assert sorted(p.name for p in run.iterdir()) == [RUN_LOCK]  # it wrote nothing
    assert main(train_args(tiny_synth, run)) == 0  # the lock went with its holder


def test_ctrl_c_says_how_to_resume_and_the_same_command_resumes(tiny_synth: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from searec.training import trainer

    run = tmp_path / "run"
    original = trainer.Trainer._train_epoch

    def interrupted_at_epoch_2(self, model, optimizer, sampler, rng, epoch):  # type: ignore[no-untyped-def]
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, model, optimizer, sampler, rng, epoch)

    monkeypatch.setattr(trainer.Trainer, "_train_epoch", interrupted_at_epoch_2)
    assert main(train_args(tiny_synth, run, "--checkpoint-seconds", "0")) == INTERRUPTED_EXIT
    err = capsys.readouterr().err
    assert "interrupted" in err and "run the same command again to resume" in err and "Traceback" not in err
    assert (run / "checkpoint.pt").exists() and not (run / "metrics.json").exists()
    monkeypatch.setattr(trainer.Trainer, "_train_epoch", original)
    assert main(train_args(tiny_synth, run)) == 0
    log = (run / "train.log").read_text()
    assert "resuming" in log and log.count("epoch 1:") == 1 and log.count("epoch 2:") == 1


@pytest.mark.parametrize(("label", "split"), [(2, "valid"), (1, "test")])
def test_a_folder_with_an_empty_evaluation_split_is_refused_before_training(
        label: int, split: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(u, i, 0) for u in range(6) for i in range(5)] + [(u, 5, label) for u in range(6)]
    write_inter(tmp_path / "data", rows)
    run = tmp_path / "run"
    assert main(train_args(tmp_path / "data", run)) == 2
    err = capsys.readouterr().err
    assert f"the {split} split is empty" in err and str(tmp_path / "data") in err
    assert not run.exists()


def test_training_never_writes_into_the_graph_stage_folder(tmp_path: Path, tiny_synth: Path) -> None:
    """``--graph-cache data/graphs/<d>`` is another stage's tracked output: read, never written."""
    from searec.data.mmrec import load_mmrec_folder
    from searec.graphs import write_graph_artifacts

    dataset = load_mmrec_folder(tiny_synth)
    graphs = tmp_path / "graphs"
    write_graph_artifacts(graphs, dataset.n_users, dataset.n_items, dataset.train.users, dataset.train.items,
                          dataset.features, [10], 5, {})
    before = digests(graphs)
    args = train_args(tiny_synth, tmp_path / "run", "--graph-cache", str(graphs), "--set", "knn_k=5")
    args[args.index("bpr")] = "freedom"
    assert main(args) == 0
    assert digests(graphs) == before


def test_a_read_only_graph_cache_is_read_not_written(tmp_path: Path, tiny_synth: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from searec import graphs

    def read_only(path: Path, matrix: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(graphs, "_save_npz", read_only)
    args = train_args(tiny_synth, tmp_path / "run", "--graph-cache", str(tmp_path / "cache"))
    args[args.index("bpr")] = "freedom"
    assert main(args) == 0
    assert "not cached: cannot write" in capsys.readouterr().err
