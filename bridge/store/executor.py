"""What the store's rules need from a database: one interface, two thin executors.

The rules (SQL text, planning, pricing, segmenting, the money) are written
once, against these protocols, and awaited by whichever runtime runs them:

- ``bridge.store.db``: asyncpg on trio through trio-asyncio, for the daemon
  and the console commands;
- ``bridge.store.aio``: asyncpg on plain asyncio, for the API process
  (``smpp-bridge api``), where uvicorn owns the event loop.

Both wrap the same asyncpg calls with the same codecs (``bridge.store.codecs``);
a function such as ``enqueue_many`` only ``await``s methods named here, so it
runs unchanged on either. Nothing in this module imports a runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from asyncpg import Record

__all__ = ["Executor", "Record"]


class Executor(Protocol):
    """A connection (or a pool borrowing one per call): the statement helpers."""

    async def execute(self, sql: str, *args: Any) -> str: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Record]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Record | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AbstractAsyncContextManager[Executor]:
        """Commit when the body returns, roll back when it raises.

        On a connection already inside a transaction this is a savepoint.
        """
        ...

