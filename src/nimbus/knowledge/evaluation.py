"""Retrieval quality on a BEIR-format set (`nimbus eval`): nDCG@10, recall@10, recall@100 and MRR@10.

The corpus goes through the configured pipeline (chunker, embedder, index) into a temporary database
that is dropped afterwards; each query is searched like a chat question over the whole corpus, and a
document scores the best score of its chunks. Metrics follow BEIR (pytrec_eval): linear gains for graded
relevance, recall over documents judged relevant (score > 0), reciprocal rank of the first relevant one.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypedDict

import psycopg
from psycopg import sql
from sqlalchemy import update
from sqlalchemy.engine import make_url

from nimbus.config import Settings
from nimbus.db import migrate
from nimbus.db.embedded import EmbeddedPostgres
from nimbus.db.engine import Database
from nimbus.knowledge import index, retrieval
from nimbus.knowledge.models import Document, DocumentStatus, SourceKind
from nimbus.knowledge.types import ChunkDraft, Embedder, Section, Tokenizer
from nimbus.sessions import service as session_service

MODES: tuple[retrieval.SearchMode, ...] = ("hybrid", "vector", "lexical")
RANKED_DOCUMENTS = 100  # recall@100 needs this many documents per query
CHUNKS_PER_RANKING = 300  # at least this many chunks per ranking, so that ~100 distinct documents remain
EMBED_GROUP = 256  # texts per embedder call
INDEX_GROUP = 100  # documents per transaction

EvaluationReport = TypedDict(
    "EvaluationReport",
    {
        "ndcg@10": float,
        "recall@10": float,
        "recall@100": float,
        "mrr@10": float,
        "queries": int,
        "documents": int,
        "mode": str,
    },
)

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total) as ingestion and querying advance."""


class Chunker(Protocol):
    """The shape of `nimbus.knowledge.chunking.chunk_sections`."""

    def __call__(
        self, sections: Sequence[Section], tokenizer: Tokenizer, max_tokens: int, overlap_tokens: int
    ) -> Iterator[ChunkDraft] | list[ChunkDraft]:
        """Chunks of the sections, in order."""
        ...


class EvaluationError(Exception):
    """The evaluation set is missing or malformed; the message names the file."""


