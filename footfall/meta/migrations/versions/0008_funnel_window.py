"""A conversion window per funnel: ``funnels.window_hours``.

The steps after the first must come within this many hours of it, by the same visitor
(24, the window every funnel had so far, for existing funnels); 0 means within the same
visit as the first step.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "funnels",
        sa.Column("window_hours", sa.Integer(), nullable=False, server_default="24"),
    )


def downgrade() -> None:
    with op.batch_alter_table("funnels") as batch:
        batch.drop_column("window_hours")
