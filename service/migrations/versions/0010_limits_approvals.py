"""limits, reasons and approvals (R22-R24): a store's currency, approval requests, and the
decision log's amount, approval and reason

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'store_currency',
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('store', sa.String(length=64), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint('tenant', 'store'),
    )
    op.create_table(
        'approval_request',
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('store', sa.String(length=64), nullable=False),
        sa.Column('permission', sa.String(length=130), nullable=False),
        sa.Column('amount', sa.String(length=15), nullable=False),
        sa.Column('product', sa.String(length=64), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_by', sa.String(length=100), nullable=False),
        sa.Column('requested_at', sa.String(length=32), nullable=False),
        sa.Column('expires_at', sa.String(length=32), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=False),
        sa.Column('decided_at', sa.String(length=32), nullable=False),
        sa.Column('decision_note', sa.Text(), nullable=False),
        sa.Column('used_at', sa.String(length=32), nullable=False),
        sa.Column('used_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('tenant', 'id'),
    )
    op.create_index('ix_approval_request_tenant_status', 'approval_request',
                    ['tenant', 'status'])
    with op.batch_alter_table('decision_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amount', sa.String(length=15), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('approval', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('reason', sa.String(length=32), nullable=False,
                                      server_default=''))


def downgrade():
    with op.batch_alter_table('decision_log', schema=None) as batch_op:
        batch_op.drop_column('reason')
        batch_op.drop_column('approval')
        batch_op.drop_column('amount')
    op.drop_index('ix_approval_request_tenant_status', table_name='approval_request')
    op.drop_table('approval_request')
    op.drop_table('store_currency')
