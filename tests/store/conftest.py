"""DB fixtures for the store tests (defined in tests/store/pg.py so other areas can import them)."""

from tests.store.pg import aio_loop, db, empty_dsn, pg_dsn, pg_dsn_sync, pg_server, pg_template

__all__ = ["aio_loop", "db", "empty_dsn", "pg_dsn", "pg_dsn_sync", "pg_server", "pg_template"]
