"""Knowledge errors."""

from __future__ import annotations

from nimbus.errors import NimbusError, NotFound, PayloadTooLarge


class DocumentNotFound(NotFound):
    """Unknown document, or one of another session."""

    code = "document_not_found"
    default_message = "Document not found."


class UploadTooLarge(PayloadTooLarge):
    code = "upload_too_large"


class EmptyUpload(NimbusError):
    status_code = 422
    code = "empty_upload"
    default_message = "The uploaded file is empty."


class InvalidSource(NimbusError):
    status_code = 422
    code = "invalid_source"
    default_message = "The link cannot be used."
