"""Nimbus chat UI, a Streamlit client of the Nimbus HTTP API: `streamlit run ui/app.py`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# `streamlit run` puts only this directory on sys.path; the repository root makes `ui` importable.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from ui.api_client import NimbusClient  # noqa: E402
from ui.api_errors import ApiError, BackendUnavailableError, NotFoundError, UnauthorizedError  # noqa: E402
from ui.api_models import ChatDetail  # noqa: E402
from ui.components.chat import render_chat  # noqa: E402
from ui.components.documents import render_documents  # noqa: E402
from ui.components.navigation import open_chat_id, set_open_chat  # noqa: E402
from ui.components.session import ensure_session, forget_session, remember_session_in_browser  # noqa: E402
from ui.components.sidebar import render_sidebar  # noqa: E402

DEFAULT_API_URL = "http://127.0.0.1:8000"


def main() -> None:
    """Draw the page once; Streamlit runs this again on every interaction."""
    st.set_page_config(page_title="Nimbus", page_icon=":material/cloud:")
    api_url = os.environ.get("NIMBUS_API_URL", DEFAULT_API_URL)
    with NimbusClient(api_url) as client:
        try:
            _render_page(client)
        except BackendUnavailableError as exc:
            _render_unreachable(api_url, exc)
        except UnauthorizedError:
            if st.session_state.get("token") is None:
                st.error("The Nimbus API refused to open a session. Reload the page to try again.")
            else:
                forget_session()
                st.rerun()
        except ApiError as exc:
            st.error(f"The Nimbus API reported an error: {exc.message}")


def _render_page(client: NimbusClient) -> None:
    ensure_session(client)
    remember_session_in_browser()
    model = client.model()
    detail = _load_open_chat(client)
    render_sidebar(client, model, client.list_chats(), detail.chat if detail else None)
    render_chat(client, detail)
    # Drawn last (still in the sidebar), so a sent message is answered before the panel can rerun the page.
    with st.sidebar:
        render_documents(client, detail.chat.id if detail else None)


def _load_open_chat(client: NimbusClient) -> ChatDetail | None:
    chat_id = open_chat_id()
    if chat_id is None:
        return None
    try:
        return client.get_chat(chat_id)
    except NotFoundError:
        set_open_chat(None)
        st.toast("That chat no longer exists; starting a new one.")
        return None


def _render_unreachable(api_url: str, exc: ApiError) -> None:
    st.title("Nimbus")
    st.error(f"{exc.message} Is the server running?")
    st.info(f"Start it with `nimbus serve`, or point `NIMBUS_API_URL` (now `{api_url}`) at it, then retry.")
    st.button("Retry", icon=":material/refresh:")


if __name__ == "__main__":
    main()
