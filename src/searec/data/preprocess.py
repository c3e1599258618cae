"""Raw reviews to the processed tables every later stage reads (PROTOCOL.md, "Preprocessing").

``data/processed/<dataset>/``:

* ``interactions.parquet`` -- ``user``, ``item`` (dense 0-based ids), ``label`` (0/1/2 =
  train/valid/test), ``timestamp`` (unix seconds; null where the source has none);
* ``items.parquet`` -- ``item``, ``asin`` (the raw id), ``title``, ``brand``, ``categories``,
  ``description``, ``text`` (the assembled item text) and ``image_url``;
* ``users.parquet`` -- ``user``, ``user_raw_id``;
* ``features/<modality>_feat.npy`` -- only for imported MMRec folders (their features, as published);
* ``manifest.json`` -- counts after every step, the seed and settings, the raw files' hashes.

Amazon sources follow the MMRec recipe: implicit positives, drop rows without user or item,
drop duplicate (user, item) pairs keeping the earliest, iterative k-core, dense ids, seeded
per-user split (or a global temporal split). MMRec folders are imported as they are.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from searec.data.amazon import ParseReport, item_text, read_metadata, read_reviews
from searec.data.mmrec import FEATURE_SUFFIX, read_inter_file
from searec.data.registry import DatasetEntry
from searec.data.split import TEST, TRAIN, VALID, per_user_split
from searec.errors import DatasetError
from searec.fileio import atomic_path, sha256_file, write_json_atomic
from searec.runtime import split_run_facts
from searec.sections import section, section_defaults

log = logging.getLogger(__name__)

REVIEW_CHUNK_ROWS = 1_000_000
SPLITS = ("per_user", "temporal")


_PREPROCESS = section_defaults("preprocess")


@dataclass(frozen=True)
class PreprocessConfig:
    """Preprocessing settings (params.yaml ``preprocess``; defaults, meanings and ranges in ``searec.sections``)."""

    k_core: int = _PREPROCESS["k_core"]
    split: str = _PREPROCESS["split"]
    seed: int = _PREPROCESS["seed"]
    temporal_fractions: tuple[float, float] = tuple(_PREPROCESS["temporal_fractions"])  # train, valid; test: the rest

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> PreprocessConfig:
        resolved = section({"preprocess": dict(values or {})}, "preprocess")
        resolved["temporal_fractions"] = tuple(resolved["temporal_fractions"])
        config = cls(**resolved)
        if config.split == "per_user" and config.k_core < 3:
            raise DatasetError("params.yaml preprocess: the per-user split needs k_core >= 3 (one train, "
                               "one valid and one test interaction per user)")
        return config


# ------------------------------------------------------------------------- steps
def reviews_frame(reviews: Iterator[Any]) -> pd.DataFrame:
    """``user``, ``item`` (raw ids, in file order) and nullable ``timestamp`` columns, built in chunks."""
    chunks, users, items, stamps = [], [], [], []

    def flush() -> None:
        chunks.append(pd.DataFrame({"user": pd.array(users, dtype="string[pyarrow]"),
                                    "item": pd.array(items, dtype="string[pyarrow]"),
                                    "timestamp": pd.array(stamps, dtype="Int64")}))
        users.clear(), items.clear(), stamps.clear()

    for review in reviews:
        users.append(review.user)
        items.append(review.item)
        stamps.append(review.timestamp)
        if len(users) >= REVIEW_CHUNK_ROWS:
            flush()
    flush()
    return pd.concat(chunks, ignore_index=True)


def drop_duplicates_keep_earliest(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item): the earliest review (file order breaks ties and missing times)."""
    order = frame.assign(_row=np.arange(len(frame))).sort_values(["timestamp", "_row"], na_position="last", kind="stable")
    return order.drop_duplicates(["user", "item"], keep="first").sort_values("_row").drop(columns="_row")


def k_core(frame: pd.DataFrame, k: int) -> tuple[pd.DataFrame, list[dict[str, int]]]:
    """Iteratively drop users and items with fewer than ``k`` interactions until none remain.

    Returns the filtered frame and the counts after each pass (users, items, interactions).
    The result is the largest sub-frame where every user and item has >= k interactions,
    so applying it again changes nothing.
    """
    passes = []
    while True:
        user_counts = frame["user"].map(frame["user"].value_counts())
        item_counts = frame["item"].map(frame["item"].value_counts())
        keep = (user_counts >= k) & (item_counts >= k)
        if keep.all():
            return frame, passes
        frame = frame[keep.to_numpy()]
        passes.append({"users": int(frame["user"].nunique()), "items": int(frame["item"].nunique()),
                       "interactions": len(frame)})


