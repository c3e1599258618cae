"""Load and write MMRec-format dataset folders, with validation that names file, row and fix.

An MMRec folder holds ``<name>.inter`` (tab-separated, header ``userID itemID x_label``,
optionally ``rating`` and ``timestamp``; ``x_label`` 0/1/2 = train/valid/test) and any number of
``<modality>_feat.npy`` item-feature matrices (row = item index). This is the format MMRec
(Zhou et al., 2023) and the released SEA code read, so folders move freely between them and us.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from searec.data.split import SPLIT_LABELS, TRAIN
from searec.errors import DatasetError
from searec.fileio import atomic_path, save_npy_atomic, sha256_file

log = logging.getLogger(__name__)

FEATURE_SUFFIX = "_feat.npy"
OPTIONAL_NUMERIC_COLUMNS = ("rating", "timestamp")
FLOAT_FEATURE_DTYPES = (np.float16, np.float32, np.float64)


@dataclass(frozen=True)
class InterColumns:
    """Column names of a ``.inter`` file (MMRec's ``USER_ID_FIELD`` etc.)."""

    user: str = "userID"
    item: str = "itemID"
    label: str = "x_label"


@dataclass(frozen=True)
class Interactions:
    """One split's (user, item) pairs as aligned int64 arrays."""

    users: np.ndarray
    items: np.ndarray

    def __len__(self) -> int:
        return int(self.users.size)


@dataclass
class InteractionDataset:
    """An implicit-feedback dataset with a fixed train/valid/test split and item features.

    Attributes:
        name: dataset name (the ``.inter`` file's stem).
        n_users, n_items: index ranges; ids are dense 0-based indices.
        splits: ``train``, ``valid`` and ``test`` interactions.
        features: modality name -> float32 ``[n_items, d]`` matrix.
        source_files: file name -> SHA-256 of every file the dataset was read from.
        folder: the MMRec folder it was read from (None when built in memory).
    """

    name: str
    n_users: int
    n_items: int
    splits: dict[str, Interactions]
    features: dict[str, np.ndarray] = field(default_factory=dict)
    source_files: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None

    @property
    def train(self) -> Interactions:
        return self.splits["train"]

    def interaction_matrix(self, split: str) -> sp.csr_matrix:
        """Binary users × items CSR matrix of one split."""
        part = self.splits[split]
        data = np.ones(len(part), dtype=np.float32)
        return sp.csr_matrix((data, (part.users, part.items)), shape=(self.n_users, self.n_items))

    def evaluation_users(self, split: str) -> np.ndarray:
        """Users with at least one ``split`` interaction AND at least one training interaction.

        Users without training history cannot be scored meaningfully and are dropped from
        evaluation, as MMRec does (``filter_out_cod_start_users``).
        """
        held_out_users = np.unique(self.splits[split].users)
        has_train = np.zeros(self.n_users, dtype=bool)
        has_train[self.train.users] = True
        return held_out_users[has_train[held_out_users]]

    def cold_evaluation_users(self, split: str) -> int:
        """How many users have ``split`` interactions but none in train (dropped from evaluation)."""
        return int(np.unique(self.splits[split].users).size - self.evaluation_users(split).size)

    def require_evaluation_users(self) -> None:
        """Refuse a dataset a run cannot be selected or tested on: an evaluation split without users.

        Without validation users no epoch can be chosen; without test users the run would report
        NaN metrics for 0 users. Both are found here, before any training.
        """
        where = self.folder or self.name
        for split, code in SPLIT_LABELS.items():
            if split == "train":
                continue
            if not len(self.splits[split]):
                raise DatasetError(f"{where}: the {split} split is empty (no .inter row has x_label {code}); a run "
                                   f"needs validation and test interactions. Re-split the data (searec data "
                                   f"preprocess writes all three splits) or fix the label column.")
            if not self.evaluation_users(split).size:
                raise DatasetError(f"{where}: none of the {len(self.splits[split])} {split} interactions belongs to "
                                   f"a user with training interactions, so no user can be evaluated on {split}. "
                                   f"Re-split the data so every user has training history.")

    def summary(self) -> str:
        parts = ", ".join(f"{name} {len(inter)}" for name, inter in self.splits.items())
        feats = ", ".join(f"{m} {f.shape[1]}-d" for m, f in self.features.items()) or "no features"
        return f"{self.name}: {self.n_users} users, {self.n_items} items ({parts}); {feats}"


def find_inter_file(folder: Path) -> Path:
    """The single ``*.inter`` file of an MMRec folder (or a clear error)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder. Pass the MMRec dataset folder that holds <name>.inter.")
    candidates = sorted(folder.glob("*.inter"))
    if not candidates:
        raise DatasetError(f"{folder}: no <name>.inter file. An MMRec folder holds one tab-separated .inter file.")
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise DatasetError(f"{folder}: several .inter files ({names}); keep one dataset per folder.")
    return candidates[0]


def _first_bad_row(mask: np.ndarray) -> int:
    """0-based data row of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0])


