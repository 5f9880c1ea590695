"""Choose the blob store from settings."""

from __future__ import annotations

from pathlib import Path

from nimbus.storage.base import BlobStore
from nimbus.storage.local import LocalBlobStore


def build_blob_store(data_dir: Path) -> BlobStore:
    """The local directory store under the data dir (remote stores plug in here)."""
    return LocalBlobStore(data_dir / "blobs")
