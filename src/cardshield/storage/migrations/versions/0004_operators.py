"""operators: accounts, recovery codes and console sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cardshield.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, cardshield.storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        _at("password_changed_at", nullable=False),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=True),
        _at("totp_enrolled_at"),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        _at("locked_until"),
        _at("last_login_at"),
        _at("created_at", nullable=False),
        _at("disabled_at"),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_operators_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("username", name=op.f("uq_operators_username")),
    )
    op.create_table(
        "operator_recovery_codes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        _at("created_at", nullable=False),
        _at("used_at"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_recovery_codes_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_operator_recovery_codes_code_hash")),
    )
    op.create_index(
        op.f("ix_operator_recovery_codes_operator_id"),
        "operator_recovery_codes",
        ["operator_id"],
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("pending_totp", sa.LargeBinary(), nullable=True),
        _at("created_at", nullable=False),
        _at("last_seen_at", nullable=False),
        _at("expires_at", nullable=False),
        _at("reauth_at"),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_sessions_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sessions")),
    )
    op.create_index(op.f("ix_operator_sessions_operator_id"), "operator_sessions", ["operator_id"])
    op.create_index(
        op.f("ix_operator_sessions_last_seen_at"), "operator_sessions", ["last_seen_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_operator_sessions_last_seen_at"), table_name="operator_sessions")
    op.drop_index(op.f("ix_operator_sessions_operator_id"), table_name="operator_sessions")
    op.drop_table("operator_sessions")
    op.drop_index(
        op.f("ix_operator_recovery_codes_operator_id"), table_name="operator_recovery_codes"
    )
    op.drop_table("operator_recovery_codes")
    op.drop_table("operators")
