"""Verified, resumable downloads into ``data/raw/<dataset>/``, and archive extraction that stays inside its folder.

A file is streamed to ``<name>.part`` (resumed with an HTTP Range request after a cut
connection), retried with exponential back-off on network errors and server errors, checked
against its registry size and SHA-256, and only then renamed into place: a file under its
final name is always complete. ``manifest.json`` beside the files records each file's URL,
size and SHA-256, so a file already present and intact is never fetched again.
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

from tqdm import tqdm

from searec.data.registry import PACKAGE_URL_PREFIX, DatasetEntry, RemoteFile, package_url_path
from searec.errors import SearecError
from searec.fileio import sha256_file, write_json_atomic
from searec.runtime import show_progress, split_run_facts
from searec.sections import section_defaults

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
EXTRACTED_FROM = ".extracted-from-sha256"
USER_AGENT = "searec (research data pipeline)"


class DownloadError(SearecError):
    """A file could not be fetched or failed verification."""


class ArchiveError(SearecError):
    """An archive is malformed or would write outside its target folder."""


_DOWNLOAD = section_defaults("download")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a file is fetched (params.yaml ``download``; defaults in ``searec.sections``)."""

    attempts: int = _DOWNLOAD["attempts"]
    backoff_seconds: float = _DOWNLOAD["backoff_seconds"]  # wait backoff · 2^(attempt − 1) between attempts
    timeout_seconds: float = _DOWNLOAD["timeout_seconds"]


class _PermanentError(Exception):
    """An HTTP answer that retrying cannot change (4xx other than 408/429)."""


def _verify(path: Path, remote: RemoteFile) -> str | None:
    """None if ``path`` matches the registry's size and checksum, else what is wrong."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"size {size} bytes, expected {remote.size}"
    if remote.sha256 is not None:
        digest = sha256_file(path)
        if digest != remote.sha256.lower():
            return f"SHA-256 {digest}, expected {remote.sha256}"
    return None


def is_permanent_http_error(error: urllib.error.HTTPError) -> bool:
    """A 4xx answer other than 408/429: retrying cannot change it."""
    return 400 <= error.code < 500 and error.code not in (408, 429)


def open_url(url: str, offset: int, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset and url.startswith(("http://", "https://")):
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http, https and file URLs only)


def _stream_once(remote: RemoteFile, partial: Path, policy: RetryPolicy) -> None:
    """One attempt: append to (or restart) ``partial`` until the server's response ends."""
    offset = partial.stat().st_size if partial.exists() else 0
    try:
        response = open_url(remote.url, offset, policy.timeout_seconds)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the partial file already holds everything
            return
        if is_permanent_http_error(error):
            raise _PermanentError(f"HTTP {error.code} {error.reason}") from error
        raise
    with response:
        status = getattr(response, "status", None) or 200
        if offset and status != 206:  # the server ignored the Range request: start over
            offset = 0
        length = response.headers.get("Content-Length")
        total = (int(length) + offset) if length is not None else remote.size
        mode = "ab" if offset else "wb"
        with open(partial, mode) as handle, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                                 desc=remote.name, disable=not show_progress()) as bar:
            received = 0
            while chunk := response.read(CHUNK_BYTES):
                handle.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if length is not None and received < int(length):
            raise HTTPException(f"connection closed after {received} of {length} bytes")


def move_aside(path: Path, why: str) -> Path:
    """Rename ``path`` to ``<name>.<why>[.N]`` beside it (never overwriting) and return the new path.

    A file that fails verification may be one the user placed by hand (the offline route): it is
    kept, under a name that says why it was not used, never deleted.
    """
    candidate = path.with_name(f"{path.name}.{why}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.{why}.{number}")
    os.replace(path, candidate)
    return candidate


