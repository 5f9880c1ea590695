"""`/api/v1/documents`, `/api/v1/chats/{id}/documents` and `/api/v1/search`: thin routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask

from nimbus.chat.errors import ChatNotFound
from nimbus.db.deps import DbSession
from nimbus.knowledge import retrieval_service, service
from nimbus.knowledge.errors import DocumentNotFound, EmptyUpload, InvalidSource, UploadTooLarge
from nimbus.knowledge.models import Document
from nimbus.knowledge.schemas import ChatDocumentsIn, ChatDocumentsOut, DocumentOut, DocumentPage, LinkIn, SearchOut
from nimbus.openapi import error_responses
from nimbus.sessions.deps import CurrentSession
from nimbus.state import AppState, State

router = APIRouter(prefix="/api/v1", tags=["documents"], responses=error_responses())
ACCEPTED = {"description": "Queued for ingestion (200 instead when it duplicates an existing document)."}


def _queued(state: AppState, document: Document, duplicate: bool) -> JSONResponse:
    """Wake the ingestion workers and answer 202 (200 when the document already existed)."""
    state.ingestion.notify()
    body = service.document_out(document, duplicate=duplicate).model_dump(mode="json")
    return JSONResponse(body, status_code=status.HTTP_200_OK if duplicate else status.HTTP_202_ACCEPTED)


@router.post(
    "/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentOut,
    responses={202: ACCEPTED, **error_responses(ChatNotFound, UploadTooLarge, EmptyUpload)},
)
async def upload(
    file: Annotated[
        UploadFile, File(description="PDF, DOCX, HTML, Markdown or text; the type is read from the content.")
    ],
    state: State,
    db: DbSession,
    session: CurrentSession,
    chat_id: Annotated[uuid.UUID | None, Form()] = None,
) -> JSONResponse:
    """Upload a file to the session's library (and to a chat); it is indexed in the background."""
    max_bytes = state.settings.knowledge.max_upload_mb << 20
    document, duplicate = await service.add_upload(
        db, state.blobs, session.id, file.filename, file.file, chat_id, max_bytes
    )
    return _queued(state, document, duplicate)


@router.post(
    "/documents/youtube",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentOut,
    responses={202: ACCEPTED, **error_responses(ChatNotFound, InvalidSource)},
)
async def add_youtube(body: LinkIn, state: State, db: DbSession, session: CurrentSession) -> JSONResponse:
    """Add a YouTube video (any usual link form or a bare id); its transcript is indexed in the background."""
    return _queued(state, *await service.add_link(db, session.id, "youtube", body.url, body.chat_id))


@router.post(
    "/documents/url",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentOut,
    responses={202: ACCEPTED, **error_responses(ChatNotFound, InvalidSource)},
)
async def add_web_page(body: LinkIn, state: State, db: DbSession, session: CurrentSession) -> JSONResponse:
    """Add a web page; it is fetched and indexed in the background."""
    return _queued(state, *await service.add_link(db, session.id, "web", body.url, body.chat_id))


@router.get("/documents")
async def list_documents(db: DbSession, session: CurrentSession) -> DocumentPage:
    """The session's documents with their ingestion status, newest first."""
    documents = await service.list_documents(db, session.id)
    return DocumentPage(items=[service.document_out(d) for d in documents], total=len(documents))


@router.get("/documents/{document_id}", responses=error_responses(DocumentNotFound))
async def get_document(document_id: uuid.UUID, db: DbSession, session: CurrentSession) -> DocumentOut:
    """One document: status, progress (0 to 1), pages, chunks, error and timings."""
    return service.document_out(await service.owned_document(db, document_id, session.id))


@router.get(
    "/documents/{document_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **error_responses(DocumentNotFound)},
)
async def document_file(document_id: uuid.UUID, state: State, session: CurrentSession) -> Response:
    """The original uploaded file (open a PDF at a cited page with `#page=N`)."""
    original = await service.original_file(state.database, state.blobs, document_id, session.id)
    return FileResponse(
        original.path,
        media_type=original.media_type,
        filename=original.name,
        content_disposition_type="inline",
        background=BackgroundTask(original.release),  # after the last byte is sent
    )


@router.delete(
    "/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        202: {"description": "Being ingested: cancelled, removed when its job stops."},
        **error_responses(DocumentNotFound),
    },
)
async def delete_document(document_id: uuid.UUID, state: State, db: DbSession, session: CurrentSession) -> Response:
    """Delete a document with its index; one still being ingested is cancelled and cleaned up."""
    document = await service.owned_document(db, document_id, session.id)
    deleted = await service.remove_document(db, state.blobs, document)
    return Response(status_code=status.HTTP_204_NO_CONTENT if deleted else status.HTTP_202_ACCEPTED)


@router.get("/chats/{chat_id}/documents", responses=error_responses(ChatNotFound))
async def chat_documents(chat_id: uuid.UUID, db: DbSession, session: CurrentSession) -> ChatDocumentsOut:
    """The documents this chat answers from (empty: the whole library)."""
    return ChatDocumentsOut(document_ids=await service.chat_selection(db, session.id, chat_id))


@router.put("/chats/{chat_id}/documents", responses=error_responses(ChatNotFound, DocumentNotFound))
async def select_chat_documents(
    chat_id: uuid.UUID, body: ChatDocumentsIn, db: DbSession, session: CurrentSession
) -> ChatDocumentsOut:
    """Choose the documents this chat answers from (an empty list means the whole library)."""
    selected = await service.select_for_chat(db, session.id, chat_id, body.document_ids)
    return ChatDocumentsOut(document_ids=selected)


@router.get("/search", responses=error_responses(ChatNotFound))
async def search(
    state: State,
    session: CurrentSession,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    chat_id: uuid.UUID | None = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["hybrid", "vector", "lexical"] = "hybrid",
) -> SearchOut:
    """Hybrid search over the chat's documents (or the whole library): the passages and their scores."""
    hits = await retrieval_service.search_hits(state, session.id, chat_id, q, k=k, mode=mode)
    return SearchOut(query=q, mode=mode, hits=hits)
