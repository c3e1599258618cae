"""Counts through every preprocessing step: the embedded sample, and (when given) a published MMRec folder.

    python benchmarks/preprocess_counts.py [--mmrec ../shared/data/baby] [--seed 0]

The sample goes download -> preprocess (5-core, seeded per-user split) as the pipeline runs it.
An MMRec folder is imported as it is (its split kept) and then checked against the recipe: is
it a 5-core fixed point, and do its per-user train/valid/test sizes follow PROTOCOL.md's rule?
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from searec.data.download import download_dataset
from searec.data.preprocess import PreprocessConfig, import_mmrec, k_core, preprocess_amazon
from searec.data.registry import dataset_entry
from searec.data.split import TEST, TRAIN, VALID


def print_counts(title: str, counts: list[dict]) -> None:
    print(f"\n{title}")
    print("| step | users | items | interactions | train / valid / test |")
    print("|---|---|---|---|---|")
    for step in counts:
        if "train" in step:
            print(f"| {step['step']} | | | | {step['train']:,} / {step['valid']:,} / {step['test']:,} |")
        elif "lines" in step:
            print(f"| {step['step']} | | | {step['lines']:,} lines, {step['skipped']} skipped | |")
        else:
            print(f"| {step['step']} | {step['users']:,} | {step['items']:,} | {step['interactions']:,} | |")


def rule_counts(n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    held_out = np.where(n < 10, 2, (0.2 * n).astype(np.int64))
    valid = np.where(n < 10, 1, held_out // 2)
    return n - held_out, valid, held_out - valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mmrec", type=Path, help="a published MMRec folder, e.g. ../shared/data/baby")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="searec-counts-"))

    entry = dataset_entry("sample")
    download_dataset(entry, work / "raw" / "sample")
    manifest = preprocess_amazon(entry, work / "raw" / "sample", work / "processed" / "sample",
                                 PreprocessConfig(seed=args.seed))
    print_counts(f"sample (seed {args.seed}, {manifest['seconds']} s)", manifest["counts"])
    print(f"items: {manifest['items']}")

    if args.mmrec:
        name = next(args.mmrec.glob("*.inter")).stem
        overrides = {name: {"source": "mmrec", "category": name, "base_url": args.mmrec.resolve().as_uri()}}
        folder_entry = dataset_entry(name, overrides)
        download_dataset(folder_entry, work / "raw" / name)
        imported = import_mmrec(folder_entry, work / "raw" / name, work / "processed" / name)
        print_counts(f"{args.mmrec} (imported as published, {imported['seconds']} s)", imported["counts"])
        interactions = pd.read_parquet(work / "processed" / name / "interactions.parquet")
        _, passes = k_core(interactions.astype({"user": str, "item": str}), 5)
        print(f"5-core fixed point: {'yes' if not passes else f'no, {len(passes)} passes remove rows'}")
        per_user = interactions.groupby("user")["label"].agg(
            n="size", train=lambda s: (s == TRAIN).sum(), valid=lambda s: (s == VALID).sum(),
            test=lambda s: (s == TEST).sum())
        expected = np.stack(rule_counts(per_user["n"].to_numpy()), axis=1)
        follows = (per_user[["train", "valid", "test"]].to_numpy() == expected).all(axis=1)
        print(f"users whose split sizes follow PROTOCOL.md's per-user rule: {follows.sum():,} of {len(follows):,}")


if __name__ == "__main__":
    main()
