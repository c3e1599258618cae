"""``searec data …``: the data stages (download, preprocess, images, export-mmrec) and the sample generator.

Each takes a dataset name from the registry (``searec.data.registry``; params.yaml's
``datasets:`` may add or override entries) and reads and writes the paths of ``searec.layout``
under ``--root`` (default ``data``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from searec.errors import SearecError


class DataCliError(SearecError):
    """A wrong argument of a data command."""


def _params(path: Path | None) -> dict[str, Any]:
    import yaml

    if path is None or not path.exists():
        if path is not None and path != Path("params.yaml"):
            raise DataCliError(f"{path}: params file not found")
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _entry(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from searec.data.registry import dataset_entry

    params = _params(args.params)
    mirror = (params.get("download") or {}).get("mirror")
    return dataset_entry(args.dataset, params.get("datasets") or {}, mirror=mirror), params


def cmd_download(args: argparse.Namespace) -> int:
    from searec.data.download import RetryPolicy, download_dataset
    from searec.layout import raw_dir

    entry, params = _entry(args)
    settings = params.get("download") or {}
    policy = RetryPolicy(attempts=int(settings.get("attempts", 5)),
                         backoff_seconds=float(settings.get("backoff_seconds", 1.0)),
                         timeout_seconds=float(settings.get("timeout_seconds", 60)))
    manifest = download_dataset(entry, raw_dir(entry.name, args.root), policy)
    print(json.dumps({name: record["size"] for name, record in manifest["files"].items()}, indent=2))
    return 0


def cmd_preprocess(args: argparse.Namespace) -> int:
    from searec.data.preprocess import PreprocessConfig, import_mmrec, preprocess_amazon
    from searec.layout import processed_dir, raw_dir

    entry, params = _entry(args)
    raw, out = raw_dir(entry.name, args.root), processed_dir(entry.name, args.root)
    if entry.source == "mmrec":
        manifest = import_mmrec(entry, raw, out)
    else:
        manifest = preprocess_amazon(entry, raw, out, PreprocessConfig.from_mapping(params.get("preprocess")))
    for step in manifest["counts"]:
        print(json.dumps(step))
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    import pandas as pd

    from searec.data.images import fetch_item_images
    from searec.layout import images_dir, processed_dir, raw_dir

    entry, params = _entry(args)
    processed = processed_dir(entry.name, args.root)
    if not (processed / "manifest.json").exists():
        raise DataCliError(f"{processed}: not preprocessed yet; run `searec data preprocess {entry.name}` first")
    items = pd.read_parquet(processed / "items.parquet", columns=["item", "image_url"])
    workers = args.workers or int((params.get("images") or {}).get("workers", 8))
    summary = fetch_item_images(items, raw_dir(entry.name, args.root), images_dir(entry.name, args.root), workers)
    print(json.dumps(summary, indent=2))
    return 0


def cmd_export_mmrec(args: argparse.Namespace) -> int:
    from searec.data.export import export_mmrec
    from searec.layout import mmrec_dir, processed_dir

    features = {}
    for text in args.feature:
        modality, sep, path = text.partition("=")
        if not sep or not modality or not path:
            raise DataCliError(f"--feature expects MODALITY=PATH.npy, got {text!r}")
        features[modality] = Path(path)
    out = args.out or mmrec_dir(args.dataset, args.root)
    written = export_mmrec(processed_dir(args.dataset, args.root), out, args.dataset, features)
    print(json.dumps(written, indent=2))
    return 0


def cmd_make_sample(args: argparse.Namespace) -> int:
    from searec.data.sample import make_sample

    for role, path in make_sample(args.out).items():
        print(f"{role}: {path}")
    return 0


def add_data_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="data stages: download, preprocess, images, export-mmrec, make-sample")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="STAGE")

    def stage(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("dataset", help="registered dataset name (e.g. sample, baby, sports2023, mmrec-baby)")
        parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                            help="params file whose `datasets:`, `download:`, `preprocess:` sections apply")
        parser.add_argument("--root", type=Path, default=Path("data"), help="data root (default: data)")
        parser.set_defaults(func=func)
        return parser

    stage("download", "fetch and verify the dataset's files into data/raw/<dataset>/", cmd_download)
    stage("preprocess", "k-core, dense ids, seeded split, item text -> data/processed/<dataset>/", cmd_preprocess)
    images = stage("images", "fetch every item's image into data/images/<dataset>/", cmd_images)
    images.add_argument("--workers", type=int, default=0, help="parallel fetches (default: params images.workers or 8)")
    export = stage("export-mmrec", "write an MMRec folder (.inter, *_feat.npy, id maps)", cmd_export_mmrec)
    export.add_argument("--out", type=Path, default=None, help="output folder (default: data/mmrec/<dataset>)")
    export.add_argument("--feature", action="append", default=[], metavar="MODALITY=PATH",
                        help="add a feature matrix (.npy, one row per item) as <modality>_feat.npy")
    sample = commands.add_parser("make-sample", help="regenerate the embedded sample catalog's raw files")
    sample.add_argument("--out", type=Path, required=True)
    sample.set_defaults(func=cmd_make_sample)
