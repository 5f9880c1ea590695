"""What Nimbus adds on top of its model: first-token latency, and many concurrent streaming chats.

A real `nimbus serve` (embedded PostgreSQL in a temporary data dir) in front of the test suite's fake
OpenAI-protocol server, which streams every answer at a fixed rate. `make bench`, or run with `--help`.
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
from typing import NamedTuple

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
        return dict.fromkeys(("p50", "p90", "p99"), math.nan)
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


class Burst(NamedTuple):
    wall: float
    turns: list[Turn]
    stored_complete: int  # answers found whole in the database afterwards
    server_cpu: float  # seconds of CPU the Nimbus process used meanwhile


async def burst(api: str, args: argparse.Namespace, server_pid: int) -> Burst:
    """One client per chat, each in its own session, all asking at once and reading to the end."""
    clients = [httpx.AsyncClient(base_url=api, timeout=TIMEOUT) for _ in range(args.concurrency)]
    try:
        chats = await asyncio.gather(*(new_chat(client, sign_in=True) for client in clients))
        started, cpu = time.perf_counter(), cpu_seconds(server_pid)
        turns = await asyncio.gather(*(ask(c, chat, args.chunks) for c, chat in zip(clients, chats, strict=True)))
        wall, cpu = time.perf_counter() - started, cpu_seconds(server_pid) - cpu
        stored = 0
        for client, chat_id in zip(clients, chats, strict=True):
            last = (await client.get(f"/api/v1/chats/{chat_id}")).raise_for_status().json()["messages"][-1]
            stored += last["status"] == "complete" and len(last["content"].split()) == args.chunks
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return Burst(wall, list(turns), stored, cpu)


async def concurrent_chats(api: str, args: argparse.Namespace, server_pid: int) -> dict[str, object]:
    """Counts over every round; timings of the median round by wall time (a burst lasts seconds, easily
    disturbed by anything else the machine does)."""
    rounds = [await burst(api, args, server_pid) for _ in range(args.rounds)]
    wall, turns, *_ = sorted(rounds, key=lambda result: result.wall)[len(rounds) // 2]
    failed = [turn for result in rounds for turn in result.turns if turn.error is not None]
    ok, chats = [turn for turn in turns if turn.error is None], args.concurrency * args.rounds
    return {
        "chats": chats,
        "errors": len(failed),
        "error_kinds": sorted({str(turn.error) for turn in failed})[:5],
        "stored_complete": sum(result.stored_complete for result in rounds),
        "rounds_wall_s": [round(result.wall, 3) for result in rounds],
        "server_cpu_ms_per_chat": round(1000 * sum(result.server_cpu for result in rounds) / chats, 2),
        "wall_s": round(wall, 3),
        "chats_per_s": round(len(ok) / wall, 1),
        "tokens_per_s": round(sum(turn.tokens for turn in ok) / wall, 1),
        "total_ms": summary([turn.total for turn in ok]),
        "first_token_ms": summary([turn.first_token for turn in ok]),
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time used so far by process `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def nimbus_serve(data_dir: Path, provider: str, outcome: dict[str, object]) -> Iterator[tuple[str, int]]:
    """`nimbus serve` on the embedded PostgreSQL, blind to this shell's Nimbus settings; on exit, SIGTERM and
    record in `outcome` its exit status and whether its PostgreSQL stopped too."""
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
        yield url, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            outcome["server_exit"] = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            outcome["server_exit"] = server.wait()
        # PostgreSQL removes its pid file last thing when it stops.
        outcome["postgres_stopped"] = not (data_dir / "postgres" / "postmaster.pid").exists()


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
    title = f"{args.concurrency} concurrent streaming chats: {args.rounds} rounds, timings of the median round"
    table = Table("", "value", title=title)
    for key, value in load.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    console.print(table)
    added, stopped = first["added"]["p50"], outcome["postgres_stopped"]
    console.print(f"added first-token latency p50 {added} ms (target ≤ 25 ms); errors {load['errors']} (target 0)")
    console.print(f"nimbus serve exit status {outcome['server_exit']}; embedded PostgreSQL stopped: {stopped}")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    machine: dict[str, object] = {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}
    machine |= {"load_1m_before": load_average, "load_1m_after": round(os.getloadavg()[0], 2)}
    figures: dict[str, object] = {"machine": machine, "stream": {"chunks": args.chunks, "delay_s": args.chunk_delay}}
    figures |= {"first_token_ms": {"requests": args.requests, **first}, "concurrent": load, **outcome}
    print(json.dumps(figures))
    return 0 if load["errors"] == 0 and outcome["server_exit"] == 0 and stopped is True else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests for the first-token figures")
    parser.add_argument("--warmup", type=int, default=10, help="requests before measuring")
    parser.add_argument("--concurrency", type=int, default=100, help="simultaneous streaming chats")
    parser.add_argument("--rounds", type=int, default=3, help="bursts of concurrent chats (the median is shown)")
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
    fake_command = [sys.executable, __file__, *sys.argv[1:], "--serve-fake"]  # the same options
    fake = subprocess.Popen(fake_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    outcome: dict[str, object] = {}
    try:
        assert fake.stdout is not None
        provider = fake.stdout.readline().decode().strip()
        with nimbus_serve(data_dir, provider, outcome) as (api, server_pid):
            console.print(f"[dim]nimbus serve at {api}; provider at {provider}; data in {data_dir}[/dim]")
            first = asyncio.run(first_token_overhead(api, provider, args))
            load = asyncio.run(concurrent_chats(api, args, server_pid))
    finally:
        fake.communicate(timeout=30)  # closing its stdin stops it
        if (data_dir / "postgres").is_symlink():  # the cluster was kept outside the data dir (see configuration.md)
            shutil.rmtree((data_dir / "postgres").resolve(), ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    return report(args, first, load, outcome, load_average)


if __name__ == "__main__":
    sys.exit(main())
