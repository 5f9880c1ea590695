"""The `ChatModel` interface every provider implements, and the values it exchanges."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One message of the prompt sent to a model."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling parameters for one generation."""

    temperature: float = 0.2
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of generated text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of a finished generation (the last event of a stream)."""

    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None = None


StreamEvent = TextDelta | Usage


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """Whether the model can answer now, and why not."""

    ready: bool
    detail: str


@runtime_checkable
class ChatModel(Protocol):
    """A language model that streams an answer to a list of messages."""

    @property
    def provider(self) -> str:
        """Short provider name: `local` or `openai`."""
        ...

    @property
    def model(self) -> str:
        """The model identifier shown to users and stored with each answer."""
        ...

    def stream(self, messages: Sequence[PromptMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        """Yield `TextDelta`s as they are generated, then exactly one `Usage`; raise `LLMError` on failure."""
        ...

    async def status(self) -> ModelStatus:
        """Report readiness without generating (cheap; used by health checks)."""
        ...

    async def aclose(self) -> None:
        """Release clients, threads and model memory."""
        ...
