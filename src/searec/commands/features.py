"""``searec features text|image``: one feature matrix per modality from the processed items."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from searec.commands.common import CliError
from searec.commands.datasets import dataset_entry


def _processed_items(entry_name: str, root: Path) -> Any:
    import pandas as pd

    from searec.layout import processed_dir

    processed = processed_dir(entry_name, root)
    if not (processed / "manifest.json").exists():
        raise CliError(f"{processed}: not preprocessed yet; run `searec data preprocess {entry_name}` first")
    return pd.read_parquet(processed / "items.parquet").sort_values("item").reset_index(drop=True)


def cmd_features_text(args: argparse.Namespace) -> int:
    from searec.features.common import feature_path, feature_settings, set_cpu_threads, write_feature_file
    from searec.features.text import encode_item_texts

    entry, params = dataset_entry(args)
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

    entry, params = dataset_entry(args)
    settings = feature_settings(params, "image")
    set_cpu_threads(settings)
    items = _processed_items(entry.name, args.root)
    if settings["encoder"] == AMAZON_CNN_ENCODER:
        source = raw_dir(entry.name, args.root) / entry.file("image_features").name
        if not source.exists():
            raise CliError(f"{source}: missing; run `searec data download {entry.name}` first")
        matrix, manifest = amazon_cnn_features(items["asin"].astype(str).tolist(), source)
    else:
        folder = images_dir(entry.name, args.root)
        if not (folder / "manifest.json").exists():
            raise CliError(f"{folder}: no images yet; run `searec data images {entry.name}` first")
        outcomes = pd.read_parquet(folder / "manifest.parquet").set_index("item")
        paths = [folder / outcomes.loc[item, "file"] if item in outcomes.index and outcomes.loc[item, "status"] == "ok"
                 else None for item in items["item"]]
        weights = Path(settings["weights_path"]) if settings["weights_path"] else None
        encoder = load_image_encoder(settings["encoder"], weights)
        matrix, manifest = encode_item_images(paths, encoder, int(settings["batch_size"]), int(settings["workers"]),
                                              device_for(str(settings["device"]), "features.image.device"))
    path = feature_path(args.root, entry.name, "image", settings["encoder"])
    write_feature_file(path, matrix, manifest | {"dataset": entry.name})
    print(json.dumps({"file": str(path)} | manifest, indent=2))
    return 0
