"""pay connector credentials: the Basic credentials Twilio's Generic Pay Connector presents

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cardshield.storage.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, cardshield.storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "pay_connector_credentials",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        # SHA-256 of a 256-bit random password; the password itself is never stored.
        sa.Column("password_hash", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        _at("created_at", nullable=False),
        _at("last_used_at"),
        _at("revoked_at"),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_pay_connector_credentials_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_pay_connector_credentials")),
    )
    op.create_index(
        op.f("ix_pay_connector_credentials_merchant_id"),
        "pay_connector_credentials",
        ["merchant_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_pay_connector_credentials_merchant_id"), table_name="pay_connector_credentials"
    )
    op.drop_table("pay_connector_credentials")
