"""Downloads against a server on 127.0.0.1: resume, retries, verification, clear errors, safe archives."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from searec.data.download import (
    ArchiveError,
    DownloadError,
    RetryPolicy,
    download_dataset,
    extract_archive,
    fetch_file,
)
from searec.data.registry import DatasetEntry, RemoteFile, dataset_entry
from searec.errors import DatasetError
from tests.data.http_fixture import Route, local_server, refused_url

BODY = os.urandom(300_000)
FAST = RetryPolicy(attempts=3, backoff_seconds=0.01, timeout_seconds=5)


def remote(url: str, body: bytes | None = BODY, name: str = "file.bin") -> RemoteFile:
    return RemoteFile(role="data", name=name, url=url, size=len(body) if body is not None else None,
                      sha256=hashlib.sha256(body).hexdigest() if body is not None else None)


def test_a_cut_connection_resumes_with_a_range_request(tmp_path: Path) -> None:
    with local_server() as server:
        route = Route(BODY, cut_first=1)
        url = server.add("/file.bin", route)
        waits: list[float] = []
        fetch_file(remote(url), tmp_path, FAST, sleep=waits.append)
    assert (tmp_path / "file.bin").read_bytes() == BODY
    assert not (tmp_path / "file.bin.part").exists()
    assert "Range" not in route.requests[0]
    assert route.requests[1]["Range"] == f"bytes={len(BODY) // 2}-"
    assert waits == [0.01]


def test_a_server_that_ignores_range_restarts_the_file(tmp_path: Path) -> None:
    with local_server() as server:
        url = server.add("/file.bin", Route(BODY, cut_first=1, ignore_range=True))
        fetch_file(remote(url), tmp_path, FAST, sleep=lambda _: None)
    assert (tmp_path / "file.bin").read_bytes() == BODY


def test_server_errors_are_retried_with_exponential_backoff(tmp_path: Path) -> None:
    with local_server() as server:
        route = Route(BODY, fail_first=2)
        url = server.add("/file.bin", route)
        waits: list[float] = []
        fetch_file(remote(url), tmp_path, RetryPolicy(attempts=3, backoff_seconds=0.5), sleep=waits.append)
    assert len(route.requests) == 3
    assert waits == [0.5, 1.0]


def test_checksum_mismatch_fails_and_leaves_no_file(tmp_path: Path) -> None:
    with local_server() as server:
        url = server.add("/file.bin", Route(BODY))
        wrong = RemoteFile(role="data", name="file.bin", url=url, sha256="0" * 64)
        with pytest.raises(DownloadError, match="SHA-256"):
            fetch_file(wrong, tmp_path, FAST, sleep=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_not_found_is_a_clear_error_without_retries(tmp_path: Path) -> None:
    with local_server() as server:
        waits: list[float] = []
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch_file(remote(server.url + "/missing.bin"), tmp_path, FAST, sleep=waits.append)
    assert waits == []
    assert list(tmp_path.iterdir()) == []


def test_a_refused_connection_is_retried_then_named(tmp_path: Path) -> None:
    waits: list[float] = []
    with pytest.raises(DownloadError, match="connection failed.*after 3 attempts"):
        fetch_file(remote(refused_url()), tmp_path, FAST, sleep=waits.append)
    assert len(waits) == 2


def test_a_verified_file_is_not_fetched_again(tmp_path: Path) -> None:
    with local_server() as server:
        route = Route(BODY)
        url = server.add("/file.bin", route)
        fetch_file(remote(url), tmp_path, FAST)
        fetch_file(remote(url), tmp_path, FAST)
        assert len(route.requests) == 1
        (tmp_path / "file.bin").write_bytes(b"corrupted")
        fetch_file(remote(url), tmp_path, FAST)
        assert len(route.requests) == 2
    assert (tmp_path / "file.bin").read_bytes() == BODY


def test_file_urls_work(tmp_path: Path) -> None:
    source = tmp_path / "source" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(BODY)
    fetch_file(remote(source.as_uri()), tmp_path / "raw", FAST)
    assert (tmp_path / "raw" / "file.bin").read_bytes() == BODY


def test_offline_dataset_error_names_every_missing_file_and_where_to_put_it(tmp_path: Path) -> None:
    dead = refused_url()
    entry = DatasetEntry("demo", "amazon2014", "Baby",
                         (remote(dead, name="reviews_Baby_5.json.gz"), remote(dead, name="meta_Baby.json.gz")))
    with pytest.raises(DownloadError) as caught:
        download_dataset(entry, tmp_path / "raw", FAST, sleep=lambda _: None)
    message = str(caught.value)
    assert "2 of 2 files missing" in message
    for name in ("reviews_Baby_5.json.gz", "meta_Baby.json.gz"):
        assert f"put it by hand at {tmp_path / 'raw' / name}" in message


def test_dataset_manifest_records_every_file(tmp_path: Path) -> None:
    with local_server() as server:
        url = server.add("/file.bin", Route(BODY))
        entry = DatasetEntry("demo", "amazon2014", "Baby", (remote(url),))
        manifest = download_dataset(entry, tmp_path, FAST)
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["files"]["file.bin"]["sha256"] == hashlib.sha256(BODY).hexdigest()


# ------------------------------------------------------------------ archives
def _tar_with(name: str, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as bundle:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("member", ["../escape.txt", "/tmp/searec-absolute-escape.txt", "a/../../escape.txt"])
def test_tar_members_outside_the_target_are_refused(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "bad.tar"
    archive.write_bytes(_tar_with(member))
    with pytest.raises(ArchiveError, match="refused"):
        extract_archive(archive, tmp_path / "out" / "bad")
    assert not (tmp_path / "out" / "bad").exists()
    assert not (tmp_path / "out" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


def test_zip_members_outside_the_target_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("fine.txt", "ok")
        bundle.writestr("../escape.txt", "no")
    with pytest.raises(ArchiveError, match="refused: it would be written outside"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_a_good_archive_extracts_once_and_a_new_version_replaces_it(tmp_path: Path) -> None:
    archive = tmp_path / "good.tar"
    archive.write_bytes(_tar_with("images/a.jpg", b"jpeg"))
    target = extract_archive(archive, tmp_path / "good")
    assert (target / "images" / "a.jpg").read_bytes() == b"jpeg"
    (target / "images" / "a.jpg").write_bytes(b"touched")
    extract_archive(archive, target)  # same archive: left as it is
    assert (target / "images" / "a.jpg").read_bytes() == b"touched"
    archive.write_bytes(_tar_with("images/b.jpg", b"new"))
    extract_archive(archive, target)
    assert sorted(p.name for p in (target / "images").iterdir()) == ["b.jpg"]


# ------------------------------------------------------------------ registry
def test_registry_builds_official_urls_and_honours_a_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEAREC_MIRROR", raising=False)
    baby = dataset_entry("baby")
    assert baby.file("reviews").url == \
        "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/reviews_Baby_5.json.gz"
    assert baby.file("image_features").url.endswith("image_features/categoryFiles/image_features_Baby.b")
    assert dataset_entry("sports2023").file("meta").url.endswith("raw/meta_categories/meta_Sports_and_Outdoors.jsonl.gz")
    monkeypatch.setenv("SEAREC_MIRROR", "http://mirror.local/amazon")
    assert dataset_entry("baby").file("meta").url == "http://mirror.local/amazon/categoryFiles/meta_Baby.json.gz"


def test_params_can_register_a_new_category() -> None:
    entry = dataset_entry("toys", {"toys": {"source": "amazon2014", "category": "Toys_and_Games"}})
    assert entry.file("reviews").name == "reviews_Toys_and_Games_5.json.gz"
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        dataset_entry("nope")


def test_a_hand_placed_file_that_fails_verification_is_moved_aside_and_named(tmp_path: Path) -> None:
    placed = tmp_path / "file.bin"
    placed.write_bytes(b"the user's own copy")
    mine = hashlib.sha256(placed.read_bytes()).hexdigest()
    dead = refused_url()
    with pytest.raises(DownloadError) as caught:
        fetch_file(remote(dead), tmp_path, FAST, sleep=lambda _: None)
    kept = tmp_path / "file.bin.rejected"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == mine  # never deleted
    assert str(kept) in str(caught.value) and "size 19 bytes" in str(caught.value)
    placed.write_bytes(b"a second wrong copy")
    with pytest.raises(DownloadError):
        fetch_file(remote(dead), tmp_path, FAST, sleep=lambda _: None)
    assert (tmp_path / "file.bin.rejected.2").read_bytes() == b"a second wrong copy" and kept.exists()


def test_a_failed_dataset_download_leaves_no_stale_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"files": {"file.bin": {"sha256": "old"}}}))
    entry = DatasetEntry("demo", "amazon2014", "Baby", (remote(refused_url()),))
    with pytest.raises(DownloadError):
        download_dataset(entry, folder, FAST, sleep=lambda _: None)
    assert not (folder / "manifest.json").exists()


def test_a_file_without_a_known_checksum_is_not_called_verified(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with local_server() as server:
        url = server.add("/file.bin", Route(BODY))
        caplog.set_level("INFO")
        record = fetch_file(remote(url, body=None), tmp_path, FAST)
    assert "fetched (no checksum known" in caplog.text and "verified" not in caplog.text
    assert record["verified"] is False and record["sha256"] == hashlib.sha256(BODY).hexdigest()


def test_the_manifest_names_package_files_by_their_registered_url(tmp_path: Path) -> None:
    """No install path in a tracked file: the same bytes on every machine."""
    manifest = download_dataset(dataset_entry("sample"), tmp_path / "raw")
    assert all(record["url"].startswith("package:") for record in manifest["files"].values())
    on_disk = json.loads((tmp_path / "raw" / "manifest.json").read_text())
    assert "code_version" not in on_disk and str(tmp_path) not in json.dumps(on_disk)
