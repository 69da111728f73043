"""peak followers count: an author who ever passed the celebrity threshold stays read-merged

Revision ID: 0002_peak_followers
Revises: 0001_initial
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_peak_followers"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "users"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("peak_followers_count", sa.Integer(), server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.execute("UPDATE users.users SET peak_followers_count = followers_count")
    op.create_check_constraint(
        "peak_followers_count_covers_current",
        "users",
        "peak_followers_count >= followers_count",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint("peak_followers_count_covers_current", "users", schema=SCHEMA, type_="check")
    op.drop_column("users", "peak_followers_count", schema=SCHEMA)
