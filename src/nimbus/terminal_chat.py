"""`nimbus chat`: a terminal client of the API that prints answers as they stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
from rich.console import Console
from rich.prompt import Prompt

from nimbus.cli_session import open_cli_session

console = Console()
TIMEOUT = httpx.Timeout(10.0, read=300.0)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Parse Server-Sent Events from text lines into (event, data) pairs."""
    event, data = "message", list[str]()
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield event, "\n".join(data)


def _ask(client: httpx.Client, chat_id: str, question: str) -> None:
    with client.stream("POST", f"/api/v1/chats/{chat_id}/messages", json={"content": question}) as response:
        if response.status_code != 200:
            response.read()
            console.print(f"[red]{response.json()['error']['message']}[/red]")
            return
        for event, data in sse_events(response.iter_lines()):
            payload = json.loads(data)
            if event == "token":
                console.print(payload["text"], end="", markup=False, highlight=False)
            elif event == "citations" and payload["citations"]:
                sources = "; ".join(_cited(c) for c in payload["citations"])
                console.print(f"[dim]sources: {sources}[/dim]")
            elif event == "notice":
                console.print(f"[yellow]{payload['message']}[/yellow]")
            elif event == "error":
                console.print(f"\n[red]{payload['message']}[/red]")
            elif event == "done":
                console.print()


def _cited(citation: dict[str, object]) -> str:
    if citation.get("page") is not None:
        return f"{citation['document_name']} p. {citation['page']}"
    if citation.get("start_seconds") is not None:
        seconds = int(float(str(citation["start_seconds"])))
        return f"{citation['document_name']} {seconds // 60}:{seconds % 60:02d}"
    return str(citation["document_name"])


def chat_loop(api_url: str, data_dir: Path, questions: Iterator[str] | None = None) -> int:
    """Chat until EOF or /quit (in the command line's own session); `questions` replaces the keyboard."""
    try:
        with httpx.Client(base_url=api_url, timeout=TIMEOUT) as client:
            open_cli_session(client, data_dir)
            model = client.get("/api/v1/model").raise_for_status().json()
            console.print(f"Nimbus at {api_url} — {model['provider']}:{model['model']}. /new starts over, /quit ends.")
            chat_id = client.post("/api/v1/chats", json={}).raise_for_status().json()["id"]
            source = questions if questions is not None else _keyboard()
            for question in source:
                if question.strip() in ("/quit", "/exit"):
                    break
                if question.strip() == "/new":
                    chat_id = client.post("/api/v1/chats", json={}).raise_for_status().json()["id"]
                    continue
                if question.strip():
                    _ask(client, chat_id, question)
    except httpx.HTTPError as exc:
        console.print(f"[red]Cannot reach the Nimbus API at {api_url}: {exc}[/red]")
        return 1
    return 0


def _keyboard() -> Iterator[str]:
    while True:
        try:
            yield Prompt.ask("[bold cyan]you[/bold cyan]")
        except (EOFError, KeyboardInterrupt):
            return
