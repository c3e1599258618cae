"""The embedded sample catalog: a small Amazon-2014-format dataset where content carries preference.

``searec data make-sample --out DIR`` writes, deterministically:

* ``reviews_Sample_5.json.gz`` -- one JSON review a line (reviewerID, asin, overall,
  unixReviewTime, reviewText, summary, ...), as the 2014 release;
* ``meta_Sample.json.gz`` -- one Python-literal dict a line (asin, title, brand, categories,
  description with HTML entities, price, imUrl), as the 2014 release;
* ``images.tar`` -- one JPEG per item, ``<asin>.jpg``; the download stage extracts it to
  ``images/``, which the items' relative ``imUrl`` (``images/<asin>.jpg``, resolved against
  the dataset's raw folder) points to.

Each item has a product type (drawn as a distinct shape and named in the title and
categories), a colour (the fill of the drawing, named in the title) and a material pattern
(stripes, dots, checks or plain: drawn and described). Each user prefers a few types, colours
and patterns; a review is drawn from a user's preference-weighted choice with popularity and
noise (Gumbel top-k), so text and images genuinely carry what users choose and a
content-aware model can beat an ID-only one. The package ships these files (checksums in
registry.yaml); a test regenerates them and compares.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searec.fileio import atomic_path

CATEGORY = "Sample"
START_TIME = 1_325_376_000  # 2012-01-01
SPAN_SECONDS = 2 * 365 * 24 * 3600
IMAGE_SIZE = 112

PRODUCT_TYPES = {  # name: (title noun, category path, drawn shape)
    "bottle": ("Feeding Bottle", ["Baby", "Feeding", "Bottles"], "bottle"),
    "bear": ("Plush Bear", ["Baby", "Toys & Games", "Plush Toys"], "bear"),
    "blanket": ("Swaddle Blanket", ["Baby", "Nursery", "Blankets"], "square"),
    "ball": ("Activity Ball", ["Baby", "Toys & Games", "Balls"], "circle"),
    "bib": ("Drool Bib", ["Baby", "Feeding", "Bibs"], "triangle"),
    "hat": ("Knit Hat", ["Baby", "Clothing", "Hats & Caps"], "dome"),
}
COLOURS = {"red": (205, 40, 45), "blue": (40, 80, 200), "green": (40, 150, 70), "yellow": (235, 200, 40),
           "pink": (240, 130, 180), "purple": (120, 60, 160), "orange": (240, 130, 30), "teal": (30, 150, 150)}
PATTERNS = {  # name: (title adjective, material phrase)
    "striped": ("Striped", "soft striped cotton"),
    "dotted": ("Polka-Dot", "polka-dot organic muslin"),
    "checked": ("Checked", "checked flannel"),
    "plain": ("Classic", "smooth plain jersey"),
}
BRANDS = ("Little Otter", "Moonbeam", "Cozy Cub", "Tiny Sprout", "Nest & Co")


@dataclass(frozen=True)
class SampleConfig:
    n_users: int = 300
    n_items: int = 240
    min_interactions: int = 8
    max_interactions: int = 18
    seed: int = 2024


@dataclass(frozen=True)
class SampleItem:
    asin: str
    kind: str
    colour: str
    pattern: str
    brand: str
    popularity: float


def _items(config: SampleConfig, rng: np.random.Generator) -> list[SampleItem]:
    kinds, colours, patterns = list(PRODUCT_TYPES), list(COLOURS), list(PATTERNS)
    items = []
    for index in range(config.n_items):
        items.append(SampleItem(asin=f"B0S{index:07d}", kind=kinds[rng.integers(len(kinds))],
                                colour=colours[rng.integers(len(colours))], pattern=patterns[rng.integers(len(patterns))],
                                brand=BRANDS[rng.integers(len(BRANDS))], popularity=float(rng.lognormal(0.0, 0.6))))
    return items


def _interactions(config: SampleConfig, items: list[SampleItem], rng: np.random.Generator) -> list[tuple[int, int]]:
    """(user, item index) pairs: each user's Gumbel top-n of preference + popularity."""
    kinds, colours, patterns = list(PRODUCT_TYPES), list(COLOURS), list(PATTERNS)
    item_kind = np.array([kinds.index(i.kind) for i in items])
    item_colour = np.array([colours.index(i.colour) for i in items])
    item_pattern = np.array([patterns.index(i.pattern) for i in items])
    log_popularity = np.log([i.popularity for i in items])
    pairs = []
    for user in range(config.n_users):
        liked_kinds = rng.choice(len(kinds), size=2, replace=False)
        liked_colours = rng.choice(len(colours), size=2, replace=False)
        liked_pattern = rng.integers(len(patterns))
        affinity = (2.0 * np.isin(item_kind, liked_kinds) + 2.0 * np.isin(item_colour, liked_colours)
                    + 1.0 * (item_pattern == liked_pattern) + 0.5 * log_popularity)
        count = int(rng.integers(config.min_interactions, config.max_interactions + 1))
        chosen = np.argsort(-(affinity + rng.gumbel(size=len(items))))[:count]
        pairs.extend((user, int(item)) for item in chosen)
    return pairs


def _review_lines(config: SampleConfig, items: list[SampleItem], pairs: list[tuple[int, int]],
                  rng: np.random.Generator) -> list[str]:
    lines = []
    for user, index in pairs:
        item = items[index]
        noun = PRODUCT_TYPES[item.kind][0].lower()
        stamp = START_TIME + int(rng.integers(SPAN_SECONDS))
        rating = float(rng.choice([3.0, 4.0, 5.0], p=[0.15, 0.35, 0.5]))
        review = {"reviewerID": f"AS{user:06d}", "asin": item.asin, "reviewerName": f"Parent {user}",
                  "helpful": [0, 0], "reviewText": f"We like the {item.colour} {noun}. The {item.pattern} look is lovely.",
                  "overall": rating, "summary": f"{item.colour.title()} {noun}", "unixReviewTime": stamp,
                  "reviewTime": ""}
        lines.append(json.dumps(review))
    return lines


