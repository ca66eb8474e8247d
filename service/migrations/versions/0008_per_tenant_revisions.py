"""per-tenant revisions, heads and ledger chains (issue 18)

Until now one `policy_head` row numbered every write of the platform and one hash chain
ran through the ledger, so every write waited for every other. From here on:

- `tenant_head` holds each tenant's revision; a write locks only its tenant's row.
- revision_log is keyed by (tenant, revision). The entries written before this migration
  keep their numbers (globally unique, so unique per tenant too: a tenant's revisions
  continue from its highest one), their hashes and their one platform-wide chain; they
  are marked `platform_chain` and verified as that chain. Every later entry chains to its
  tenant's previous entry (the first to the tenant's last platform-chain entry), so
  nothing already written is rehashed and every old hash still verifies.
- R4's "an email or phone belongs to one account" is a unique index: with per-tenant
  locks two tenants' writes no longer exclude each other.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tenant_head',
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('revision', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('tenant'),
    )
    op.execute("INSERT INTO tenant_head (tenant, revision) "
               "SELECT tenant, max(revision) FROM revision_log GROUP BY tenant")
    # Tenants created before their first ledger entry (none should be) still get a head.
    op.execute("INSERT INTO tenant_head (tenant, revision) SELECT id, 0 FROM tenant "
               "WHERE id NOT IN (SELECT tenant FROM tenant_head)")
    if op.get_bind().dialect.name == "postgresql":
        # A new column's default fills the existing rows without an UPDATE (which the
        # append-only trigger would refuse): the existing entries are the platform chain.
        op.execute("ALTER TABLE revision_log ADD COLUMN platform_chain BOOLEAN NOT NULL "
                   "DEFAULT true")
        op.execute("ALTER TABLE revision_log ALTER COLUMN platform_chain SET DEFAULT false")
        op.execute("ALTER TABLE revision_log DROP CONSTRAINT revision_log_pkey")
        op.execute("ALTER TABLE revision_log ADD CONSTRAINT revision_log_pkey "
                   "PRIMARY KEY (tenant, revision)")
    else:
        # SQLite cannot change a primary key in place: the table is copied, every entry as
        # it was, into one keyed by (tenant, revision).
        op.create_table(
            'revision_log_0008',
            sa.Column('tenant', sa.String(length=64), nullable=False),
            sa.Column('revision', sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('actor', sa.String(length=100), nullable=False),
            sa.Column('reason', sa.Text(), nullable=False),
            sa.Column('added', sa.Text(), nullable=False),
            sa.Column('removed', sa.Text(), nullable=False),
            sa.Column('request_id', sa.String(length=128), server_default="", nullable=False),
            sa.Column('details', sa.Text(), server_default="{}", nullable=False),
            sa.Column('prev_hash', sa.String(length=64), server_default="", nullable=False),
            sa.Column('hash', sa.String(length=64), server_default="", nullable=False),
            sa.Column('platform_chain', sa.Boolean(), server_default=sa.false(),
                      nullable=False),
            sa.PrimaryKeyConstraint('tenant', 'revision'),
        )
        columns = ("tenant, revision, created_at, actor, reason, added, removed, "
                   "request_id, details, prev_hash, hash")
        op.execute(f"INSERT INTO revision_log_0008 ({columns}, platform_chain) "
                   f"SELECT {columns}, 1 FROM revision_log")
        op.drop_table('revision_log')
        op.rename_table('revision_log_0008', 'revision_log')
        op.create_index('ix_revision_log_tenant', 'revision_log', ['tenant'])
    op.drop_table('policy_head')
    op.execute("CREATE UNIQUE INDEX uq_sub_account_email ON sub_account (lower(email)) "
               "WHERE email <> ''")
    op.execute("CREATE UNIQUE INDEX uq_sub_account_phone ON sub_account (phone) "
               "WHERE phone <> ''")


def downgrade():
    raise NotImplementedError("per-tenant revisions cannot be folded back into one "
                              "platform-wide numbering")
