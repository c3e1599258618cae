"""Streaming parsers for the Amazon review releases (2014, 2018, 2023) and the 2014 CNN image features.

Every reader is a generator over one line (or one binary record) at a time, so memory stays
bounded by what the caller keeps (Clothing 2014 metadata alone is about 1.5 M lines). A line
that cannot be parsed is a counted, logged skip (the first few are shown with their line
numbers): the releases contain a handful of such lines, and one bad line must not cost a
multi-gigabyte download. 2014 metadata is one Python literal per line and is read with
``ast.literal_eval`` -- never ``eval``.
"""

from __future__ import annotations

import ast
import gzip
import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from searec.errors import DatasetError

log = logging.getLogger(__name__)

SHOWN_SKIPS = 5
IMAGE_FEATURE_ASIN_BYTES = 10
IMAGE_FEATURE_DIM = 4096


@dataclass
class ParseReport:
    """Lines read and skipped by one parser pass over one file."""

    path: str
    lines: int = 0
    skipped: int = 0
    examples: list[str] = field(default_factory=list)

    def skip(self, line_number: int, reason: str) -> None:
        self.skipped += 1
        if len(self.examples) < SHOWN_SKIPS:
            self.examples.append(f"line {line_number}: {reason}")
            log.warning("%s line %d skipped: %s", self.path, line_number, reason)

    def log_summary(self) -> None:
        if self.skipped:
            log.warning("%s: %d of %d lines skipped (malformed)", self.path, self.skipped, self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "lines": self.lines, "skipped": self.skipped, "examples": self.examples}


@dataclass(frozen=True)
class Review:
    """One review as an implicit interaction: who, which item, when (unix seconds; None if absent)."""

    user: str
    item: str
    timestamp: int | None


@dataclass(frozen=True)
class ItemMeta:
    """The item fields the pipeline uses, normalised across releases."""

    item: str
    title: str = ""
    brand: str = ""
    categories: tuple[str, ...] = ()
    description: str = ""
    image_url: str = ""


def open_text(path: Path) -> IO[str]:
    """A text handle on a plain or gzip-compressed file (by magic bytes, not by name)."""
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _records(path: Path, decode: Callable[[str], Any], report: ParseReport) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            report.lines += 1
            try:
                record = decode(line)
            except (ValueError, SyntaxError, MemoryError, RecursionError) as error:
                report.skip(number, f"not a {'JSON object' if decode is json.loads else 'Python literal'} "
                                    f"({type(error).__name__}: {str(error)[:80]})")
                continue
            if not isinstance(record, dict):
                report.skip(number, f"expected an object, got {type(record).__name__}")
                continue
            yield number, record
    report.log_summary()


def _json_lines(path: Path, report: ParseReport) -> Iterator[tuple[int, dict[str, Any]]]:
    return _records(path, json.loads, report)


def _literal_lines(path: Path, report: ParseReport) -> Iterator[tuple[int, dict[str, Any]]]:
    return _records(path, ast.literal_eval, report)


def read_reviews(path: Path, release: str, report: ParseReport) -> Iterator[Review]:
    """Reviews of one release: 2014/2018 ``reviewerID, asin, unixReviewTime``; 2023 ``user_id, parent_asin, timestamp`` (ms).

    A review without a user or item is a counted skip (PROTOCOL.md step 1 drops them).
    """
    if release not in ("amazon2014", "amazon2018", "amazon2023", "sample"):
        raise ValueError(f"unknown release {release!r}")
    if release == "amazon2023":
        user_key, item_key, time_key, time_scale = "user_id", "parent_asin", "timestamp", 1000
    else:
        user_key, item_key, time_key, time_scale = "reviewerID", "asin", "unixReviewTime", 1
    for number, record in _json_lines(path, report):
        user, item = record.get(user_key), record.get(item_key)
        if not user or not item:
            report.skip(number, f"no {user_key if not user else item_key}")
            continue
        stamp = record.get(time_key)
        timestamp = int(stamp) // time_scale if isinstance(stamp, int | float) else None
        yield Review(str(user), str(item), timestamp)


