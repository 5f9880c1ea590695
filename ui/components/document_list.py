"""The library's documents with live indexing progress: a fragment that polls while any is in progress."""

from __future__ import annotations

import streamlit as st

from ui.api_client import NimbusClient
from ui.api_errors import ApiError, NotFoundError, UnauthorizedError
from ui.api_models import Document
from ui.components.feedback import remember
from ui.components.formatting import escape_markdown
from ui.components.session import forget_session

POLL_SECONDS = 1.0
_ICONS = {"youtube": ":material/smart_display:", "web": ":material/language:"}


def status_text(document: Document) -> str:
    """What is happening to a document, in words a user reads at a glance."""
    percent = f"{round(document.progress * 100)} %"
    pages = f"page {document.pages_done} of {document.pages}" if document.pages else percent
    match document.status:
        case "queued":
            return "Waiting to be indexed"
        case "parsing":
            return f"Reading · {pages}"
        case "embedding":
            return f"Indexing · {pages}"
        case "ready":
            size = f"{document.pages} pages · " if document.pages else ""
            return f"Ready · {size}{document.chunks} passages"
        case "no_text":
            return "No text found"
        case "failed":
            return "Failed"
        case "cancelled":
            return "Cancelled · being removed"
    return str(document.status)


def render_document_list(base_url: str, busy: bool) -> None:
    """Draw the documents; while `busy` (any not settled) the list redraws itself every second."""
    live = st.fragment(run_every=POLL_SECONDS if busy else None)(_document_list)
    live(base_url, busy)


def _document_list(base_url: str, polling: bool) -> None:
    # A fragment rerun runs only this function, outside `main`'s error handling: it handles its own errors.
    try:
        with NimbusClient(base_url, st.session_state.get("token")) as client:
            documents = client.list_documents().items
            for document in documents:
                _render_document(client, document)
    except UnauthorizedError:
        forget_session()
        st.rerun()
    except ApiError as exc:
        st.error(f"Cannot show the documents: {exc.message}")
        return
    if not documents:
        st.caption("No documents yet. Answers then come from the model alone.")
    if polling and all(d.settled for d in documents):
        # All done: one full rerun stops the polling and refreshes the chat's document picker.
        st.rerun()


def _render_document(client: NimbusClient, document: Document) -> None:
    with st.container(border=True, key=f"document-{document.id}"):
        icon = _ICONS.get(document.kind, ":material/description:")
        st.markdown(f"{icon} {escape_markdown(document.name)}")
        if document.in_progress:
            st.progress(document.progress, text=status_text(document))
        elif document.status in {"ready", "cancelled"}:
            st.caption(status_text(document))
        else:
            st.warning(f"{status_text(document)}: {document.error}" if document.error else status_text(document))
        if document.status == "cancelled":
            return  # its job is removing it already
        delete = st.button(
            "Delete",
            key=f"delete-document-{document.id}",
            icon=":material/delete:",
            type="tertiary",
            help=f"Delete {document.name} and its index",
        )
        if delete:
            _delete(client, document)


def _delete(client: NimbusClient, document: Document) -> None:
    try:
        outcome = client.delete_document(document.id)
    except NotFoundError:
        outcome = "deleted"  # removed meanwhile (a cancelled job finishing, another tab): the goal is met
    if outcome == "cancelled":
        remember("info", f"Stopped indexing {document.name}; it will be removed in a moment.")
    else:
        remember("success", f"Deleted {document.name}.")
    st.rerun()
