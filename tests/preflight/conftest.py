"""Fixtures of the preflight tests: PostgreSQL (tests/store/pg.py), the API process and the system (system.py)."""

from tests.api.harness import api_db
from tests.preflight.system import system
from tests.store.pg import aio_loop, db, pg_dsn, pg_dsn_sync, pg_server, pg_template

__all__ = ["aio_loop", "api_db", "db", "pg_dsn", "pg_dsn_sync", "pg_server", "pg_template", "system"]
