"""k-core, dedupe, splits and the whole preprocessing stage on hand-written raw files; MMRec round trip."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searec.data.export import export_mmrec, read_processed
from searec.data.mmrec import load_mmrec_folder, write_mmrec_folder
from searec.data.preprocess import (
    PreprocessConfig,
    drop_duplicates_keep_earliest,
    import_mmrec,
    k_core,
    preprocess_amazon,
    temporal_split,
)
from searec.data.registry import dataset_entry
from searec.data.split import TEST, TRAIN, VALID
from searec.errors import DatasetError, ParamsError


def frame_of(pairs: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame({"user": [f"u{u}" for u, _ in pairs], "item": [f"i{i}" for _, i in pairs],
                         "timestamp": pd.array(range(len(pairs)), dtype="Int64")})


@settings(max_examples=80, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 25), st.integers(0, 20)), max_size=300, unique=True),
       k=st.integers(1, 6))
def test_k_core_leaves_every_user_and_item_with_k_and_is_idempotent(pairs: list[tuple[int, int]], k: int) -> None:
    filtered, _ = k_core(frame_of(pairs), k)
    if len(filtered):
        assert filtered["user"].value_counts().min() >= k
        assert filtered["item"].value_counts().min() >= k
    again, passes = k_core(filtered, k)
    assert passes == [] and len(again) == len(filtered)


def test_k_core_is_iterative() -> None:
    # u0 has 2 items; removing u0 (k=2 holds for it) ... build a chain where one removal cascades.
    pairs = [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)]
    filtered, passes = k_core(frame_of(pairs), 2)
    assert len(filtered) == 0 and len(passes) >= 2


def test_duplicates_keep_the_earliest_review() -> None:
    frame = pd.DataFrame({"user": ["a", "a", "a", "b"], "item": ["x", "x", "y", "x"],
                          "timestamp": pd.array([30, 10, None, 5], dtype="Int64")})
    kept = drop_duplicates_keep_earliest(frame)
    assert kept.to_dict("list") == {"user": ["a", "a", "b"], "item": ["x", "y", "x"], "timestamp": [10, None, 5]}


def test_temporal_split_orders_time() -> None:
    rng = np.random.default_rng(0)
    stamps = rng.integers(0, 1000, size=500)
    labels = temporal_split(stamps, rng.integers(0, 50, 500), rng.integers(0, 40, 500), (0.8, 0.1))
    assert stamps[labels == TRAIN].max() <= stamps[labels == VALID].min()
    assert stamps[labels == VALID].max() <= stamps[labels == TEST].min()
    assert ((labels == TRAIN).sum(), (labels == VALID).sum(), (labels == TEST).sum()) == (400, 50, 50)


def test_preprocess_settings_are_validated() -> None:
    with pytest.raises(ParamsError, match=r"unknown setting\(s\) \['kcore'\]; known: k_core"):
        PreprocessConfig.from_mapping({"kcore": 5})
    with pytest.raises(ParamsError, match="preprocess.split: expected one of per_user | temporal"):
        PreprocessConfig.from_mapping({"split": "random"})
    with pytest.raises(ParamsError, match=r"preprocess.temporal_fractions\[1\]: 1.5 is out of range"):
        PreprocessConfig.from_mapping({"temporal_fractions": [0.5, 1.5]})
    with pytest.raises(DatasetError, match="k_core >= 3"):
        PreprocessConfig.from_mapping({"k_core": 2})


# ------------------------------------------------------------------ the whole stage
def write_raw_2014(folder: Path, n_users: int = 40, n_items: int = 15, seed: int = 0) -> None:
    """Reviews (with a duplicate and a malformed line) and metadata (one non-literal line) in 2014 format."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for user in range(n_users):
        for item in rng.choice(n_items, size=int(rng.integers(5, 10)), replace=False):
            lines.append(json.dumps({"reviewerID": f"U{user:03d}", "asin": f"I{item:03d}",
                                     "unixReviewTime": int(rng.integers(1e9, 1.4e9))}))
    lines.append(lines[0].replace("unixReviewTime\": ", "unixReviewTime\": 1"))  # a later duplicate
    lines.append(json.dumps({"reviewerID": "LONELY", "asin": "I000", "unixReviewTime": 1}))  # dropped by 5-core
    lines.append("not json")
    (folder / "reviews_Baby_5.json.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    meta = [repr({"asin": f"I{i:03d}", "title": f"Item {i} &amp; co", "categories": [["Baby"]],
                  "imUrl": f"http://img/{i}.jpg"}) for i in range(n_items) if i != 3]
    meta.append("{broken")
    (folder / "meta_Baby.json.gz").write_bytes(gzip.compress("\n".join(meta).encode()))


