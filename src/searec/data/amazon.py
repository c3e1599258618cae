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
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from searec.data.releases import RELEASES, ItemMeta, ReviewFormat
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


def open_text(path: Path) -> IO[str]:
    """A text handle on a plain or gzip-compressed file (by magic bytes, not by name)."""
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a plain or gzip file; a truncated or corrupt gzip stream is an error naming the file."""
    number = 0
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DatasetError(f"{path}: the gzip stream ends or breaks after line {number} ({error}); the file is "
                           f"truncated or corrupt. Move it away and run `searec data download` again (or put a "
                           f"complete copy there by hand).") from None


def _records(path: Path, decode: Callable[[str], Any], report: ParseReport) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in _lines(path):
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


def review_format(release: str | ReviewFormat) -> ReviewFormat:
    """The parser record of a release (``amazon2014``, ...), or the record itself."""
    if isinstance(release, ReviewFormat):
        return release
    known = RELEASES.get(release)
    if known is None or known.parser is None:
        readable = sorted(name for name, r in RELEASES.items() if r.parser is not None)
        raise ValueError(f"release {release!r} has no review files to parse; releases with reviews: {readable}")
    return known.parser


def read_reviews(path: Path, release: str | ReviewFormat, report: ParseReport) -> Iterator[Review]:
    """Reviews of one release as (user, item, unix seconds), by the release's field names
    (2014/2018 ``reviewerID, asin, unixReviewTime``; 2023 ``user_id, parent_asin, timestamp`` in ms).

    A review without a user or item is a counted skip (PROTOCOL.md step 1 drops them).
    """
    fields = review_format(release)
    for number, record in _json_lines(path, report):
        user, item = record.get(fields.user), record.get(fields.item)
        if not user or not item:
            report.skip(number, f"no {fields.user if not user else fields.item}")
            continue
        stamp = record.get(fields.time)
        timestamp = int(stamp) // fields.time_divisor if isinstance(stamp, int | float) else None
        yield Review(str(user), str(item), timestamp)


def read_metadata(path: Path, release: str | ReviewFormat, report: ParseReport,
                  wanted: set[str] | None = None) -> Iterator[ItemMeta]:
    """Item metadata of one release, only for ``wanted`` item ids when given (memory stays bounded)."""
    fields = review_format(release)
    records = _json_lines(path, report) if fields.metadata_decoder == "json" else _literal_lines(path, report)
    for number, record in records:
        item = record.get(fields.metadata_item)
        if not item:
            report.skip(number, f"no {fields.metadata_item}")
            continue
        if wanted is not None and item not in wanted:
            continue
        yield fields.normalise_metadata(str(item), record)


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
