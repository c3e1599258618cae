"""The dataset releases searec reads: one record per release format — where its files are, which
files there are, and how its records are parsed.

A registered dataset (``data/registry.yaml``, or params.yaml's ``datasets:``) names one of these
as its ``source``, plus a ``category``; the registry's source kinds and the params schema's
``datasets.<name>.source`` values derive from :data:`RELEASES` (``searec generate``). Adding a
release is adding a record here (and a metadata normaliser when its item records have a new
shape), with a parser test.

URLs are the datasets' own, from their pages; none of them publishes checksums or exact sizes
(``sha256`` / ``size`` may be added per file under a dataset's ``files:`` once known). Licence:
the Amazon review data are for research use; cite the papers named below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ItemMeta:
    """One item's metadata, normalised across releases."""

    item: str
    title: str = ""
    brand: str = ""
    categories: tuple[str, ...] = ()
    description: str = ""
    image_url: str = ""


def texts(value: Any) -> list[str]:
    """Strings in a field that may be a string, a list of strings, or nested lists (2014 categories)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return [text for element in value for text in texts(element)]
    return [str(value)]


def _meta(item: str, record: Mapping[str, Any], brand: Any, image_url: Any, categories: list[str]) -> ItemMeta:
    unique_categories = tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip()))
    return ItemMeta(item=item, title=str(record.get("title") or ""), brand=str(brand or ""),
                    categories=unique_categories, description=" ".join(texts(record.get("description"))),
                    image_url=str(image_url or ""))


def _meta_2014(item: str, record: Mapping[str, Any]) -> ItemMeta:
    return _meta(item, record, record.get("brand"), record.get("imUrl"), texts(record.get("categories")))


def _meta_2018(item: str, record: Mapping[str, Any]) -> ItemMeta:
    image = next(iter(texts(record.get("imageURLHighRes")) + texts(record.get("image"))), "")
    return _meta(item, record, record.get("brand"), image, texts(record.get("category")))


def _meta_2023(item: str, record: Mapping[str, Any]) -> ItemMeta:
    details = record.get("details") if isinstance(record.get("details"), dict) else {}
    images = record.get("images") or []
    image = next((image.get(key) for image in images if isinstance(image, dict)
                  for key in ("hi_res", "large", "thumb") if image.get(key)), "")
    return _meta(item, record, record.get("store") or details.get("Brand"), image, texts(record.get("categories")))


@dataclass(frozen=True)
class ReviewFormat:
    """How a release's review and metadata records are read.

    ``metadata_decoder`` is ``json`` (one JSON object a line) or ``python_literal`` (2014: one
    Python dict literal a line, read with ``ast.literal_eval``, never ``eval``).
    """

    user: str
    item: str
    time: str
    time_divisor: int
    """The review time field divided by this is unix seconds (2023 gives milliseconds)."""
    metadata_decoder: str
    metadata_item: str
    normalise_metadata: Callable[[str, Mapping[str, Any]], ItemMeta]


@dataclass(frozen=True)
class Release:
    """A release format: its source kind name, files (role -> path template or spec) and parser.

    ``parser`` is ``None`` for a release that is already an MMRec folder (imported as it is).
    """

    name: str
    description: str
    base_url: str | None
    files: Mapping[str, Any] = field(default_factory=dict)
    parser: ReviewFormat | None = None


AMAZON_2014_FORMAT = ReviewFormat("reviewerID", "asin", "unixReviewTime", 1, "python_literal", "asin", _meta_2014)

RELEASES: dict[str, Release] = {release.name: release for release in (
    Release("amazon2014", "Amazon 2014 (McAuley et al., SIGIR 2015), https://jmcauley.ucsd.edu/data/amazon/ "
                          "(served by SNAP); MMRec and SEA used its 5-core files and 4096-d CNN image features",
            "https://snap.stanford.edu/data/amazon/productGraph",
            {"reviews": "categoryFiles/reviews_{category}_5.json.gz", "meta": "categoryFiles/meta_{category}.json.gz",
             "image_features": "image_features/categoryFiles/image_features_{category}.b"},
            AMAZON_2014_FORMAT),
    Release("amazon2018", "Amazon 2018 (Ni et al., EMNLP 2019), https://nijianmo.github.io/amazon/",
            "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2",
            {"reviews": "categoryFilesSmall/{category}_5.json.gz", "meta": "metaFiles2/meta_{category}.json.gz"},
            ReviewFormat("reviewerID", "asin", "unixReviewTime", 1, "json", "asin", _meta_2018)),
    Release("amazon2023", "Amazon 2023 (Hou et al., 2024), https://amazon-reviews-2023.github.io/",
            "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023",
            {"reviews": "raw/review_categories/{category}.jsonl.gz", "meta": "raw/meta_categories/meta_{category}.jsonl.gz"},
            ReviewFormat("user_id", "parent_asin", "timestamp", 1000, "json", "parent_asin", _meta_2023)),
    # MMRec folders (Zhou et al., 2023) are published on Google Drive, which serves no stable direct
    # URL: put the folder's files in data/raw/<name>/ by hand, or give a base_url/mirror that has
    # them (a local folder works: base_url: file:///path/to/folder). Other modalities (e.g.
    # TikTok's audio_feat.npy) are added per dataset under `files:`.
    Release("mmrec", "an MMRec folder (Zhou et al., 2023): .inter file and <modality>_feat.npy, imported as is",
            None,
            {"inter": "{category}.inter", "image_feat": {"path": "image_feat.npy", "optional": True},
             "text_feat": {"path": "text_feat.npy", "optional": True},
             "item_map": {"path": "i_id_mapping.csv", "optional": True},
             "user_map": {"path": "u_id_mapping.csv", "optional": True}}),
    Release("sample", "the embedded sample catalog (Amazon 2014 format), shipped inside the package",
            "package:searec.data/sample_catalog",
            {"reviews": "reviews_{category}_5.json.gz", "meta": "meta_{category}.json.gz", "images": "images.tar"},
            AMAZON_2014_FORMAT),
)}
"""Every release format, by its source kind name."""