@dataclass(frozen=True, slots=True)
class BeirSet:
    """A BEIR folder in memory: corpus (id → title, text), queries (id → text) and graded qrels."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _no_progress(stage: str, done: int, total: int) -> None:
    """Ignore progress."""


def load_beir(directory: Path, split: str = "test", limit: int | None = None) -> BeirSet:
    """Read corpus.jsonl, queries.jsonl and qrels/<split>.tsv; keep the first `limit` judged queries."""
    corpus: dict[str, tuple[str, str]] = {}
    for record in _jsonl(directory / "corpus.jsonl"):
        corpus[str(record["_id"])] = (str(record.get("title") or ""), str(record.get("text") or ""))
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = directory / "qrels" / f"{split}.tsv"
    try:
        lines = qrels_path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise EvaluationError(f"{qrels_path} not found") from exc
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise EvaluationError(f"{qrels_path}:{number}: expected query-id, corpus-id and score")
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries: dict[str, str] = {}
    for record in _jsonl(directory / "queries.jsonl"):
        query_id = str(record["_id"])
        if query_id in qrels and (limit is None or len(queries) < limit):
            queries[query_id] = str(record["text"])
    return BeirSet(corpus=corpus, queries=queries, qrels={q: qrels[q] for q in queries})


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise EvaluationError(f"{path} not found") from exc
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvaluationError(f"{path}:{number}: {exc.msg}") from exc


def run_evaluation(
    directory: Path,
    *,
    split: str = "test",
    limit: int | None = None,
    mode: str = "hybrid",
    settings: Settings,
    embedder: Embedder | None = None,
    on_progress: Progress = _no_progress,
) -> EvaluationReport:
    """Ingest the set into a temporary database and score one retrieval mode (blocking)."""
    if mode not in MODES:
        raise EvaluationError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    reports = evaluate_modes(
        directory,
        modes=(mode,),
        split=split,
        limit=limit,
        settings=settings,
        embedder=embedder,
        on_progress=on_progress,
    )
    return reports[mode]


def evaluate_modes(
    directory: Path,
    *,
    modes: Sequence[retrieval.SearchMode] = MODES,
    split: str = "test",
    limit: int | None = None,
    settings: Settings,
    embedder: Embedder | None = None,
    chunker: Chunker | None = None,
    fusion: retrieval.Fusion = "convex",
    on_progress: Progress = _no_progress,
) -> dict[str, EvaluationReport]:
    """Ingest the set once and score several modes on it (blocking; runs its own event loop)."""
    beir = load_beir(directory, split, limit)
    if embedder is None:
        from nimbus.knowledge.embeddings import build_embedder

        embedder = build_embedder(settings.knowledge, settings.llm)
    if chunker is None:
        from nimbus.knowledge.chunking import chunk_sections

        chunker = chunk_sections
    with temporary_database(settings) as url:
        migrate.upgrade(url)
        return asyncio.run(_evaluate(url, beir, modes, settings, embedder, chunker, fusion, on_progress))


@contextmanager
def temporary_database(settings: Settings) -> Iterator[str]:
    """A new empty database: on the configured server (dropped afterwards), else an embedded server of its own."""
    configured = settings.database.configured_url()
    if configured is not None:
        name = f"nimbus_eval_{secrets.token_hex(6)}"
        admin = make_url(configured).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield make_url(configured).set(database=name).render_as_string(hide_password=False)
        finally:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="nimbus-eval-"))
    data_dir.chmod(0o755)  # lets a root-run server keep its cluster here rather than under /var/lib/nimbus
    server = EmbeddedPostgres(data_dir, os_user=settings.database.embedded_user)
    try:
        yield server.start()
    finally:
        server.destroy()  # the cluster too, wherever it lives
        shutil.rmtree(data_dir, ignore_errors=True)


async def _evaluate(
    url: str,
    beir: BeirSet,
    modes: Sequence[retrieval.SearchMode],
    settings: Settings,
    embedder: Embedder,
    chunker: Chunker,
    fusion: retrieval.Fusion,
    on_progress: Progress,
) -> dict[str, EvaluationReport]:
    database = Database.connect(url, settings.database)
    try:
        documents = await _ingest(database, beir, settings, embedder, chunker, on_progress)
        query_ids = list(beir.queries)
        vectors = []
        for done, query_id in enumerate(query_ids, start=1):
            vectors.append(await asyncio.to_thread(embedder.embed_query, beir.queries[query_id]))
            on_progress("embed queries", done, len(query_ids))
        candidates = max(settings.knowledge.candidates, CHUNKS_PER_RANKING)
        reports: dict[str, EvaluationReport] = {}
        for mode in modes:
            runs: dict[str, dict[str, float]] = {}
            async with database.transaction() as db:
                for done, (query_id, vector) in enumerate(zip(query_ids, vectors, strict=True), start=1):
                    hits = await retrieval.search(
                        db,
                        beir.queries[query_id],
                        vector,
                        list(documents),
                        mode=mode,
                        top_k=2 * candidates,
                        candidates=candidates,
                        vector_weight=settings.knowledge.vector_weight,
                        text_search_config=settings.knowledge.text_search_config,
                        fusion=fusion,
                    )
                    runs[query_id] = document_scores(hits, documents)
                    on_progress(f"search ({mode})", done, len(query_ids))
            reports[mode] = report(runs, beir.qrels, documents=len(beir.corpus), mode=mode)
        return reports
    finally:
        await database.dispose()


async def _ingest(
    database: Database,
    beir: BeirSet,
    settings: Settings,
    embedder: Embedder,
    chunker: Chunker,
    on_progress: Progress,
) -> dict[uuid.UUID, str]:
    """One READY document per corpus entry; returns document id → corpus id."""
    knowledge = settings.knowledge
    max_tokens = min(knowledge.chunk_tokens, embedder.max_tokens)
    async with database.transaction() as db:
        owner = (await session_service.create_session(db, settings.sessions)).session
        rows = [
            Document(
                session_id=owner.id,
                name=(title or corpus_id)[:500],
                kind=SourceKind.FILE,
                status=DocumentStatus.READY,
                details={"beir_id": corpus_id},
            )
            for corpus_id, (title, _) in beir.corpus.items()
        ]
        db.add_all(rows)
        await db.flush()
        documents = {row.id: corpus_id for row, corpus_id in zip(rows, beir.corpus, strict=True)}
    pending = list(documents.items())
    for offset in range(0, len(pending), INDEX_GROUP):
        group = pending[offset : offset + INDEX_GROUP]
        drafts = {
            document_id: _chunks(beir.corpus[corpus_id], chunker, embedder, max_tokens, knowledge.chunk_overlap_tokens)
            for document_id, corpus_id in group
        }
        texts = [chunk.text for chunks in drafts.values() for chunk in chunks]
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_GROUP):
            vectors.extend(await asyncio.to_thread(embedder.embed_documents, texts[start : start + EMBED_GROUP]))
        async with database.transaction() as db:
            position = 0
            for document_id, chunks in drafts.items():
                written = await index.index_chunks(
                    db, document_id, chunks, vectors[position : position + len(chunks)], knowledge.text_search_config
                )
                position += len(chunks)
                await db.execute(
                    update(Document).where(Document.id == document_id).values(chunks_done=written, chunks_total=written)
                )
        on_progress("ingest", offset + len(group), len(pending))
    return documents


def _chunks(
    entry: tuple[str, str], chunker: Chunker, embedder: Embedder, max_tokens: int, overlap_tokens: int
) -> list[ChunkDraft]:
    title, body = entry
    sections = [Section(text=part) for part in (title, body) if part.strip()]
    return list(chunker(sections, embedder.tokenizer, max_tokens, overlap_tokens))


def document_scores(hits: Sequence[retrieval.SearchHit], documents: Mapping[uuid.UUID, str]) -> dict[str, float]:
    """Corpus id → best chunk score, for the `RANKED_DOCUMENTS` best documents."""
    best: dict[str, float] = {}
    for hit in hits:
        corpus_id = documents[hit.document_id]
        best[corpus_id] = max(best.get(corpus_id, -math.inf), hit.score)
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:RANKED_DOCUMENTS]
    return dict(ranked)


def report(
    runs: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]], *, documents: int, mode: str
) -> EvaluationReport:
    """Mean metrics over the judged queries (a query without a run scores 0)."""
    totals = [0.0, 0.0, 0.0, 0.0]
    for query_id, judged in qrels.items():
        run = runs.get(query_id, {})
        ranking = [doc for doc, _ in sorted(run.items(), key=lambda item: (-item[1], item[0]))]
        totals[0] += ndcg_at_k(ranking, judged, 10)
        totals[1] += recall_at_k(ranking, judged, 10)
        totals[2] += recall_at_k(ranking, judged, 100)
        totals[3] += mrr_at_k(ranking, judged, 10)
    count = len(qrels)
    ndcg, recall_10, recall_100, mrr = (total / count if count else 0.0 for total in totals)
    return {
        "ndcg@10": ndcg,
        "recall@10": recall_10,
        "recall@100": recall_100,
        "mrr@10": mrr,
        "queries": count,
        "documents": documents,
        "mode": mode,
    }


def ndcg_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain with linear gains (trec_eval's ndcg_cut)."""
    dcg = sum(max(judged.get(doc, 0), 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    ideal = sorted((grade for grade in judged.values() if grade > 0), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (grade > 0) found in the first k."""
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the first k, else 0."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if judged.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def format_report(metrics: EvaluationReport | Mapping[str, EvaluationReport]) -> str:
    """A plain-text table of one report or of several modes side by side."""
    reports = [metrics] if "mode" in metrics else list(metrics.values())
    columns = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
    lines = [f"{'mode':<8} " + " ".join(f"{name:>10}" for name in columns) + f" {'queries':>8} {'documents':>10}"]
    for item in reports:
        values = " ".join(f"{item[name]:>10.4f}" for name in columns)  # type: ignore[literal-required]
        lines.append(f"{item['mode']:<8} {values} {item['queries']:>8} {item['documents']:>10}")
    return "\n".join(lines)
