"""The `nimbus` command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nimbus.config import ConfigError, Settings, load_settings
from nimbus.version import get_version

app = typer.Typer(help="Nimbus: chat with your own documents and videos.", no_args_is_help=True)
console = Console(stderr=True)

Host = Annotated[str | None, typer.Option(help="Interface to bind (default NIMBUS_HOST).")]
Port = Annotated[int | None, typer.Option(help="Port to listen on (default NIMBUS_PORT).")]
UiPort = Annotated[int | None, typer.Option("--port", help="UI port (default NIMBUS_UI_PORT).")]
ApiUrl = Annotated[str | None, typer.Option(help="Base URL of the Nimbus API (default NIMBUS_API_URL).")]


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nimbus {get_version()}")
        raise typer.Exit


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Nimbus command line."""


@app.command()
def serve(host: Host = None, port: Port = None) -> None:
    """Serve the API (stops cleanly on SIGTERM/SIGINT)."""
    from nimbus.server import exit_now, serve_api

    settings = _settings()
    serve_api(settings, host or settings.server.host, port or settings.server.port)
    exit_now()


@app.command()
def ui(port: UiPort = None, api_url: ApiUrl = None) -> None:
    """Serve the Streamlit UI, a client of the API."""
    from nimbus.server import serve_ui

    settings = _settings()
    raise typer.Exit(serve_ui(port or settings.server.ui_port, api_url or settings.server.api_url))


@app.command()
def run(host: Host = None, port: Port = None, ui_port: Annotated[int | None, typer.Option()] = None) -> None:
    """Serve the API and the UI together."""
    from nimbus.server import exit_now, run_both

    settings = _settings()
    run_both(
        settings,
        host or settings.server.host,
        port or settings.server.port,
        ui_port or settings.server.ui_port,
    )
    exit_now()


@app.command()
def chat(api_url: ApiUrl = None) -> None:
    """Chat in the terminal with a running Nimbus API (answers stream as they are written)."""
    from nimbus.terminal_chat import chat_loop

    settings = _settings()
    raise typer.Exit(chat_loop(api_url or settings.server.api_url, settings.server.data_dir))


@app.command()
def ingest(
    target: Annotated[str, typer.Argument(help="A file, a YouTube link or id, or a web page URL.")],
    api_url: ApiUrl = None,
) -> None:
    """Add a document to the command line's library and wait until it is indexed (exit 0 when ready)."""
    from nimbus.ingest_client import ingest as run_ingest

    settings = _settings()
    raise typer.Exit(run_ingest(api_url or settings.server.api_url, settings.server.data_dir, target))


@app.command("eval")
def evaluate(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="A BEIR-format folder.")],
    split: Annotated[str, typer.Option(help="qrels split to score.")] = "test",
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N queries.")] = None,
    mode: Annotated[str, typer.Option(help="hybrid, vector or lexical.")] = "hybrid",
) -> None:
    """Measure retrieval on a BEIR folder in a fresh temporary database; the last line is the JSON metrics."""
    import json

    from nimbus.knowledge.evaluation import format_report, run_evaluation

    if mode not in ("hybrid", "vector", "lexical"):
        raise typer.BadParameter("mode must be hybrid, vector or lexical", param_hint="--mode")
    metrics = run_evaluation(directory, split=split, limit=limit, mode=mode, settings=_settings())
    console.print(format_report(metrics))
    typer.echo(json.dumps(metrics))


@app.command()
def migrate() -> None:
    """Apply database migrations (starting the embedded database if no DSN is configured)."""
    from nimbus.db import migrate as migrations
    from nimbus.db.provision import provision

    provisioned = provision(_settings())
    try:
        migrations.upgrade(provisioned.url)
    finally:
        provisioned.close()
    console.print(f"[green]database at revision {migrations.head_revision()}[/green]")


@app.command()
def cleanup() -> None:
    """Delete expired sessions with everything they own, once."""
    from nimbus.maintenance import run_once

    report = asyncio.run(run_once(_settings()))
    typer.echo(f"deleted {report.expired_sessions} expired sessions; closed {report.stale_answers} stale answers")


def main() -> None:
    """Entry point of the `nimbus` script."""
    app()