def fetch_file(remote: RemoteFile, folder: Path, policy: RetryPolicy = RetryPolicy(),
               sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Make ``folder/remote.name`` a verified copy of ``remote.url``; returns its manifest record.

    A present file that fails verification is moved aside (``<name>.rejected``), not deleted.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.name
    registered = remote
    set_aside = ""
    if target.exists():
        problem = _verify(target, remote)
        if problem is None:
            log.info("%s: present and verified, not fetched again", target)
            return _record(registered, target)
        kept = move_aside(target, "rejected")
        set_aside = f" (the file that was at {target} has {problem}; it is kept as {kept})"
        log.warning("%s: present but %s; moved aside to %s and fetching again", target, problem, kept)
    try:
        return _fetch_into(remote, folder, target, policy, sleep)
    except DownloadError as error:
        raise DownloadError(f"{error}{set_aside}") from error


def _fetch_into(remote: RemoteFile, folder: Path, target: Path, policy: RetryPolicy,
                sleep: Callable[[float], None]) -> dict[str, Any]:
    registered = remote
    if not remote.url:
        raise DownloadError(f"{remote.name}: no URL is known (this source has no public download URL)")
    if remote.url.startswith(PACKAGE_URL_PREFIX):
        remote = RemoteFile(**{**remote.__dict__, "url": package_url_path(remote.url).as_uri()})
    partial = folder / f"{remote.name}.part"
    last_error: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            _stream_once(remote, partial, policy)
            last_error = None
            break
        except _PermanentError as error:
            partial.unlink(missing_ok=True)
            raise DownloadError(f"{remote.url}: {error}") from error
        except (urllib.error.URLError, HTTPException, OSError, TimeoutError) as error:
            if is_missing_local_file(error):
                raise DownloadError(f"{remote.url}: no such file") from error
            last_error = error
            if attempt < policy.attempts:
                wait = policy.backoff_seconds * 2 ** (attempt - 1)
                have = partial.stat().st_size if partial.exists() else 0
                log.warning("%s: attempt %d/%d failed (%s); %d bytes kept, retrying in %.1f s",
                            remote.name, attempt, policy.attempts, _reason(error), have, wait)
                sleep(wait)
    if last_error is not None:
        raise DownloadError(f"{remote.url}: {_reason(last_error)} after {policy.attempts} attempts") from last_error
    problem = _verify(partial, remote)
    if problem is not None:
        partial.unlink()
        raise DownloadError(f"{remote.url}: downloaded file has {problem}; deleted. The file on the server "
                            f"changed or the registry entry is wrong; check the source and fix the registry.")
    os.replace(partial, target)
    if remote.sha256 is None:
        log.info("%s: fetched (no checksum known; %d bytes, SHA-256 recorded in the manifest)", target,
                 target.stat().st_size)
    else:
        log.info("%s: fetched and verified (%d bytes)", target, target.stat().st_size)
    return _record(registered, target)


def is_missing_local_file(error: Exception) -> bool:
    """A file:// URL whose file does not exist: retrying cannot help."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return isinstance(reason, FileNotFoundError)


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return f"connection failed: {error.reason}"
    return str(error) or type(error).__name__


def _record(remote: RemoteFile, path: Path) -> dict[str, Any]:
    """A file's manifest entry: its registered URL (``package:`` kept as such: no install path), size, SHA-256."""
    return {"url": remote.url, "size": path.stat().st_size, "sha256": sha256_file(path),
            "verified": remote.sha256 is not None}


def download_dataset(entry: DatasetEntry, folder: Path, policy: RetryPolicy = RetryPolicy(),
                     sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Fetch every file of ``entry`` into ``folder`` (extracting archives) and write ``manifest.json``.

    Every file is attempted; if any fails, one error lists each missing file, why, and where
    to put it by hand (the offline route).
    """
    records: dict[str, Any] = {}
    failures: list[str] = []
    (folder / "manifest.json").unlink(missing_ok=True)  # rewritten at the end; never lists a file not verified now
    for remote in entry.files:
        try:
            records[remote.name] = _record_role(fetch_file(remote, folder, policy, sleep), remote)
        except DownloadError as error:
            if remote.optional:
                log.warning("%s (optional) not fetched: %s", remote.name, error)
                continue
            failures.append(f"  - {remote.name} ({remote.role}): {error}\n    put it by hand at {folder / remote.name}")
            continue
        if remote.extract:
            extract_archive(folder / remote.name, folder / Path(remote.name).name.split(".")[0])
    if failures:
        raise DownloadError(f"dataset {entry.name!r}: {len(failures)} of {len(entry.files)} files missing:\n"
                            + "\n".join(failures)
                            + "\nWithout internet, copy each file to the path shown (or set SEAREC_MIRROR to a "
                              "folder or server that has them) and run the stage again.")
    manifest = {"dataset": entry.name, "source": entry.source, "category": entry.category, "files": records}
    write_json_atomic(folder / "manifest.json", split_run_facts(folder, manifest))
    return manifest


def _record_role(record: dict[str, Any], remote: RemoteFile) -> dict[str, Any]:
    return {"role": remote.role} | record


def extract_archive(archive: Path, target: Path) -> Path:
    """Extract a .tar(.gz) or .zip into ``target`` atomically; refuse members that would land outside it.

    Tar members go through Python's ``data`` extraction filter (no absolute paths, no ``..``,
    no links out, no device files); zip members are checked the same way before anything is
    written. The archive is unpacked into a temporary sibling folder and renamed into place,
    with a marker naming the archive's SHA-256: the same archive is not unpacked twice, another
    version replaces the old extraction.
    """
    digest = sha256_file(archive)
    marker = target / EXTRACTED_FROM
    if target.exists() and marker.exists() and marker.read_text(encoding="utf-8").strip() == digest:
        return target
    staging = target.with_name(f".{target.name}.extracting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    _refuse_outside(archive, member, staging)
                bundle.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as bundle:
                for info in bundle.getmembers():  # the data filter would strip a leading "/": refuse instead
                    _refuse_outside(archive, info.name, staging)
                try:
                    bundle.extractall(staging, filter="data")
                except tarfile.FilterError as error:
                    raise ArchiveError(f"{archive}: member {error.tarinfo.name!r} refused ({error}); "
                                       f"the archive is unsafe or corrupt; nothing was extracted") from error
        else:
            raise ArchiveError(f"{archive}: neither a tar nor a zip archive")
        (staging / EXTRACTED_FROM).write_text(digest + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)  # an extraction of another version of the archive
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _refuse_outside(archive: Path, member: str, root: Path) -> None:
    destination = (root / member).resolve()
    if not destination.is_relative_to(root.resolve()) or Path(member).is_absolute():
        raise ArchiveError(f"{archive}: member {member!r} refused: it would be written outside the target "
                           f"folder; the archive is unsafe or corrupt; nothing was extracted")
