"""Initial metadata schema: sites, their domains, ingest keys, read tokens, daily salts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "site_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_domains_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_domains")),
        sa.UniqueConstraint("site_id", "domain", name=op.f("uq_site_domains_site_id_domain")),
    )
    op.create_index(op.f("ix_site_domains_domain"), "site_domains", ["domain"])
    for table, secret in (("ingest_keys", "key_hash"), ("read_tokens", "token_hash")):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("site_id", sa.String(64), nullable=False),
            sa.Column(secret, sa.String(64), nullable=False),
            sa.Column("prefix", sa.String(16), nullable=False),
            _ts("created_at"),
            _ts("revoked_at", nullable=True),
            sa.ForeignKeyConstraint(
                ["site_id"],
                ["sites.id"],
                name=op.f(f"fk_{table}_site_id_sites"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint(secret, name=op.f(f"uq_{table}_{secret}")),
        )
        op.create_index(op.f(f"ix_{table}_site_id"), table, ["site_id"])
    op.create_table(
        "salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.LargeBinary(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_salts")),
    )


def downgrade() -> None:
    op.drop_table("salts")
    for table in ("read_tokens", "ingest_keys"):
        op.drop_index(op.f(f"ix_{table}_site_id"), table_name=table)
        op.drop_table(table)
    op.drop_index(op.f("ix_site_domains_domain"), table_name="site_domains")
    op.drop_table("site_domains")
    op.drop_table("sites")
