"""What Nimbus adds on top of its model: first-token latency, and many concurrent streaming chats.

A real `nimbus serve` (embedded PostgreSQL in a temporary data dir) sits in front of the fake
OpenAI-protocol server of the test suite, which streams every answer at a fixed rate.
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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    """Child mode: the fake provider until stdin closes (own process: no GIL shared with the client)."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.openai_server import FakeOpenAI, Reply

    with FakeOpenAI() as fake:
        fake.default = Reply(chunks=[f"word{i} " for i in range(chunks)], delay_between_chunks=delay)
        print(fake.base_url, flush=True)
        sys.stdin.read()


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 in milliseconds (linear interpolation)."""
    if len(seconds) < 2:
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {f"p{p}": round(cuts[p - 1] * 1000, 1) for p in (50, 90, 99)}


async def direct_first_token(http: httpx.AsyncClient, base_url: str) -> float:
    """Seconds until the provider's first content chunk (the rest of the stream is dropped)."""
    body = {"model": "fake-model", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
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
    """Post a question and read the SSE answer to its `done` (or `error`) event."""
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


async def new_chat(http: httpx.AsyncClient, *, sign_in: bool = False) -> str:
    """A new chat; with `sign_in`, first a session of its own whose token `http` then always sends."""
    if sign_in:
        token = (await http.post("/api/v1/sessions")).raise_for_status().json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
    chat_id: str = (await http.post("/api/v1/chats", json={})).raise_for_status().json()["id"]
    return chat_id


async def first_token_overhead(api: str, provider: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Sequential pairs: time to first token straight from the provider, then through Nimbus."""
    direct: list[float] = []
    through: list[float] = []
    async with httpx.AsyncClient(base_url=api, timeout=TIMEOUT) as http:
        await new_chat(http, sign_in=True)
        for index in range(args.warmup + args.requests):
            chat_id = await new_chat(http)  # a fresh chat each time, so every prompt has the same length
            provider_seconds = await direct_first_token(http, provider)
            turn = await ask(http, chat_id, args.chunks)
            if turn.error is not None:
                raise RuntimeError(f"request {index} failed: {turn.error}")
            if index >= args.warmup:
                direct.append(provider_seconds)
                through.append(turn.first_token)
    added = [n - d for n, d in zip(through, direct, strict=True)]
    return {"direct": summary(direct), "nimbus": summary(through), "added": summary(added)}


async def concurrent_chats(api: str, args: argparse.Namespace) -> dict[str, object]:
    """One client per chat, each in its own session, all asking at once and reading to the end."""
    clients = [httpx.AsyncClient(base_url=api, timeout=TIMEOUT) for _ in range(args.concurrency)]
    try:
        chats = await asyncio.gather(*(new_chat(client, sign_in=True) for client in clients))
        started = time.perf_counter()
        turns = await asyncio.gather(*(ask(c, chat, args.chunks) for c, chat in zip(clients, chats, strict=True)))
        wall = time.perf_counter() - started
        stored = 0  # answers saved whole, as the database holds them afterwards
        for client, chat_id in zip(clients, chats, strict=True):
            last = (await client.get(f"/api/v1/chats/{chat_id}")).raise_for_status().json()["messages"][-1]
            stored += last["status"] == "complete" and len(last["content"].split()) == args.chunks
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    ok = [turn for turn in turns if turn.error is None]
    return {
        "chats": args.concurrency,
        "completed": len(ok),
        "errors": len(turns) - len(ok),
        "error_kinds": sorted({turn.error for turn in turns if turn.error is not None})[:5],
        "stored_complete": stored,
        "wall_s": round(wall, 3),
        "chats_per_s": round(len(ok) / wall, 1),
        "tokens_per_s": round(sum(turn.tokens for turn in ok) / wall, 1),
        "total_ms": summary([turn.total for turn in ok]),
        "first_token_ms": summary([turn.first_token for turn in ok]),
    }


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (one that exited and awaits its reaper does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@contextmanager
def nimbus_serve(data_dir: Path, provider: str, outcome: dict[str, object]) -> Iterator[str]:
    """`nimbus serve` on the embedded PostgreSQL, ignoring this shell's Nimbus settings; yields its URL.

    On exit: SIGTERM, wait, and record in `outcome` its exit status and whether PostgreSQL stopped too.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {name: value for name, value in os.environ.items() if name not in setting_names()}
    env |= {"NIMBUS_DATA_DIR": str(data_dir), "NIMBUS_LLM_BASE_URL": provider, "NIMBUS_LLM_MODEL": "fake-model"}
    env["NIMBUS_LOG_LEVEL"] = "WARNING"
    command = [sys.executable, "-m", "nimbus", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = data_dir / "server.log"
    with log.open("wb") as output:  # cwd is the data dir, so no `.env` of the caller is read
        server = subprocess.Popen(command, env=env, cwd=data_dir, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nimbus serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        pidfile = data_dir / "postgres" / "postmaster.pid"
        postmaster = int(pidfile.read_text().split()[0]) if pidfile.exists() else None
        server.send_signal(signal.SIGTERM)
        try:
            outcome["server_exit"] = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            outcome["server_exit"] = server.wait()
        deadline = time.monotonic() + 10
        while postmaster is not None and alive(postmaster) and time.monotonic() < deadline:
            time.sleep(0.05)
        outcome["postgres_stopped"] = postmaster is None or not alive(postmaster)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthcheck", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def report(args: argparse.Namespace, first: dict[str, dict[str, float]], load: dict[str, object],
           outcome: dict[str, object], load_average: float) -> int:  # fmt: skip
    """Print the tables, a verdict and one JSON line of every figure; the exit status says if all went well."""
    table = Table("", "p50", "p90", "p99", title=f"Time to first token, {args.requests} sequential requests (ms)")
    for label, key in (("provider directly", "direct"), ("through Nimbus", "nimbus"), ("added by Nimbus", "added")):
        table.add_row(label, *(f"{first[key][p]:.1f}" for p in ("p50", "p90", "p99")))
    console.print(table)
    table = Table("", "value", title=f"{load['chats']} concurrent streaming chats")
    for key, value in load.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    console.print(table)
    added, stopped = first["added"]["p50"], outcome["postgres_stopped"]
    console.print(f"added first-token latency p50 {added} ms (target ≤ 25 ms); errors {load['errors']} (target 0)")
    console.print(f"nimbus serve exit status {outcome['server_exit']}; embedded PostgreSQL stopped: {stopped}")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    machine = {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "load_1m": load_average}
    figures: dict[str, object] = {"machine": machine, "stream": {"chunks": args.chunks, "delay_s": args.chunk_delay}}
    figures |= {"first_token_ms": {"requests": args.requests, **first}, "concurrent": load, **outcome}
    print(json.dumps(figures))
    return 0 if load["errors"] == 0 and outcome["server_exit"] == 0 and stopped is True else 1


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
    load_average = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    data_dir = Path(tempfile.mkdtemp(prefix="nimbus-bench-"))
    data_dir.chmod(0o755)  # when run as root, the PostgreSQL user can then keep its cluster inside it
    fake_command = [sys.executable, __file__, "--serve-fake", f"--chunks={args.chunks}"]
    fake_command.append(f"--chunk-delay={args.chunk_delay}")
    fake = subprocess.Popen(fake_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    outcome: dict[str, object] = {}
    try:
        assert fake.stdout is not None
        provider = fake.stdout.readline().decode().strip()
        with nimbus_serve(data_dir, provider, outcome) as api:
            console.print(f"[dim]nimbus serve at {api}; provider at {provider}; data in {data_dir}[/dim]")
            first = asyncio.run(first_token_overhead(api, provider, args))
            load = asyncio.run(concurrent_chats(api, args))
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return report(args, first, load, outcome, load_average)


if __name__ == "__main__":
    sys.exit(main())
