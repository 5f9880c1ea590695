"""The command line's own session: one token kept in the data dir, shared by `nimbus chat` and `nimbus ingest`."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

SESSION_FILE = "cli-session"


def open_cli_session(client: httpx.Client, data_dir: Path) -> str:
    """Refresh the stored session (or start one) and set the client's bearer token; returns the token."""
    path = data_dir / SESSION_FILE
    stored = path.read_text().strip() if path.is_file() else ""
    headers = {"Authorization": f"Bearer {stored}"} if stored else {}
    token: str = client.post("/api/v1/sessions", headers=headers).raise_for_status().json()["token"]
    if token != stored:
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as sink:
            sink.write(token)
    client.headers["Authorization"] = f"Bearer {token}"
    return token
