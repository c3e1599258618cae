"""Parsers on hand-written fixtures of every release, malformed lines included."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from searec.data.amazon import (
    ItemMeta,
    ParseReport,
    item_text,
    read_image_features,
    read_metadata,
    read_reviews,
)
from searec.errors import DatasetError


def write_lines(path: Path, lines: list[str], compress: bool = True) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_2014_reviews_with_malformed_and_incomplete_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "reviews_Baby_5.json.gz", [
        json.dumps({"reviewerID": "U1", "asin": "A1", "overall": 5.0, "unixReviewTime": 1300000000}),
        '{"reviewerID": "U2", "asin": ',  # cut off
        json.dumps({"asin": "A2", "unixReviewTime": 1300000001}),  # no user
        "",
        json.dumps({"reviewerID": "U3", "asin": "A3"}),  # no time
        "[1, 2]",
    ])
    report = ParseReport(str(path))
    reviews = list(read_reviews(path, "amazon2014", report))
    assert [(r.user, r.item, r.timestamp) for r in reviews] == [("U1", "A1", 1300000000), ("U3", "A3", None)]
    assert report.lines == 5 and report.skipped == 3
    assert report.examples[0].startswith("line 2: not a JSON object")
    assert "line 3: no reviewerID" in report.examples


def test_2014_metadata_is_read_as_literals_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write_lines(tmp_path / "meta_Baby.json.gz", [
        repr({"asin": "A1", "title": "Soft &amp;amp; Warm  Blanket", "brand": "Cozy",
              "categories": [["Baby", "Nursery"], ["Baby", "Blankets"]],
              "description": "<p>Warm.</p>\n  Washable", "imUrl": "http://img/a1.jpg"}),
        f"__import__('pathlib').Path({str(marker)!r}).touch()",
        "{'asin': 'A2', 'title': 'no end'",
        repr({"asin": "A3", "title": "Unwanted"}),
    ], compress=False)
    report = ParseReport(str(path))
    metas = list(read_metadata(path, "amazon2014", report, wanted={"A1", "A2"}))
    assert not marker.exists()
    assert report.skipped == 2 and report.lines == 4
    assert metas == [ItemMeta(item="A1", title="Soft &amp;amp; Warm  Blanket", brand="Cozy",
                              categories=("Baby", "Nursery", "Blankets"), description="<p>Warm.</p>\n  Washable",
                              image_url="http://img/a1.jpg")]
    assert item_text(metas[0]) == "Soft & Warm Blanket. Cozy. Baby, Nursery, Blankets. Warm. Washable"


def test_2018_metadata_json(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "meta_Sports.json.gz", [json.dumps({
        "asin": "S1", "title": "Ball", "brand": "Acme", "category": ["Sports", "Balls"],
        "description": ["Round.", "Bouncy."], "image": ["http://small/s1.jpg"], "imageURLHighRes": ["http://hi/s1.jpg"]})])
    (meta,) = read_metadata(path, "amazon2018", ParseReport(str(path)))
    assert meta == ItemMeta("S1", "Ball", "Acme", ("Sports", "Balls"), "Round. Bouncy.", "http://hi/s1.jpg")


def test_2023_reviews_and_metadata(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "Baby_Products.jsonl.gz", [
        json.dumps({"user_id": "U1", "asin": "CHILD", "parent_asin": "P1", "timestamp": 1588687728923, "rating": 5})])
    (review,) = read_reviews(reviews, "amazon2023", ParseReport(str(reviews)))
    assert (review.user, review.item, review.timestamp) == ("U1", "P1", 1588687728)
    meta_path = write_lines(tmp_path / "meta_Baby_Products.jsonl.gz", [json.dumps({
        "parent_asin": "P1", "title": "Rattle", "store": "Toyco", "categories": ["Baby Products", "Toys"],
        "description": [], "details": {"Brand": "Other"},
        "images": [{"thumb": "http://t/p1.jpg", "large": "http://l/p1.jpg", "hi_res": None, "variant": "MAIN"}]})])
    (meta,) = read_metadata(meta_path, "amazon2023", ParseReport(str(meta_path)))
    assert meta == ItemMeta("P1", "Rattle", "Toyco", ("Baby Products", "Toys"), "", "http://l/p1.jpg")


def test_item_text_of_an_item_without_fields_is_empty() -> None:
    assert item_text(ItemMeta("A")) == ""


def test_image_feature_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = {asin: rng.normal(size=8).astype("<f4") for asin in ("B000000001", "B000000002", "B000000003")}
    path = tmp_path / "image_features_Baby.b"
    path.write_bytes(b"".join(asin.encode() + vector.tobytes() for asin, vector in vectors.items()))
    wanted = {"B000000003": 0, "B000000001": 1, "B00MISSING": 2}
    matrix, found = read_image_features(path, wanted, dim=8)
    np.testing.assert_array_equal(matrix[0], vectors["B000000003"])
    np.testing.assert_array_equal(matrix[1], vectors["B000000001"])
    assert found.tolist() == [True, True, False] and not matrix[2].any()
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(DatasetError, match="truncated record at byte 84"):
        read_image_features(path, wanted, dim=8)
