"""A broken environment or broken input is one clear line and exit 2 — never a traceback — and nothing
of the user's is lost: no GPU for ``cuda``, a read-only folder, a full disk, truncated files, a
closed output pipe, bad score matrices. Faults are made for real where the runner is root (a
read-only bind mount, a tiny tmpfs); the test skips, saying why, where they cannot be made."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from searec.cli import main
from tests.conftest import PROJECT_ROOT


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot make the fault here (mount {' '.join(args)}: {result.stderr.strip() or 'not root'})")


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` as a read-only bind mount of itself for the block (needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``folder`` for the block (needs root): writes beyond it fail with ENOSPC."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("searec ")]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def train(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--model", "bpr", "--out", str(out), "--threads", "1",
            "--set", "epochs=1", *extra]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu(tiny_synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(train(tiny_synth, tmp_path / "run", "--set", "device=cuda")) == 2
    one_line_error(capsys, "training.device is 'cuda'", "use training.device=cpu or auto")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_feature_device_cuda_without_a_gpu_names_the_setting(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    for stage in ("download", "preprocess"):
        assert main(["data", stage, "sample", "--root", str(root)]) == 0
    params = tmp_path / "params.yaml"
    params.write_text("features: {text: {device: cuda}}\n")
    capsys.readouterr()
    assert main(["features", "text", "sample", "--root", str(root), "--params", str(params)]) == 2
    one_line_error(capsys, "features.text.device is 'cuda'", "no NVIDIA GPU")


def test_a_read_only_run_folder(tiny_synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with read_only(tmp_path / "ro") as folder:
        assert main(train(tiny_synth, folder / "run")) == 2
    one_line_error(capsys, "cannot write", "Read-only file system", "choose a writable folder")


def test_a_full_disk_mid_training(tiny_synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tiny_disk(tmp_path / "disk", "1m") as disk:
        # the first epoch's checkpoint is the write that fills the disk
        assert main(train(tiny_synth, disk / "run", "--set", "embedding_size=1024", "--checkpoint-seconds", "0")) == 2
        leftovers = [p.name for p in (disk / "run").iterdir() if p.name.endswith(".tmp")]
    one_line_error(capsys, "cannot write", "No space left on device", "free space")
    assert leftovers == []  # no half-written file under a temporary name either


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_damaged_feature_file(damage: str, tiny_synth: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    feature = data / "image_feat.npy"
    content = feature.read_bytes()
    feature.write_bytes(b"" if damage == "empty" else content[: len(content) // 2])
    assert main(train(data, tmp_path / "run")) == 2
    one_line_error(capsys, str(feature), ".npy", "Write it again")


def test_a_truncated_gzip_in_preprocessing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    assert main(["data", "download", "sample", "--root", str(root)]) == 0
    reviews = next((root / "raw" / "sample").glob("reviews*"))
    with gzip.open(reviews, "rb") as handle:
        whole = gzip.compress(handle.read())
    reviews.write_bytes(whole[: len(whole) * 2 // 3])
    capsys.readouterr()
    assert main(["data", "preprocess", "sample", "--root", str(root)]) == 2
    one_line_error(capsys, str(reviews), "truncated or corrupt", "searec data download")
    assert not (root / "processed" / "sample" / "manifest.json").exists()


def test_a_closed_output_pipe_is_not_a_traceback() -> None:
    process = subprocess.Popen([sys.executable, "-m", "searec", "grid", "--params", str(PROJECT_ROOT / "params.yaml")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head` does once it has its lines
    err = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_help_shows_every_default() -> None:
    out = subprocess.run([sys.executable, "-m", "searec", "train", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "(default: 999)" in out and "(default: 0)" in out


# --------------------------------------------------------------------------- searec metrics
def _metrics(data: Path, scores: Path, *extra: str) -> list[str]:
    return ["metrics", "--data", str(data), "--scores", str(scores), "--split", "test", *extra]


def test_metrics_take_minus_inf_as_a_masked_item(tiny_synth: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    scores = np.random.default_rng(0).normal(size=(120, 60)).astype(np.float32)
    np.save(tmp_path / "plain.npy", scores)
    masked = scores.copy()
    masked[:, 59] = -np.inf  # never rank item 59
    np.save(tmp_path / "masked.npy", masked)
    assert main(_metrics(tiny_synth, tmp_path / "masked.npy", "--k", "10")) == 0
    assert json.loads(capsys.readouterr().out)["users"] > 0


@pytest.mark.parametrize(("value", "words"), [(np.nan, ("item 7", "nan")), (np.inf, ("item 7", "inf"))])
def test_metrics_refuse_nan_and_plus_inf_naming_the_file(value: float, words: tuple[str, ...], tiny_synth: Path,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scores = np.zeros((120, 60), dtype=np.float32)
    scores[:, 7] = value
    np.save(tmp_path / "bad.npy", scores)
    assert main(_metrics(tiny_synth, tmp_path / "bad.npy")) == 2
    one_line_error(capsys, str(tmp_path / "bad.npy"), *words)


def test_metrics_refuse_an_empty_file_and_bad_cutoffs(tiny_synth: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.npy").write_bytes(b"")
    assert main(_metrics(tiny_synth, tmp_path / "empty.npy")) == 2
    one_line_error(capsys, str(tmp_path / "empty.npy"), "0 bytes")
    np.save(tmp_path / "ok.npy", np.zeros((120, 60), dtype=np.float32))
    for cutoffs in ("abc", "0,10", ""):
        assert main(_metrics(tiny_synth, tmp_path / "ok.npy", "--k", cutoffs)) == 2
        one_line_error(capsys, "--k", "positive integers")


def test_sparse_raw_ids_are_an_error_that_says_how_to_remap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import write_inter

    rows = [(u, i, 0) for u in range(5) for i in range(4)] + [(u, 4, 1) for u in range(5)] + [
        (u, 5, 2) for u in range(5)] + [(99999999999, 0, 0)]
    write_inter(tmp_path / "data", rows)
    assert main(train(tmp_path / "data", tmp_path / "run")) == 2
    one_line_error(capsys, "user ids reach 99999999999", "Remap them", "factorize")


def test_nothing_of_the_users_is_lost_when_a_download_is_refused(tmp_path: Path) -> None:
    """The offline route: a hand-placed file with the wrong content is moved aside, never deleted."""
    root = tmp_path / "data"
    placed = root / "raw" / "sample" / "reviews_Sample_5.json.gz"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"my own copy")
    digest = hashlib.sha256(placed.read_bytes()).hexdigest()
    assert main(["data", "download", "sample", "--root", str(root)]) == 0  # the package has the right one
    kept = placed.with_name(placed.name + ".rejected")
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == digest
    manifest = json.loads((placed.parent / "manifest.json").read_text())
    assert all(not name.endswith(".rejected") for name in manifest["files"])
