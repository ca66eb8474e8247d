"""time-boxed grants: rule_expiry

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rule_expiry',
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('rule', sa.String(length=512), nullable=False),
        sa.Column('expires_at', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('tenant', 'rule'),
    )
    with op.batch_alter_table('rule_expiry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_expiry_expires_at'), ['expires_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('rule_expiry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_expiry_expires_at'))
    op.drop_table('rule_expiry')
