"""Retrieval latency at 100,000 chunks: hybrid, vector-only and lexical-only top-10, p50/p99.

Corpus: the text of the PDFs in /work/shared/data/pdfs and the 1,000 PubMedQA abstracts, cut into passages
of ~150 words (~200 MiniLM tokens, the default chunk size). 2,000 of them (`--base-passages`) are embedded
for real with the project's embedder (all-MiniLM-L6-v2, ~90 s). To reach 100,000 chunks without embedding
for an hour, the others are perturbed copies of a random base passage: 10 % of its words dropped and 10 %
replaced by words of another passage (term statistics stay those of real text), its vector moved by
Gaussian noise to a cosine of ~0.9 to the original and renormalised (the HNSW graph sees no duplicates).

The chunks go through the production `index_chunks` (postings computed by PostgreSQL) into a throw-away
embedded PostgreSQL, 250 chunks per document; the HNSW index is built once after loading, as migration
0002 defines it. Queries: 200 PubMedQA test questions. Scopes: the whole library (100,000 chunks, one
session owning everything: the worst case), a 10-document session (2,500 chunks) and one document (250).
`--shared-buffers 1GB` restarts the server with more buffers (the HNSW index alone is ~195 MB; the embedded
server's default is 256 MB).

`--reuse DIR` keeps the loaded cluster in DIR and measures it again on the next run without reloading.

Run: .venv/bin/python bench/retrieval_latency.py [--chunks 100000] [--shared-buffers 1GB] [--reuse DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.config import DatabaseSettings, KnowledgeSettings, LLMSettings
from nimbus.db import migrate
from nimbus.db.base import utcnow
from nimbus.db.embedded import EmbeddedPostgres
from nimbus.db.engine import Database
from nimbus.knowledge import index, retrieval
from nimbus.knowledge.embeddings import LocalEmbedder, build_embedder
from nimbus.knowledge.models import Document, DocumentStatus, SourceKind
from nimbus.knowledge.types import ChunkDraft
from nimbus.sessions.models import Session

DATA = Path("/work/shared/data")
PASSAGE_WORDS = 150
CHUNKS_PER_DOCUMENT = 250
BATCH = 256
TOP_K = 10
NOISE_NORM = 0.48  # |noise| for unit vectors: cosine to the original ≈ 1 / sqrt(1 + 0.48²) ≈ 0.90
MODES: tuple[retrieval.SearchMode, ...] = ("hybrid", "vector", "lexical")
HNSW_INDEX = (  # as migration 0002 creates it
    "CREATE INDEX ix_chunk_embedding_hnsw ON chunk USING hnsw (embedding vector_cosine_ops) "
    "WITH (m = 16, ef_construction = 64)"
)
console = Console()


def base_passages() -> list[str]:
    """~150-word passages of the shared PDFs and PubMedQA abstracts."""
    import pypdfium2 as pdfium

    documents: list[str] = []
    for path in sorted((DATA / "pdfs").glob("*.pdf")):
        pdf = pdfium.PdfDocument(path)
        documents.append(" ".join(page.get_textpage().get_text_range() for page in pdf))
        pdf.close()
    abstracts = json.loads((DATA / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    documents.extend(" ".join(entry["CONTEXTS"]) for entry in abstracts.values())
    passages: list[str] = []
    for document in documents:
        words = document.split()
        passages.extend(" ".join(words[start : start + PASSAGE_WORDS]) for start in range(0, len(words), PASSAGE_WORDS))
    return [passage for passage in passages if len(passage.split()) >= 20]


def questions(count: int) -> list[str]:
    """The first `count` PubMedQA test-split questions."""
    labelled = json.loads((DATA / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    test_ids = list(json.loads((DATA / "pubmedqa" / "test_ground_truth.json").read_text(encoding="utf-8")))
    return [labelled[pmid]["QUESTION"] for pmid in test_ids[:count]]


def perturbed(
    passages: Sequence[str], vectors: np.ndarray, total: int, rng: random.Random
) -> tuple[list[str], np.ndarray]:
    """The base passages followed by perturbed copies, `total` in all (see the module docstring)."""
    texts = list(passages)
    picks = [rng.randrange(len(passages)) for _ in range(total - len(passages))]
    for pick in picks:
        donor = passages[rng.randrange(len(passages))].split()
        words = []
        for word in passages[pick].split():
            draw = rng.random()
            if draw < 0.1:
                continue
            words.append(rng.choice(donor) if draw < 0.2 else word)
        texts.append(" ".join(words))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(size=(len(picks), vectors.shape[1]))
    noise *= NOISE_NORM / np.linalg.norm(noise, axis=1, keepdims=True)
    moved = vectors[picks] + noise
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return texts, np.vstack([vectors, moved]).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Corpus:
    document_ids: list[uuid.UUID]
    chunks: int
    postings: int
    load_seconds: float
    index_seconds: float


async def load(database: Database, texts: Sequence[str], vectors: np.ndarray) -> Corpus:
    """Write the chunks through `index_chunks`, then build the HNSW index."""
    started = time.perf_counter()
    async with database.transaction() as db:
        await db.execute(text("DROP INDEX ix_chunk_embedding_hnsw"))
        owner = Session(token_hash=uuid.uuid4().hex * 2, expires_at=utcnow() + timedelta(days=1))
        db.add(owner)
        await db.flush()
        owner_id = owner.id
    document_ids = []
    for first in range(0, len(texts), CHUNKS_PER_DOCUMENT):
        async with database.transaction() as db:
            document = Document(session_id=owner_id, name=f"bench-{first}", kind=SourceKind.FILE)
            document.status = DocumentStatus.READY
            db.add(document)
            await db.flush()
            last = min(first + CHUNKS_PER_DOCUMENT, len(texts))
            for start in range(first, last, BATCH):
                stop = min(start + BATCH, last)
                drafts = [
                    ChunkDraft(ordinal=i - first, text=texts[i], token_count=0, char_start=0, char_end=len(texts[i]))
                    for i in range(start, stop)
                ]
                vectors_batch = vectors[start:stop].tolist()
                document.chunks_done += await index.index_chunks(db, document.id, drafts, vectors_batch, "english")
            document_ids.append(document.id)
    loaded = time.perf_counter()
    async with database.engine.connect() as plain:
        connection = await plain.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("SET maintenance_work_mem = '1GB'"))
        await connection.execute(text(HNSW_INDEX))
        await connection.execute(text("VACUUM ANALYZE"))
        postings = (await connection.execute(text("SELECT count(*) FROM chunk_term"))).scalar_one()
    return Corpus(document_ids, len(texts), postings, loaded - started, time.perf_counter() - loaded)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(
    database: Database,
    embedder: LocalEmbedder,
    queries: Sequence[str],
    query_vectors: Sequence[list[float]],
    scope: Sequence[uuid.UUID],
    mode: retrieval.SearchMode,
) -> dict[str, float]:
    """Latency of `search` alone and of query embedding + search, in milliseconds."""
    excluded, included = [], []
    async with database.transaction() as db:
        for query, vector in zip(queries, query_vectors, strict=True):  # warm-up: steady state, not a cold cache
            await _search(db, query, vector, scope, mode)
        for query, vector in zip(queries, query_vectors, strict=True):
            started = time.perf_counter()
            await _search(db, query, vector, scope, mode)
            excluded.append((time.perf_counter() - started) * 1000)
        for query in queries:
            started = time.perf_counter()
            await _search(db, query, embedder.embed_query(query), scope, mode)
            included.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(excluded), 2),
        "p99_ms": round(percentile(excluded, 0.99), 2),
        "p50_with_embedding_ms": round(statistics.median(included), 2),
        "p99_with_embedding_ms": round(percentile(included, 0.99), 2),
    }


async def _search(
    db: AsyncSession, query: str, vector: list[float], scope: Sequence[uuid.UUID], mode: retrieval.SearchMode
) -> None:
    # A question whose words all miss a small scope finds nothing lexically; that is part of the workload.
    await retrieval.search(
        db,
        query,
        vector,
        scope,
        mode=mode,
        top_k=TOP_K,
        candidates=100,
        vector_weight=0.5,
        text_search_config="english",
    )


async def loaded(database: Database) -> Corpus:
    """The corpus a previous `--reuse` run left in the database."""
    async with database.transaction() as db:
        rows = await db.execute(text("SELECT id FROM document ORDER BY split_part(name, '-', 2)::integer"))
        document_ids = list(rows.scalars())
        chunks = (await db.execute(text("SELECT count(*) FROM chunk"))).scalar_one()
        postings = (await db.execute(text("SELECT count(*) FROM chunk_term"))).scalar_one()
    return Corpus(document_ids, chunks, postings, 0.0, 0.0)


async def run_queries(
    url: str, args: argparse.Namespace, corpus_source: Callable[[], tuple[Sequence[str], np.ndarray]] | None
) -> dict[str, object]:
    embedder = build_embedder(KnowledgeSettings(_env_file=None), LLMSettings(_env_file=None))  # as the server does
    assert isinstance(embedder, LocalEmbedder)
    queries = questions(args.queries)
    query_vectors = [embedder.embed_query(query) for query in queries]
    database = Database.connect(url, DatabaseSettings(_env_file=None))
    try:
        if corpus_source is None:
            corpus = await loaded(database)
        else:
            texts, vectors = corpus_source()
            corpus = await load(database, texts, vectors)
        console.print(
            f"{corpus.chunks} chunks ({corpus.postings} postings) written in {corpus.load_seconds:.1f} s, "
            f"indexes built in {corpus.index_seconds:.1f} s"
        )
        scopes = {
            "library": corpus.document_ids,
            "session": corpus.document_ids[:10],
            "document": corpus.document_ids[:1],
        }
        results: dict[str, dict[str, float]] = {}
        for scope_name, scope in scopes.items():
            for mode in MODES:
                figures = await measure(database, embedder, queries, query_vectors, scope, mode)
                results[f"{scope_name}/{mode}"] = figures
                console.print(f"{scope_name:>9} {mode:>8}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    finally:
        await database.dispose()
    return {
        "chunks": corpus.chunks,
        "documents": len(corpus.document_ids),
        "chunks_per_scope": {name: len(scope) * CHUNKS_PER_DOCUMENT for name, scope in scopes.items()},
        "postings": corpus.postings,
        "load_seconds": round(corpus.load_seconds, 1),
        "index_build_seconds": round(corpus.index_seconds, 1),
        "queries": len(queries),
        "shared_buffers": args.shared_buffers,
        "results": results,
    }


@contextmanager
def embedded_server(shared_buffers: str | None, reuse: Path | None) -> Iterator[str]:
    """An embedded PostgreSQL, migrated, optionally restarted with more shared buffers; thrown away after
    the run unless `reuse` names where to keep it."""
    data_dir = reuse or Path(tempfile.mkdtemp(prefix="nimbus-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)  # lets a root-run server keep its cluster inside it
    server = EmbeddedPostgres(data_dir)
    try:
        url = server.start()
        migrate.upgrade(url)
        if shared_buffers:
            admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
            server.stop()
            url = server.start()
        yield url
    finally:
        if reuse is None:
            server.destroy()
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            server.stop()


def print_table(report: dict[str, object]) -> None:
    title = f"top-{TOP_K} latency (ms), {report['chunks']} chunks, {report['queries']} queries"
    table = Table(title=title)
    for column in ("scope", "mode", "p50", "p99", "p50 + embed", "p99 + embed"):
        table.add_column(column, justify="right")
    results = report["results"]
    assert isinstance(results, dict)
    for key, figures in results.items():
        scope, mode = key.split("/")
        table.add_row(scope, mode, *(f"{value:.2f}" for value in figures.values()))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description="Retrieval latency at 100k chunks.")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base-passages", type=int, default=2000, help="passages embedded for real")
    parser.add_argument("--shared-buffers", default=None, help="e.g. 1GB (the embedded default is 128MB)")
    parser.add_argument("--reuse", type=Path, default=None, help="keep the loaded cluster here and reuse it")
    args = parser.parse_args()
    marker = args.reuse / "corpus-loaded" if args.reuse else None

    def corpus() -> tuple[Sequence[str], np.ndarray]:
        rng = random.Random(7)
        started = time.perf_counter()
        passages = base_passages()
        rng.shuffle(passages)
        passages = passages[: args.base_passages]
        base_vectors = np.asarray(LocalEmbedder().embed_documents(passages), dtype=np.float32)
        console.print(f"{len(passages)} base passages embedded in {time.perf_counter() - started:.1f} s")
        return perturbed(passages, base_vectors, args.chunks, rng)

    with embedded_server(args.shared_buffers, args.reuse) as url:
        reusing = marker is not None and marker.exists()
        report = asyncio.run(run_queries(url, args, None if reusing else corpus))
        if marker is not None:
            marker.touch()
    print_table(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