def dense_ids(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """0-based ids in sorted order of the raw ids (deterministic); returns (codes, sorted raw ids)."""
    categories = np.sort(raw.unique().astype(str))
    codes = pd.Categorical(raw.astype(str), categories=categories).codes.astype(np.int64)
    return codes, categories


def temporal_split(timestamps: np.ndarray, users: np.ndarray, items: np.ndarray,
                   fractions: tuple[float, float]) -> np.ndarray:
    """A global temporal split: the earliest ``fractions[0]`` of interactions train, the next ``fractions[1]`` valid.

    Ties in time are broken by (user, item) so the split is deterministic. Users whose every
    interaction falls late have nothing in train; the evaluator drops them and says so.
    """
    if np.any(timestamps < 0):
        raise DatasetError("temporal split: some interactions have no timestamp; use preprocess.split: per_user")
    order = np.lexsort((items, users, timestamps))
    n = timestamps.size
    n_train, n_valid = int(round(fractions[0] * n)), int(round(fractions[1] * n))
    labels = np.empty(n, dtype=np.int8)
    labels[order[:n_train]] = TRAIN
    labels[order[n_train:n_train + n_valid]] = VALID
    labels[order[n_train + n_valid:]] = TEST
    return labels


def _step(counts: list[dict[str, Any]], name: str, frame: pd.DataFrame) -> None:
    record = {"step": name, "users": int(frame["user"].nunique()), "items": int(frame["item"].nunique()),
              "interactions": len(frame)}
    counts.append(record)
    log.info("%s: %d users, %d items, %d interactions", name, record["users"], record["items"], record["interactions"])


# ------------------------------------------------------------------------- stages
def preprocess_amazon(entry: DatasetEntry, raw: Path, out: Path, config: PreprocessConfig) -> dict[str, Any]:
    """Amazon reviews + metadata (any release, or the embedded sample) to the processed tables."""
    started = time.perf_counter()
    release = entry.source
    reviews_path, meta_path = raw / entry.file("reviews").name, raw / entry.file("meta").name
    for path in (reviews_path, meta_path):
        if not path.exists():
            raise DatasetError(f"{path}: missing; run `searec data download {entry.name}` first")
    counts: list[dict[str, Any]] = []
    review_report = ParseReport(str(reviews_path))
    frame = reviews_frame(read_reviews(reviews_path, release, review_report))
    counts.append({"step": "reviews read", "lines": review_report.lines, "skipped": review_report.skipped})
    _step(counts, "with user and item", frame)
    frame = drop_duplicates_keep_earliest(frame)
    _step(counts, "duplicates dropped (earliest kept)", frame)
    frame, passes = k_core(frame, config.k_core)
    for number, record in enumerate(passes, start=1):
        counts.append({"step": f"{config.k_core}-core pass {number}"} | record)
    _step(counts, f"{config.k_core}-core", frame)
    if frame.empty:
        raise DatasetError(f"{reviews_path}: nothing is left after the {config.k_core}-core filter; lower "
                           f"preprocess.k_core or use a larger category")

    users, user_ids = dense_ids(frame["user"])
    items, item_ids = dense_ids(frame["item"])
    order = np.lexsort((items, users))  # the per-user split needs a deterministic row order
    users, items = users[order], items[order]
    timestamps = frame["timestamp"].fillna(-1).to_numpy(dtype=np.int64)[order]
    if config.split == "per_user":
        labels = per_user_split(users, config.seed)
    else:
        labels = temporal_split(timestamps, users, items, config.temporal_fractions)
    counts.append({"step": f"split ({config.split})"} | {
        name: int((labels == value).sum()) for name, value in (("train", TRAIN), ("valid", VALID), ("test", TEST))})

    meta_report = ParseReport(str(meta_path))
    position = {asin: index for index, asin in enumerate(item_ids)}
    rows: list[dict[str, Any]] = [{} for _ in item_ids]
    for meta in read_metadata(meta_path, release, meta_report, wanted=set(position)):
        rows[position[meta.item]] = {"title": meta.title, "brand": meta.brand, "categories": list(meta.categories),
                                     "description": meta.description, "image_url": meta.image_url,
                                     "text": item_text(meta)}
    items_table = pd.DataFrame({
        "item": np.arange(item_ids.size, dtype=np.int32), "asin": item_ids,
        **{column: [row.get(column, default) for row in rows]
           for column, default in (("title", ""), ("brand", ""), ("categories", []), ("description", ""),
                                   ("text", ""), ("image_url", ""))}})
    without_meta = sum(1 for row in rows if not row)
    item_counts = {"items": int(item_ids.size), "without_metadata": without_meta,
                   "without_text": int((items_table["text"] == "").sum()),
                   "without_image_url": int((items_table["image_url"] == "").sum())}
    if without_meta:
        log.warning("%s: %d of %d items have no metadata line (empty text and image URL)", meta_path,
                    without_meta, item_ids.size)
    interactions = pd.DataFrame({"user": users.astype(np.int32), "item": items.astype(np.int32),
                                 "label": labels.astype(np.int8),
                                 "timestamp": pd.array(np.where(timestamps < 0, None, timestamps), dtype="Int64")})
    users_table = pd.DataFrame({"user": np.arange(user_ids.size, dtype=np.int32), "user_raw_id": user_ids})
    manifest = {
        "dataset": entry.name, "source": entry.source, "category": entry.category, "config": _config_dict(config),
        "counts": counts, "items": item_counts,
        "parsing": {"reviews": review_report.to_dict(), "metadata": meta_report.to_dict()},
        "inputs": {p.name: sha256_file(p) for p in (reviews_path, meta_path)},
        "seconds": round(time.perf_counter() - started, 2)}
    write_processed(out, interactions, items_table, users_table, manifest)
    return manifest


def import_mmrec(entry: DatasetEntry, raw: Path, out: Path) -> dict[str, Any]:
    """A published MMRec folder as processed tables, keeping its ids, split and features as they are."""
    started = time.perf_counter()
    inter_path = raw / entry.file("inter").name
    if not inter_path.exists():
        raise DatasetError(f"{inter_path}: missing; put the MMRec folder's files in {raw}")
    users, items, labels = read_inter_file(inter_path)
    extra = pd.read_csv(inter_path, sep="\t", usecols=lambda c: c == "timestamp")
    timestamps = (pd.array(extra["timestamp"].to_numpy(dtype=np.int64), dtype="Int64") if "timestamp" in extra
                  else pd.array([None] * users.size, dtype="Int64"))
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    item_raw = _mapping(raw / entry.file("item_map").name, "itemID", n_items)
    user_raw = _mapping(raw / entry.file("user_map").name, "userID", n_users)
    interactions = pd.DataFrame({"user": users.astype(np.int32), "item": items.astype(np.int32),
                                 "label": labels.astype(np.int8), "timestamp": timestamps})
    empty = [""] * n_items
    items_table = pd.DataFrame({"item": np.arange(n_items, dtype=np.int32), "asin": item_raw, "title": empty,
                                "brand": empty, "categories": [[] for _ in range(n_items)], "description": empty,
                                "text": empty, "image_url": empty})
    users_table = pd.DataFrame({"user": np.arange(n_users, dtype=np.int32), "user_raw_id": user_raw})
    features = sorted(raw.glob(f"*{FEATURE_SUFFIX}"))
    counts = [{"step": "imported", "users": n_users, "items": n_items, "interactions": int(users.size)}]
    counts.append({"step": "split (as published)"} | {
        name: int((labels == value).sum()) for name, value in (("train", TRAIN), ("valid", VALID), ("test", TEST))})
    manifest = {"dataset": entry.name, "source": entry.source, "category": entry.category, "config": None,
                "counts": counts, "features": [p.name for p in features],
                "inputs": {p.name: sha256_file(p) for p in [inter_path, *features]},
                "seconds": round(time.perf_counter() - started, 2)}
    write_processed(out, interactions, items_table, users_table, manifest, features)
    return manifest


def _mapping(path: Path, id_column: str, size: int) -> np.ndarray:
    """Raw ids by dense id from an MMRec ``*_id_mapping.csv`` (tab-separated); index strings when absent."""
    if not path.exists():
        log.warning("%s: absent; raw ids are the dense ids", path)
        return np.array([str(i) for i in range(size)], dtype=object)
    table = pd.read_csv(path, sep="\t", dtype=str)
    if id_column not in table.columns or len(table.columns) != 2:
        raise DatasetError(f"{path}: expected two tab-separated columns, one named {id_column!r}; got "
                           f"{list(table.columns)}")
    raw_column = next(c for c in table.columns if c != id_column)
    ids = pd.to_numeric(table[id_column], errors="coerce")
    if ids.isna().any() or ids.min() < 0 or ids.max() >= size:
        raise DatasetError(f"{path}: {id_column} must be integers in [0, {size}); fix the mapping file")
    raw = np.array([str(i) for i in range(size)], dtype=object)
    raw[ids.to_numpy(dtype=np.int64)] = table[raw_column].to_numpy()
    return raw


def write_processed(out: Path, interactions: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame,
                    manifest: dict[str, Any], features: list[Path] | None = None) -> None:
    """Write the processed tables atomically; ``manifest.json`` last, so its presence means complete."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for name, table in (("interactions", interactions), ("items", items), ("users", users)):
        with atomic_path(out / f"{name}.parquet") as tmp:
            table.to_parquet(tmp, index=False)
    feature_folder = out / "features"
    shutil.rmtree(feature_folder, ignore_errors=True)
    for path in features or []:
        with atomic_path(feature_folder / path.name) as tmp:
            shutil.copyfile(path, tmp)
    write_json_atomic(out / "manifest.json", split_run_facts(out, manifest))


def _config_dict(config: PreprocessConfig) -> dict[str, Any]:
    values = asdict(config)
    values["temporal_fractions"] = list(config.temporal_fractions)
    return values