def test_preprocess_counts_every_step_and_is_reproducible(tmp_path: Path) -> None:
    write_raw_2014(tmp_path / "raw")
    entry = dataset_entry("baby")
    manifest = preprocess_amazon(entry, tmp_path / "raw", tmp_path / "out", PreprocessConfig(seed=5))
    steps = {step["step"]: step for step in manifest["counts"]}
    assert steps["reviews read"]["skipped"] == 1
    assert steps["duplicates dropped (earliest kept)"]["interactions"] == steps["with user and item"]["interactions"] - 1
    assert steps["5-core"]["users"] == 40
    assert manifest["items"]["without_metadata"] == 1 and manifest["parsing"]["metadata"]["skipped"] == 1
    interactions, items, users, _ = read_processed(tmp_path / "out")
    assert interactions.groupby(["user", "item"]).size().max() == 1
    assert interactions["user"].value_counts().min() >= 5 and interactions["item"].value_counts().min() >= 5
    assert items.loc[items["asin"] == "I001", "text"].item() == "Item 1 & co. Baby"
    assert items.loc[items["asin"] == "I003", "text"].item() == ""
    assert sorted(users["user_raw_id"]) == list(users["user_raw_id"])  # dense ids follow sorted raw ids
    duplicate = interactions.merge(users, on="user").merge(items, on="item")
    first = json.loads(gzip.decompress((tmp_path / "raw" / "reviews_Baby_5.json.gz").read_bytes()).splitlines()[0])
    row = duplicate[(duplicate.user_raw_id == first["reviewerID"]) & (duplicate.asin == first["asin"])]
    assert row["timestamp"].item() == first["unixReviewTime"]  # the earliest of the duplicates

    preprocess_amazon(entry, tmp_path / "raw", tmp_path / "again", PreprocessConfig(seed=5))
    pd.testing.assert_frame_equal(interactions, read_processed(tmp_path / "again")[0])
    preprocess_amazon(entry, tmp_path / "raw", tmp_path / "other", PreprocessConfig(seed=6))
    assert not interactions["label"].equals(read_processed(tmp_path / "other")[0]["label"])


def test_processed_folder_without_manifest_is_not_trusted(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="did not finish"):
        read_processed(tmp_path)


def test_mmrec_import_then_export_changes_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    published = tmp_path / "published"
    users = np.repeat(np.arange(12), 5)
    items = np.concatenate([rng.choice(9, 5, replace=False) for _ in range(12)])
    labels = np.tile([0, 0, 0, 1, 2], 12)
    features = {"image": rng.normal(size=(9, 6)).astype(np.float32), "text": rng.normal(size=(9, 4)).astype(np.float32)}
    write_mmrec_folder(published, "toy", users, items, labels, features)
    pd.DataFrame({"asin": [f"A{i}" for i in range(9)], "itemID": range(9)}).to_csv(
        published / "i_id_mapping.csv", sep="\t", index=False)
    pd.DataFrame({"user_id": [f"U{u}" for u in range(12)], "userID": range(12)}).to_csv(
        published / "u_id_mapping.csv", sep="\t", index=False)
    entry = dataset_entry("toy", {"toy": {"source": "mmrec", "category": "toy"}})
    import_mmrec(entry, published, tmp_path / "processed")
    export_mmrec(tmp_path / "processed", tmp_path / "exported", "toy")
    for name in ("toy.inter", "i_id_mapping.csv", "u_id_mapping.csv", "image_feat.npy", "text_feat.npy"):
        assert (tmp_path / "exported" / name).read_bytes() == (published / name).read_bytes(), name
    before, after = load_mmrec_folder(published), load_mmrec_folder(tmp_path / "exported")
    for split in ("train", "valid", "test"):
        assert (before.interaction_matrix(split) != after.interaction_matrix(split)).nnz == 0


def test_an_mmrec_folder_downloads_from_a_local_base_url_without_optional_files(tmp_path: Path) -> None:
    from searec.data.download import download_dataset

    published = tmp_path / "published"
    write_mmrec_folder(published, "tiny", np.repeat(np.arange(4), 3), np.tile([0, 1, 2], 4), np.tile([0, 1, 2], 4),
                       {"audio": np.ones((3, 2), dtype=np.float32)})
    overrides = {"tiny": {"source": "mmrec", "category": "tiny", "base_url": published.as_uri(),
                          "files": {"audio_feat": {"path": "audio_feat.npy"}}}}
    entry = dataset_entry("tiny", overrides)
    manifest = download_dataset(entry, tmp_path / "raw")
    assert sorted(manifest["files"]) == ["audio_feat.npy", "tiny.inter"]  # image/text features and maps: optional
    import_mmrec(entry, tmp_path / "raw", tmp_path / "processed")
    export_mmrec(tmp_path / "processed", tmp_path / "exported", "tiny")
    assert (tmp_path / "exported" / "audio_feat.npy").read_bytes() == (published / "audio_feat.npy").read_bytes()
    assert read_processed(tmp_path / "processed")[1]["asin"].tolist() == ["0", "1", "2"]
