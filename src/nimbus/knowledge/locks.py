"""PostgreSQL advisory-lock keys: a job holds its document's lock for as long as it runs.

A crashed process loses its connection and with it the lock, so another worker can take the job over at
once; no lease or timeout is needed.
"""

from __future__ import annotations

import uuid

_NAMESPACE = 0x4E494D42  # keeps our keys apart from other users of advisory locks


def job_lock_key(document_id: uuid.UUID) -> int:
    """A signed 64-bit key for the document's ingestion lock."""
    value = (document_id.int >> 64) ^ _NAMESPACE
    return value - (1 << 64) if value >= 1 << 63 else value
