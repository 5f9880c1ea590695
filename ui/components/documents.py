"""The documents panel: add files and links (to the open chat, else the library), list them, pick a chat's."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import streamlit as st

from ui.api_client import NimbusClient
from ui.api_errors import ApiError, UnauthorizedError
from ui.api_models import Document, DocumentPage
from ui.components.document_list import render_document_list
from ui.components.feedback import remember, show_feedback

_UPLOAD_ROUND = "upload_round"
_YOUTUBE_HOSTS = {"youtube.com", "youtu.be", "youtube-nocookie.com"}


def is_youtube_link(url: str) -> bool:
    """True for links to YouTube (any of its usual hosts), which are added as videos rather than web pages."""
    host = urlsplit(url if "//" in url else f"https://{url}").hostname or ""
    return host.removeprefix("www.").removeprefix("m.").removeprefix("music.") in _YOUTUBE_HOSTS


def render_documents(client: NimbusClient, chat_id: str | None) -> None:
    """Draw the panel; adding, deleting or re-selecting documents reruns the page."""
    st.subheader("Documents")
    show_feedback()
    target = "this chat" if chat_id else "your library"
    _upload_files(client, chat_id, help_text=f"Files are added to {target} and indexed in the background.")
    _add_link(client, chat_id)
    documents = client.list_documents()
    render_document_list(client.base_url, busy=not all(d.settled for d in documents.items))
    if chat_id is not None and documents.items:
        _choose_chat_documents(client, chat_id, documents)


def _upload_files(client: NimbusClient, chat_id: str | None, help_text: str) -> None:
    # A new key after each batch empties the uploader, so a file is sent once and not again on every rerun.
    upload_round: int = st.session_state.setdefault(_UPLOAD_ROUND, 0)
    files = st.file_uploader("Add files", accept_multiple_files=True, key=f"uploader-{upload_round}", help=help_text)
    if not files:
        return
    for file in files:
        try:
            document = client.upload_document(file.name, file.getvalue(), chat_id)
        except UnauthorizedError:
            raise
        except ApiError as exc:
            reason = "it is too large" if exc.status == 413 else exc.message
            remember("error", f"Could not add {file.name}: {reason}")
            continue
        _remember_added(document, file.name)
    st.session_state[_UPLOAD_ROUND] = upload_round + 1
    st.rerun()


def _add_link(client: NimbusClient, chat_id: str | None) -> None:
    with st.form("add-link", clear_on_submit=True, border=False):
        url = st.text_input("YouTube or web page link", placeholder="https://…", max_chars=2048)
        submitted = st.form_submit_button("Add link", icon=":material/add_link:")
    if not (submitted and url.strip()):
        return
    add = client.add_youtube if is_youtube_link(url.strip()) else client.add_web_page
    try:
        document = add(url.strip(), chat_id)
    except UnauthorizedError:
        raise
    except ApiError as exc:
        remember("error", f"Could not add {url.strip()}: {exc.message}")
    else:
        _remember_added(document, url.strip())
    st.rerun()


def _remember_added(document: Document, given: str) -> None:
    if document.duplicate:
        remember("info", f"{given} is already in your documents as {document.name}.")
    else:
        remember("success", f"Added {document.name}; it is being indexed.")


def _choose_chat_documents(client: NimbusClient, chat_id: str, documents: DocumentPage) -> None:
    names = {document.id: document.name for document in documents.items}
    selected = [document_id for document_id in client.chat_documents(chat_id) if document_id in names]
    # The key follows the server's state, so the picker shows it afresh after any change (also from elsewhere).
    state = hashlib.sha256(f"{sorted(names)}|{selected}".encode()).hexdigest()[:12]
    chosen = st.multiselect(
        "Documents this chat uses",
        options=list(names),
        default=selected,
        format_func=names.__getitem__,
        placeholder="The whole library",
        help="Answers in this chat come from these documents; leave it empty to use all of them.",
        key=f"chat-documents-{chat_id}-{state}",
    )
    if chosen != selected:
        client.select_chat_documents(chat_id, chosen)
        st.rerun()
