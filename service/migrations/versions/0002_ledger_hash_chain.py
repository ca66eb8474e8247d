"""The change ledger: request id, details, and the hash chain over the revision log.

Existing entries are chained in revision order; on PostgreSQL a trigger then refuses
UPDATE and DELETE on revision_log (append-only).

Revision ID: 0002
Revises: 0001
"""
import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _hash(row, prev_hash):
    # Frozen copy of service/storage/ledger.py:entry_hash as of this migration.
    moment = row.created_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    content = [row.revision, row.tenant, moment.astimezone(UTC).isoformat(timespec="microseconds"),
               row.actor, row.reason or "", "", row.added, row.removed, "{}", prev_hash]
    return hashlib.sha256(json.dumps(content, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def upgrade():
    with op.batch_alter_table("revision_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=128), server_default="",
                                      nullable=False))
        batch_op.add_column(sa.Column("details", sa.Text(), server_default="{}",
                                      nullable=False))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), server_default="",
                                      nullable=False))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), server_default="",
                                      nullable=False))
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT revision, tenant, created_at, actor, reason, added, removed "
        "FROM revision_log ORDER BY revision")).fetchall()
    previous = GENESIS
    for row in rows:
        digest = _hash(row, previous)
        connection.execute(sa.text("UPDATE revision_log SET prev_hash = :p, hash = :h "
                                   "WHERE revision = :r"),
                           {"p": previous, "h": digest, "r": row.revision})
        previous = digest
    if connection.dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION revision_log_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'revision_log is append-only (the change ledger, R18)';
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER revision_log_append_only BEFORE UPDATE OR DELETE ON revision_log
                FOR EACH ROW EXECUTE FUNCTION revision_log_append_only();
        """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS revision_log_append_only ON revision_log; "
                   "DROP FUNCTION IF EXISTS revision_log_append_only();")
    with op.batch_alter_table("revision_log", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("details")
        batch_op.drop_column("request_id")
