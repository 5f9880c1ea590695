"""Messages about the user's last action on documents, kept across the rerun that follows it."""

from __future__ import annotations

from typing import Literal

import streamlit as st

Level = Literal["success", "info", "error"]
_FEEDBACK = "document_feedback"


def remember(level: Level, message: str) -> None:
    """Keep `message` to show on the next run."""
    st.session_state.setdefault(_FEEDBACK, []).append((level, message))


def show_feedback() -> None:
    """Show the remembered messages once: errors where they stay in sight, the rest as passing toasts."""
    for level, message in st.session_state.pop(_FEEDBACK, []):
        if level == "error":
            st.error(message, icon=":material/error:")
        else:
            st.toast(message, icon=":material/info:" if level == "info" else ":material/check_circle:")
