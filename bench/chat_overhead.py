"""What Nimbus adds on top of its model: first-token latency, and many concurrent streaming chats.

A real `nimbus serve` (embedded PostgreSQL in a temporary data dir) sits in front of the fake
OpenAI-protocol server from the test suite, which streams every answer at a fixed rate.
Run with `make bench` or `.venv/bin/python bench/chat_overhead.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from nimbus.config import setting_names

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "How quickly does the first word of the answer arrive?"
TIMEOUT = httpx.Timeout(60.0)
console = Console()


def serve_fake(chunks: int, delay: float) -> None:
    """Child mode: run the fake provider until stdin closes (its own process, so it never competes with
    the measuring client for the GIL)."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.openai_server import FakeOpenAI, Reply

    with FakeOpenAI() as fake:
        fake.default = Reply(chunks=[f"word{i} " for i in range(chunks)], delay_between_chunks=delay)
        print(fake.base_url, flush=True)
        sys.stdin.read()


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation (NaN for no values)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 in milliseconds, rounded to 0.1 ms."""
    return {f"p{p}": round(percentile(values, p) * 1000, 1) for p in (50, 90, 99)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def direct_first_token(http: httpx.AsyncClient, base_url: str) -> float:
    """Seconds until the provider's first content chunk (the stream is then dropped)."""
    body = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    async with http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                choices = json.loads(line[6:]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    return time.perf_counter() - started
    raise RuntimeError("the provider stream ended without content")


@dataclass
class Turn:
    """One question asked through Nimbus: timings in seconds, and how it ended."""

    first_token: float = math.nan
    total: float = math.nan
    tokens: int = 0
    error: str | None = None


async def ask(http: httpx.AsyncClient, chat_id: str, expected_tokens: int) -> Turn:
    """Post a question and read the SSE answer to its end."""
    turn, event = Turn(), ""
    started = time.perf_counter()
    try:
        async with http.stream("POST", f"/api/v1/chats/{chat_id}/messages", json={"content": QUESTION}) as response:
            if response.status_code != 200:
                turn.error = f"HTTP {response.status_code}"
                return turn
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                    if event == "token":
                        turn.tokens += 1
                        if turn.tokens == 1:
                            turn.first_token = time.perf_counter() - started
                    elif event == "done":
                        turn.total = time.perf_counter() - started
                elif event == "error" and line.startswith("data:"):
                    turn.error = line[5:].strip()
    except httpx.HTTPError as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
    if turn.error is None and (math.isnan(turn.total) or turn.tokens != expected_tokens):
        turn.error = f"stream ended after {turn.tokens}/{expected_tokens} tokens"
    return turn


async def sign_in(http: httpx.AsyncClient) -> None:
    """Open a session and send its token with every later request of `http`."""
    token = (await http.post("/api/v1/sessions")).raise_for_status().json()["token"]
    http.headers["Authorization"] = f"Bearer {token}"


async def new_chat(http: httpx.AsyncClient) -> str:
    """A new chat of the client's session."""
    chat_id: str = (await http.post("/api/v1/chats", json={})).raise_for_status().json()["id"]
    return chat_id


async def first_token_overhead(api: str, provider: str, args: argparse.Namespace) -> dict[str, object]:
    """Sequential requests: time to first token straight from the provider and through Nimbus."""
    direct: list[float] = []
    through: list[float] = []
    async with httpx.AsyncClient(base_url=api, timeout=TIMEOUT) as http:
        await sign_in(http)
        for index in range(args.warmup + args.requests):
            chat_id = await new_chat(http)  # a fresh chat each time: every prompt has the same length
            provider_seconds = await direct_first_token(http, provider)
            turn = await ask(http, chat_id, args.chunks)
            if turn.error is not None:
                raise RuntimeError(f"request {index} failed: {turn.error}")
            if index >= args.warmup:
                direct.append(provider_seconds)
                through.append(turn.first_token)
    added = [n - d for n, d in zip(through, direct, strict=True)]
    return {"requests": args.requests, "direct": summary(direct), "nimbus": summary(through), "added": summary(added)}


async def concurrent_chats(api: str, args: argparse.Namespace) -> dict[str, object]:
    """`concurrency` sessions, each with its own chat, all asking at once and reading to the end."""
    clients = [httpx.AsyncClient(base_url=api, timeout=TIMEOUT) for _ in range(args.concurrency)]
    try:
        await asyncio.gather(*(sign_in(client) for client in clients))
        chats = await asyncio.gather(*(new_chat(client) for client in clients))
        pairs = list(zip(clients, chats, strict=True))
        started = time.perf_counter()
        turns = await asyncio.gather(*(ask(client, chat_id, args.chunks) for client, chat_id in pairs))
        wall = time.perf_counter() - started
        stored = 0
        for client, chat_id in pairs:
            last = (await client.get(f"/api/v1/chats/{chat_id}")).raise_for_status().json()["messages"][-1]
            stored += last["status"] == "complete" and len(last["content"].split()) == args.chunks
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    ok = [turn for turn in turns if turn.error is None]
    errors = sorted({turn.error for turn in turns if turn.error is not None})
    return {
        "chats": args.concurrency,
        "completed": len(ok),
        "errors": len(turns) - len(ok),
        "error_kinds": errors[:5],
        "stored_complete": stored,
        "wall_s": round(wall, 3),
        "chats_per_s": round(len(ok) / wall, 1),
        "tokens_per_s": round(sum(turn.tokens for turn in ok) / wall, 1),
        "total_ms": summary([turn.total for turn in ok]),
        "first_token_ms": summary([turn.first_token for turn in ok]),
    }


def start_server(data_dir: Path, provider: str, port: int) -> subprocess.Popen[bytes]:
    """`nimbus serve` on the embedded PostgreSQL, reading nothing from this shell's Nimbus settings."""
    env = {name: value for name, value in os.environ.items() if name not in setting_names()}
    env |= {
        "NIMBUS_DATA_DIR": str(data_dir),
        "NIMBUS_LLM_BASE_URL": provider,
        "NIMBUS_LLM_MODEL": "fake-model",
        "NIMBUS_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "nimbus", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (data_dir / "server.log").open("wb")
    # cwd is the data dir so that no `.env` of the caller is read.
    return subprocess.Popen(command, env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"nimbus serve exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthcheck", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("nimbus serve did not become healthy")


def stop_server(server: subprocess.Popen[bytes], data_dir: Path) -> bool:
    """SIGTERM, wait, and report whether the embedded PostgreSQL it started is gone too."""
    pidfile = data_dir / "postgres" / "postmaster.pid"
    postmaster = int(pidfile.read_text().split()[0]) if pidfile.exists() else None
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 10
    while postmaster is not None and alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.05)
    return postmaster is None or not alive(postmaster)


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (an exited one awaiting its reaper does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def print_tables(first: dict[str, object], load: dict[str, object]) -> None:
    table = Table(title=f"Time to first token, {first['requests']} sequential requests (ms)")
    for column in ("", "p50", "p90", "p99"):
        table.add_column(column, justify="right" if column else "left")
    for label, key in (("provider directly", "direct"), ("through Nimbus", "nimbus"), ("added by Nimbus", "added")):
        row = first[key]
        assert isinstance(row, dict)
        table.add_row(label, *(f"{row[p]:.1f}" for p in ("p50", "p90", "p99")))
    console.print(table)
    table = Table(title=f"{load['chats']} concurrent streaming chats")
    table.add_column("")
    table.add_column("value", justify="right")
    for key, value in load.items():
        if key != "chats":
            table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests for the first-token figures")
    parser.add_argument("--warmup", type=int, default=10, help="requests before measuring")
    parser.add_argument("--concurrency", type=int, default=100, help="simultaneous streaming chats")
    parser.add_argument("--chunks", type=int, default=40, help="chunks per streamed answer")
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between chunks")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(args.chunks, args.chunk_delay)
        return 0
    data_dir = Path(tempfile.mkdtemp(prefix="nimbus-bench-"))
    data_dir.chmod(0o755)  # as root, the server user can then keep the cluster inside it
    fake_command = [
        sys.executable,
        __file__,
        "--serve-fake",
        f"--chunks={args.chunks}",
        f"--chunk-delay={args.chunk_delay}",
    ]
    fake = subprocess.Popen(fake_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    server: subprocess.Popen[bytes] | None = None
    try:
        assert fake.stdout is not None
        provider = fake.stdout.readline().decode().strip()
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        server = start_server(data_dir, provider, port)
        console.print(f"[dim]nimbus serve on {api}, provider {provider}, data dir {data_dir}[/dim]")
        wait_healthy(api, server)
        first = asyncio.run(first_token_overhead(api, provider, args))
        load = asyncio.run(concurrent_chats(api, args))
        stopped = stop_server(server, data_dir)
        exit_code = server.returncode
        server = None
    except BaseException:
        if server is not None and (data_dir / "server.log").exists():
            console.print((data_dir / "server.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        if server is not None:
            stop_server(server, data_dir)
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    print_tables(first, load)
    added = first["added"]
    assert isinstance(added, dict)
    console.print(
        f"added first-token latency p50 {added['p50']} ms (target ≤ 25 ms); errors {load['errors']} (must be 0)"
    )
    console.print(f"nimbus serve exit status {exit_code}; embedded PostgreSQL stopped: {stopped}")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    machine = {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}
    stream = {"chunks": args.chunks, "chunk_delay_s": args.chunk_delay}
    figures = {"machine": machine, "stream": stream, "first_token_ms": first, "concurrent": load}
    print(json.dumps(figures | {"server_exit": exit_code, "postgres_stopped": stopped}))
    return 0 if load["errors"] == 0 and stopped and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
