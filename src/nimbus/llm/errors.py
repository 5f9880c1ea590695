"""Provider failures, mapped to the HTTP status a Nimbus client sees."""

from __future__ import annotations

from nimbus.errors import NimbusError


class LLMError(NimbusError):
    """The language model failed to answer."""

    status_code = 502
    code = "llm_error"
    default_message = "The language model failed to answer."


class LLMUnavailable(LLMError):
    """No model is usable (not configured, not installed, failed to load)."""

    status_code = 503
    code = "llm_unavailable"
    default_message = "No language model is available."


class LLMTimeout(LLMError):
    """The provider did not answer in time."""

    status_code = 504
    code = "llm_timeout"
    default_message = "The language model did not answer in time."


class LLMRateLimited(LLMError):
    """The provider kept answering 429 after all retries."""

    status_code = 503
    code = "llm_rate_limited"
    default_message = "The language model provider is rate limiting requests; try again shortly."
