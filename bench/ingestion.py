"""Ingestion speed of a real PDF through a real `nimbus serve`, against the physical limit: pure embedding.

Uploads NIST SP 800-37r2 (183 pages) to a `nimbus serve` on an embedded PostgreSQL in a temporary data dir,
polls it to `ready` and reports wall time, pages/s, chunks, the job's stage timings and peak memory of the
server and of its PostgreSQL. The same chunk texts (the project's loader and chunker) are then embedded
in this process with `LocalEmbedder.embed_documents`; target: pipeline ÷ pure embedding ≤ 1.15. Last, three
real PDFs merged into 413 pages are ingested (target < 60 s). Status requests (every `--poll` s, 0.1 by
default) cost the server CPU time that the embedder then lacks; the Streamlit UI polls every 1 s.
Run: .venv/bin/python bench/ingestion.py [--runs N] [--skip-400] [--poll S] [--precision P]; the last line is a JSON
object of every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import httpx
import psutil

from nimbus.config import KnowledgeSettings, LLMSettings, setting_names
from nimbus.knowledge.chunking import chunk_sections
from nimbus.knowledge.embeddings import LocalEmbedder, build_embedder
from nimbus.knowledge.loaders.files import open_file

PDFS = Path("/work/shared/data/pdfs")
PDF = PDFS / "NIST.SP.800-37r2.pdf"
MERGED = ("NIST.SP.800-37r2.pdf", "NIST.SP.800-171r2.pdf", "GeoTopo-komprimiert.pdf")
POLL_SECONDS = 0.1
SAMPLE_SECONDS = 0.5
MB = 1 << 20


class MemoryPeaks(threading.Thread):
    """Peak memory while a document is ingested. The server's peak RSS is the kernel's own high-water mark
    (VmHWM, reset at the start through /proc/PID/clear_refs where allowed, else sampled). PostgreSQL's
    processes are sampled every `SAMPLE_SECONDS`: the PSS sum counts the cluster's shared memory once, the RSS
    sum counts it in every backend. Reading PSS walks page tables in the kernel, so sampling it often would
    take CPU from the server being measured."""

    def __init__(self, server_pid: int, postmaster_pid: int) -> None:
        super().__init__(daemon=True)
        self.server, self.postmaster = psutil.Process(server_pid), psutil.Process(postmaster_pid)
        self.peaks = dict.fromkeys(("server_rss", "postgres_pss", "postgres_rss_sum", "server_plus_postgres_pss"), 0.0)
        self.done = threading.Event()
        self.high_water_mark = _reset_peak_rss(server_pid)

    def run(self) -> None:
        while not self.done.wait(SAMPLE_SECONDS):
            self.sample()
        self.sample()

    def sample(self) -> None:
        server = _peak_rss(self.server) if self.high_water_mark else self.server.memory_info().rss
        pss = _sum(self.postmaster, lambda p: p.memory_full_info().pss)
        rss = _sum(self.postmaster, lambda p: p.memory_info().rss)
        for key, value in zip(self.peaks, (server, pss, rss, server + pss), strict=True):
            self.peaks[key] = max(self.peaks[key], round(value / MB, 1))


def _reset_peak_rss(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # "reset the peak resident set size"
    except OSError:
        return False
    return True


def _peak_rss(process: psutil.Process) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) * 1024
    return float(process.memory_info().rss)


def _sum(root: psutil.Process, measure: Callable[[psutil.Process], float]) -> float:
    total = 0.0
    for process in (root, *root.children(recursive=True)):
        try:
            total += measure(process)
        except psutil.Error:  # a backend that exited between listing and reading
            continue
    return total


@contextmanager
def nimbus_serve(
    data_dir: Path, outcome: dict[str, object], precision: str
) -> Iterator[tuple[httpx.Client, tuple[int, int]]]:
    """`nimbus serve` on the embedded PostgreSQL in `data_dir`; on exit SIGTERM, and record in `outcome` its exit
    status and whether PostgreSQL stopped with it. Yields a client and the pids of the server and the postmaster."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {name: value for name, value in os.environ.items() if name not in setting_names()}
    env |= {"NIMBUS_DATA_DIR": str(data_dir), "NIMBUS_LLM_PROVIDER": "openai", "NIMBUS_LOG_LEVEL": "WARNING"}
    env["NIMBUS_EMBEDDING_PRECISION"] = precision
    env["NIMBUS_LLM_BASE_URL"] = "http://127.0.0.1:9/v1"  # chat is not used
    command = [sys.executable, "-m", "nimbus", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = data_dir / "server.log"
    with log.open("wb") as output:  # cwd is the data dir, so no `.env` of the caller is read
        server = subprocess.Popen(command, env=env, cwd=data_dir, stdout=output, stderr=subprocess.STDOUT)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    postmaster: psutil.Process | None = None
    try:
        deadline = time.monotonic() + 180
        while not _healthy(http):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nimbus serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        postmaster = psutil.Process(int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0]))
        yield http, (server.pid, postmaster.pid)
    finally:
        http.close()
        server.send_signal(signal.SIGTERM)
        try:
            outcome["server_exit"] = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            outcome["server_exit"] = server.wait()
        pid_file_gone = not (data_dir / "postgres" / "postmaster.pid").exists()
        outcome["postgres_stopped"] = pid_file_gone and (postmaster is None or _ended(postmaster))