def _article(word: str) -> str:
    return "An" if word[0] in "aeiou" else "A"


def _meta_lines(items: list[SampleItem], rng: np.random.Generator) -> list[str]:
    lines = []
    for item in items:
        noun, path, _ = PRODUCT_TYPES[item.kind]
        adjective, material = PATTERNS[item.pattern]
        record = {"asin": item.asin, "title": f"{item.brand} {item.colour.title()} {adjective} {noun}",
                  "price": round(float(rng.uniform(5, 40)), 2), "imUrl": f"images/{item.asin}.jpg",
                  "brand": item.brand, "categories": [path],
                  "description": f"{_article(item.colour)} {item.colour} {noun.lower()} in {material} &amp; gentle "
                                 f"on skin.<br/>"
                                 f"Made by {item.brand} for everyday use."}
        lines.append(repr(record))  # a Python literal, as the 2014 metadata files hold
    return lines


def render_image(item: SampleItem, rng: np.random.Generator) -> bytes:
    """A JPEG of the item: its type's shape in its colour, with its pattern drawn over it."""
    from PIL import Image, ImageDraw, ImageFilter

    size = IMAGE_SIZE
    background = tuple(int(v) for v in 235 + rng.integers(-10, 11, size=3))
    image = Image.new("RGB", (size, size), background)
    colour = COLOURS[item.colour]
    dark = tuple(max(0, int(c * 0.55)) for c in colour)
    light = tuple(min(255, int(c + (255 - c) * 0.6)) for c in colour)
    shift = rng.integers(-8, 9, size=2)
    scale = float(rng.uniform(0.85, 1.0))
    cx, cy, r = size / 2 + shift[0], size / 2 + shift[1], size * 0.38 * scale
    box = (cx - r, cy - r, cx + r, cy + r)
    shape = PRODUCT_TYPES[item.kind][2]
    mask = Image.new("L", (size, size), 0)
    mask_draw = ImageDraw.Draw(mask)
    if shape == "circle":
        mask_draw.ellipse(box, fill=255)
    elif shape == "square":
        mask_draw.rectangle(box, fill=255)
    elif shape == "triangle":
        mask_draw.polygon([(cx - r, cy - r * 0.8), (cx + r, cy - r * 0.8), (cx, cy + r)], fill=255)
    elif shape == "bottle":
        mask_draw.rounded_rectangle((cx - r * 0.45, cy - r * 0.5, cx + r * 0.45, cy + r), radius=int(r * 0.2), fill=255)
        mask_draw.rectangle((cx - r * 0.2, cy - r, cx + r * 0.2, cy - r * 0.45), fill=255)
    elif shape == "bear":
        mask_draw.ellipse((cx - r * 0.7, cy - r * 0.4, cx + r * 0.7, cy + r), fill=255)
        for ear in (-1, 1):
            mask_draw.ellipse((cx + ear * r * 0.55 - r * 0.3, cy - r, cx + ear * r * 0.55 + r * 0.3, cy - r * 0.4), fill=255)
    else:  # dome
        mask_draw.pieslice((cx - r, cy - r, cx + r, cy + r), 180, 360, fill=255)
        mask_draw.rectangle((cx - r, cy - r * 0.05, cx + r, cy + r * 0.25), fill=255)
    layer = Image.new("RGB", (size, size), colour)
    pattern_draw = ImageDraw.Draw(layer)
    step = 12
    if item.pattern == "striped":
        for x in range(-size, size * 2, step):
            pattern_draw.line([(x, 0), (x + size, size)], fill=light, width=4)
    elif item.pattern == "dotted":
        for x in range(0, size, step):
            for y in range(0, size, step):
                pattern_draw.ellipse((x, y, x + 5, y + 5), fill=light)
    elif item.pattern == "checked":
        for x in range(0, size, step):
            for y in range(0, size, step):
                if (x // step + y // step) % 2:
                    pattern_draw.rectangle((x, y, x + step - 1, y + step - 1), fill=dark)
    image.paste(layer, (0, 0), mask)
    outline = mask.filter(ImageFilter.FIND_EDGES)
    image.paste(Image.new("RGB", (size, size), dark), (0, 0), outline)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def _gzip_lines(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    return buffer.getvalue()


def _tar_images(images: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as bundle:
        for name in sorted(images):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(images[name]), 0, 0o644
            bundle.addfile(info, io.BytesIO(images[name]))
    return buffer.getvalue()


def make_sample(out: Path, config: SampleConfig = SampleConfig()) -> dict[str, Path]:
    """Write the sample catalog's three files into ``out`` (atomically); returns their paths by role."""
    rng = np.random.default_rng(config.seed)
    items = _items(config, rng)
    pairs = _interactions(config, items, rng)
    contents = {
        "reviews": (f"reviews_{CATEGORY}_5.json.gz", _gzip_lines(_review_lines(config, items, pairs, rng))),
        "meta": (f"meta_{CATEGORY}.json.gz", _gzip_lines(_meta_lines(items, rng))),
        "images": ("images.tar", _tar_images({f"{item.asin}.jpg": render_image(item, rng) for item in items})),
    }
    paths = {}
    for role, (name, data) in contents.items():
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(data)
        paths[role] = out / name
    return paths
