"""What the sub-commands share: options, the configuration file, the database, and errors.

An error the operator can act on (a bad DSN, PostgreSQL not running, a missing
database or schema, a port in use, a bad argument) is a ``CliError``, or one of
the project's own error types, or a known library error: ``cli.main`` prints it
as one line, ``error: WHAT; WHAT TO DO``, and exits 2 (``explain`` below is the
one place that turns exceptions into those lines). Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from bridge.store.db import Database
    from config.load import LoadedConfig, Secrets

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "CliError",
    "add_config_argument",
    "add_database_arguments",
    "config_path",
    "database_dsn_of",
    "describe_dsn",
    "explain",
    "first_error",
    "load",
    "parse_money",
    "report",
    "run_database",
    "with_database",
]

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

# The systemd unit's file (config/smpp-bridge.service); SMPP_BRIDGE_CONFIG overrides.
DEFAULT_CONFIG = "/etc/smpp-bridge/smpp-bridge.toml"
CONFIG_ENV = "SMPP_BRIDGE_CONFIG"


class CliError(Exception):
    """An expected failure: printed as ``error: MESSAGE`` (saying what to do), exit status 2."""


def report(message: str) -> int:
    """Print ``error: MESSAGE`` as ``cli.main`` does for a ``CliError``; returns the exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    return 2


# --- options and the configuration ----------------------------------------------------


def add_config_argument(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    default = "" if required else f" (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG} if it exists)"
    parser.add_argument(
        "-c", "--config", metavar="FILE", required=required, help="configuration file" + default
    )


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--dsn", metavar="DSN",
        help="PostgreSQL DSN, postgresql://USER@HOST:PORT/DATABASE (instead of the configuration's)",
    )  # fmt: skip


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """``-c FILE``, else $SMPP_BRIDGE_CONFIG, else the systemd unit's file if it exists."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get(CONFIG_ENV):
        return env[CONFIG_ENV]
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None


def load(explicit: str | None, *, secrets: Secrets | None = None, what: str = "") -> LoadedConfig:
    """The configuration file (see ``config_path``) with only ``secrets`` resolved."""
    from config.load import load_config

    path = config_path(explicit)
    if path is None:
        raise CliError(
            f"no configuration: give -c FILE{what} (or set {CONFIG_ENV}; {DEFAULT_CONFIG} does not exist)"
        )
    if secrets is None:
        return load_config(path, resolve=False)
    return load_config(path, secrets=secrets)


# --- the database -------------------------------------------------------------------


@contextlib.contextmanager
def database_dsn_of(args: argparse.Namespace) -> Iterator[str]:
    """``--dsn``, else the configuration's database (its DSN secret only)."""
    from bridge.store.connect import database_dsn
    from config.load import Secrets

    if args.dsn:
        yield args.dsn
        return
    loaded = load(args.config, secrets=Secrets.DATABASE, what=" (a configuration with a [database] table) or --dsn DSN")
    with database_dsn(loaded) as dsn:
        yield dsn


def run_database(dsn: str, work: Callable[[str], Awaitable[T]]) -> T:
    """``trio.run(work, dsn)``, with connection and schema errors explained (``CliError``)."""
    import trio

    try:
        return trio.run(work, dsn)
    except Exception as exc:
        message = _database_problem(exc, dsn)
        if message is None:
            raise
        raise CliError(message) from None


