"""Amazon Connect: the key pairs Connect encrypts callers' input to, the secrets the Lambda
signs its requests with, and the signatures already accepted (replay guard)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cardshield.storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, cardshield.storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "connect_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("connect_key_id", sa.String(length=36), nullable=True),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("data_key_id", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=True),
        _at("created_at", nullable=False),
        _at("activated_at"),
        _at("retired_at"),
        _at("last_used_at"),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_connect_keys_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"], ["data_keys.id"], name=op.f("fk_connect_keys_data_key_id_data_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_keys")),
        sa.UniqueConstraint(
            "merchant_id",
            "connect_key_id",
            name=op.f("uq_connect_keys_merchant_id_connect_key_id"),
        ),
    )
    op.create_index(
        op.f("ix_connect_keys_merchant_id_status"), "connect_keys", ["merchant_id", "status"]
    )
    op.create_table(
        "connect_secrets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("instance_arns", sa.JSON(), nullable=False),
        sa.Column("data_key_id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        _at("created_at", nullable=False),
        _at("last_used_at"),
        _at("revoked_at"),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_connect_secrets_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_connect_secrets_data_key_id_data_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_secrets")),
    )
    op.create_index(op.f("ix_connect_secrets_merchant_id"), "connect_secrets", ["merchant_id"])
    op.create_table(
        "connect_replays",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        _at("seen_at", nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_connect_replays")),
    )
    op.create_index(op.f("ix_connect_replays_seen_at"), "connect_replays", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_connect_replays_seen_at"), table_name="connect_replays")
    op.drop_table("connect_replays")
    op.drop_index(op.f("ix_connect_secrets_merchant_id"), table_name="connect_secrets")
    op.drop_table("connect_secrets")
    op.drop_index(op.f("ix_connect_keys_merchant_id_status"), table_name="connect_keys")
    op.drop_table("connect_keys")