def _line(row: int) -> int:
    """File line number of a 0-based data row (line 1 is the header)."""
    return row + 2


def _column_text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column's values as stripped strings (missing fields become '')."""
    return frame[column].fillna("").astype(str).str.strip()


def _parse_id_column(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    as_text = _column_text(frame, column)
    is_integer = as_text.str.fullmatch(r"[+-]?\d+").to_numpy()
    if not is_integer.all():
        row = _first_bad_row(~is_integer)
        raise DatasetError(
            f"{path}, line {_line(row)}: column {column!r} holds {as_text.iloc[row]!r}, expected a "
            f"non-negative integer index. MMRec folders use dense 0-based integer ids; map raw ids "
            f"to indices first (see u_id_mapping.csv / i_id_mapping.csv)."
        )
    ids = as_text.astype(np.int64).to_numpy()
    if (ids < 0).any():
        row = _first_bad_row(ids < 0)
        raise DatasetError(
            f"{path}, line {_line(row)}: column {column!r} holds {ids[row]}, expected a non-negative "
            f"integer index. Ids are 0-based positions; remap the ids."
        )
    return ids


def _check_numeric_column(frame: pd.DataFrame, column: str, path: Path) -> None:
    as_text = _column_text(frame, column)
    parsed = pd.to_numeric(as_text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(parsed)
    if bad.any():
        row = _first_bad_row(bad)
        raise DatasetError(
            f"{path}, line {_line(row)}: column {column!r} holds {as_text.iloc[row]!r}, expected a "
            f"finite number. Fix the value or drop the column."
        )


def read_inter_file(path: Path, columns: InterColumns = InterColumns()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read and validate a ``.inter`` file; return (users, items, labels) arrays."""
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[], engine="c")
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: the file is empty; expected a header line and interactions.") from None
    except pd.errors.ParserError as error:
        raise DatasetError(f"{path}: not a well-formed tab-separated file ({error}). Every line needs the same "
                           f"number of tab-separated fields as the header.") from None
    expected = [columns.user, columns.item, columns.label]
    allowed = set(expected) | set(OPTIONAL_NUMERIC_COLUMNS)
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in allowed]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing column(s) {missing}")
        if extra:
            problems.append(f"unexpected column(s) {extra}")
        raise DatasetError(
            f"{path}, line 1 (header): {' and '.join(problems)}; found {list(frame.columns)}. Expected "
            f"{expected} plus optionally {list(OPTIONAL_NUMERIC_COLUMNS)}, tab-separated. If your columns "
            f"have other names, pass them (--user-column / --item-column / --label-column)."
        )
    if frame.empty:
        raise DatasetError(f"{path}: no interactions after the header line; the dataset needs training interactions.")
    users = _parse_id_column(frame, columns.user, path)
    items = _parse_id_column(frame, columns.item, path)
    label_text = _column_text(frame, columns.label)
    valid_label = label_text.isin(["0", "1", "2"]).to_numpy()
    if not valid_label.all():
        row = _first_bad_row(~valid_label)
        raise DatasetError(
            f"{path}, line {_line(row)}: column {columns.label!r} holds {label_text.iloc[row]!r}, expected "
            f"0 (train), 1 (valid) or 2 (test). Re-split the data or fix the label."
        )
    labels = label_text.astype(np.int8).to_numpy()
    for optional in OPTIONAL_NUMERIC_COLUMNS:
        if optional in frame.columns:
            _check_numeric_column(frame, optional, path)
    pair_keys = pd.Series(users * (int(items.max()) + 1) + items)
    duplicated = pair_keys.duplicated().to_numpy()
    if duplicated.any():
        row = _first_bad_row(duplicated)
        first = _first_bad_row((pair_keys == pair_keys.iloc[row]).to_numpy())
        raise DatasetError(
            f"{path}, line {_line(row)}: duplicate (user {users[row]}, item {items[row]}) pair, first seen on "
            f"line {_line(first)}. Each pair may appear once; keep the earliest and drop the rest."
        )
    if not (labels == TRAIN).any():
        raise DatasetError(f"{path}: no training interaction (x_label 0) at all; a model cannot be trained. "
                           f"Check the label column and the split.")
    return users, items, labels


def read_feature_file(path: Path, n_items: int) -> np.ndarray:
    """Load one ``<modality>_feat.npy`` safely (no pickle) as float32 and validate it."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" not in str(error):  # a header that promises more bytes than the file holds
            raise DatasetError(f"{path}: not a complete .npy file ({error}; {path.stat().st_size} bytes): it is "
                               f"truncated or corrupt. Write it again (numpy.save) or re-run the stage that "
                               f"made it.") from None
        raise DatasetError(f"{path}: cannot load without pickle ({error}). Save features as a plain float "
                           f"array with numpy.save.") from None
    except (EOFError, OSError) as error:
        raise DatasetError(f"{path}: not a readable .npy file ({error or type(error).__name__}; "
                           f"{path.stat().st_size} bytes): it is empty, truncated or not an array. Write it "
                           f"again (numpy.save) or re-run the stage that made it.") from None
    if not isinstance(array, np.ndarray) or array.dtype.type not in FLOAT_FEATURE_DTYPES:
        raise DatasetError(f"{path}: dtype {getattr(array, 'dtype', type(array))}, expected float16/32/64. "
                           f"Save the features as a float array.")
    if array.ndim != 2:
        raise DatasetError(f"{path}: shape {array.shape}, expected a 2-D [n_items, dim] matrix.")
    if array.shape[0] != n_items:
        raise DatasetError(
            f"{path}: {array.shape[0]} rows, expected {n_items} (one per item index 0..{n_items - 1} of the "
            f".inter file). Row i must hold item i's features; re-export the features for this item set."
        )
    features = array.astype(np.float32)
    finite = np.isfinite(features)
    if not finite.all():
        row, col = (int(x) for x in np.argwhere(~finite)[0])
        raise DatasetError(
            f"{path}: row {row} (item {row}), column {col} is {features[row, col]}; features must be finite. "
            f"Impute missing items (e.g. with the mean of the others) before saving."
        )
    return features


SPARSE_IDS_TOLERATED = 1024
"""Unused indices below the largest id that are only warned about; beyond this and beyond the
number of used ids, the ids are not indices (every model allocates one row per index)."""


def _index_range(ids: np.ndarray, what: str, path: Path) -> int:
    """The index range (largest id + 1), refusing ids so sparse that they cannot be row indices."""
    size = int(ids.max()) + 1
    used = int(np.unique(ids).size)
    if size - used > max(SPARSE_IDS_TOLERATED, used):
        raise DatasetError(
            f"{path}: {what} ids reach {size - 1} but only {used} distinct ids are used; ids must be dense 0-based "
            f"indices (each model allocates a row per index: {size:,} rows here). Remap them to 0..{used - 1}, "
            f"e.g. with pandas.factorize, keeping the mapping beside the folder (as MMRec's "
            f"{what[0]}_id_mapping.csv does).")
    return size


def load_mmrec_folder(folder: str | Path, columns: InterColumns = InterColumns()) -> InteractionDataset:
    """Load and validate an MMRec-format dataset folder.

    ``n_users`` and ``n_items`` are the largest id + 1. Modalities come from the file names:
    ``image_feat.npy`` -> ``image``, ``text_feat.npy`` -> ``text``, ``audio_feat.npy`` -> ``audio``.
    Evaluation users without training interactions are counted and logged here; the evaluator
    drops them.
    """
    folder = Path(folder)
    inter_path = find_inter_file(folder)
    users, items, labels = read_inter_file(inter_path, columns)
    n_users = _index_range(users, "user", inter_path)
    n_items = _index_range(items, "item", inter_path)
    splits = {
        name: Interactions(users=users[labels == code], items=items[labels == code])
        for name, code in SPLIT_LABELS.items()
    }
    source_files = {inter_path.name: sha256_file(inter_path)}
    features: dict[str, np.ndarray] = {}
    for feature_path in sorted(folder.glob(f"*{FEATURE_SUFFIX}")):
        modality = feature_path.name[: -len(FEATURE_SUFFIX)]
        features[modality] = read_feature_file(feature_path, n_items)
        source_files[feature_path.name] = sha256_file(feature_path)
    dataset = InteractionDataset(
        name=inter_path.stem, n_users=n_users, n_items=n_items, splits=splits,
        features=features, source_files=source_files, folder=folder,
    )
    unused_users = n_users - np.unique(users).size
    unused_items = n_items - np.unique(items).size
    if unused_users or unused_items:
        log.warning("%s: %d user ids and %d item ids in 0..max have no interaction at all (ids are not dense)",
                    inter_path, unused_users, unused_items)
    for split in ("valid", "test"):
        cold = dataset.cold_evaluation_users(split)
        if cold:
            log.warning("%s: %d users have %s interactions but none in train; they are dropped from %s "
                        "evaluation (as MMRec does)", inter_path, cold, split, split)
    log.info("loaded %s", dataset.summary())
    return dataset


def write_mmrec_folder(
    folder: str | Path,
    name: str,
    users: np.ndarray,
    items: np.ndarray,
    labels: np.ndarray,
    features: dict[str, np.ndarray] | None = None,
    columns: InterColumns = InterColumns(),
) -> None:
    """Write an MMRec folder: ``<name>.inter`` and one ``<modality>_feat.npy`` per modality, atomically."""
    folder = Path(folder)
    frame = pd.DataFrame({columns.user: users, columns.item: items, columns.label: labels})
    with atomic_path(folder / f"{name}.inter") as tmp:
        frame.to_csv(tmp, sep="\t", index=False)
    for modality, matrix in (features or {}).items():
        save_npy_atomic(folder / f"{modality}{FEATURE_SUFFIX}", np.ascontiguousarray(matrix, dtype=np.float32))
