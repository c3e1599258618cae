"""What a new GPU node runs first: every model trains on CUDA (deterministic mode on) and on CPU.

    python benchmarks/gpu_check.py [--devices cuda,cpu] [--models all|a,b] [--epochs 2]
                                   [--users 2000] [--items 1000] [--work DIR]

A planted synthetic folder (``searec synth``: 2,000 users × 1,000 items, 128-d image, 64-d text by
default) is written once under --work. Each model is trained ``--epochs`` epochs by the real
trainer (``searec.training.trainer.train_run``, early stopping off, validation every epoch) on each
device, and on CUDA a second time with the same seed. Printed per model and device: seconds per
training epoch, peak CUDA memory, test Recall@20, its difference from the CPU run, and whether
the two CUDA runs agree exactly (the deterministic-algorithms promise). Exit status 1 if any
model fails or is not deterministic on CUDA, 2 if CUDA was asked for and there is none.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any


def train_once(folder: Path, model: str, device: str, epochs: int, out: Path) -> dict[str, Any]:
    import torch

    from searec.data.mmrec import load_mmrec_folder
    from searec.training.config import TrainingConfig
    from searec.training.trainer import train_run

    dataset = load_mmrec_folder(folder)
    config = TrainingConfig(epochs=epochs, patience=epochs, eval_every=1, device=device, deterministic=True)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = train_run(dataset, model, {}, config, seed=0, run_dir=out, threads=torch.get_num_threads())
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else float("nan")
    return {"s_per_epoch": result["seconds"]["train_epoch_mean"], "total_s": seconds, "peak_mib": peak,
            "recall@20": result["test"]["recall@20"], "test": result["test"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="cuda,cpu")
    parser.add_argument("--models", default="all")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=None, help="folder for the data and runs (default: a temp one)")
    args = parser.parse_args()

    import torch

    from searec.data.synth import SynthConfig, write_synthetic_folder
    from searec.models import model_names

    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    if any(d.startswith("cuda") for d in devices) and not torch.cuda.is_available():
        print("gpu_check: CUDA was asked for but torch.cuda.is_available() is False (no GPU, no driver, or a "
              "CPU-only torch build)", file=sys.stderr)
        return 2
    models = sorted(model_names()) if args.models == "all" else [m.strip() for m in args.models.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="searec-gpu-check-"))
    folder = work / f"synth-{args.users}x{args.items}"
    if not (folder / "manifest.json").exists():
        write_synthetic_folder(folder, SynthConfig(n_users=args.users, n_items=args.items, seed=0))
    if torch.cuda.is_available():
        print(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"# {folder}: {args.users} users x {args.items} items, {args.epochs} epochs, threads "
          f"{torch.get_num_threads()}")
    print("model\tdevice\ts/epoch\tpeak CUDA MiB\ttest R@20\tvs CPU\tsame on rerun")
    failed: list[str] = []
    for model in models:
        results: dict[str, dict[str, Any]] = {}
        for device in devices:
            try:
                results[device] = train_once(folder, model, device, args.epochs, work / "runs" / model / device)
                same = ""
                if device.startswith("cuda"):
                    again = train_once(folder, model, device, args.epochs, work / "runs" / model / f"{device}-again")
                    same = "yes" if again["test"] == results[device]["test"] else "NO"
                    if same == "NO":
                        failed.append(f"{model} on {device}: two same-seed runs differ")
                results[device]["same"] = same
            except Exception as error:  # noqa: BLE001 (report every model, then fail)
                failed.append(f"{model} on {device}: {type(error).__name__}: {error}")
                traceback.print_exc(file=sys.stderr)
        cpu = results.get("cpu")
        for device, result in results.items():
            difference = "" if cpu is None or device == "cpu" else f"{result['recall@20'] - cpu['recall@20']:+.2e}"
            print(f"{model}\t{device}\t{result['s_per_epoch']:.3f}\t{result['peak_mib']:.0f}\t"
                  f"{result['recall@20']:.4f}\t{difference}\t{result['same']}", flush=True)
    for problem in failed:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
