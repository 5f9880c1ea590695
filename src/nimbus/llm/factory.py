"""Pick the chat model from settings; fall back to one that explains what is missing."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from nimbus.config import LLMProvider, LLMSettings
from nimbus.llm.base import ChatModel
from nimbus.llm.errors import LLMError
from nimbus.llm.unavailable import UnavailableChatModel

log = logging.getLogger(__name__)


def build_chat_model(llm: LLMSettings, data_dir: Path, *, preload: bool = True) -> ChatModel:
    """Build the configured `ChatModel`, or an `UnavailableChatModel` carrying the reason.

    Blocking: the first local start assembles a 1 GB model file, so call it from the app's
    lifespan as `await asyncio.to_thread(build_chat_model, settings.llm, settings.server.data_dir)`.
    With `preload`, a local model starts loading in its worker thread right away (status: loading).
    """
    if llm.chosen_provider is LLMProvider.OPENAI:
        return _openai(llm)
    return _local(llm, data_dir, preload=preload)


def _openai(llm: LLMSettings) -> ChatModel:
    from nimbus.llm.openai import DEFAULT_MODEL, OpenAIChatModel

    try:
        return OpenAIChatModel(llm)
    except (LLMError, ValueError) as exc:
        return _unavailable(LLMProvider.OPENAI, llm.model or DEFAULT_MODEL, str(exc))


def _local(llm: LLMSettings, data_dir: Path, *, preload: bool) -> ChatModel:
    from nimbus.llm import model_files
    from nimbus.llm.local import INSTALL_HINT, LocalChatModel

    name = Path(llm.model_path or model_files.DEFAULT_MODEL_FILENAME).stem
    if importlib.util.find_spec("llama_cpp") is None:
        reason = f"The local model needs llama-cpp-python, which is not installed; {INSTALL_HINT}."
        return _unavailable(LLMProvider.LOCAL, name, reason)
    try:
        path = model_files.resolve_model_path(llm, data_dir)
    except LLMError as exc:
        return _unavailable(LLMProvider.LOCAL, name, exc.message)
    except OSError as exc:
        return _unavailable(LLMProvider.LOCAL, name, f"Cannot prepare the local model file: {exc}")
    model = LocalChatModel.from_settings(llm, path)
    if preload:
        model.start()
    return model


def _unavailable(provider: LLMProvider, model: str, reason: str) -> UnavailableChatModel:
    log.warning("no %s language model: %s", provider.value, reason)
    return UnavailableChatModel(provider.value, model, reason)
