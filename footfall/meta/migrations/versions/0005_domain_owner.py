"""A domain belongs to one site; users may be allowed to create sites.

The Plausible-compatible collector sends an event to the site registered for its domain,
so two sites listing one domain let the second read the first one's traffic. Where an
existing database has such a domain, the site that has existed longest keeps it and the
others lose it (logged as a warning): the later one is the likelier copy. Then the index
on ``site_domains.domain`` becomes unique, on SQLite and PostgreSQL alike.

``users.may_create_sites`` is false for every existing user: until the owner allows it,
only the owner creates sites.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

log = logging.getLogger("footfall.meta")

_sites = sa.table("sites", sa.column("id", sa.String), sa.column("created_at", sa.DateTime))
_domains = sa.table(
    "site_domains",
    sa.column("id", sa.Integer),
    sa.column("site_id", sa.String),
    sa.column("domain", sa.String),
)


def _drop_later_claims() -> None:
    conn = op.get_bind()
    claims = conn.execute(
        sa.select(_domains.c.id, _domains.c.domain, _domains.c.site_id)
        .join(_sites, _sites.c.id == _domains.c.site_id)
        .order_by(_domains.c.domain, _sites.c.created_at, _sites.c.id, _domains.c.id)
    ).all()
    owner: dict[str, str] = {}
    later: list[int] = []
    for row_id, domain, site_id in claims:
        if owner.setdefault(domain, site_id) != site_id:
            later.append(row_id)
            log.warning(
                "domain %s was listed by sites %s and %s; %s keeps it",
                domain, owner[domain], site_id, owner[domain],
            )  # fmt: skip
    if later:
        conn.execute(sa.delete(_domains).where(_domains.c.id.in_(later)))


def upgrade() -> None:
    _drop_later_claims()
    op.drop_index(op.f("ix_site_domains_domain"), table_name="site_domains")
    op.create_index(op.f("ix_site_domains_domain"), "site_domains", ["domain"], unique=True)
    op.add_column(
        "users",
        sa.Column("may_create_sites", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("may_create_sites")
    op.drop_index(op.f("ix_site_domains_domain"), table_name="site_domains")
    op.create_index(op.f("ix_site_domains_domain"), "site_domains", ["domain"], unique=False)
