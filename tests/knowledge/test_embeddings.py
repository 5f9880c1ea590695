"""Embedders: the real bundled MiniLM model, and an OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from transformers import AutoTokenizer

from nimbus.config import EmbeddingPrecision, KnowledgeSettings, LLMSettings
from nimbus.knowledge.cpu import use_bfloat16
from nimbus.knowledge.embeddings import (
    EmbeddingError,
    LocalEmbedder,
    MiniLMTokenizer,
    OpenAIEmbedder,
    build_embedder,
    bundled_model_path,
)
from nimbus.knowledge.types import Embedder
from tests.knowledge.fake_embeddings_server import Failure, FakeEmbeddings, Vectors, fake_vector

# --- the bundled local model -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """The real all-MiniLM-L6-v2, loaded once per run; a small batch size so batching is exercised."""
    embedder = LocalEmbedder(batch_size=4)
    embedder.load()
    return embedder


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


@pytest.mark.slow
def test_local_vectors_are_384_long_and_unit_length(local_embedder: LocalEmbedder) -> None:
    vectors = local_embedder.embed_documents(["Risk management framework.", "A second, different passage."])

    assert isinstance(local_embedder, Embedder)
    assert local_embedder.name == "all-MiniLM-L6-v2"
    assert local_embedder.dimensions == 384
    assert [len(v) for v in vectors] == [384, 384]
    assert all(isinstance(x, float) for x in vectors[0])
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


@pytest.mark.parametrize(
    ("flags", "precision", "expected"),
    [
        ("fpu sse avx2 avx512f avx512_bf16 avx512_vnni", "auto", True),
        ("fpu sse avx2 amx_tile amx_bf16", "auto", True),
        ("fpu sse avx2 avx512f avx512_vnni", "auto", False),
        ("fpu sse avx2 avx512_bf16", "float32", False),
        ("fpu sse avx2", "bfloat16", True),
        (None, "auto", False),  # no /proc/cpuinfo (not Linux)
    ],
)
def test_bfloat16_is_used_where_the_cpu_computes_it_natively(
    tmp_path: Path, flags: str | None, precision: str, expected: bool
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    if flags is not None:
        cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert use_bfloat16(EmbeddingPrecision(precision), cpuinfo) is expected


def test_the_precision_setting_reaches_the_local_embedder() -> None:
    llm = LLMSettings(_env_file=None)
    for precision, expected in (("float32", False), ("bfloat16", True)):
        embedder = build_embedder(KnowledgeSettings(_env_file=None, embedding_precision=precision), llm)
        assert isinstance(embedder, LocalEmbedder)
        assert embedder.bfloat16 is expected


@pytest.mark.slow
def test_batches_run_one_per_core_and_workers_get_the_gil_back_quickly(local_embedder: LocalEmbedder) -> None:
    import torch

    cores = len(os.sched_getaffinity(0))
    if cores > 1:
        assert torch.get_num_threads() == 1
        assert sys.getswitchinterval() <= 0.001
    texts = [f"Passage number {n} about {'harbours ' * (n % 7)}and storms." for n in range(23)]
    together = local_embedder.embed_documents(texts)
    one_by_one = [local_embedder.embed_documents([text])[0] for text in texts]
    assert np.allclose(together, one_by_one, atol=1e-3)  # parallel batches keep every vector in its place


@pytest.mark.slow
def test_bfloat16_vectors_agree_with_float32_ones(local_embedder: LocalEmbedder) -> None:
    passages = [
        "Risk management framework for information systems and organizations.",
        "A kitten is napping on the couch.",
        "The great storm of 1783 destroyed half of the fishing fleet. " * 8,
    ]
    half = LocalEmbedder(batch_size=4, bfloat16=True)
    reference = np.array(local_embedder.embed_documents(passages))
    vectors = np.array(half.embed_documents(passages))
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0] * 3, abs=1e-5)
    assert (reference * vectors).sum(axis=1).min() > 0.999
    query = "When was the fishing fleet destroyed?"
    assert cosine(half.embed_query(query), local_embedder.embed_query(query)) > 0.999


@pytest.mark.slow
def test_similar_sentences_are_closer_than_unrelated_ones(local_embedder: LocalEmbedder) -> None:
    cat, kitten, budget = local_embedder.embed_documents(
        ["The cat sleeps on the sofa.", "A kitten is napping on the couch.", "The federal budget deficit grew."]
    )

    assert cosine(cat, kitten) > cosine(cat, budget) + 0.3


@pytest.mark.slow
def test_a_query_is_closest_to_the_passage_that_answers_it(local_embedder: LocalEmbedder) -> None:
    passages = [
        "Quarterly revenue grew by twelve percent compared with last year.",
        "To reset your password, open Settings and choose 'Forgot password'.",
        "Photosynthesis turns light into chemical energy in plants.",
    ]
    documents = local_embedder.embed_documents(passages)

    query = local_embedder.embed_query("How do I change my password if I forgot it?")

    assert len(query) == 384
    assert int(np.argmax([cosine(query, d) for d in documents])) == 1


@pytest.mark.slow
def test_more_texts_than_one_batch_keep_their_order(local_embedder: LocalEmbedder) -> None:
    texts = [f"Passage number {n} talks about topic {n * 7 % 11}." for n in range(11)]  # batch size is 4

    together = local_embedder.embed_documents(texts)

    alone = [local_embedder.embed_documents([text])[0] for text in texts]
    assert np.allclose(together, alone, atol=1e-5)
    assert local_embedder.embed_documents([]) == []


@pytest.mark.slow
def test_the_model_reads_exactly_max_tokens(local_embedder: LocalEmbedder) -> None:
    text = " ".join(f"w{n % 10}" for n in range(127))  # "wN" is two tokens: w, ##N
    assert len(local_embedder.tokenizer.token_offsets(text)) == local_embedder.max_tokens == 254

    full, longer, shorter = local_embedder.embed_documents([text, text + " and much more", text.rsplit(" ", 1)[0]])

    assert np.allclose(full, longer, atol=1e-6)  # past max_tokens, nothing is read
    assert not np.allclose(full, shorter, atol=1e-4)


@pytest.mark.slow
def test_queries_during_passage_embedding_get_the_same_vectors(local_embedder: LocalEmbedder) -> None:
    passages = [f"Passage {n} about access control and audit logging, repeated. " * 12 for n in range(12)]
    expected_query = local_embedder.embed_query("what is a control baseline?")
    expected_passages = local_embedder.embed_documents(passages)
    queries: list[list[float]] = []
    documents: list[list[list[float]]] = []
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    jobs = [lambda: documents.append(local_embedder.embed_documents(passages)) for _ in range(2)]
    jobs += [lambda: queries.append(local_embedder.embed_query("what is a control baseline?")) for _ in range(6)]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert np.allclose(queries, [expected_query] * 6, atol=1e-5)
    assert np.allclose(documents, [expected_passages] * 2, atol=1e-5)


def test_the_tokenizer_matches_the_models_fast_tokenizer() -> None:
    text = "Héllo wörld — naïve café, 5°C; “quoted.” 東京は大きい。unbelievable\u200bthing https://x.org/a?b=1 " * 4
    ours = MiniLMTokenizer(bundled_model_path()).token_offsets(text)

    theirs = AutoTokenizer.from_pretrained(str(bundled_model_path()))(
        text, add_special_tokens=False, return_offsets_mapping=True
    )["offset_mapping"]

    assert [tuple(pair) for pair in ours] == [tuple(pair) for pair in theirs]


def test_the_tokenizer_counts_every_token_of_a_long_text() -> None:
    # tokenizer.json itself truncates to 128 tokens; counting must not.
    offsets = MiniLMTokenizer(bundled_model_path()).token_offsets("word " * 1000)

    assert len(offsets) == 1000
    assert offsets[-1] == (4995, 4999)


def test_importing_and_building_an_embedder_loads_no_heavy_library() -> None:
    script = (
        "import sys\n"
        "from nimbus.config import KnowledgeSettings, LLMSettings\n"
        "from nimbus.knowledge.embeddings import build_embedder\n"
        "embedder = build_embedder(KnowledgeSettings(_env_file=None), LLMSettings(_env_file=None))\n"
        "embedder.tokenizer.token_offsets('text')\n"
        "print(sorted({'torch', 'transformers', 'sentence_transformers', 'openai'} & set(sys.modules)))\n"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)

    assert result.stdout.strip() == "[]"


def test_the_local_embedder_knows_its_limits_without_loading_the_model() -> None:
    embedder = build_embedder(KnowledgeSettings(_env_file=None, embedding_batch_size=8), LLMSettings(_env_file=None))

    assert isinstance(embedder, LocalEmbedder)
    assert embedder.max_tokens == 254
    assert embedder.tokenizer.token_offsets("risk management") == [(0, 4), (5, 15)]
    assert not embedder.loaded


# --- an OpenAI-compatible server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embeddings_server() -> Iterator[FakeEmbeddings]:
    with FakeEmbeddings() as server:
        yield server


@pytest.fixture
def fake(embeddings_server: FakeEmbeddings) -> Iterator[FakeEmbeddings]:
    embeddings_server.reset()
    yield embeddings_server
    embeddings_server.reset()


OpenAIFactory = Callable[..., OpenAIEmbedder]


@pytest.fixture
def openai_embedder(fake: FakeEmbeddings) -> Iterator[OpenAIFactory]:
    """Build OpenAI embedders against the fake server (settings overridable); closes them afterwards."""
    built: list[OpenAIEmbedder] = []

    def build(*, max_retries: int = 0, api_key: str | None = None, **knowledge: Any) -> OpenAIEmbedder:
        options: dict[str, Any] = {
            "embedding_provider": "openai",
            "embedding_model": "fake-embedding-model",
            "embedding_base_url": fake.base_url,
            "embedding_batch_size": 2,
        }
        settings = KnowledgeSettings(_env_file=None, **(options | knowledge))
        llm = LLMSettings(_env_file=None, max_retries=max_retries, timeout_seconds=10, api_key=api_key)
        embedder = build_embedder(settings, llm)
        assert isinstance(embedder, OpenAIEmbedder)
        built.append(embedder)
        return embedder

    yield build
    for embedder in built:
        embedder.close()


def unit(vector: list[float]) -> list[float]:
    norm = float(np.linalg.norm(vector))
    return [x / norm for x in vector]


def test_remote_vectors_are_unit_length_and_in_order(fake: FakeEmbeddings, openai_embedder: OpenAIFactory) -> None:
    fake.default = Vectors(reverse=True)  # the server may list results in any order
    embedder = openai_embedder()
    texts = [f"text {n}" for n in range(5)]

    vectors = embedder.embed_documents(texts)

    assert np.allclose(vectors, [unit(fake_vector(t, 384)) for t in texts], atol=1e-6)
    assert [r["input"] for r in fake.requests] == [["text 0", "text 1"], ["text 2", "text 3"], ["text 4"]]
    assert {(r["model"], r["encoding_format"], r["dimensions"]) for r in fake.requests} == {
        ("fake-embedding-model", "float", 384)
    }
    assert np.allclose(embedder.embed_query("a question"), unit(fake_vector("a question", 384)), atol=1e-6)
    assert embedder.embed_documents([]) == []
    assert len(fake.requests) == 4


def test_a_server_that_rejects_dimensions_is_asked_without(
    fake: FakeEmbeddings, openai_embedder: OpenAIFactory
) -> None:
    fake.default = Vectors(reject_dimensions=True)
    embedder = openai_embedder()

    embedder.embed_documents(["one", "two"])
    embedder.embed_query("three")

    assert ["dimensions" in r for r in fake.requests] == [True, False, False]


def test_a_model_with_other_dimensions_is_a_clear_error(fake: FakeEmbeddings, openai_embedder: OpenAIFactory) -> None:
    fake.default = Vectors(dimensions=768, ignore_dimensions=True)

    with pytest.raises(EmbeddingError, match=r"returns 768-dimensional vectors, but the index stores 384") as caught:
        openai_embedder().embed_documents(["text"])

    assert caught.value.status_code == 503


def test_a_server_error_becomes_an_embedding_error(fake: FakeEmbeddings, openai_embedder: OpenAIFactory) -> None:
    fake.default = Failure(500, "backend exploded with key sk-test-secret")

    with pytest.raises(EmbeddingError, match=r"HTTP 500: backend exploded with key \*\*\*$"):
        openai_embedder(api_key="sk-test-secret").embed_documents(["text"])

    assert len(fake.requests) == 1


def test_a_failed_request_is_retried(fake: FakeEmbeddings, openai_embedder: OpenAIFactory) -> None:
    fake.script(Failure(503))

    vector = openai_embedder(max_retries=1).embed_query("text")

    assert len(vector) == 384
    assert len(fake.requests) == 2


def test_an_unreachable_server_is_an_embedding_error(openai_embedder: OpenAIFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    embedder = openai_embedder(embedding_base_url=f"http://127.0.0.1:{port}/v1")

    with pytest.raises(EmbeddingError, match="Cannot connect to the embedding server"):
        embedder.embed_query("text")


def test_the_embedding_server_defaults_to_the_llm_server(fake: FakeEmbeddings) -> None:
    knowledge = KnowledgeSettings(_env_file=None, embedding_provider="openai", embedding_model="m", chunk_tokens=300)
    embedder = build_embedder(knowledge, LLMSettings(_env_file=None, base_url=fake.base_url, max_retries=0))
    assert isinstance(embedder, OpenAIEmbedder)
    try:
        embedder.embed_query("text")
    finally:
        embedder.close()

    assert fake.requests[0]["model"] == "m"
    assert (embedder.name, embedder.dimensions, embedder.max_tokens) == ("m", 384, 300)
    assert len(embedder.tokenizer.token_offsets("risk management framework")) == 3


def test_the_openai_provider_needs_a_model_and_an_http_url() -> None:
    llm = LLMSettings(_env_file=None)
    with pytest.raises(ValueError, match="NIMBUS_EMBEDDING_MODEL"):
        KnowledgeSettings(_env_file=None, embedding_provider="openai")
    bad_url = KnowledgeSettings(
        _env_file=None, embedding_provider="openai", embedding_model="m", embedding_base_url="ftp://x"
    )
    with pytest.raises(EmbeddingError, match="NIMBUS_EMBEDDING_BASE_URL"):
        build_embedder(bad_url, llm)
