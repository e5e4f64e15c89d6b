"""From a configuration to a DSN: the configured server, or the embedded one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bridge.store.embedded import start_embedded
from config.load import ConfigError, LoadedConfig, Secrets, load_config

__all__ = ["ConnectError", "configured_dsn", "database_dsn"]


class ConnectError(Exception):
    """No usable database: not configured, or the configuration is wrong."""


@contextlib.contextmanager
def database_dsn(loaded: LoadedConfig, *, default_embedded: bool = False) -> Iterator[str]:
    """The DSN of the configured database, starting the embedded server if that is the choice.

    ``default_embedded`` is for `demo` and the tests only: with no [database]
    settings they use the embedded server in ``database.data_dir``. `run` and
    `migrate` refuse to guess.
    """
    db = loaded.config.database
    if loaded.database_dsn is not None:
        yield loaded.database_dsn.reveal()
        return
    if not (db.embedded or default_embedded):
        raise ConnectError(
            "no database configured: set [database] dsn, dsn_env or dsn_file, or embedded = true"
        )
    server = start_embedded(db.data_dir)
    try:
        yield server.dsn
    finally:
        server.stop()


@contextlib.contextmanager
def configured_dsn(config_path: str | None, dsn: str | None = None) -> Iterator[str]:
    """For the console commands: ``--dsn`` wins, else the database of ``-c FILE``."""
    if dsn:
        yield dsn
        return
    if not config_path:
        raise ConnectError("give -c FILE (a configuration with a [database] table) or --dsn DSN")
    try:
        loaded = load_config(config_path, secrets=Secrets.DATABASE)  # the DSN, no other secret
    except ConfigError as exc:
        raise ConnectError(str(exc)) from None
    with database_dsn(loaded) as resolved:
        yield resolved
