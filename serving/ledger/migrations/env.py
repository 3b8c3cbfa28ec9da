"""Alembic environment: runs on the connection handed over by `Ledger.migrate`, or on
`sqlalchemy.url` when called from the `alembic` command line."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from serving.ledger.tables import Base

config = context.config
target = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section) or {},
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
