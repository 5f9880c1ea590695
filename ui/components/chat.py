"""The conversation: its history with sources, the message box, and answers streamed token by token."""

from __future__ import annotations

from collections.abc import Iterator

import streamlit as st

from ui.api_client import NimbusClient
from ui.api_models import ChatDetail, Citation, Message
from ui.api_stream import StreamCitations, StreamEvent, StreamFailed, StreamNotice, StreamStart, StreamToken
from ui.components.citations import render_citations
from ui.components.navigation import set_open_chat

MAX_MESSAGE_CHARS = 32_000
_FAILED_ANSWER = "failed_answer"
_NOTICES = "answer_notices"  # assistant message id -> notices sent with it (the API does not store them)


def render_chat(client: NimbusClient, detail: ChatDetail | None) -> None:
    """Draw the open chat (or a blank new one) and handle a submitted message."""
    st.title(detail.chat.name if detail else "New chat")
    messages = detail.messages if detail else []
    if not messages:
        st.caption("Ask anything to start a conversation.")
    for message in messages:
        _render_message(client, message)
    failure = st.session_state.pop(_FAILED_ANSWER, None)
    if failure and not (messages and messages[-1].status == "error"):
        st.error(failure)
    if detail and messages and messages[-1].role == "assistant":
        label = "Try again" if messages[-1].status == "error" else "Regenerate"
        if st.button(label, icon=":material/refresh:", key="regenerate"):
            _stream_answer(client, client.regenerate(detail.chat.id))
            st.rerun()

    prompt = st.chat_input("Message Nimbus", max_chars=MAX_MESSAGE_CHARS)
    if isinstance(prompt, str) and prompt.strip():
        chat_id = detail.chat.id if detail else client.create_chat().id
        set_open_chat(chat_id)
        with st.chat_message("user"):
            st.markdown(prompt)
        _stream_answer(client, client.send_message(chat_id, prompt))
        # Rerun so the sidebar shows the chat's new name and the history comes from the server.
        st.rerun()


def _notices() -> dict[str, list[str]]:
    notices: dict[str, list[str]] = st.session_state.setdefault(_NOTICES, {})
    return notices


def _render_message(client: NimbusClient, message: Message) -> None:
    with st.chat_message(message.role):
        for notice in _notices().get(message.id, []):
            st.info(notice, icon=":material/info:")
        if message.content:
            st.markdown(message.content)
        if message.status == "error":
            st.error(message.error or "The model could not answer.")
        elif message.status == "interrupted":
            st.caption("This answer was interrupted.")
        elif message.status == "streaming":
            st.caption("This answer is still being written.")
        render_citations(message.citations, client, key=message.id)


def _stream_answer(client: NimbusClient, events: Iterator[StreamEvent]) -> None:
    """Show the answer as its tokens arrive; keep its notices and any failure for after the rerun."""
    failures: list[StreamFailed] = []
    citations: list[Citation] = []
    notices: list[str] = []
    answer_id: list[str] = []

    with st.chat_message("assistant"):
        notice_area = st.container()

        def texts() -> Iterator[str]:
            for event in events:
                if isinstance(event, StreamToken):
                    yield event.text
                elif isinstance(event, StreamStart):
                    answer_id.append(event.assistant_message_id)
                elif isinstance(event, StreamCitations):
                    citations.extend(event.citations)
                elif isinstance(event, StreamNotice):
                    notices.append(event.message)
                    notice_area.info(event.message, icon=":material/info:")
                elif isinstance(event, StreamFailed):
                    failures.append(event)

        st.write_stream(texts())
        for failure in failures:
            st.error(failure.message)
        render_citations(citations, client, key="streaming")
    if notices and answer_id:
        _notices()[answer_id[0]] = notices
    if failures:
        st.session_state[_FAILED_ANSWER] = failures[0].message
