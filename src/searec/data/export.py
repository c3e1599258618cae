"""Processed tables to an MMRec folder, so MMRec and the official SEA code run on exactly our data.

Writes ``<name>.inter`` (``userID itemID x_label``, plus ``timestamp`` when every interaction
has one), ``i_id_mapping.csv`` (``asin itemID``), ``u_id_mapping.csv`` (``user_id userID``),
all tab-separated as MMRec publishes them, and one ``<modality>_feat.npy`` per feature matrix
(imported MMRec features kept in the processed folder, and any given on the command line).
Importing the result (``source: mmrec``) gives back the same tables, split and features.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from searec.data.mmrec import FEATURE_SUFFIX
from searec.errors import DatasetError
from searec.fileio import atomic_path, write_json_atomic
from searec.runtime import split_run_facts

log = logging.getLogger(__name__)


def read_processed(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(interactions, items, users, manifest) of a processed folder; an error if the stage did not finish."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise DatasetError(f"{folder}: no manifest.json, so preprocessing did not finish here; run "
                           f"`searec data preprocess` for this dataset")
    tables = [pd.read_parquet(folder / f"{name}.parquet") for name in ("interactions", "items", "users")]
    return tables[0], tables[1], tables[2], json.loads(manifest_path.read_text(encoding="utf-8"))


def export_mmrec(processed: Path, out: Path, name: str, extra_features: dict[str, Path] | None = None) -> dict[str, Any]:
    """Write the MMRec folder of a processed dataset into ``out``; returns what was written."""
    interactions, items, users, manifest = read_processed(processed)
    imported = sorted((processed / "features").glob(f"*{FEATURE_SUFFIX}"))
    features = {path.name[: -len(FEATURE_SUFFIX)]: path for path in imported}
    features.update(extra_features or {})
    for modality, path in features.items():  # check every input before writing anything
        try:
            rows = np.load(path, mmap_mode="r", allow_pickle=False).shape[0]
        except (OSError, ValueError) as error:
            raise DatasetError(f"{path}: cannot read the {modality!r} feature matrix ({error}); give a .npy file "
                               f"with one float row per item") from None
        if rows != len(items):
            raise DatasetError(f"{path}: {rows} rows, but {processed} has {len(items)} items; a feature file must "
                               f"have one row per item index")
    out.mkdir(parents=True, exist_ok=True)
    inter = pd.DataFrame({"userID": interactions["user"], "itemID": interactions["item"],
                          "x_label": interactions["label"]})
    if interactions["timestamp"].notna().all() and len(interactions):
        inter["timestamp"] = interactions["timestamp"].astype(np.int64)
    with atomic_path(out / f"{name}.inter") as tmp:
        inter.to_csv(tmp, sep="\t", index=False)
    with atomic_path(out / "i_id_mapping.csv") as tmp:
        pd.DataFrame({"asin": items["asin"], "itemID": items["item"]}).to_csv(tmp, sep="\t", index=False)
    with atomic_path(out / "u_id_mapping.csv") as tmp:
        pd.DataFrame({"user_id": users["user_raw_id"], "userID": users["user"]}).to_csv(tmp, sep="\t", index=False)
    for modality, path in features.items():
        with atomic_path(out / f"{modality}{FEATURE_SUFFIX}") as tmp:
            shutil.copyfile(path, tmp)
    for stale in out.glob(f"*{FEATURE_SUFFIX}"):
        if stale.name[: -len(FEATURE_SUFFIX)] not in features:
            stale.unlink()
    written = {"dataset": name, "from": f"{processed.parent.name}/{processed.name}", "interactions": len(inter),
               "users": len(users), "items": len(items), "features": sorted(features),
               "source_manifest": manifest.get("inputs", {})}
    write_json_atomic(out / "export.json", split_run_facts(out, written))
    log.info("wrote MMRec folder %s (%d interactions, features: %s)", out, len(inter), sorted(features) or "none")
    return written