def with_database(args: argparse.Namespace, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database of ``args`` (one connection) and run ``work`` on it."""
    from bridge.store.db import open_database

    async def main(dsn: str) -> T:
        async with open_database(dsn, min_size=1, max_size=1) as db:
            return await work(db)

    with database_dsn_of(args) as dsn:
        return run_database(dsn, main)


def describe_dsn(dsn: str) -> str:
    """``HOST:PORT/DATABASE`` of a DSN, never its password (for error messages)."""
    try:
        url = urlsplit(dsn)
        query = parse_qs(url.query)
        host = url.hostname or query.get("host", ["localhost"])[0]
        port = url.port or int(query.get("port", ["5432"])[0])
    except ValueError:
        return "the configured database"
    database = unquote(url.path.lstrip("/")) or (url.username or "")
    return f"{host}:{port}/{database}" if database else f"{host}:{port}"


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _raised_parsing_dsn(exc: BaseException) -> bool:
    """A ValueError from asyncpg's DSN parser (e.g. a port that is not a number)."""
    if not isinstance(exc, ValueError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.endswith(os.path.join("asyncpg", "connect_utils.py"))


def _database_problem(exc: BaseException, dsn: str) -> str | None:
    import asyncpg

    where = describe_dsn(dsn)
    for leaf in _leaves(exc):
        if isinstance(leaf, asyncpg.ClientConfigurationError) or _raised_parsing_dsn(leaf):
            return f"the database DSN is not valid ({leaf}); expected postgresql://USER@HOST:PORT/DATABASE"
        if isinstance(leaf, asyncpg.InvalidCatalogNameError):
            name = where.rpartition("/")[2]
            return (
                f"{leaf} (on {where.rpartition('/')[0]}): create it (createdb {name}), "
                "then run `smpp-bridge migrate`"
            )
        if isinstance(leaf, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
            return f"PostgreSQL at {where} refused the login: {leaf}; check the user and password of the DSN"
        if isinstance(leaf, asyncpg.UndefinedTableError | asyncpg.UndefinedFunctionError | asyncpg.UndefinedColumnError):
            return (
                f"the database {where} has no smpp-bridge schema, or an older one ({leaf}): "
                "run `smpp-bridge migrate`"
            )
        if isinstance(leaf, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError):
            return f"PostgreSQL at {where} refused the connection: {leaf}; try again, or check the server"
        if isinstance(leaf, ConnectionRefusedError):
            return (
                f"cannot connect to PostgreSQL at {where}: connection refused; "
                "is the server running, and are the host and port of the DSN right?"
            )
        if isinstance(leaf, OSError | TimeoutError):
            reason = leaf.strerror or str(leaf) or type(leaf).__name__
            return f"cannot connect to PostgreSQL at {where}: {reason}; check the host and port of the DSN"
    return None


# --- arguments ------------------------------------------------------------------------


def parse_money(value: str, option: str) -> str:
    """Check an MYR amount argument early, so a typo is one clear line."""
    from bridge.store.accounts import money

    try:
        money(value)
    except (ValueError, ArithmeticError):
        raise CliError(
            f"{option} {value!r} is not an amount in MYR: digits with at most 4 decimal places, e.g. 50.00"
        ) from None
    return value


# --- the one place that explains errors ----------------------------------------------------


def explain(exc: BaseException) -> str | None:
    """The ``error:`` line for an expected error, or None for a bug (keep the traceback).

    A group (trio wraps what a nursery's tasks raise) is expected when all of
    its errors are; the first one is reported.
    """
    if isinstance(exc, BaseExceptionGroup):
        messages = [_explain_one(leaf) for leaf in _leaves(exc)]
        return messages[0] if messages and None not in messages else None
    return _explain_one(exc)


def first_error(exc: BaseException, kind: type[E]) -> E | None:
    """The first ``kind`` error in ``exc`` or, if it is a group, in its leaves."""
    for leaf in _leaves(exc):
        if isinstance(leaf, kind):
            return leaf
    return None


def _explain_one(exc: BaseException) -> str | None:
    if isinstance(exc, CliError):
        return str(exc)
    from config.load import ConfigError

    if isinstance(exc, ConfigError):
        return str(exc)
    store = sys.modules.get("bridge.store.connect")
    if store is not None and isinstance(exc, store.ConnectError):
        return str(exc)
    plan = sys.modules.get("bridge.store.plan")
    if plan is not None and isinstance(exc, plan.EnqueueError):
        return f"{exc.code}: {exc.message}"
    accounts = sys.modules.get("bridge.store.accounts")
    if accounts is not None and isinstance(exc, accounts.AccountExists | accounts.AccountNotFound):
        return str(exc)
    migrate = sys.modules.get("bridge.store.migrate")
    if migrate is not None and isinstance(exc, migrate.MigrationError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"{exc.strerror}: another process listens there; stop it or choose another port"
    return None
