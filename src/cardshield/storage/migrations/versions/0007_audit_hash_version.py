"""audit hash version: entries' content hashes become HMACs under the audit key

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Existing entries keep their plain SHA-256 content hash and get ``hash_version`` 1 from the
column default; entries written from now on are keyed (version 2).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "audit_log",
        sa.Column("hash_version", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("hash_version")
