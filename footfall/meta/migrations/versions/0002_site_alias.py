"""Sites get a public UUID alias, for trackers that name a site by UUID (Umami's ``website``).

Existing sites are given a fresh random UUID; new ones get theirs from the model default.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("public_uuid", sa.String(36), nullable=True))
    sites = sa.table("sites", sa.column("id", sa.String), sa.column("public_uuid", sa.String))
    conn = op.get_bind()
    for (site_id,) in conn.execute(sa.select(sites.c.id)).all():
        conn.execute(
            sites.update().where(sites.c.id == site_id).values(public_uuid=str(uuid.uuid4()))
        )
    with op.batch_alter_table("sites") as batch:
        batch.alter_column("public_uuid", existing_type=sa.String(36), nullable=False)
        batch.create_unique_constraint(op.f("uq_sites_public_uuid"), ["public_uuid"])


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_constraint(op.f("uq_sites_public_uuid"), type_="unique")
        batch.drop_column("public_uuid")
