"""repair a policy head left behind its ledger

Before the write path refused edits that ended their own transaction, an applied import
could commit its ledger entry while the head update was rolled back (issue 16): the head
then stood below the newest logged revision and every later write conflicted. This moves
such a head up to the newest logged revision; a consistent database is left as it is.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE policy_head SET revision = (SELECT max(revision) FROM revision_log) "
               "WHERE revision < (SELECT coalesce(max(revision), 0) FROM revision_log)")


def downgrade():
    pass  # a repaired head is the true one: nothing to undo
