"""Why a record's evidence photo is missing (the folder was full or read-only): the record is kept without it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("evidence_error", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("evidence_error")
