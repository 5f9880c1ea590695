"""Open a document's source (stored file, YouTube video, web page) with the right loader."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nimbus.config import KnowledgeSettings
from nimbus.knowledge.models import SourceKind
from nimbus.knowledge.types import ParsedSource, SourceError
from nimbus.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class SourceRef:
    """What the ingestion job needs to find a document's content."""

    kind: str
    name: str
    blob_key: str | None
    source_url: str | None


@contextmanager
def open_source(ref: SourceRef, blobs: BlobStore, settings: KnowledgeSettings) -> Iterator[ParsedSource]:
    """Parse the source lazily; blocking (runs in the ingestion worker thread)."""
    if ref.kind == SourceKind.FILE:
        if ref.blob_key is None:
            raise SourceError("The uploaded file is missing.")
        from nimbus.knowledge.loaders.files import open_file

        try:
            with blobs.local_path(ref.blob_key) as path:
                yield open_file(path, ref.name)
        except FileNotFoundError as exc:
            raise SourceError("The uploaded file is missing from storage.") from exc
        return
    if ref.source_url is None:
        raise SourceError("The document has no source link.")
    if ref.kind == SourceKind.YOUTUBE:
        from nimbus.knowledge.loaders.youtube import fetch_transcript, parse_video_id

        yield fetch_transcript(parse_video_id(ref.source_url), settings)
        return
    from nimbus.knowledge.loaders.web import fetch_page

    yield fetch_page(ref.source_url, settings)
