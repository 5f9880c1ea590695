"""Writing chunks and postings, and searching them, against the real test PostgreSQL."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import numpy as np
import pytest
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from nimbus.config import DatabaseSettings
from nimbus.db.base import utcnow
from nimbus.db.engine import Database
from nimbus.knowledge import index, retrieval
from nimbus.knowledge.embeddings import LocalEmbedder
from nimbus.knowledge.models import EMBEDDING_DIMENSIONS, Chunk, ChunkTerm, Document, DocumentStatus
from nimbus.knowledge.types import ChunkDraft
from nimbus.sessions.models import Session

CONFIG = "english"


def axis(*weights: tuple[int, float]) -> list[float]:
    """A unit vector with the given weights on the given dimensions."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for dimension, weight in weights:
        vector[dimension] = weight
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def drafts(texts: Sequence[str], first_ordinal: int = 0) -> list[ChunkDraft]:
    position, out = 0, []
    for ordinal, chunk_text in enumerate(texts, start=first_ordinal):
        out.append(
            ChunkDraft(
                ordinal=ordinal,
                text=chunk_text,
                token_count=len(chunk_text.split()),
                char_start=position,
                char_end=position + len(chunk_text),
                page_start=ordinal + 1,
                page_end=ordinal + 1,
                heading_path="Intro" if ordinal == 0 else None,
            )
        )
        position += len(chunk_text) + 2
    return out


@pytest_asyncio.fixture
async def database(clean_db: str) -> AsyncIterator[Database]:
    database = Database.connect(clean_db, DatabaseSettings(_env_file=None))
    yield database
    await database.dispose()


async def new_session(database: Database) -> uuid.UUID:
    async with database.transaction() as db:
        session = Session(token_hash=uuid.uuid4().hex * 2, expires_at=utcnow() + timedelta(days=1))
        db.add(session)
        await db.flush()
        return session.id


async def new_document(
    database: Database,
    session_id: uuid.UUID,
    texts: Sequence[str],
    vectors: Sequence[Sequence[float]] | None = None,
) -> uuid.UUID:
    """A READY document holding `texts` as chunks, indexed like the ingestion job does."""
    async with database.transaction() as db:
        document = Document(session_id=session_id, name="doc", kind="file", status=DocumentStatus.READY)
        db.add(document)
        await db.flush()
        chosen = vectors if vectors is not None else [axis((i % EMBEDDING_DIMENSIONS, 1.0)) for i in range(len(texts))]
        document.chunks_done += await index.index_chunks(db, document.id, drafts(texts), chosen, CONFIG)
        return document.id


async def search(
    database: Database,
    query: str,
    vector: Sequence[float],
    scope: Sequence[uuid.UUID],
    mode: retrieval.SearchMode,
    top_k: int = 10,
    candidates: int = 100,
) -> list[retrieval.SearchHit]:
    async with database.transaction() as db:
        return await retrieval.search(
            db,
            query,
            vector,
            scope,
            mode=mode,
            top_k=top_k,
            candidates=candidates,
            vector_weight=0.5,
            text_search_config=CONFIG,
        )


async def counts(database: Database, document_id: uuid.UUID) -> tuple[int, int, int, int, int]:
    """Chunks, postings, the sum of chunk lexical lengths, and the document's lexical_length and chunks_done."""
    async with database.transaction() as db:
        chunks = await db.scalar(select(func.count()).where(Chunk.document_id == document_id))
        postings = await db.scalar(select(func.count()).where(ChunkTerm.document_id == document_id))
        lengths = await db.scalar(
            select(func.coalesce(func.sum(Chunk.lexical_length), 0)).where(Chunk.document_id == document_id)
        )
        document = await db.get_one(Document, document_id)
        return int(chunks or 0), int(postings or 0), int(lengths or 0), document.lexical_length, document.chunks_done


