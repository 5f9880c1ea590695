"""The sidebar: the model in use, the chat list, and renaming or deleting the open chat."""

from __future__ import annotations

import streamlit as st

from ui.api_client import NimbusClient
from ui.api_models import Chat, ChatPage, ModelInfo
from ui.components.navigation import open_chat


def render_sidebar(client: NimbusClient, model: ModelInfo, chats: ChatPage, current: Chat | None) -> None:
    """Draw the sidebar; any action on a chat reruns the page."""
    with st.sidebar:
        st.header("Nimbus")
        st.caption(f"Model: **{model.provider}** · `{model.model}`")
        if not model.ready:
            st.warning(f"The model is not ready: {model.detail}")
        if st.button("New chat", icon=":material/add:", width="stretch"):
            open_chat(None)
        st.subheader("Chats")
        if not chats.items:
            st.caption("No chats yet.")
        for chat in chats.items:
            selected = current is not None and chat.id == current.id
            if st.button(chat.name, key=f"chat-{chat.id}", type="primary" if selected else "tertiary", width="stretch"):
                open_chat(chat.id)
        if chats.total > len(chats.items):
            st.caption(f"Showing the {len(chats.items)} most recent of {chats.total} chats.")
        if current is not None:
            _render_chat_settings(client, current)


def _render_chat_settings(client: NimbusClient, chat: Chat) -> None:
    with st.expander("Rename or delete this chat"):
        # The name is part of the key so the field shows the new name after the chat is auto-named.
        name = st.text_input("Name", value=chat.name, max_chars=200, key=f"name-{chat.id}-{chat.name}")
        if st.button("Rename", key="rename-chat") and name and name.strip() and name != chat.name:
            client.rename_chat(chat.id, name.strip())
            st.rerun()
        if st.button("Delete chat", key="delete-chat", icon=":material/delete:"):
            client.delete_chat(chat.id)
            open_chat(None)
