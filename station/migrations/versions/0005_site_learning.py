"""The station learning its own site: each record keeps the raw frame it was judged on and the models' version,
each rule result its evidence (where, what) and its frame votes, and supervisors review single rules.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("frame_path", sa.String(512), nullable=True))
        batch.add_column(sa.Column("models_version", sa.String(128), nullable=True))
    with op.batch_alter_table("rule_results") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON, nullable=True))
        batch.add_column(sa.Column("votes", sa.JSON, nullable=True))
    op.create_table(
        "rule_reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("check", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("truth", sa.String(8), nullable=False),
        sa.Column("parts", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_rule_reviews_record_id", "rule_reviews", ["record_id"])


def downgrade() -> None:
    op.drop_table("rule_reviews")
    with op.batch_alter_table("rule_results") as batch:
        batch.drop_column("votes")
        batch.drop_column("evidence")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("models_version")
        batch.drop_column("frame_path")
