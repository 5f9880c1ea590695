"""A stand-in model that explains why no real one could be set up, so the server still starts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from nimbus.llm.base import GenerationParams, ModelStatus, PromptMessage, StreamEvent
from nimbus.llm.errors import LLMUnavailable


class UnavailableChatModel:
    """Never ready; every chat request fails with the reason (HTTP 503)."""

    def __init__(self, provider: str, model: str, reason: str) -> None:
        self._provider = provider
        self._model = model
        self.reason = reason

    @property
    def provider(self) -> str:
        """The provider that could not be set up."""
        return self._provider

    @property
    def model(self) -> str:
        """The model that was asked for."""
        return self._model

    def stream(self, messages: Sequence[PromptMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        """Raise `LLMUnavailable(reason)` on first iteration."""
        return self._fail()

    async def _fail(self) -> AsyncIterator[StreamEvent]:
        raise LLMUnavailable(self.reason)
        yield  # pragma: no cover

    async def status(self) -> ModelStatus:
        """Not ready, with the reason."""
        return ModelStatus(ready=False, detail=self.reason)

    async def aclose(self) -> None:
        """Nothing to release."""
