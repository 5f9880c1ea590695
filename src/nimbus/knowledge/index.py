"""Writing a document's chunks, embeddings and BM25 postings; removing them again.

The postings are computed inside PostgreSQL from `to_tsvector(config, text)`, so the lexical index uses
exactly the stemming and stop words that retrieval applies to a query. One statement per batch inserts
the chunks and their postings and adds their lexical lengths to the document's, so these never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from nimbus.knowledge.models import EMBEDDING_DIMENSIONS, Document
from nimbus.knowledge.types import ChunkDraft

# Data-modifying CTEs share one snapshot: each chunk's lexical length is computed before the insert
# rather than updated afterwards, and only rows the insert really wrote (RETURNING) get postings.
_INDEX_CHUNKS = text(
    """
WITH input AS (
    SELECT u.*, to_tsvector(CAST(:config AS regconfig), u.text) AS tsv
    FROM unnest(
        CAST(:ordinals AS integer[]), CAST(:texts AS text[]), CAST(:page_starts AS integer[]),
        CAST(:page_ends AS integer[]), CAST(:start_seconds AS float8[]), CAST(:end_seconds AS float8[]),
        CAST(:heading_paths AS text[]), CAST(:char_starts AS integer[]), CAST(:char_ends AS integer[]),
        CAST(:token_counts AS integer[]), CAST(:embeddings AS text[])
    ) AS u(ordinal, text, page_start, page_end, start_seconds, end_seconds, heading_path,
           char_start, char_end, token_count, embedding)
), measured AS (
    SELECT input.*,
           (SELECT coalesce(sum(cardinality(l.positions)), 0) FROM unnest(input.tsv) AS l)::integer AS length
    FROM input
), inserted AS (
    INSERT INTO chunk (document_id, ordinal, text, page_start, page_end, start_seconds, end_seconds,
                       heading_path, char_start, char_end, token_count, lexical_length, embedding)
    SELECT :document_id, ordinal, text, page_start, page_end, start_seconds, end_seconds,
           heading_path, char_start, char_end, token_count, length, CAST(embedding AS vector)
    FROM measured
    ON CONFLICT (document_id, ordinal) DO NOTHING
    RETURNING id, ordinal, lexical_length
), postings AS (
    INSERT INTO chunk_term (term, document_id, chunk_id, tf, chunk_length)
    SELECT l.lexeme, :document_id, inserted.id, cardinality(l.positions), inserted.lexical_length
    FROM inserted
    JOIN measured USING (ordinal)
    CROSS JOIN LATERAL unnest(measured.tsv) AS l
), totals AS (
    SELECT count(*) AS chunks, coalesce(sum(lexical_length), 0) AS length FROM inserted
)
UPDATE document
SET lexical_length = document.lexical_length + totals.length
FROM totals
WHERE document.id = :document_id
RETURNING totals.chunks, document.lexical_length
"""
)

# Through the chunk ids: the postings' primary key starts with the term, so only ix_chunk_term_chunk_id helps.
_DELETE_POSTINGS = text(
    "DELETE FROM chunk_term WHERE chunk_id IN (SELECT id FROM chunk WHERE document_id = :document_id)"
)
_DELETE_CHUNKS = text("DELETE FROM chunk WHERE document_id = :document_id")
_RESET_COUNTERS = text("UPDATE document SET chunks_done = 0, lexical_length = 0 WHERE id = :document_id")


class IndexInputError(ValueError):
    """The chunks and vectors handed to the index do not fit together (a programming error)."""


_FLOAT4 = "{:.9g}".format  # nine significant digits give back the same float4: half the text of repr()


def vector_literal(vector: Sequence[float]) -> str:
    """A vector in pgvector's text form, `[0.1,0.2,...]`, exact for the float4 values pgvector stores."""
    return "[" + ",".join(map(_FLOAT4, vector)) + "]"


async def index_chunks(
    db: AsyncSession,
    document_id: uuid.UUID,
    chunks: Sequence[ChunkDraft],
    vectors: Sequence[Sequence[float]],
    text_search_config: str,
) -> int:
    """Store chunks with their vectors and postings; skip ordinals already stored; return how many were new.

    The document's `lexical_length` grows by what was inserted. The caller adds the returned count to
    `document.chunks_done` in the same transaction: BM25 takes the number of chunks in scope from it.
    """
    if len(chunks) != len(vectors):
        raise IndexInputError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    if not chunks:
        return 0
    for vector in vectors:
        if len(vector) != EMBEDDING_DIMENSIONS:
            raise IndexInputError(f"vectors must have {EMBEDDING_DIMENSIONS} dimensions, not {len(vector)}")
    result = await db.execute(
        _INDEX_CHUNKS,
        {
            "document_id": document_id,
            "config": text_search_config,
            "ordinals": [chunk.ordinal for chunk in chunks],
            "texts": [chunk.text for chunk in chunks],
            "page_starts": [chunk.page_start for chunk in chunks],
            "page_ends": [chunk.page_end for chunk in chunks],
            "start_seconds": [chunk.start_seconds for chunk in chunks],
            "end_seconds": [chunk.end_seconds for chunk in chunks],
            "heading_paths": [chunk.heading_path for chunk in chunks],
            "char_starts": [chunk.char_start for chunk in chunks],
            "char_ends": [chunk.char_end for chunk in chunks],
            "token_counts": [chunk.token_count for chunk in chunks],
            "embeddings": [vector_literal(vector) for vector in vectors],
        },
    )
    inserted, lexical_length = result.one()  # a missing document fails the insert (foreign key) first
    _sync_loaded_document(db, document_id, lexical_length=lexical_length)
    return int(inserted)


async def delete_document_index(db: AsyncSession, document_id: uuid.UUID) -> None:
    """Remove a document's chunks and postings and reset its counters (cancel, restart)."""
    await db.execute(_DELETE_POSTINGS, {"document_id": document_id})
    await db.execute(_DELETE_CHUNKS, {"document_id": document_id})
    await db.execute(_RESET_COUNTERS, {"document_id": document_id})
    _sync_loaded_document(db, document_id, lexical_length=0, chunks_done=0)


def _sync_loaded_document(db: AsyncSession, document_id: uuid.UUID, **counters: int) -> None:
    # A Document already loaded in this session would otherwise hold stale counters (and could write them back).
    document = db.identity_map.get(identity_key(Document, document_id))
    if document is not None:
        for name, value in counters.items():
            set_committed_value(document, name, value)
