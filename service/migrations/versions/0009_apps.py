"""apps that bring their own permissions (R21): apps, their catalogue versions, app keys

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'app',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name_en', sa.String(length=200), nullable=False),
        sa.Column('name_zh', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'app_catalogue',
        sa.Column('app', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('document', sa.Text(), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('published_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('app', 'version'),
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.alter_column('tenant', existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column('app', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_key_app'), ['app'], unique=False)


def downgrade():
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_app'))
        batch_op.drop_column('app')
        batch_op.alter_column('tenant', existing_type=sa.String(length=64), nullable=False)
    op.drop_table('app_catalogue')
    op.drop_table('app')