async def test_index_stores_chunks_postings_and_lexical_lengths(database: Database) -> None:
    session_id = await new_session(database)
    document_id = await new_document(database, session_id, ["The runner runs and keeps running.", "Zebras graze."])
    async with database.transaction() as db:
        rows = (await db.execute(text("SELECT term, tf, chunk_length FROM chunk_term ORDER BY term"))).all()
        first = await db.scalar(select(Chunk).where(Chunk.document_id == document_id, Chunk.ordinal == 0))
    assert first is not None
    assert (first.page_start, first.heading_path, first.char_start, first.char_end) == (1, "Intro", 0, 34)
    # Stemmed, stop words ("the", "and") dropped; tf counts occurrences; chunk_length is the chunk's lexical length.
    assert [tuple(row) for row in rows] == [
        ("graze", 1, 2),
        ("keep", 1, 4),
        ("run", 2, 4),
        ("runner", 1, 4),
        ("zebra", 1, 2),
    ]
    assert first.lexical_length == 4
    assert await counts(database, document_id) == (2, 5, 6, 6, 2)


async def test_reindexing_the_same_ordinals_changes_nothing(database: Database) -> None:
    session_id = await new_session(database)
    texts = ["alpha beta gamma", "delta epsilon", "zeta eta theta iota"]
    document_id = await new_document(database, session_id, texts[:2])
    before = await counts(database, document_id)
    async with database.transaction() as db:
        vectors = [axis((i, 1.0)) for i in range(3)]
        # A restarted job re-sends the first two chunks along with a new one: only the new one is written.
        inserted = await index.index_chunks(db, document_id, drafts(texts), vectors, CONFIG)
        again = await index.index_chunks(db, document_id, drafts(texts), vectors, CONFIG)
    assert before == (2, 5, 5, 5, 2)
    assert (inserted, again) == (1, 0)
    chunks, postings, lengths, document_length, _ = await counts(database, document_id)
    assert (chunks, postings, lengths, document_length) == (3, 9, 9, 9)


async def test_index_keeps_a_loaded_document_current(database: Database) -> None:
    session_id = await new_session(database)
    document_id = await new_document(database, session_id, [])
    async with database.transaction() as db:
        document = await db.get_one(Document, document_id)
        await index.index_chunks(db, document_id, drafts(["one two three"]), [axis((0, 1.0))], CONFIG)
        assert document.lexical_length == 3
        document.name = "renamed"  # flushing other changes must not write a stale length back
    assert (await counts(database, document_id))[3] == 3


async def test_index_rejects_vectors_that_do_not_fit(database: Database) -> None:
    session_id = await new_session(database)
    document_id = await new_document(database, session_id, [])
    async with database.transaction() as db:
        with pytest.raises(index.IndexInputError, match="2 chunks but 1 vectors"):
            await index.index_chunks(db, document_id, drafts(["a", "b"]), [axis((0, 1.0))], CONFIG)
        with pytest.raises(index.IndexInputError, match="384 dimensions"):
            await index.index_chunks(db, document_id, drafts(["a"]), [[1.0, 0.0]], CONFIG)
    with pytest.raises(IntegrityError, match="fk_chunk_document_id_document"):
        async with database.transaction() as db:
            await index.index_chunks(db, uuid.uuid4(), drafts(["a"]), [axis((0, 1.0))], CONFIG)


async def test_delete_document_index_removes_chunks_postings_and_counters(database: Database) -> None:
    session_id = await new_session(database)
    doomed = await new_document(database, session_id, ["alpha beta", "gamma delta"])
    kept = await new_document(database, session_id, ["alpha omega"])
    async with database.transaction() as db:
        await index.delete_document_index(db, doomed)
    assert await counts(database, doomed) == (0, 0, 0, 0, 0)
    assert await counts(database, kept) == (1, 2, 2, 2, 1)
    assert [hit.document_id for hit in await search(database, "alpha", axis((0, 1.0)), [doomed, kept], "lexical")] == [
        kept
    ]
    async with database.transaction() as db:  # a restarted job can write the same ordinals again
        assert await index.index_chunks(db, doomed, drafts(["alpha beta"]), [axis((0, 1.0))], CONFIG) == 1


