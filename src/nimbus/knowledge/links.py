"""Canonical forms of the links users paste."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from nimbus.knowledge.errors import InvalidSource
from nimbus.knowledge.models import SourceKind
from nimbus.knowledge.types import SourceError


def canonical_link(kind: str, raw: str) -> tuple[SourceKind, str, str]:
    """(kind, canonical URL, provisional name) of a YouTube link or web URL; InvalidSource when unusable."""
    raw = raw.strip()
    if kind == "youtube":
        from nimbus.knowledge.loaders.youtube import parse_video_id

        try:
            video_id = parse_video_id(raw)
        except SourceError as exc:
            raise InvalidSource(exc.message) from exc
        return SourceKind.YOUTUBE, f"https://www.youtube.com/watch?v={video_id}", f"YouTube video {video_id}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSource("Enter a full http:// or https:// address.")
    url = urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))
    return SourceKind.WEB, url, parts.hostname + (parts.path if parts.path not in ("", "/") else "")
