"""Alembic environment of the Solana gateway's book: runs on the connection that
`Ledger.migrate` hands over, versioned in its own table."""

from alembic import context

from integrations.gateways.solana.ledger import VERSION_TABLE, meta

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=meta, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
