"""Revenue goals: ``goals.currency``, an event goal's ISO 4217 currency code.

Plausible's revenue goals carry a currency, and its Stats API answers revenue metrics as
money objects in it. Existing goals get "" (not a revenue goal), so their answers do not
change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("goals", sa.Column("currency", sa.String(3), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("goals") as batch:
        batch.drop_column("currency")
