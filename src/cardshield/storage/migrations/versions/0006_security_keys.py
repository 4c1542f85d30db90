"""security keys: operators' WebAuthn credentials and the session's outstanding challenge

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cardshield.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, cardshield.storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "operator_security_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        _at("created_at", nullable=False),
        _at("last_used_at"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_security_keys_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_security_keys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_operator_security_keys_credential_id")),
    )
    op.create_index(
        op.f("ix_operator_security_keys_operator_id"), "operator_security_keys", ["operator_id"]
    )
    op.add_column(
        "operator_sessions", sa.Column("webauthn_challenge", sa.LargeBinary(), nullable=True)
    )
    op.add_column("operator_sessions", _at("webauthn_challenge_at"))


def downgrade() -> None:
    op.drop_column("operator_sessions", "webauthn_challenge_at")
    op.drop_column("operator_sessions", "webauthn_challenge")
    op.drop_index(
        op.f("ix_operator_security_keys_operator_id"), table_name="operator_security_keys"
    )
    op.drop_table("operator_security_keys")
