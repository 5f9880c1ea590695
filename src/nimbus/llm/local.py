"""llama.cpp in-process: one worker thread loads the GGUF and runs one generation at a time."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nimbus.config import LLMSettings
from nimbus.llm.base import GenerationParams, ModelStatus, PromptMessage, StreamEvent, TextDelta, Usage
from nimbus.llm.errors import LLMError, LLMUnavailable

log = logging.getLogger(__name__)

INSTALL_HINT = "run `make install` or `pip install 'nimbus[local]'`"

_Item = StreamEvent | LLMError
_Emit = Callable[[_Item], None]


class _Loaded:
    """A loaded llama.cpp model and the chat formatter used to count prompt tokens."""

    def __init__(self, llama: Any, formatter: Any) -> None:
        self.llama = llama
        self.formatter = formatter

    def count_prompt_tokens(self, wire: list[dict[str, str]]) -> int:
        if self.formatter is not None:
            prompt = self.formatter(messages=wire).prompt
        else:
            prompt = "\n".join(message["content"] for message in wire)
        return len(self.llama.tokenize(prompt.encode(), add_bos=False, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=False)) if text else 0


class LocalChatModel:
    """A GGUF chat model run by llama.cpp off the event loop; requests queue for the single worker."""

    def __init__(self, model_path: Path, *, context_tokens: int = 4096, threads: int = 0) -> None:
        self._path = model_path
        self._context_tokens = context_tokens
        self._threads = threads or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nimbus-llama")
        self._load_job: Future[_Loaded] | None = None
        self._lock = asyncio.Lock()
        self._active_stop: threading.Event | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, llm: LLMSettings, model_path: Path) -> LocalChatModel:
        """Build from `LLMSettings` (context size and threads) for the given GGUF."""
        return cls(model_path, context_tokens=llm.context_tokens, threads=llm.threads)

    @property
    def provider(self) -> str:
        """Always `local`."""
        return "local"

    @property
    def model(self) -> str:
        """The GGUF file name without its extension."""
        return self._path.stem

    @property
    def busy(self) -> bool:
        """True while a generation holds the model."""
        return self._lock.locked()

    def start(self) -> None:
        """Begin loading in the worker thread and return at once (idempotent)."""
        if self._load_job is None and not self._closed:
            self._load_job = self._executor.submit(self._load_sync)

    async def load(self) -> None:
        """Start loading if needed and wait for it; raise `LLMUnavailable` if it fails."""
        await self._loaded()

    async def status(self) -> ModelStatus:
        """Loading, ready, or the reason loading failed; never waits."""
        job = self._load_job
        if self._closed:
            return ModelStatus(ready=False, detail="the local model is shut down")
        if job is None:
            return ModelStatus(ready=False, detail=f"{self.model} is not loaded yet (loads on first use)")
        if not job.done():
            return ModelStatus(ready=False, detail=f"loading {self.model}")
        error = job.exception()
        if error is not None:
            return ModelStatus(ready=False, detail=str(error))
        return ModelStatus(ready=True, detail=f"loaded: {self.model} ({self._threads} threads)")

    async def stream(self, messages: Sequence[PromptMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        """Queue for the model, then yield text as llama.cpp produces it and a final `Usage`."""
        loaded = await self._loaded()
        async with self._lock:
            if self._closed:
                raise LLMUnavailable("the local model is shut down")
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[_Item] = asyncio.Queue()
            stop = threading.Event()
            self._active_stop = stop

            def emit(item: _Item) -> None:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:
                    stop.set()

            wire = [{"role": m.role, "content": m.content} for m in messages]
            job = self._executor.submit(_generate, loaded, wire, params, stop, emit)
            try:
                while True:
                    item = await queue.get()
                    if isinstance(item, LLMError):
                        raise item
                    yield item
                    if isinstance(item, Usage):
                        return
            finally:
                stop.set()
                self._active_stop = None
                await asyncio.shield(asyncio.wrap_future(job))

    async def aclose(self) -> None:
        """Stop any generation, free the model and end the worker thread."""
        if self._closed:
            return
        self._closed = True
        if self._active_stop is not None:
            self._active_stop.set()
        if self._load_job is not None:
            self._load_job.cancel()
        unload = self._executor.submit(self._unload_sync)
        self._executor.shutdown(wait=False)
        await asyncio.shield(asyncio.wrap_future(unload))

    async def _loaded(self) -> _Loaded:
        if self._closed:
            raise LLMUnavailable("the local model is shut down")
        self.start()
        assert self._load_job is not None
        return await asyncio.shield(asyncio.wrap_future(self._load_job))

    def _load_sync(self) -> _Loaded:
        try:
            import llama_cpp
            from llama_cpp import llama_chat_format
        except ImportError as exc:
            raise LLMUnavailable(f"llama-cpp-python is not installed ({exc}); {INSTALL_HINT}.") from exc
        log.info("loading %s with %d threads", self._path, self._threads)
        try:
            llama = llama_cpp.Llama(
                model_path=str(self._path),
                n_ctx=self._context_tokens,
                n_threads=self._threads,
                verbose=False,
            )
        except Exception as exc:
            raise LLMUnavailable(f"Could not load the local model {self._path}: {exc}") from exc
        return _Loaded(llama, _chat_formatter(llama, llama_chat_format))

    def _unload_sync(self) -> None:
        job = self._load_job
        if job is not None and job.done() and not job.cancelled() and job.exception() is None:
            job.result().llama.close()


def _chat_formatter(llama: Any, llama_chat_format: Any) -> Any:
    """The GGUF's own chat template, to count prompt tokens the way the model sees them."""
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None

    def token_text(token: int) -> str:
        return "" if token == -1 else bytes(llama.detokenize([token], special=True)).decode(errors="ignore")

    return llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token=token_text(llama.token_eos()), bos_token=token_text(llama.token_bos())
    )


def _generate(
    loaded: _Loaded, wire: list[dict[str, str]], params: GenerationParams, stop: threading.Event, emit: _Emit
) -> None:
    """Run in the worker thread: stream tokens through `emit`, checking `stop` between tokens."""
    try:
        prompt_tokens = loaded.count_prompt_tokens(wire)
        chunks = loaded.llama.create_chat_completion(
            messages=wire,
            stream=True,
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            stop=list(params.stop),
        )
        parts: list[str] = []
        finish_reason: str | None = None
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    parts.append(text)
                    emit(TextDelta(text))
                finish_reason = choice.get("finish_reason") or finish_reason
        finally:
            chunks.close()
        emit(Usage(prompt_tokens, loaded.count_tokens("".join(parts)), finish_reason))
    except Exception as exc:
        log.exception("local generation failed")
        emit(LLMError(f"The local model failed: {exc}"))