def _cpu(process: psutil.Process) -> float:
    return float(sum(process.cpu_times()[:2]))  # user + system


def _ended(process: psutil.Process) -> bool:
    """Whether `process` ended within 10 s (a zombie not yet reaped by init has ended)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def _healthy(http: httpx.Client) -> bool:
    try:
        return http.get("/healthcheck", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Ingested:
    """One document through the server: wall time from upload to `ready`, and what the document reports."""

    wall_s: float
    pages: int
    chunks: int
    pages_per_s: float
    timings_s: dict[str, float]  # the job's own: parse (with chunking), embed, index, total
    server_cpu_s: float  # CPU time of the server process meanwhile: hardly affected by other load
    postgres_cpu_s: float  # of its PostgreSQL processes (the pool's connections live through the job)
    peak_memory_mb: dict[str, float]
    load_1m_after: float  # this benchmark alone keeps it near 2 (the embedder's two threads); more is other work


def ingest(http: httpx.Client, path: Path, pids: tuple[int, int], poll: float = POLL_SECONDS) -> Ingested:
    """Upload `path` in a new session, poll until `ready`, delete it; wall time from upload to ready (its
    `finished_at`: exact whatever `poll`), the document's figures, CPU time and peak memory meanwhile."""
    token = http.post("/api/v1/sessions").raise_for_status().json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    sampler = MemoryPeaks(*pids)
    sampler.start()
    cpu, started = (_sum(sampler.server, _cpu), _sum(sampler.postmaster, _cpu)), time.time()
    with path.open("rb") as file:
        document = http.post("/api/v1/documents", files={"file": (path.name, file)}, headers=headers)
    url = f"/api/v1/documents/{document.raise_for_status().json()['id']}"
    while (document := http.get(url, headers=headers).raise_for_status()).json()["status"] != "ready":
        if document.json()["status"] in ("failed", "no_text") or time.time() - started > 900:
            raise RuntimeError(f"{path.name} was not ingested: {document.json()}")
        time.sleep(poll)
    cpu = (_sum(sampler.server, _cpu) - cpu[0], _sum(sampler.postmaster, _cpu) - cpu[1])
    sampler.done.set()
    sampler.join()
    http.delete(url, headers=headers).raise_for_status()  # each run indexes into the same empty library
    body = document.json()
    wall = datetime.fromisoformat(body["finished_at"]).timestamp() - started  # same host, same clock
    pages = body["pages"] or 0
    return Ingested(
        wall_s=round(wall, 2), pages=pages, chunks=body["chunks"], pages_per_s=round(pages / wall, 2),
        timings_s=body["timings"], server_cpu_s=round(cpu[0], 2), postgres_cpu_s=round(cpu[1], 2),
        peak_memory_mb=sampler.peaks, load_1m_after=round(os.getloadavg()[0], 2),
    )  # fmt: skip


def chunk_texts(path: Path, settings: KnowledgeSettings, embedder: LocalEmbedder) -> list[str]:
    """The chunks the ingestion job makes of `path`: the project's loader and chunker with its settings."""
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    sections = open_file(path).sections
    chunks = chunk_sections(sections, embedder.tokenizer, max_tokens, settings.chunk_overlap_tokens)
    return [chunk.text for chunk in chunks]


