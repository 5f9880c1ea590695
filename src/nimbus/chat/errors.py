"""Chat errors."""

from __future__ import annotations

from nimbus.errors import NimbusError, NotFound, PayloadTooLarge


class ChatNotFound(NotFound):
    """Unknown chat, or one owned by another session (never reveal which)."""

    code = "chat_not_found"
    default_message = "Chat not found."


class MessageTooLong(PayloadTooLarge):
    code = "message_too_long"


class NothingToRegenerate(NimbusError):
    status_code = 409
    code = "nothing_to_regenerate"
    default_message = "This chat has no question to answer again."
