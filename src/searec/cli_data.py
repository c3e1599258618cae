"""Dataset stages: ``searec data …`` (download, preprocess, images, export-mmrec, make-sample),
``searec features text|image`` and ``searec graphs``.

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
    """The validated params file; the default ``params.yaml`` may be absent (registry defaults apply)."""
    from searec.params import read_params

    if path is None:
        return {}
    return read_params(path, missing_ok=path == Path("params.yaml"))


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
    if args.with_features:
        from searec.features.common import configured_encoder, feature_path

        params = _params(args.params)
        for modality in args.with_features.split(","):
            path = feature_path(args.root, args.dataset, modality, configured_encoder(params, modality))
            if not path.exists():
                raise DataCliError(f"{path}: missing; run `searec features {modality} {args.dataset}` first")
            features.setdefault(modality, path)
    out = args.out or mmrec_dir(args.dataset, args.root)
    written = export_mmrec(processed_dir(args.dataset, args.root), out, args.dataset, features)
    print(json.dumps(written, indent=2))
    return 0


def _processed_items(entry_name: str, root: Path) -> Any:
    import pandas as pd

    from searec.layout import processed_dir

    processed = processed_dir(entry_name, root)
    if not (processed / "manifest.json").exists():
        raise DataCliError(f"{processed}: not preprocessed yet; run `searec data preprocess {entry_name}` first")
    return pd.read_parquet(processed / "items.parquet").sort_values("item").reset_index(drop=True)


def cmd_features_text(args: argparse.Namespace) -> int:
    from searec.features.common import feature_path, feature_settings, set_cpu_threads, write_feature_file
    from searec.features.text import encode_item_texts

    entry, params = _entry(args)
    settings = feature_settings(params, "text")
    set_cpu_threads(settings)
    items = _processed_items(entry.name, args.root)
    matrix, manifest = encode_item_texts(items["text"].fillna("").tolist(), settings["encoder"],
                                         int(settings["batch_size"]), str(settings["device"]), bool(settings["normalize"]))
    path = feature_path(args.root, entry.name, "text", settings["encoder"])
    write_feature_file(path, matrix, manifest | {"dataset": entry.name})
    print(json.dumps({"file": str(path)} | manifest, indent=2))
    return 0


def cmd_features_image(args: argparse.Namespace) -> int:
    import pandas as pd

    from searec.features.common import feature_path, feature_settings, set_cpu_threads, write_feature_file
    from searec.features.image import AMAZON_CNN_ENCODER, amazon_cnn_features, encode_item_images, load_image_encoder
    from searec.features.text import device_for
    from searec.layout import images_dir, raw_dir

    entry, params = _entry(args)
    settings = feature_settings(params, "image")
    set_cpu_threads(settings)
    items = _processed_items(entry.name, args.root)
    if settings["encoder"] == AMAZON_CNN_ENCODER:
        source = raw_dir(entry.name, args.root) / entry.file("image_features").name
        if not source.exists():
            raise DataCliError(f"{source}: missing; run `searec data download {entry.name}` first")
        matrix, manifest = amazon_cnn_features(items["asin"].astype(str).tolist(), source)
    else:
        folder = images_dir(entry.name, args.root)
        if not (folder / "manifest.json").exists():
            raise DataCliError(f"{folder}: no images yet; run `searec data images {entry.name}` first")
        outcomes = pd.read_parquet(folder / "manifest.parquet").set_index("item")
        paths = [folder / outcomes.loc[item, "file"] if item in outcomes.index and outcomes.loc[item, "status"] == "ok"
                 else None for item in items["item"]]
        weights = Path(settings["weights_path"]) if settings["weights_path"] else None
        encoder = load_image_encoder(settings["encoder"], weights)
        matrix, manifest = encode_item_images(paths, encoder, int(settings["batch_size"]), int(settings["workers"]),
                                              device_for(str(settings["device"])))
    path = feature_path(args.root, entry.name, "image", settings["encoder"])
    write_feature_file(path, matrix, manifest | {"dataset": entry.name})
    print(json.dumps({"file": str(path)} | manifest, indent=2))
    return 0


def cmd_graphs(args: argparse.Namespace) -> int:
    from searec.data.mmrec import load_mmrec_folder
    from searec.graphs import write_graph_artifacts
    from searec.layout import graphs_dir, mmrec_dir

    params = _params(args.params)  # any MMRec folder under data/mmrec (registry or synthetic dataset)
    settings = {"knn_k": [10], "user_user_k": 40} | dict(params.get("graphs") or {})
    knn_ks = settings["knn_k"] if isinstance(settings["knn_k"], list) else [settings["knn_k"]]
    dataset = load_mmrec_folder(mmrec_dir(args.dataset, args.root))
    manifest = write_graph_artifacts(graphs_dir(args.dataset, args.root), dataset.n_users, dataset.n_items,
                                     dataset.train.users, dataset.train.items, dict(dataset.features),
                                     [int(k) for k in knn_ks], int(settings["user_user_k"]), dataset.source_files)
    for entry in manifest["graphs"]:
        print(json.dumps({k: entry[k] for k in ("file", "kind", "k", "shape", "nnz")}))
    return 0


def cmd_make_sample(args: argparse.Namespace) -> int:
    from searec.data.sample import make_sample

    for role, path in make_sample(args.out).items():
        print(f"{role}: {path}")
    return 0


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="registered dataset name (e.g. sample, baby, sports2023, mmrec-baby)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="params file whose `datasets:`, `download:`, `preprocess:`, `features:`, `graphs:` apply")
    parser.add_argument("--root", type=Path, default=Path("data"), help="data root (default: data)")


def add_data_commands(sub: argparse._SubParsersAction) -> None:
    features = sub.add_parser("features", help="item features: text (sentence-transformers), image (vision model)")
    kinds = features.add_subparsers(dest="features_command", required=True, metavar="MODALITY")
    for name, help_text, func in (
            ("text", "embed item text -> data/features/<dataset>/text-<encoder>.npy", cmd_features_text),
            ("image", "pooled image features (or Amazon's CNN features) -> data/features/<dataset>/image-<encoder>.npy",
             cmd_features_image)):
        parser = kinds.add_parser(name, help=help_text)
        _dataset_arguments(parser)
        parser.set_defaults(func=func)
    graphs = sub.add_parser("graphs", help="user-item, item-item kNN and user-user graphs -> data/graphs/<dataset>/")
    _dataset_arguments(graphs)
    graphs.set_defaults(func=cmd_graphs)

    data = sub.add_parser("data", help="data stages: download, preprocess, images, export-mmrec, make-sample")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="STAGE")

    def stage(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        _dataset_arguments(parser)
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
    export.add_argument("--with-features", default="", metavar="MODALITIES",
                        help="comma-separated modalities whose params-configured feature files to include "
                             "(e.g. text,image: data/features/<dataset>/<modality>-<encoder>.npy)")
    sample = commands.add_parser("make-sample", help="regenerate the embedded sample catalog's raw files")
    sample.add_argument("--out", type=Path, required=True)
    sample.set_defaults(func=cmd_make_sample)
