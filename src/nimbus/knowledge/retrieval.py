"""Search a set of documents: dense (pgvector HNSW), lexical (BM25 over the postings table), or both fused.

Everything is computed by PostgreSQL per query from indexed tables: nothing is rebuilt in memory.
BM25 uses the corpus statistics of the searched documents only (N and average length from the documents'
counters, document frequencies summed from their per-document counts in `document_term`), so a chat that
answers from two documents ranks exactly as if those were the whole library.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.knowledge.index import vector_literal

SearchMode = Literal["hybrid", "vector", "lexical"]
Fusion = Literal["convex", "rrf"]

BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60
POSTINGS_BUDGET = 5000  # postings of the rarest query terms read in full (see _BM25_CANDIDATES)
SHORTLIST_FACTOR = 3  # chunks completed with the common terms' scores, per lexical candidate wanted

# Candidates of each ranking: the chunk, its rank in that list, its raw score.
_VECTOR_CANDIDATES = """
vec AS MATERIALIZED (
    SELECT c.id AS chunk_id, c.embedding <=> CAST(:query_vector AS vector) AS distance
    FROM chunk AS c
    WHERE c.document_id = ANY(CAST(:document_ids AS uuid[]))
    ORDER BY distance
    LIMIT :candidates
)"""

# One term's BM25 contribution to a chunk: Lucene's idf times the saturated, length-normalised frequency.
_TERM_SCORE = (
    "w.idf * p.tf * (CAST(:k1 AS float8) + 1) / (p.tf + CAST(:k1 AS float8) "
    "* (1 - CAST(:b AS float8) + CAST(:b AS float8) * p.chunk_length / scope.avgdl))"
)

# BM25 over the postings of the query's lexemes inside the scope (OR semantics). N and the average length
# come from the documents' counters, each term's document frequency from the per-document counts.
# Work is bounded MaxScore-style: the rarest terms, up to `postings_budget` postings together, select and
# score the candidates; the `shortlist` best of those then get the contributions of the remaining, common
# terms by primary-key probes. A chunk that holds only common terms (low idf) cannot be found, a bounded
# loss; while a query's postings fit the budget (any scope of up to a few thousand chunks) BM25 is exact.
# LATERAL ... OFFSET 0 keeps each term's postings an index range scan instead of a join the planner would
# misjudge (it cannot know which terms are selective).
_BM25_CANDIDATES = f"""
scope AS (
    SELECT greatest(sum(d.chunks_done), 1)::float8 AS n,
           greatest(sum(d.lexical_length), 1)::float8 / greatest(sum(d.chunks_done), 1) AS avgdl
    FROM document AS d
    WHERE d.id = ANY(CAST(:document_ids AS uuid[]))
), stats AS (
    SELECT t.term, sum(t.df)::float8 AS df
    FROM document_term AS t
    WHERE t.term = ANY(tsvector_to_array(to_tsvector(CAST(:config AS regconfig), :query)))
      AND t.document_id = ANY(CAST(:document_ids AS uuid[]))
    GROUP BY t.term
), weights AS MATERIALIZED (
    SELECT s.term,
           ln(1 + (scope.n - s.df + 0.5) / (s.df + 0.5)) AS idf,
           sum(s.df) OVER (ORDER BY s.df, s.term) <= :postings_budget
               OR row_number() OVER (ORDER BY s.df, s.term) = 1 AS selective
    FROM stats AS s, scope
), partial AS (
    SELECT p.chunk_id, p.document_id, sum({_TERM_SCORE}) AS score
    FROM weights AS w
    CROSS JOIN LATERAL (
        SELECT q.chunk_id, q.document_id, q.tf, q.chunk_length
        FROM chunk_term AS q
        WHERE q.term = w.term AND q.document_id = ANY(CAST(:document_ids AS uuid[]))
        OFFSET 0
    ) AS p
    CROSS JOIN scope
    WHERE w.selective
    GROUP BY p.chunk_id, p.document_id
), shortlist AS MATERIALIZED (
    SELECT chunk_id, document_id, score FROM partial ORDER BY score DESC LIMIT :shortlist
), completion AS (
    SELECT s.chunk_id, sum({_TERM_SCORE}) AS score
    FROM shortlist AS s
    CROSS JOIN weights AS w
    CROSS JOIN LATERAL (
        SELECT q.tf, q.chunk_length
        FROM chunk_term AS q
        WHERE q.term = w.term AND q.document_id = s.document_id AND q.chunk_id = s.chunk_id
        OFFSET 0
    ) AS p
    CROSS JOIN scope
    WHERE NOT w.selective
    GROUP BY s.chunk_id
), bm25 AS MATERIALIZED (
    SELECT s.chunk_id, s.score + coalesce(c.score, 0) AS score
    FROM shortlist AS s LEFT JOIN completion AS c USING (chunk_id)
), lex AS MATERIALIZED (
    SELECT chunk_id, score FROM bm25 ORDER BY score DESC LIMIT :candidates
)"""  # noqa: S608 (constant fragments, no input)

_HYBRID = text(
    f"""
