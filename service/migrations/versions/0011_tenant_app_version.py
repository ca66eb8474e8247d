"""the catalogue version each tenant is at, per installed app (issue 26, finding 5): until
now every tenant was taken to be at its apps' newest versions, so that is where each
starts

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tenant_app',
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('app', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('tenant', 'app'),
    )
    op.execute(
        "INSERT INTO tenant_app (tenant, app, version) "
        "SELECT r.tenant, substr(r.v0, 5), (SELECT max(c.version) FROM app_catalogue c "
        "WHERE c.app = substr(r.v0, 5)) FROM policy_rule r "
        "WHERE r.ptype = 'g2' AND r.v0 LIKE 'app:%' AND EXISTS (SELECT 1 FROM app_catalogue c "
        "WHERE c.app = substr(r.v0, 5))")


def downgrade():
    op.drop_table('tenant_app')
