"""Per-document term frequencies: BM25 document frequencies become a lookup instead of a count of postings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Statement-level triggers keep `document_term` equal to the postings grouped by (term, document) whatever
# removes them: a restarted job, a deleted document, or a session's cleanup cascading through its chunks.
_TRIGGERS = """
CREATE FUNCTION document_term_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_term (term, document_id, df)
    SELECT term, document_id, count(*) FROM added GROUP BY term, document_id
    ON CONFLICT (term, document_id) DO UPDATE SET df = document_term.df + excluded.df;
    RETURN NULL;
END $$;

CREATE FUNCTION document_term_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH removed AS (
        SELECT term, document_id, count(*) AS n FROM gone GROUP BY term, document_id
    ), lowered AS (
        UPDATE document_term AS t SET df = t.df - r.n
        FROM removed AS r
        WHERE t.term = r.term AND t.document_id = r.document_id AND t.df > r.n
        RETURNING t.term, t.document_id
    )
    DELETE FROM document_term AS t
    USING removed AS r
    WHERE t.term = r.term AND t.document_id = r.document_id
      AND NOT EXISTS (SELECT 1 FROM lowered AS l WHERE l.term = r.term AND l.document_id = r.document_id);
    RETURN NULL;
END $$;

CREATE TRIGGER chunk_term_added AFTER INSERT ON chunk_term
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION document_term_add();
CREATE TRIGGER chunk_term_removed AFTER DELETE ON chunk_term
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION document_term_remove();
"""


def upgrade() -> None:
    op.create_table(
        "document_term",
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", "document_id", name=op.f("pk_document_term"), postgresql_include=["df"]),
    )
    op.execute(
        "INSERT INTO document_term (term, document_id, df) "
        "SELECT term, document_id, count(*) FROM chunk_term GROUP BY term, document_id"
    )
    op.execute(_TRIGGERS)


def downgrade() -> None:
    op.execute("DROP TRIGGER chunk_term_removed ON chunk_term")
    op.execute("DROP TRIGGER chunk_term_added ON chunk_term")
    op.execute("DROP FUNCTION document_term_remove()")
    op.execute("DROP FUNCTION document_term_add()")
    op.drop_table("document_term")
