"""`nimbus ingest`: add a file or link through the API and follow its ingestion with a progress bar."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from nimbus.cli_session import open_cli_session

console = Console(stderr=True)
FINAL = {"ready", "no_text", "failed", "cancelled"}
TIMEOUT = httpx.Timeout(30.0, read=600.0)


def _submit(client: httpx.Client, target: str) -> dict[str, Any]:
    path = Path(target).expanduser()
    if path.is_file():
        with path.open("rb") as handle:
            response = client.post("/api/v1/documents", files={"file": (path.name, handle)})
    elif target.startswith(("http://", "https://")) or len(target) == 11:
        is_video = any(host in target for host in ("youtube.com", "youtu.be")) or len(target) == 11
        endpoint = "/api/v1/documents/youtube" if is_video else "/api/v1/documents/url"
        response = client.post(endpoint, json={"url": target})
    else:
        raise ValueError(f"{target} is neither a file nor an http(s) link")
    if response.status_code >= 400:
        raise ValueError(response.json().get("error", {}).get("message", response.text))
    document: dict[str, Any] = response.json()
    return document


def ingest(api_url: str, data_dir: Path, target: str, poll_seconds: float = 0.5) -> int:
    """Submit `target` and wait; 0 when it is ready, 1 with the reason otherwise."""
    try:
        with httpx.Client(base_url=api_url, timeout=TIMEOUT) as client:
            open_cli_session(client, data_dir)
            document = _submit(client, target)
            if document.get("duplicate"):
                console.print(f"Already in your library: {document['name']}")
            document = _follow(client, document, poll_seconds)
    except httpx.HTTPError as exc:
        console.print(f"[red]Cannot reach the Nimbus API at {api_url}: {exc}[/red]")
        return 1
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    if document["status"] == "ready":
        pages = f", {document['pages']} pages" if document.get("pages") else ""
        took = document.get("timings", {}).get("total")
        timing = f" in {took:.1f} s" if took else ""
        console.print(f"[green]ready[/green]: {document['name']} ({document['chunks']} passages{pages}){timing}")
        return 0
    console.print(f"[red]{document['status']}[/red]: {document.get('error') or 'not indexed'}")
    return 1


def _follow(client: httpx.Client, document: dict[str, Any], poll_seconds: float) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(document["name"], total=1.0)
        while document["status"] not in FINAL:
            time.sleep(poll_seconds)
            document = client.get(f"/api/v1/documents/{document['id']}").raise_for_status().json()
            progress.update(
                task, completed=document["progress"], description=f"{document['name']} ({document['status']})"
            )
    return document
