"""Fetch every item's product image: bounded thread pool, retries, a cache keyed by URL, a manifest of outcomes.

``data/images/<dataset>/`` holds ``<sha256(url)>.jpg`` files (the cache: a URL fetched once is
never fetched again, whatever dataset or run asks for it) and ``manifest.parquet`` with one row
per item: ``item``, ``url``, ``file`` (relative; empty when there is none), ``status`` (``ok``,
``failed`` or ``no_url``) and ``reason``. A corrupt or non-image answer is a counted failure,
never a crash. Relative URLs (the embedded sample's) resolve against the dataset's raw folder.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import time
import urllib.error
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

import pandas as pd

from searec.data.download import RetryPolicy, is_missing_local_file, is_permanent_http_error, open_url
from searec.fileio import atomic_path, write_json_atomic
from searec.runtime import progress, split_run_facts

log = logging.getLogger(__name__)

IMAGE_SUFFIX = ".jpg"


@dataclass(frozen=True)
class ImageOutcome:
    item: int
    url: str
    file: str
    status: str
    reason: str


def resolve_url(url: str, base_folder: Path) -> str:
    """Absolute URLs as they are; relative ones against ``base_folder`` (a ``file://`` URL)."""
    if urllib.parse.urlparse(url).scheme:
        return url
    return (base_folder.resolve() / url).as_uri()


def cache_name(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest() + IMAGE_SUFFIX


_OBJECT_ADDRESS = re.compile(r" ?<[\w.]+ object at 0x[0-9a-f]+>")


def check_image(data: bytes) -> str | None:
    """None if ``data`` decodes as an image, else why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decode all pixels: verify() misses truncated files
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        reason = _OBJECT_ADDRESS.sub("", str(error))  # "<_io.BytesIO object at 0x7f…>" differs on every run
        return f"not a decodable image ({type(error).__name__}: {reason[:80]})"
    return None


def _fetch(url: str, policy: RetryPolicy) -> bytes:
    last: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            with open_url(url, 0, policy.timeout_seconds) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            if is_permanent_http_error(error):
                raise
            last = error
        except (urllib.error.URLError, HTTPException, OSError, TimeoutError) as error:
            if is_missing_local_file(error):
                raise
            last = error
        if attempt < policy.attempts:
            time.sleep(policy.backoff_seconds * 2 ** (attempt - 1))
    assert last is not None
    raise last


def _one(item: int, url: str, base_folder: Path, out: Path, policy: RetryPolicy) -> ImageOutcome:
    if not url:
        return ImageOutcome(item, "", "", "no_url", "item has no image URL")
    resolved = resolve_url(url, base_folder)
    name = cache_name(url)  # the URL as the metadata gives it: a relative one names the same file anywhere
    if (out / name).exists():
        return ImageOutcome(item, url, name, "ok", "cached")
    try:
        data = _fetch(resolved, policy)
    except urllib.error.HTTPError as error:
        return ImageOutcome(item, url, "", "failed", f"HTTP {error.code} {error.reason}")
    except (urllib.error.URLError, HTTPException, OSError, TimeoutError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        tries = "" if is_missing_local_file(error) else f" after {policy.attempts} attempts"
        return ImageOutcome(item, url, "", "failed", f"fetch failed{tries}: {reason}")
    problem = check_image(data)
    if problem is not None:
        return ImageOutcome(item, url, "", "failed", problem)
    with atomic_path(out / name) as tmp:
        tmp.write_bytes(data)
    return ImageOutcome(item, url, name, "ok", "fetched")


IMAGE_RETRIES = RetryPolicy(attempts=3, backoff_seconds=1.0, timeout_seconds=30)


def fetch_item_images(items: pd.DataFrame, base_folder: Path, out: Path, workers: int = 8,
                      policy: RetryPolicy = IMAGE_RETRIES) -> dict[str, Any]:
    """Fetch the ``image_url`` of every row of ``items`` into ``out``; write and return the summary."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    rows = list(zip(items["item"].astype(int), items["image_url"].fillna("").astype(str)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_one, item, url, base_folder, out, policy) for item, url in rows]
        outcomes = [future.result() for future in progress(futures, len(futures), f"images of {out}", "image")]
    table = pd.DataFrame([outcome.__dict__ for outcome in outcomes],
                         columns=["item", "url", "file", "status", "reason"])
    fetched_now = table["reason"].isin(["fetched", "cached"])
    counted = table["reason"].where(fetched_now)  # whether a file was already here is not part of the result
    table.loc[fetched_now, "reason"] = ""
    with atomic_path(out / "manifest.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    counts = table["status"].value_counts().to_dict()
    failures = table[table["status"] == "failed"]
    summary = {"items": len(table), "ok": int(counts.get("ok", 0)), "failed": int(counts.get("failed", 0)),
               "no_url": int(counts.get("no_url", 0)),
               "fetched": int((counted == "fetched").sum()), "cached": int((counted == "cached").sum()),
               "failure_reasons": failures["reason"].str.split(" \\(").str[0].value_counts().to_dict(),
               "seconds": round(time.perf_counter() - started, 2)}
    if summary["failed"]:
        log.warning("%d of %d item images failed (first: item %d, %s: %s)", summary["failed"], len(table),
                    failures.iloc[0]["item"], failures.iloc[0]["url"], failures.iloc[0]["reason"])
    log.info("images: %d ok (%d fetched, %d cached), %d failed, %d without URL, %.1f s", summary["ok"],
             summary["fetched"], summary["cached"], summary["failed"], summary["no_url"], summary["seconds"])
    write_json_atomic(out / "manifest.json", split_run_facts(out, summary))
    return summary
