"""The sources under an answer: document, page or moment, a link where the browser can follow one, the passage."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.api_client import NimbusClient
from ui.api_models import Citation
from ui.components.formatting import escape_markdown, timestamp


def location(citation: Citation) -> str:
    """Where in the document the passage is: 'page 2', 'at 1:05', or '' for a whole page of text."""
    if citation.page is not None:
        if citation.page_end is not None and citation.page_end != citation.page:
            return f"pages {citation.page}–{citation.page_end}"
        return f"page {citation.page}"
    if citation.start_seconds is not None:
        return f"at {timestamp(citation.start_seconds)}"
    return ""


def is_api_file(citation: Citation) -> bool:
    """True when the link points at the API's copy of an uploaded file (not a video or web page)."""
    return citation.url is not None and citation.url.startswith("/")


def citation_line(number: int, citation: Citation) -> str:
    """The Markdown heading of one source: number, document, and its place (a link for videos and web pages)."""
    where = location(citation)
    name = f"**[{number}] {escape_markdown(citation.document_name)}**"
    if citation.url and not is_api_file(citation):
        # Videos and web pages are public links; a video's link starts at the cited moment.
        return f"{name} · [{where or 'open the page'}]({citation.url})"
    return f"{name} · {where}" if where else name


def render_citations(citations: list[Citation], client: NimbusClient, key: str) -> None:
    """An expander listing the sources of one answer; uploaded files can be downloaded through the API."""
    if not citations:
        return
    with st.expander(f"Sources ({len(citations)})", icon=":material/menu_book:"):
        for number, citation in enumerate(citations, 1):
            st.markdown(citation_line(number, citation))
            # PDF text keeps the page's line breaks; the passage reads better as flowing text.
            st.caption(escape_markdown(" ".join(citation.snippet.split())))
        # The browser cannot send the session token on a link to the API, so files come through this app.
        files = {c.document_id: c.document_name for c in citations if is_api_file(c)}
        for document_id, name in files.items():
            st.download_button(
                f"Download {name}",
                data=_file_fetcher(client.base_url, client.token, document_id),
                file_name=name,
                icon=":material/download:",
                on_click="ignore",
                key=f"download-{key}-{document_id}",
            )


def _file_fetcher(base_url: str, token: str | None, document_id: str) -> Callable[[], bytes]:
    """Fetch the file only when the button is clicked (Streamlit runs this on a thread of its own)."""

    def fetch() -> bytes:
        with NimbusClient(base_url, token) as client:
            return client.document_file(document_id)

    return fetch
