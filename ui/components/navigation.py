"""Which chat is open lives in the URL (`?chat=<id>`), so a reload or a shared link reopens it."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st


def open_chat_id() -> str | None:
    """The id of the chat the URL points at, if any."""
    return st.query_params.get("chat")


def set_open_chat(chat_id: str | None) -> None:
    """Point the URL at `chat_id`, or at a blank new chat when None."""
    if chat_id is None:
        st.query_params.pop("chat", None)
    else:
        st.query_params["chat"] = chat_id


def open_chat(chat_id: str | None) -> NoReturn:
    """Switch to `chat_id` (None: a new chat) and rerun the page."""
    set_open_chat(chat_id)
    st.rerun()
