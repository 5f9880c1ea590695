"""What the OpenAI-compatible clients (chat models and embeddings) share: URL checks and readable errors.

`openai` is imported only for type checking, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import openai

DETAIL_CHARS = 300


def is_http_url(url: str) -> bool:
    """Whether `url` is an absolute http:// or https:// URL with a host."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def error_detail(exc: openai.APIStatusError) -> str:
    """The provider's own error message (OpenAI-style `error.message`, or the SDK's), shortened."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:DETAIL_CHARS]
    return exc.message[:DETAIL_CHARS]


def scrub(text: str, secret: str | None) -> str:
    """`text` with the API key masked (providers sometimes echo it back)."""
    return text.replace(secret, "***") if secret else text