async def term_counts(database: Database) -> tuple[dict[tuple[str, uuid.UUID], int], dict[tuple[str, uuid.UUID], int]]:
    """`document_term` as stored, and as recounted from the postings."""
    async with database.transaction() as db:
        stored = await db.execute(text("SELECT term, document_id, df FROM document_term"))
        recounted = await db.execute(text("SELECT term, document_id, count(*) FROM chunk_term GROUP BY 1, 2"))
        return {(t, d): n for t, d, n in stored}, {(t, d): n for t, d, n in recounted}


async def test_document_term_counts_follow_every_write_and_removal(database: Database) -> None:
    session_id = await new_session(database)
    other_session = await new_session(database)
    first = await new_document(database, session_id, ["alpha beta", "alpha gamma", "delta"])
    second = await new_document(database, session_id, ["alpha alpha omega"])
    third = await new_document(database, other_session, ["alpha beta"])
    stored, recounted = await term_counts(database)
    assert stored == recounted
    assert stored[("alpha", first)] == 2  # chunks containing the term, not occurrences
    assert stored[("alpha", second)] == 1
    async with database.transaction() as db:  # more chunks of a document add to its counts
        await index.index_chunks(db, first, drafts(["alpha epsilon"], first_ordinal=3), [axis((0, 1.0))], CONFIG)
    stored, recounted = await term_counts(database)
    assert stored == recounted
    assert stored[("alpha", first)] == 3
    async with database.transaction() as db:  # a restarted job
        await index.delete_document_index(db, first)
    stored, recounted = await term_counts(database)
    assert stored == recounted
    assert {document for _, document in stored} == {second, third}
    async with database.transaction() as db:  # a deleted document: postings go by cascade from its chunks
        await db.delete(await db.get_one(Document, second))
    async with database.transaction() as db:  # a session's cleanup: session → documents → chunks → postings
        await db.delete(await db.get_one(Session, other_session))
    assert await term_counts(database) == ({}, {})


def bm25_reference(query_terms: Sequence[str], corpus: Sequence[Sequence[str]]) -> list[float]:
    """BM25 (Lucene idf, k1 1.2, b 0.75) of each tokenised chunk, computed the textbook way."""
    n = len(corpus)
    avgdl = sum(len(chunk) for chunk in corpus) / n
    scores = []
    for chunk in corpus:
        score = 0.0
        for term in query_terms:
            df = sum(term in other for other in corpus)
            tf = chunk.count(term)
            if tf:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len(chunk) / avgdl))
        scores.append(score)
    return scores


async def test_lexical_scores_are_bm25_over_the_searched_documents_only(database: Database) -> None:
    session_id = await new_session(database)
    texts = ["zebra zebra lion", "lion tiger", "tiger bear wolf wolf", "zebra"]
    first = await new_document(database, session_id, texts[:2])
    second = await new_document(database, session_id, texts[2:])
    # Another document full of "zebra" must not change the statistics of a search that excludes it.
    outside = await new_document(database, session_id, ["zebra"] * 5)
    hits = await search(database, "zebra or tigers?", axis((0, 1.0)), [first, second], "lexical")
    expected = bm25_reference(["zebra", "tiger"], [text.split() for text in texts])
    by_text = {hit.text: hit.lexical_score for hit in hits}
    assert outside not in {hit.document_id for hit in hits}
    assert set(by_text) == {"zebra zebra lion", "lion tiger", "tiger bear wolf wolf", "zebra"}
    for chunk_text, score in zip(texts, expected, strict=True):
        assert by_text[chunk_text] == pytest.approx(score, rel=1e-9)


async def test_past_the_postings_budget_rare_terms_select_and_common_terms_complete(database: Database) -> None:
    session_id = await new_session(database)
    texts = ["zebra lion", "lion tiger", "lion", "tiger bear"]  # df: zebra 1, tiger 2, lion 3
    document_id = await new_document(database, session_id, texts)
    expected = dict(zip(texts, bm25_reference(["zebra", "lion", "tiger"], [t.split() for t in texts]), strict=True))
    for budget, found in ((1, ["zebra lion"]), (3, ["zebra lion", "lion tiger", "tiger bear"]), (6, texts)):
        async with database.transaction() as db:
            hits = await retrieval.search(
                db,
                "zebra lion tiger",
                axis((0, 1.0)),
                [document_id],
                mode="lexical",
                top_k=10,
                candidates=10,
                vector_weight=0.5,
                text_search_config=CONFIG,
                postings_budget=budget,
            )
        # Only chunks holding a selective (rarest) term are candidates, but their scores are complete.
        assert sorted(hit.text for hit in hits) == sorted(found), budget
        for hit in hits:
            assert hit.lexical_score == pytest.approx(expected[hit.text], rel=1e-9)


