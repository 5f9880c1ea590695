"""Lexical index tuning: covering postings key, no per-posting document FK, inline vectors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Deleting a document scanned every posting (no index leads with document_id); the chunk FK already
    # cascades postings away, through an indexed column.
    op.drop_constraint("fk_chunk_term_document_id_document", "chunk_term", type_="foreignkey")
    # BM25 reads tf and chunk_length straight from the index (index-only scans).
    op.drop_constraint("pk_chunk_term", "chunk_term", type_="primary")
    op.execute(
        "ALTER TABLE chunk_term ADD CONSTRAINT pk_chunk_term "
        "PRIMARY KEY (term, document_id, chunk_id) INCLUDE (tf, chunk_length)"
    )
    # 384 floats fit in the row: exact scans of small scopes stop fetching each vector from TOAST.
    op.execute("ALTER TABLE chunk ALTER COLUMN embedding SET STORAGE PLAIN")


def downgrade() -> None:
    op.execute("ALTER TABLE chunk ALTER COLUMN embedding SET STORAGE EXTERNAL")
    op.drop_constraint("pk_chunk_term", "chunk_term", type_="primary")
    op.execute("ALTER TABLE chunk_term ADD CONSTRAINT pk_chunk_term PRIMARY KEY (term, document_id, chunk_id)")
    op.create_foreign_key(
        "fk_chunk_term_document_id_document", "chunk_term", "document", ["document_id"], ["id"], ondelete="CASCADE"
    )