def pure_embedding(embedder: LocalEmbedder, texts: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds `embed_documents` takes for all of `texts` at once."""
    cpu, started = time.process_time(), time.perf_counter()
    embedder.embed_documents(texts)
    return round(time.perf_counter() - started, 2), round(time.process_time() - cpu, 2)


def merge_pdfs(names: tuple[str, ...], target: Path) -> int:
    """Concatenate real PDFs into `target`; its page count."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for name in names:
        writer.append(str(PDFS / name))
    writer.write(str(target))
    return len(writer.pages)


def measure(args: argparse.Namespace, data_dir: Path, outcome: dict[str, object]) -> dict[str, object]:
    """Every run: the PDF through the server, pure embedding of its chunks, then the merged document."""
    settings = KnowledgeSettings(_env_file=None, embedding_precision=args.precision)
    embedder = build_embedder(settings, LLMSettings(_env_file=None))  # as the server builds it (precision too)
    assert isinstance(embedder, LocalEmbedder)
    texts = chunk_texts(PDF, settings, embedder)
    embedder.embed_documents(texts[:64])  # loads the model and warms it up
    big = data_dir / "merged.pdf"
    big_pages = 0 if args.skip_400 else merge_pdfs(MERGED, big)
    small: list[Ingested] = []
    large: list[Ingested] = []
    pure: list[tuple[float, float]] = []
    with nimbus_serve(data_dir, outcome, args.precision) as (http, pids):
        (tiny := data_dir / "warm-up.txt").write_text("Ready once the server has loaded its embedding model.\n")
        ingest(http, tiny, pids)
        for run in range(1, args.runs + 1):
            small.append(ingest(http, PDF, pids, args.poll))
            pure.append(pure_embedding(embedder, texts))
            print(f"run {run}: {PDF.name} {json.dumps(asdict(small[-1]))}")
            ratio = small[-1].wall_s / pure[-1][0]
            print(f"run {run}: pure embedding of the same {len(texts)} chunks: {pure[-1][0]:.2f} s "
                  f"({pure[-1][1]:.2f} s CPU); pipeline ÷ pure embedding {ratio:.3f}")  # fmt: skip
            if big_pages:
                large.append(ingest(http, big, pids, args.poll))
                print(f"run {run}: {big_pages} merged pages {json.dumps(asdict(large[-1]))}")
    ratios = [round(s.wall_s / wall, 3) for s, (wall, _) in zip(small, pure, strict=True)]
    figures: dict[str, object] = {"pdf": PDF.name, "poll_s": args.poll, "chunks_in_process": len(texts)}
    figures["embedding_precision"] = "bfloat16" if embedder.bfloat16 else "float32"
    figures |= {"chunk_chars_mean": round(statistics.mean(map(len, texts))), "runs": [asdict(s) for s in small]}
    figures |= {"pure_embedding_s": [wall for wall, _ in pure], "pure_embedding_cpu_s": [cpu for _, cpu in pure]}
    figures |= {"ratios": ratios, "ratio_median": round(statistics.median(ratios), 3)}
    cpu_ratios = [(s.server_cpu_s + s.postgres_cpu_s) / cpu for s, (_, cpu) in zip(small, pure, strict=True)]
    figures["cpu_ratios"] = [round(ratio, 3) for ratio in cpu_ratios]  # server + PostgreSQL ÷ pure embedding
    if large:
        figures["merged"] = {"pdfs": MERGED, "runs": [asdict(r) for r in large]}
        figures["merged_wall_median_s"] = round(statistics.median(r.wall_s for r in large), 2)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="rounds of: PDF, pure embedding, merged PDF")
    parser.add_argument("--skip-400", action="store_true", help="leave out the merged 413-page document")
    parser.add_argument("--poll", type=float, default=POLL_SECONDS, help="seconds between status requests")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto", help="of the embedder")
    args = parser.parse_args()
    for name in setting_names():  # the server and this process both run on the defaults
        os.environ.pop(name, None)
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    data_dir = Path(tempfile.mkdtemp(prefix="nimbus-bench-ingestion-"))
    data_dir.chmod(0o755)  # when run as root, the PostgreSQL user can then keep its cluster inside it
    outcome: dict[str, object] = {}
    try:
        figures = measure(args, data_dir, outcome)
    finally:
        if (data_dir / "postgres").is_symlink():  # the cluster was kept outside the data dir
            shutil.rmtree((data_dir / "postgres").resolve(), ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"pipeline ÷ pure embedding: {figures['ratio_median']} (median of {args.runs}; target ≤ 1.15); "
          f"merged document: {figures.get('merged_wall_median_s', '-')} s to ready (target < 60 s)")  # fmt: skip
    print(f"nimbus serve exit status {outcome['server_exit']}; PostgreSQL stopped: {outcome['postgres_stopped']}")
    machine = {"cpus": os.cpu_count(), "load_1m_before": load_before, "load_1m_after": round(os.getloadavg()[0], 2)}
    print(json.dumps({"machine": machine, **figures, **outcome}))
    return 0 if outcome["server_exit"] == 0 and outcome["postgres_stopped"] is True else 1


if __name__ == "__main__":
    sys.exit(main())