async def test_bm25_ranks_the_chunk_with_the_rare_term_first(database: Database) -> None:
    session_id = await new_session(database)
    texts = [
        "Patients were treated and patients recovered; patients were followed for a year.",
        "Patients with thrombocytopenia were treated.",
        "Patients received treatment in the clinic.",
        "Outcomes of patients after surgery.",
    ]
    document_id = await new_document(database, session_id, texts)
    hits = await search(database, "patients thrombocytopenia", axis((0, 1.0)), [document_id], "lexical")
    assert hits[0].text == texts[1]
    assert len(hits) == 4  # any query term is enough to match


async def test_stop_words_do_not_match_or_score(database: Database) -> None:
    session_id = await new_session(database)
    document_id = await new_document(database, session_id, ["The zebra is in the field.", "It was the best of times."])
    assert await search(database, "the of it was is", axis((0, 1.0)), [document_id], "lexical") == []
    plain = await search(database, "zebra", axis((0, 1.0)), [document_id], "lexical")
    wordy = await search(database, "is the zebra there?", axis((0, 1.0)), [document_id], "lexical")
    assert [(hit.chunk_id, hit.lexical_score) for hit in plain] == [(hit.chunk_id, hit.lexical_score) for hit in wordy]


async def test_a_natural_language_question_matches_without_every_word(database: Database) -> None:
    session_id = await new_session(database)
    texts = ["Zebras graze near the river every morning.", "The committee approved the budget."]
    document_id = await new_document(database, session_id, texts)
    hits = await search(
        database, "Which animals are grazing by rivers in Africa?", axis((0, 1.0)), [document_id], "lexical"
    )
    assert [hit.text for hit in hits] == [texts[0]]


async def test_search_never_leaves_the_given_documents(database: Database) -> None:
    mine, theirs = await new_session(database), await new_session(database)
    chat_document = await new_document(database, mine, ["the secret formula is water"], [axis((0, 1.0))])
    other_document = await new_document(database, mine, ["the secret formula is fire"], [axis((0, 1.0))])
    stranger = await new_document(database, theirs, ["the secret formula is earth"], [axis((0, 1.0))])
    for mode in ("hybrid", "vector", "lexical"):
        hits = await search(database, "secret formula", axis((0, 1.0)), [chat_document], mode)
        assert {hit.document_id for hit in hits} == {chat_document}, mode
        library = await search(database, "secret formula", axis((0, 1.0)), [chat_document, other_document], mode)
        assert {hit.document_id for hit in library} == {chat_document, other_document}, mode
        assert stranger not in {hit.document_id for hit in library}
    assert await search(database, "secret formula", axis((0, 1.0)), [], "hybrid") == []


async def test_vector_mode_ranks_by_cosine_similarity(database: Database) -> None:
    session_id = await new_session(database)
    vectors = [axis((0, 1.0)), axis((0, 1.0), (1, 1.0)), axis((1, 1.0))]
    document_id = await new_document(database, session_id, ["first", "second", "third"], vectors)
    hits = await search(database, "unrelated words", axis((1, 1.0)), [document_id], "vector", top_k=2)
    assert [hit.text for hit in hits] == ["third", "second"]
    assert [hit.vector_similarity for hit in hits] == pytest.approx([1.0, math.sqrt(0.5)])
    assert [hit.score for hit in hits] == pytest.approx([1.0, math.sqrt(0.5)])
    assert all(hit.lexical_score is None for hit in hits)


async def test_lexical_hits_carry_their_vector_similarity(database: Database) -> None:
    session_id = await new_session(database)
    document_id = await new_document(database, session_id, ["zebra stripes"], [axis((0, 1.0), (1, 1.0))])
    [hit] = await search(database, "zebra", axis((0, 1.0)), [document_id], "lexical")
    assert hit.vector_similarity == pytest.approx(math.sqrt(0.5))
    assert hit.score == hit.lexical_score