def read_metadata(path: Path, release: str, report: ParseReport, wanted: set[str] | None = None) -> Iterator[ItemMeta]:
    """Item metadata of one release, only for ``wanted`` item ids when given (memory stays bounded)."""
    records = _json_lines(path, report) if release in ("amazon2018", "amazon2023") else _literal_lines(path, report)
    item_key = "parent_asin" if release == "amazon2023" else "asin"
    for number, record in records:
        item = record.get(item_key)
        if not item:
            report.skip(number, f"no {item_key}")
            continue
        if wanted is not None and item not in wanted:
            continue
        yield _normalise_metadata(str(item), record, release)


def _texts(value: Any) -> list[str]:
    """Strings in a field that may be a string, a list of strings, or nested lists (2014 categories)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return [text for element in value for text in _texts(element)]
    return [str(value)]


def _normalise_metadata(item: str, record: dict[str, Any], release: str) -> ItemMeta:
    if release == "amazon2023":
        details = record.get("details") if isinstance(record.get("details"), dict) else {}
        brand = record.get("store") or details.get("Brand") or ""
        images = record.get("images") or []
        image_url = next((image.get(key) for image in images if isinstance(image, dict)
                          for key in ("hi_res", "large", "thumb") if image.get(key)), "")
        categories = _texts(record.get("categories"))
    elif release == "amazon2018":
        brand = record.get("brand") or ""
        image_url = next(iter(_texts(record.get("imageURLHighRes")) + _texts(record.get("image"))), "")
        categories = _texts(record.get("category"))
    else:
        brand = record.get("brand") or ""
        image_url = record.get("imUrl") or ""
        categories = _texts(record.get("categories"))
    unique_categories = tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip()))
    return ItemMeta(item=item, title=str(record.get("title") or ""), brand=str(brand), categories=unique_categories,
                    description=" ".join(_texts(record.get("description"))), image_url=str(image_url))


_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """HTML unescaped (twice: the releases hold doubly escaped entities), tags removed, whitespace folded."""
    text = html.unescape(html.unescape(text))
    return _SPACE.sub(" ", _TAGS.sub(" ", text)).strip()


def item_text(meta: ItemMeta) -> str:
    """PROTOCOL.md step 5: title + brand + categories + description, cleaned; '' when there is none."""
    parts = [meta.title, meta.brand, ", ".join(meta.categories), meta.description]
    return clean_text(". ".join(part for part in (clean_text(p) for p in parts) if part))


def read_image_features(path: Path, wanted: dict[str, int], dim: int = IMAGE_FEATURE_DIM) -> tuple[np.ndarray, np.ndarray]:
    """Amazon 2014's ``image_features_<Cat>.b``: records of a 10-byte ASIN and ``dim`` little-endian float32.

    Returns ``(matrix, found)``: a float32 ``[len(wanted), dim]`` matrix with row ``wanted[asin]``
    filled for every wanted ASIN in the file, and a boolean mask of the rows found. Streams the
    file record by record; a truncated last record is an error naming the byte offset.
    """
    record_bytes = IMAGE_FEATURE_ASIN_BYTES + 4 * dim
    matrix = np.zeros((len(wanted), dim), dtype=np.float32)
    found = np.zeros(len(wanted), dtype=bool)
    with open(path, "rb") as handle:
        offset = 0
        while record := handle.read(record_bytes):
            if len(record) < record_bytes:
                raise DatasetError(f"{path}: truncated record at byte {offset} ({len(record)} of {record_bytes} "
                                   f"bytes); the download is incomplete: delete the file and download it again")
            asin = record[:IMAGE_FEATURE_ASIN_BYTES].decode("ascii", errors="replace").strip()
            row = wanted.get(asin)
            if row is not None:
                matrix[row] = np.frombuffer(record, dtype="<f4", offset=IMAGE_FEATURE_ASIN_BYTES)
                found[row] = True
            offset += record_bytes
    return matrix, found
