"""Dataset stages: ``searec data download|preprocess|images|export-mmrec|make-sample`` and ``searec synth``.

Each takes a dataset name from the registry (``searec.data.registry``; params.yaml's
``datasets:`` may add or override entries) and reads and writes the paths of ``searec.layout``
under ``--root`` (default ``data``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from searec.commands.common import CliError
from searec.commands.datasets import data_params, dataset_entry
from searec.sections import section


def cmd_download(args: argparse.Namespace) -> int:
    from searec.data.download import RetryPolicy, download_dataset
    from searec.layout import raw_dir

    entry, params = dataset_entry(args)
    settings = section(params, "download")
    policy = RetryPolicy(attempts=settings["attempts"], backoff_seconds=settings["backoff_seconds"],
                         timeout_seconds=settings["timeout_seconds"])
    manifest = download_dataset(entry, raw_dir(entry.name, args.root), policy)
    print(json.dumps({name: record["size"] for name, record in manifest["files"].items()}, indent=2))
    return 0


def cmd_preprocess(args: argparse.Namespace) -> int:
    from searec.data.preprocess import PreprocessConfig, import_mmrec, preprocess_amazon
    from searec.data.releases import RELEASES
    from searec.layout import processed_dir, raw_dir

    entry, params = dataset_entry(args)
    raw, out = raw_dir(entry.name, args.root), processed_dir(entry.name, args.root)
    if RELEASES[entry.source].parser is None:  # already an MMRec folder
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

    entry, params = dataset_entry(args)
    processed = processed_dir(entry.name, args.root)
    if not (processed / "manifest.json").exists():
        raise CliError(f"{processed}: not preprocessed yet; run `searec data preprocess {entry.name}` first")
    items = pd.read_parquet(processed / "items.parquet", columns=["item", "image_url"])
    workers = args.workers or section(params, "images")["workers"]
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
            raise CliError(f"--feature expects MODALITY=PATH.npy, got {text!r}")
        features[modality] = Path(path)
    if args.with_features:
        from searec.features.common import configured_encoder, feature_path

        params = data_params(args.params)
        for modality in args.with_features.split(","):
            path = feature_path(args.root, args.dataset, modality, configured_encoder(params, modality))
            if not path.exists():
                raise CliError(f"{path}: missing; run `searec features {modality} {args.dataset}` first")
            features.setdefault(modality, path)
    out = args.out or mmrec_dir(args.dataset, args.root)
    written = export_mmrec(processed_dir(args.dataset, args.root), out, args.dataset, features)
    print(json.dumps(written, indent=2))
    return 0


def cmd_make_sample(args: argparse.Namespace) -> int:
    from searec.data.sample import make_sample

    for role, path in make_sample(args.out).items():
        print(f"{role}: {path}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from searec.data.synth import SynthConfig, write_synthetic_folder

    config = SynthConfig(n_users=args.users, n_items=args.items, image_dim=args.image_dim, text_dim=args.text_dim,
                         seed=args.seed, n_clusters=args.clusters, mean_interactions=args.mean_interactions)
    try:
        write_synthetic_folder(args.out, config, name=args.name)
    except ValueError as error:
        raise CliError(str(error)) from None
    return 0