WITH {_VECTOR_CANDIDATES}, {_BM25_CANDIDATES},
ranked_vec AS (SELECT chunk_id, row_number() OVER (ORDER BY distance, chunk_id) AS rank FROM vec),
ranked_lex AS (SELECT chunk_id, row_number() OVER (ORDER BY score DESC, chunk_id) AS rank FROM lex)
SELECT c.id, 1 - (c.embedding <=> CAST(:query_vector AS vector)), b.score, v.rank, l.rank
FROM ranked_vec AS v
FULL JOIN ranked_lex AS l USING (chunk_id)
JOIN chunk AS c ON c.id = chunk_id
LEFT JOIN bm25 AS b USING (chunk_id)
"""  # noqa: S608 (constant fragments, no input)
)

_VECTOR = text(
    f"""
WITH {_VECTOR_CANDIDATES}
SELECT chunk_id, 1 - distance, NULL::float8, row_number() OVER (ORDER BY distance, chunk_id), NULL::bigint
FROM vec
"""  # noqa: S608 (constant fragments, no input)
)

_LEXICAL = text(
    f"""
WITH {_BM25_CANDIDATES}
SELECT l.chunk_id, 1 - (c.embedding <=> CAST(:query_vector AS vector)), l.score, NULL::bigint,
       row_number() OVER (ORDER BY l.score DESC, l.chunk_id)
FROM lex AS l JOIN chunk AS c ON c.id = l.chunk_id
"""  # noqa: S608 (constant fragments, no input)
)

_STATEMENTS = {"hybrid": _HYBRID, "vector": _VECTOR, "lexical": _LEXICAL}

# Per-search planner settings, transaction-local. The HNSW scan keeps going until enough chunks of the
# scope were found (pgvector's iterative scan). Plans are made for the actual scope and terms each time: a
# generic plan of a prepared statement (psycopg prepares after a few executions) cannot see how selective
# the document ids and lexemes are, and was measured 10-25x slower.
_SEARCH_SETTINGS = text(
    "SELECT set_config('hnsw.ef_search', :ef_search, true), "
    "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true)"
)

_HITS = text(
    """
SELECT id, document_id, ordinal, text, page_start, page_end, start_seconds, end_seconds, heading_path,
       char_start, char_end
FROM chunk
WHERE id = ANY(CAST(:chunk_ids AS bigint[]))
"""
)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A retrieved chunk, where it comes from, and how it scored."""

    chunk_id: int
    document_id: uuid.UUID
    ordinal: int
    text: str
    page_start: int | None
    page_end: int | None
    start_seconds: float | None
    end_seconds: float | None
    heading_path: str | None
    char_start: int
    char_end: int
    score: float  # fused (hybrid), cosine similarity (vector) or BM25 (lexical)
    vector_similarity: float | None  # cosine similarity to the query (always computed)
    lexical_score: float | None  # BM25; None when the chunk was not scored lexically (vector mode, or no match)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A chunk from either ranking, with its raw scores and its rank in each list (None: not in it)."""

    chunk_id: int
    vector_similarity: float | None
    lexical_score: float | None
    vector_rank: int | None
    lexical_rank: int | None


async def search(
    db: AsyncSession,
    query: str,
    query_vector: Sequence[float],
    document_ids: Sequence[uuid.UUID],
    *,
    mode: SearchMode,
    top_k: int,
    candidates: int,
    vector_weight: float,
    text_search_config: str,
    fusion: Fusion = "convex",
    postings_budget: int = POSTINGS_BUDGET,
) -> list[SearchHit]:
    """The `top_k` best chunks of the given documents for a query, best first."""
    if not document_ids or top_k <= 0:
        return []
    pool = await fetch_candidates(
        db,
        query,
        query_vector,
        document_ids,
        mode=mode,
        candidates=candidates,
        text_search_config=text_search_config,
        postings_budget=postings_budget,
    )
    if mode == "hybrid":
        fused = fuse(pool, vector_weight=vector_weight, fusion=fusion)
    elif mode == "vector":
        fused = [(c, c.vector_similarity or 0.0) for c in pool]
    else:
        fused = [(c, c.lexical_score or 0.0) for c in pool]
    best = sorted(fused, key=lambda item: (-item[1], item[0].chunk_id))[:top_k]
    return await _hits(db, best)


