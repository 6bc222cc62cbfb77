"""A site's table retention (visits, rollups) and its e-mail report recipients.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def _site_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "site_retention",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("sessions_days", sa.Integer(), nullable=True),
        sa.Column("rollups_days", sa.Integer(), nullable=True),
        _site_fk("site_retention"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_retention")),
    )
    op.create_table(
        "report_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("last_sent", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _site_fk("report_recipients"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_recipients")),
        sa.UniqueConstraint(
            "site_id", "email", "kind", name=op.f("uq_report_recipients_site_id_email_kind")
        ),
    )
    op.create_index(op.f("ix_report_recipients_site_id"), "report_recipients", ["site_id"])


def downgrade() -> None:
    op.drop_table("report_recipients")
    op.drop_table("site_retention")
