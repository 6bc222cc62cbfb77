"""Per-site settings (DNT/GPC, excluded IP ranges and paths, retention), goals, funnels.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "site_settings",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("respect_dnt", sa.Boolean(), nullable=False),
        sa.Column("excluded_ips", sa.Text(), nullable=False),
        sa.Column("excluded_paths", sa.Text(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        _fk("site_id", "sites", "site_settings"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_settings")),
    )
    op.create_table(
        "goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("prop_key", sa.String(300), nullable=False),
        sa.Column("prop_value", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("site_id", "sites", "goals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_goals_site_id_name")),
    )
    op.create_index(op.f("ix_goals_site_id"), "goals", ["site_id"])
    op.create_table(
        "funnels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("site_id", "sites", "funnels"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnels")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_funnels_site_id_name")),
    )
    op.create_index(op.f("ix_funnels_site_id"), "funnels", ["site_id"])
    op.create_table(
        "funnel_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("funnel_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        _fk("funnel_id", "funnels", "funnel_steps"),
        _fk("goal_id", "goals", "funnel_steps"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnel_steps")),
        sa.UniqueConstraint(
            "funnel_id", "position", name=op.f("uq_funnel_steps_funnel_id_position")
        ),
    )
    op.create_index(op.f("ix_funnel_steps_funnel_id"), "funnel_steps", ["funnel_id"])
    op.create_index(op.f("ix_funnel_steps_goal_id"), "funnel_steps", ["goal_id"])


def downgrade() -> None:
    op.drop_table("funnel_steps")
    op.drop_table("funnels")
    op.drop_table("goals")
    op.drop_table("site_settings")