async def fetch_candidates(
    db: AsyncSession,
    query: str,
    query_vector: Sequence[float],
    document_ids: Sequence[uuid.UUID],
    *,
    mode: SearchMode,
    candidates: int,
    text_search_config: str,
    postings_budget: int = POSTINGS_BUDGET,
) -> list[Candidate]:
    """Up to `candidates` chunks from each ranking the mode uses, with both raw scores where computed."""
    await db.execute(_SEARCH_SETTINGS, {"ef_search": str(max(candidates, 40))})
    result = await db.execute(
        _STATEMENTS[mode],
        {
            "query": query,
            "query_vector": vector_literal(query_vector),
            "document_ids": list(document_ids),
            "candidates": candidates,
            "config": text_search_config,
            "k1": BM25_K1,
            "b": BM25_B,
            "postings_budget": postings_budget,
            "shortlist": SHORTLIST_FACTOR * candidates,
        },
    )
    return [
        Candidate(
            chunk_id=chunk_id,
            vector_similarity=similarity,
            lexical_score=lexical,
            vector_rank=vector_rank,
            lexical_rank=lexical_rank,
        )
        for chunk_id, similarity, lexical, vector_rank, lexical_rank in result
    ]


def fuse(
    pool: Sequence[Candidate], *, vector_weight: float, fusion: Fusion = "convex"
) -> list[tuple[Candidate, float]]:
    """Fused score of each candidate: a convex combination of normalised scores, or RRF.

    Each ranking is normalised over its own candidates and a chunk missing from one scores 0 there.
    Cosine similarities are min-max scaled; BM25 is divided by the best BM25, since 0 already means
    "no query term": min-max would also push the weakest of a few lexical matches down to 0, the same as
    no match, which hurts in the small scopes chats mostly search (on PubMedQA both are within 0.002
    nDCG@10 of each other, and ahead of RRF).
    """
    if fusion == "rrf":
        return [(c, _rrf(c.vector_rank) + _rrf(c.lexical_rank)) for c in pool]
    vector = _min_max([c.vector_similarity if c.vector_rank is not None else None for c in pool])
    lexical = _by_max([c.lexical_score if c.lexical_rank is not None else None for c in pool])
    return [(c, vector_weight * v + (1 - vector_weight) * w) for c, v, w in zip(pool, vector, lexical, strict=True)]


def _rrf(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (RRF_K + rank)


def _min_max(scores: Sequence[float | None]) -> list[float]:
    """Scores scaled to [0, 1] over those present; a missing score is 0."""
    present = [score for score in scores if score is not None]
    if not present:
        return [0.0] * len(scores)
    low, high = min(present), max(present)
    if high <= low:
        return [0.0 if score is None else 1.0 for score in scores]
    return [0.0 if score is None else (score - low) / (high - low) for score in scores]


def _by_max(scores: Sequence[float | None]) -> list[float]:
    """Non-negative scores divided by the largest; a missing score is 0."""
    high = max((score for score in scores if score is not None), default=0.0)
    return [0.0 if score is None or high <= 0 else score / high for score in scores]


async def _hits(db: AsyncSession, best: Sequence[tuple[Candidate, float]]) -> list[SearchHit]:
    if not best:
        return []
    result = await db.execute(_HITS, {"chunk_ids": [candidate.chunk_id for candidate, _ in best]})
    rows = {row.id: row for row in result}
    hits = []
    for candidate, score in best:
        row = rows[candidate.chunk_id]
        hits.append(
            SearchHit(
                chunk_id=row.id,
                document_id=row.document_id,
                ordinal=row.ordinal,
                text=row.text,
                page_start=row.page_start,
                page_end=row.page_end,
                start_seconds=row.start_seconds,
                end_seconds=row.end_seconds,
                heading_path=row.heading_path,
                char_start=row.char_start,
                char_end=row.char_end,
                score=score,
                vector_similarity=candidate.vector_similarity,
                lexical_score=candidate.lexical_score,
            )
        )
    return hits
