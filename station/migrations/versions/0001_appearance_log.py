"""The appearance log: records, their per-rule results, overrides.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("technician", sa.String(64)),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("evidence_path", sa.String(512)),
        sa.Column("evidence_purged_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_records_created_at", "records", ["created_at"])
    op.create_index("ix_records_technician", "records", ["technician"])
    op.create_index("ix_records_verdict", "records", ["verdict"])
    op.create_table(
        "rule_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("check", sa.String(32), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reason_zh", sa.Text, nullable=False),
        sa.Column("reason_en", sa.Text, nullable=False),
        sa.Column("measurements", sa.JSON, nullable=False),
    )
    op.create_index("ix_rule_results_record_id", "rule_results", ["record_id"])
    op.create_index("ix_rule_results_check", "rule_results", ["check"])
    op.create_index("ix_rule_results_status", "rule_results", ["status"])
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_overrides_record_id", "overrides", ["record_id"])


def downgrade() -> None:
    op.drop_table("overrides")
    op.drop_table("rule_results")
    op.drop_table("records")
