"""DB fixtures for the preflight tests (tests/store/pg.py)."""

from tests.store.pg import aio_loop, db, pg_dsn, pg_dsn_sync, pg_server, pg_template

__all__ = ["aio_loop", "db", "pg_dsn", "pg_dsn_sync", "pg_server", "pg_template"]
