"""Image fetching against a local server: good, corrupt, non-image and missing images; the URL-keyed cache."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from PIL import Image

from searec.data.download import RetryPolicy
from searec.data.images import cache_name, fetch_item_images
from tests.data.http_fixture import Route, local_server

FAST = RetryPolicy(attempts=2, backoff_seconds=0.01, timeout_seconds=5)


def jpeg_bytes(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_good_corrupt_missing_and_non_image_answers(tmp_path: Path) -> None:
    good = jpeg_bytes((200, 10, 10))
    with local_server() as server:
        urls = {
            "good": server.add("/good.jpg", Route(good, "image/jpeg")),
            "truncated": server.add("/truncated.jpg", Route(good[: len(good) // 2], "image/jpeg")),
            "html": server.add("/page.jpg", Route(b"<html>not an image</html>", "text/html")),
            "missing": server.url + "/missing.jpg",
            "flaky": server.add("/flaky.jpg", Route(good, "image/jpeg", fail_first=1)),
        }
        local = tmp_path / "raw" / "images" / "local.jpg"
        local.parent.mkdir(parents=True)
        local.write_bytes(jpeg_bytes((0, 0, 200)))
        rows = list(urls.values()) + ["images/local.jpg", ""]
        items = pd.DataFrame({"item": range(len(rows)), "image_url": rows})
        summary = fetch_item_images(items, tmp_path / "raw", tmp_path / "images", workers=3, policy=FAST)
        assert (summary["ok"], summary["failed"], summary["no_url"]) == (3, 3, 1)
        manifest = pd.read_parquet(tmp_path / "images" / "manifest.parquet").set_index("item")
        assert manifest.loc[0, "status"] == "ok" and (tmp_path / "images" / manifest.loc[0, "file"]).read_bytes() == good
        assert manifest.loc[1, "reason"].startswith("not a decodable image")
        assert manifest.loc[2, "reason"].startswith("not a decodable image")
        assert manifest.loc[3, "reason"] == "HTTP 404 Not Found"
        assert manifest.loc[4, "status"] == "ok"  # retried after one HTTP 500
        # a relative URL is recorded (and names its file) as the metadata gives it: no machine's path
        assert manifest.loc[5, "url"] == "images/local.jpg" and manifest.loc[5, "status"] == "ok"
        assert manifest.loc[5, "file"] == cache_name("images/local.jpg") and manifest.loc[0, "reason"] == ""
        assert manifest.loc[6, "status"] == "no_url"
        assert manifest.loc[0, "file"] == cache_name(urls["good"])

        requests_before = len(server.routes["/good.jpg"].requests)
        again = fetch_item_images(items, tmp_path / "raw", tmp_path / "images", workers=3, policy=FAST)
        assert len(server.routes["/good.jpg"].requests) == requests_before  # cached by URL
        assert again["cached"] == 3 and again["fetched"] == 0
        # whether a file was cached is a fact of this execution: the tracked manifests are the same bytes
        assert "cached" not in json.loads((tmp_path / "images" / "manifest.json").read_text())
        second = pd.read_parquet(tmp_path / "images" / "manifest.parquet").set_index("item")
        assert second.to_dict() == manifest.to_dict(), second.compare(manifest)
