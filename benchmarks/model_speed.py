"""Seconds per epoch and peak RSS of every model at Amazon-Baby scale on this CPU.

    python benchmarks/model_speed.py [--models all|a,b,...] [--epochs 2] [--threads 1] [--shape baby|clothing]
                                     [--record src/searec/measured_resources.yaml]

A Baby-shaped synthetic folder (19,445 users, 7,050 items, ~160k interactions, 4096-d image,
384-d text; benchmarks/_common.py) and its graph artifacts (``searec graphs``' files: Â, kNN
k = 10 per modality, user–user top-40) are written once under --work. Each model is then trained
by the real CLI, ``searec train --set epochs=N``, in its own process under ``/usr/bin/time -v``,
with params.yaml's defaults and training settings (batch 2048) and evaluation on validation after
every epoch. Printed per model: mean training seconds per epoch, mean evaluation seconds, and the
process's peak RSS (everything: Python, torch, data, model, optimiser state). ``--shape clothing``
uses Clothing's size instead (39,387 users, 23,033 items, 278,677 interactions): the check that
LATTICE's item graphs stay sparse where dense items × items matrices would be 2.1 GB each.

``--record FILE`` adds each model's figures to FILE as soon as they are measured (a model already
there for this shape is skipped, so an interrupted run resumes): the measurements the pipeline's
job resources derive from (:mod:`searec.resources`). The default ``--threads 1`` is what every
pipeline training job runs with.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHAPES, baby_shaped_folder  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def write_graphs(folder: Path) -> Path:
    """The dataset's graph artifacts, as the pipeline's graph stage writes them (once)."""
    from searec.data.mmrec import load_mmrec_folder
    from searec.graphs import GRAPH_MANIFEST, write_graph_artifacts

    out = folder.parent / f"{folder.name}-graphs"
    if not (out / GRAPH_MANIFEST).exists():
        dataset = load_mmrec_folder(folder)
        write_graph_artifacts(out, dataset.n_users, dataset.n_items, dataset.train.users, dataset.train.items,
                              dict(dataset.features), [10], 40, dataset.source_files)
    return out


def run_model(name: str, folder: Path, graphs: Path, run_dir: Path, epochs: int, threads: int) -> dict[str, float]:
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "searec", "train", "--data", str(folder), "--model", name,
               "--out", str(run_dir), "--seed", "0", "--params", str(PROJECT_ROOT / "params.yaml"),
               "--threads", str(threads), "--graph-cache", str(graphs),
               "--set", f"epochs={epochs}", "--set", "patience=1000", "--set", "eval_every=1"]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{completed.stderr[-3000:]}")
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr).group(1))
    with open(run_dir / "history.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {"train_s": sum(float(r["train_seconds"]) for r in rows) / len(rows),
            "eval_s": sum(float(r["eval_seconds"]) for r in rows) / len(rows),
            "rss_gib": rss_kib / 1024 ** 2, "epochs": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="all")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "searec-bench")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="baby")
    parser.add_argument("--record", type=Path, help="YAML file the measurements are added to (resumable)")
    args = parser.parse_args()
    from searec.models import model_names

    names = model_names() if args.models == "all" else args.models.split(",")
    folder = baby_shaped_folder(args.work, image_dim=4096, text_dim=384, shape=args.shape)
    graphs = write_graphs(folder)
    recorded = load_record(args.record)
    print(f"data: {folder} (graphs {graphs}); {args.epochs} epochs, {args.threads} threads, batch from params.yaml")
    print("| model | train s/epoch | eval s/epoch | peak RSS (GiB) |\n|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as runs:
        for name in names:
            known = recorded["shapes"].get(args.shape, {}).get("models", {}).get(name)
            if known is not None and known["threads"] == args.threads:
                result = {"train_s": known["train_seconds_per_epoch"], "eval_s": known["eval_seconds"],
                          "rss_gib": known["peak_rss_mib"] / 1024}
                print(f"| {name} | {result['train_s']:.1f} | {result['eval_s']:.2f} | {result['rss_gib']:.2f} "
                      f"| (recorded in {args.record})", flush=True)
                continue
            result = run_model(name, folder, graphs, Path(runs) / name, args.epochs, args.threads)
            print(f"| {name} | {result['train_s']:.1f} | {result['eval_s']:.2f} | {result['rss_gib']:.2f} |", flush=True)
            if args.record is not None:
                record_model(args.record, recorded, args.shape, name, result, args.threads)


def load_record(path: Path | None) -> dict:
    import yaml

    if path is None or not path.exists():
        return {"shapes": {}}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {"shapes": {}}


def record_model(path: Path, recorded: dict, shape: str, name: str, result: dict[str, float], threads: int) -> None:
    """Add one model's figures at ``shape`` to the record file (rewritten atomically)."""
    import yaml

    from searec.fileio import write_text_atomic

    users, items, interactions = SHAPES[shape]
    entry = recorded["shapes"].setdefault(shape, {"users": users, "items": items, "interactions": interactions,
                                                  "models": {}})
    entry["models"][name] = {"train_seconds_per_epoch": float(f"{result['train_s']:.4g}"),
                             "eval_seconds": float(f"{result['eval_s']:.4g}"),
                             "peak_rss_mib": round(result["rss_gib"] * 1024), "epochs": result["epochs"],
                             "threads": threads, "cpu": cpu_model()}
    write_text_atomic(path, HEADER + yaml.safe_dump(recorded, sort_keys=True))


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else the architecture."""
    import platform

    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


HEADER = """\
# Measured by benchmarks/model_speed.py --record (one `searec train` process per model under
# /usr/bin/time -v, 4096-d image + 384-d text features, params.yaml's training settings). The
# pipeline's job resources derive from these figures (searec.resources); rerun the benchmark on
# your own hardware to replace them.
"""


if __name__ == "__main__":
    main()
