"""Processes: the API under uvicorn, the UI under Streamlit, or both (no orphans on exit)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import uvicorn
from rich.console import Console

from nimbus.app import create_app
from nimbus.config import Settings

console = Console(stderr=True)
PR_SET_PDEATHSIG = 1


def ui_script() -> Path:
    """The Streamlit app: `ui/app.py` of a source checkout, or the copy shipped inside the package."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parents[1] / "ui" / "app.py", package / "_ui" / "app.py"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the Nimbus UI (ui/app.py) is not installed")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If the parent is killed outright, the kernel sends SIGTERM to the UI instead of orphaning it.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def ui_command(port: int, api_url: str) -> tuple[list[str], dict[str, str]]:
    """The Streamlit command line and environment for the UI."""
    script = ui_script()
    command = [
        sys.executable, "-m", "ui",
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    # `python -m ui` imports the UI's modules before the server starts (see ui/__main__.py).
    root = str(script.parents[1])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return command, {**os.environ, "NIMBUS_API_URL": api_url, "PYTHONPATH": path}


def start_ui(port: int, api_url: str) -> subprocess.Popen[bytes]:
    """Start the UI as a child process that dies with this one."""
    command, env = ui_command(port, api_url)
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(command, env=env, preexec_fn=preexec)  # noqa: PLW1509


def stop_child(child: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a child process and wait for it (kill if it ignores SIGTERM)."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def serve_ui(port: int, api_url: str) -> int:
    """Run the UI in the foreground until it exits or this process is asked to stop."""
    child = start_ui(port, api_url)
    console.print(f"Nimbus UI on http://127.0.0.1:{port} (API {api_url})")

    def forward(signum: int, _frame: object) -> None:
        # Only pass the signal on: the main thread is inside child.wait() and reaps the child itself.
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return_code = child.wait()
    return 0 if return_code in (0, -signal.SIGTERM, -signal.SIGINT) else return_code


def exit_now(status: int = 0) -> NoReturn:
    """Leave without running interpreter finalizers, once everything of ours is closed.

    The lifespan has already stopped the workers, the pool and the embedded PostgreSQL; some third-party
    finalizers (torch's, after a model was loaded in a worker thread) can spin forever at interpreter exit,
    which would leave a stopped server hanging on to its CPU.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def serve_api(settings: Settings, host: str, port: int) -> None:
    """Serve the API until SIGTERM/SIGINT; the lifespan stops the embedded database on the way out."""
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.server.log_level.lower(),
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        log_config=None,
    )
    # uvicorn re-raises the stop signal once shut down; a no-op handler turns that into a clean exit (status 0).
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.Server(config).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(signum: int, _frame: object) -> None:
    """Swallow a signal that was already handled."""


def run_both(settings: Settings, host: str, port: int, ui_port: int) -> None:
    """The API in this process and the UI as a child, printing both URLs."""
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    api_url = f"http://{shown_host}:{port}"
    child = start_ui(ui_port, api_url)
    console.print(f"[bold]Nimbus API[/bold] {api_url}  (docs {api_url}/docs)")
    console.print(f"[bold]Nimbus UI[/bold]  http://{shown_host}:{ui_port}")
    try:
        serve_api(settings, host, port)
    finally:
        stop_child(child)
