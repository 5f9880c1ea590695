"""The original-file endpoint with a blob store that, like a remote one, hands out a downloaded copy."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from fastapi import FastAPI

from nimbus.app import Components
from nimbus.knowledge.types import Embedder
from nimbus.state import AppState
from nimbus.storage.local import LocalBlobStore
from tests.knowledge.helpers import ingest
from tests.pdfs import make_pdf


class DownloadingBlobStore:
    """Keeps blobs in a directory ("the bucket") but, as Azure Blob or S3 would, gives `local_path` a fresh
    temporary download that is deleted when the caller is done with it."""

    def __init__(self, bucket: Path, downloads: Path) -> None:
        self.bucket = LocalBlobStore(bucket)
        self.downloads = downloads
        self.handed_out: list[Path] = []
        self.on_download: Callable[[], None] = lambda: None

    def put(self, key: str, source: BinaryIO) -> int:
        return self.bucket.put(key, source)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        self.on_download()
        with self.bucket.local_path(key) as stored:
            descriptor, name = tempfile.mkstemp(dir=self.downloads, prefix="download-")
            with open(descriptor, "wb") as copy, stored.open("rb") as original:
                shutil.copyfileobj(original, copy)
        self.handed_out.append(Path(name))
        try:
            yield Path(name)
        finally:
            Path(name).unlink()

    def exists(self, key: str) -> bool:
        return self.bucket.exists(key)

    def delete(self, key: str) -> None:
        self.bucket.delete(key)


@pytest.fixture
def store(tmp_path: Path) -> DownloadingBlobStore:
    (tmp_path / "downloads").mkdir()
    return DownloadingBlobStore(tmp_path / "bucket", tmp_path / "downloads")


@pytest.fixture
def components(embedder: Embedder, store: DownloadingBlobStore) -> Components:
    return Components(embedder=embedder, blobs=store)


async def test_a_downloaded_copy_is_served_whole_then_deleted(
    auth: httpx.AsyncClient, store: DownloadingBlobStore
) -> None:
    data = make_pdf(["A remote store hands out a temporary copy.", "Page two of the stored original."])
    document = await ingest(auth, "remote.pdf", data)
    assert document["status"] == "ready"
    served = await auth.get(f"/api/v1/documents/{document['id']}/file")
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == "application/pdf"
    assert 'inline; filename="remote.pdf"' in served.headers["content-disposition"]
    # The ingestion job read one copy, the response another; both are gone once used.
    assert len(store.handed_out) == 2
    assert not any(path.exists() for path in store.handed_out)
    assert list(store.downloads.iterdir()) == []


async def test_no_database_connection_waits_on_the_download(
    auth: httpx.AsyncClient, store: DownloadingBlobStore, app: FastAPI
) -> None:
    document = await ingest(auth, "remote.pdf", make_pdf(["Fetched from a remote store."]))
    state: AppState = app.state.nimbus
    checked_out: list[int] = []
    store.on_download = lambda: checked_out.append(state.database.engine.pool.checkedout())  # type: ignore[attr-defined]
    served = await auth.get(f"/api/v1/documents/{document['id']}/file")
    assert served.status_code == 200
    assert checked_out == [0]


async def test_a_blob_missing_from_the_store_is_a_404_not_a_500(
    auth: httpx.AsyncClient, store: DownloadingBlobStore
) -> None:
    document = await ingest(auth, "gone.pdf", make_pdf(["Stored, then lost by the storage account."]))
    for blob in (store.bucket.root).rglob("*"):
        if blob.is_file():
            blob.unlink()
    missing = await auth.get(f"/api/v1/documents/{document['id']}/file")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "document_not_found"
    assert "no stored file" in missing.json()["error"]["message"]
