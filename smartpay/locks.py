"""Process-wide locks for libraries that are not thread-safe.

Alembic keeps the migration context in module globals (`alembic.context`, `alembic.op`),
so two schema upgrades running in threads of one process corrupt each other: our ledger
migrations and MLflow's own SQLite store initialisation (which runs Alembic the first
time a client opens a new store) must never overlap.
"""

from __future__ import annotations

import threading

SCHEMA_MIGRATIONS = threading.RLock()
