"""Storage: SQLAlchemy tables, the policy store (our Casbin adapter) and the ledger."""
