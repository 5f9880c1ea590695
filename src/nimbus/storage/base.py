"""The `BlobStore` interface (blocking: call from a worker thread)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


@runtime_checkable
class BlobStore(Protocol):
    """Stores original uploads by key."""

    def put(self, key: str, source: BinaryIO) -> int:
        """Store the stream under `key` (replacing any blob there); returns the number of bytes."""
        ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the blob for the duration of the block (downloaded if the store is remote)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob (no error when it is already gone)."""
        ...