async def test_hybrid_prefers_a_chunk_good_on_both_rankings(database: Database) -> None:
    session_id = await new_session(database)
    texts = [
        "zebra zebra zebra stripes",  # best lexically, far in meaning
        "savanna grassland animals",  # nearest in meaning, no query term
        "a zebra in the savanna",  # good on both
        "budget committee minutes",  # neither
    ]
    query_vector = axis((0, 1.0))
    vectors = [axis((5, 1.0)), axis((0, 1.0), (1, 0.2)), axis((0, 1.0), (1, 0.6)), axis((6, 1.0))]
    document_id = await new_document(database, session_id, texts, vectors)
    lexical = await search(database, "zebra", query_vector, [document_id], "lexical")
    vector = await search(database, "zebra", query_vector, [document_id], "vector")
    hybrid = await search(database, "zebra", query_vector, [document_id], "hybrid")
    assert lexical[0].text == texts[0]
    assert vector[0].text == texts[1]
    assert hybrid[0].text == texts[2]
    assert hybrid[-1].text == texts[3]
    assert (hybrid[0].lexical_score or 0.0) > 0
    assert hybrid[1].vector_similarity is not None
    assert [hit.score for hit in hybrid] == sorted((hit.score for hit in hybrid), reverse=True)


def test_fusion_scales_each_ranking_over_its_own_candidates() -> None:
    pool = [
        retrieval.Candidate(1, vector_similarity=0.9, lexical_score=None, vector_rank=1, lexical_rank=None),
        retrieval.Candidate(2, vector_similarity=0.5, lexical_score=8.0, vector_rank=2, lexical_rank=1),
        retrieval.Candidate(3, vector_similarity=0.7, lexical_score=4.0, vector_rank=None, lexical_rank=2),
        retrieval.Candidate(4, vector_similarity=0.1, lexical_score=2.0, vector_rank=None, lexical_rank=3),
    ]
    convex = {c.chunk_id: score for c, score in retrieval.fuse(pool, vector_weight=0.25)}
    # Similarities are min-max scaled over the vector candidates, BM25 divided by the best BM25; chunk 3's
    # similarity is known but it is not a vector candidate, so it counts 0 on that side.
    assert convex == pytest.approx({1: 0.25, 2: 0.75, 3: 0.75 * 0.5, 4: 0.75 * 0.25})
    rrf = {c.chunk_id: score for c, score in retrieval.fuse(pool, vector_weight=0.5, fusion="rrf")}
    assert rrf == pytest.approx({1: 1 / 61, 2: 1 / 62 + 1 / 61, 3: 1 / 62, 4: 1 / 63})


@pytest.fixture(scope="module")
def minilm() -> LocalEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once for this module."""
    return LocalEmbedder()


async def test_real_embeddings_find_a_paraphrase_the_words_miss(database: Database, minilm: LocalEmbedder) -> None:
    session_id = await new_session(database)
    texts = [
        "The automobile would not start on cold mornings.",
        "Quarterly revenue grew by eight percent.",
        "The recipe needs two cups of flour.",
    ]
    query = "my car has engine trouble in winter"
    vectors, query_vector = minilm.embed_documents(texts), minilm.embed_query(query)
    document_id = await new_document(database, session_id, texts, vectors)
    assert await search(database, query, query_vector, [document_id], "lexical") == []
    vector = await search(database, query, query_vector, [document_id], "vector")
    hybrid = await search(database, query, query_vector, [document_id], "hybrid")
    assert vector[0].text == texts[0]
    assert hybrid[0].text == texts[0]
    assert hybrid[0].lexical_score is None  # no query word in it


def test_vector_literal_keeps_every_float4_exactly() -> None:
    values = np.random.default_rng(3).normal(size=2000).astype(np.float32)
    values[:4] = [0.0, -1.0, 1e-38, 3.4028235e38]
    literal = index.vector_literal(values.tolist())
    parsed = np.array([float(part) for part in literal.strip("[]").split(",")], dtype=np.float32)
    assert np.array_equal(parsed, values)
