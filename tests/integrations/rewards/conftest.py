"""Fixtures of the reward tests: the session's scratch PostgreSQL database."""

from tests.pg import pg_database  # noqa: F401 (a fixture)
