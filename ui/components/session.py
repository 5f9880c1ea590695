"""The session token: one per browser, kept in a cookie so a page reload resumes the same chats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, unquote

import streamlit as st

from ui.api_client import NimbusClient

SESSION_COOKIE = "nimbus_session"


def ensure_session(client: NimbusClient) -> None:
    """Give `client` a valid token: this tab's, else the browser's cookie refreshed, else a new one."""
    token = st.session_state.get("token")
    if token is not None:
        client.token = token
        return
    remembered = st.context.cookies.get(SESSION_COOKIE)
    client.token = unquote(remembered) if remembered else None
    session = client.create_session()
    st.session_state.token = session.token
    st.session_state.token_expires_at = session.expires_at


def forget_session() -> None:
    """Drop this tab's token so the next run asks the API again (after a 401)."""
    st.session_state.pop("token", None)
    st.session_state.pop("token_expires_at", None)


def remember_session_in_browser() -> None:
    """Write this tab's token to a cookie, which the next page load reads through `st.context.cookies`."""
    token: str | None = st.session_state.get("token")
    expires_at: datetime | None = st.session_state.get("token_expires_at")
    if token is None or expires_at is None:
        return
    # Streamlit cannot set response headers, so the page's own script writes the cookie; it therefore
    # cannot be HttpOnly. The token only grants access to this browser's own chats.
    expires = format_datetime(expires_at.astimezone(UTC), usegmt=True)
    cookie = f"{SESSION_COOKIE}={quote(token)}; expires={expires}; path=/; SameSite=Strict"
    st.html(f"<script>document.cookie = {json.dumps(cookie)};</script>", unsafe_allow_javascript=True)
