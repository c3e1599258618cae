from pathlib import Path

import numpy as np
import pytest

from searec.data.mmrec import InterColumns, load_mmrec_folder, write_mmrec_folder
from searec.errors import DatasetError
from tests.conftest import shared_dataset, write_inter

GOOD_ROWS = [(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 1, 0), (1, 2, 2), (2, 0, 0), (2, 3, 1)]


def test_loads_ids_splits_and_features_as_float32(tmp_path: Path) -> None:
    write_inter(tmp_path, GOOD_ROWS)
    np.save(tmp_path / "image_feat.npy", np.ones((4, 3), dtype=np.float16))
    np.save(tmp_path / "audio_feat.npy", np.ones((4, 2), dtype=np.float64))
    dataset = load_mmrec_folder(tmp_path)
    assert (dataset.name, dataset.n_users, dataset.n_items) == ("toy", 3, 4)
    assert len(dataset.train) == 4 and len(dataset.splits["valid"]) == 2 and len(dataset.splits["test"]) == 1
    assert set(dataset.features) == {"image", "audio"}
    assert all(f.dtype == np.float32 for f in dataset.features.values())
    assert set(dataset.source_files) == {"toy.inter", "image_feat.npy", "audio_feat.npy"}


def test_optional_rating_and_timestamp_columns_and_custom_names(tmp_path: Path) -> None:
    write_inter(tmp_path, [(u, i, s, 5.0, 1000 + k) for k, (u, i, s) in enumerate(GOOD_ROWS)],
                header="uid\tiid\tsplit\trating\ttimestamp")
    dataset = load_mmrec_folder(tmp_path, InterColumns(user="uid", item="iid", label="split"))
    assert dataset.n_users == 3


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("userID\titemID", [(0, 0)], r"missing column\(s\) \['x_label'\]"),
        ("userID\titemID\tx_label\tcolour", [(0, 0, 0, "red")], r"unexpected column\(s\) \['colour'\]"),
        ("userID\titemID\tx_label", [(0, 0, 0), ("u1", 1, 0)], r"line 3: column 'userID' holds 'u1'"),
        ("userID\titemID\tx_label", [(0, 0, 0), (1, 1.5, 0)], r"line 3: column 'itemID' holds '1.5'"),
        ("userID\titemID\tx_label", [(0, 0, 0), (-1, 1, 0)], r"line 3: column 'userID' holds -1"),
        ("userID\titemID\tx_label", [(0, 0, 0), (1, 1, 3)], r"line 3: column 'x_label' holds '3'"),
        ("userID\titemID\tx_label", [(0, 0, 0), (1, 1, 1), (0, 0, 2)], r"line 4: duplicate \(user 0, item 0\).*line 2"),
        ("userID\titemID\tx_label", [(0, 0, 1), (1, 1, 2)], r"no training interaction"),
        ("userID\titemID\tx_label\ttimestamp", [(0, 0, 0, "yesterday")], r"line 2: column 'timestamp'"),
        ("userID\titemID\tx_label", [], r"no interactions after the header"),
    ],
)
def test_malformed_inter_files_name_file_line_and_fix(tmp_path: Path, header: str, rows: list, message: str) -> None:
    path = write_inter(tmp_path, rows, header=header)
    with pytest.raises(DatasetError, match=message) as error:
        load_mmrec_folder(tmp_path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones((3, 2), dtype=np.float32), r"3 rows, expected 4"),
        (np.ones((4, 2), dtype=np.int64), r"expected float16/32/64"),
        (np.ones(4, dtype=np.float32), r"expected a 2-D"),
        (np.array([[1.0, 2.0], [np.nan, 0.0], [0.0, 0.0], [0.0, 0.0]], dtype=np.float32), r"row 1 \(item 1\), column 0"),
    ],
)
def test_malformed_feature_files(tmp_path: Path, array: np.ndarray, message: str) -> None:
    write_inter(tmp_path, GOOD_ROWS)
    np.save(tmp_path / "text_feat.npy", array)
    with pytest.raises(DatasetError, match=message):
        load_mmrec_folder(tmp_path)


def test_pickled_feature_files_are_refused(tmp_path: Path) -> None:
    write_inter(tmp_path, GOOD_ROWS)
    np.save(tmp_path / "text_feat.npy", np.array([{"not": "numbers"}] * 4, dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="without pickle"):
        load_mmrec_folder(tmp_path)


def test_folder_problems(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no <name>.inter"):
        load_mmrec_folder(tmp_path)
    write_inter(tmp_path, GOOD_ROWS, name="a")
    write_inter(tmp_path, GOOD_ROWS, name="b")
    with pytest.raises(DatasetError, match="several .inter files"):
        load_mmrec_folder(tmp_path)


def test_users_without_training_history_are_dropped_from_evaluation_and_counted(tmp_path: Path, caplog) -> None:
    rows = GOOD_ROWS + [(3, 0, 1), (3, 1, 2), (4, 2, 2)]  # users 3 and 4 have no training interaction
    write_inter(tmp_path, rows)
    dataset = load_mmrec_folder(tmp_path)
    assert dataset.cold_evaluation_users("valid") == 1
    assert dataset.cold_evaluation_users("test") == 2
    assert list(dataset.evaluation_users("test")) == [1]
    assert "dropped from test evaluation" in caplog.text


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    users, items, labels = (np.array(c) for c in zip(*GOOD_ROWS))
    image = np.arange(8, dtype=np.float32).reshape(4, 2)
    write_mmrec_folder(tmp_path, "rt", users, items, labels, {"image": image})
    dataset = load_mmrec_folder(tmp_path)
    assert np.array_equal(dataset.features["image"], image)
    assert sorted(zip(dataset.train.users, dataset.train.items)) == [(0, 0), (0, 1), (1, 1), (2, 0)]


@pytest.mark.shared_data
def test_real_baby_folder_loads_with_mmrec_counts() -> None:
    dataset = load_mmrec_folder(shared_dataset("baby"))
    assert (dataset.n_users, dataset.n_items) == (19_445, 7_050)
    assert sum(len(part) for part in dataset.splits.values()) == 160_792
    assert dataset.features == {}


@pytest.mark.shared_data
def test_real_tiktok_folder_loads_two_float16_modalities_as_float32() -> None:
    dataset = load_mmrec_folder(shared_dataset("tiktok"))
    assert (dataset.n_users, dataset.n_items) == (9_308, 6_710)
    assert [len(dataset.splits[s]) for s in ("train", "valid", "test")] == [59_541, 3_051, 6_130]
    assert {m: f.shape for m, f in dataset.features.items()} == {"image": (6_710, 128), "audio": (6_710, 128)}
    assert all(f.dtype == np.float32 and np.isfinite(f).all() for f in dataset.features.values())
