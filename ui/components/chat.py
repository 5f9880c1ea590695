"""The conversation: its history, the message box, and answers streamed token by token."""

from __future__ import annotations

from collections.abc import Iterator

import streamlit as st

from ui.api_client import ChatDetail, Message, NimbusClient, StreamEvent, StreamFailed, StreamToken
from ui.components.navigation import set_open_chat

MAX_MESSAGE_CHARS = 32_000
_FAILED_ANSWER = "failed_answer"


def render_chat(client: NimbusClient, detail: ChatDetail | None) -> None:
    """Draw the open chat (or a blank new one) and handle a submitted message."""
    st.title(detail.chat.name if detail else "New chat")
    messages = detail.messages if detail else []
    if not messages:
        st.caption("Ask anything to start a conversation.")
    for message in messages:
        _render_message(message)
    failure = st.session_state.pop(_FAILED_ANSWER, None)
    if failure and not (messages and messages[-1].status == "error"):
        st.error(failure)
    if detail and messages and messages[-1].role == "assistant":
        label = "Try again" if messages[-1].status == "error" else "Regenerate"
        if st.button(label, icon=":material/refresh:", key="regenerate"):
            _stream_answer(client.regenerate(detail.chat.id))
            st.rerun()

    prompt = st.chat_input("Message Nimbus", max_chars=MAX_MESSAGE_CHARS)
    if isinstance(prompt, str) and prompt.strip():
        chat_id = detail.chat.id if detail else client.create_chat().id
        set_open_chat(chat_id)
        with st.chat_message("user"):
            st.markdown(prompt)
        _stream_answer(client.send_message(chat_id, prompt))
        # Rerun so the sidebar shows the chat's new name and the history comes from the server.
        st.rerun()


def _render_message(message: Message) -> None:
    with st.chat_message(message.role):
        if message.content:
            st.markdown(message.content)
        if message.status == "error":
            st.error(message.error or "The model could not answer.")
        elif message.status == "interrupted":
            st.caption("This answer was interrupted.")
        elif message.status == "streaming":
            st.caption("This answer is still being written.")


def _stream_answer(events: Iterator[StreamEvent]) -> None:
    """Show the answer as its tokens arrive; remember a model failure to show after the rerun."""
    failures: list[StreamFailed] = []

    def texts() -> Iterator[str]:
        for event in events:
            if isinstance(event, StreamToken):
                yield event.text
            elif isinstance(event, StreamFailed):
                failures.append(event)

    with st.chat_message("assistant"):
        st.write_stream(texts())
        for failure in failures:
            st.error(failure.message)
    if failures:
        st.session_state[_FAILED_ANSWER] = failures[0].message
