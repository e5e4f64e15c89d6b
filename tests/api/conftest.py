"""Fixtures of the API tests: a real PostgreSQL, API processes on loopback (harness.py)."""

from tests.api.harness import api, api_db, api_server
from tests.store.pg import aio_loop, pg_dsn, pg_dsn_sync, pg_server, pg_template

__all__ = ["aio_loop", "api", "api_db", "api_server", "pg_dsn", "pg_dsn_sync", "pg_server", "pg_template"]
