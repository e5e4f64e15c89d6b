"""Cancelled asyncio timers leave trio-asyncio's loop at once, not at their deadline.

asyncpg arms an asyncio timer for every statement (the pool's ``command_timeout``,
60 s) and for every connection given back to the pool (its inactivity limit,
300 s), and cancels it when the statement ends or the connection is taken again.
asyncio's own loop drops cancelled timers from its heap once they are more than
half of it; trio-asyncio's loop (``TrioEventLoop._timer_handle_cancelled`` is a
no-op) keeps each one in its heap until its deadline, then pops it and wakes its
loop task for nothing. In the daemon that was tens of thousands of dead timers
(each a ``TimerHandle`` and a copied ``Context``): its memory grew for the first
five minutes of a run (the soak, bench/README.md), then stayed there.

``forget_cancelled_timers`` gives the loop asyncio's rule: once more than 100
timers were cancelled and they are more than half of the heap, the heap is
rebuilt without them (linear in the heap, so constant per cancellation).
"""

from __future__ import annotations

import asyncio
import heapq

__all__ = ["MIN_CANCELLED", "forget_cancelled_timers"]

# asyncio's _MIN_SCHEDULED_TIMER_HANDLES: below this, a rebuild is not worth it.
MIN_CANCELLED = 100


def forget_cancelled_timers(loop: asyncio.AbstractEventLoop) -> None:
    """Have ``loop`` (a trio-asyncio loop) drop its cancelled timers as asyncio's loop does.

    ``asyncio.TimerHandle.cancel`` calls the loop's ``_timer_handle_cancelled``;
    the heap is trio-asyncio's ``_timers`` list (trio_asyncio/_base.py, the pinned
    version), rebuilt in place: its main loop reads it again at every turn.
    """
    cancelled = 0

    def timer_cancelled(handle: asyncio.TimerHandle) -> None:
        nonlocal cancelled
        cancelled += 1
        timers: list[asyncio.TimerHandle] = loop._timers  # type: ignore[attr-defined]
        if cancelled > MIN_CANCELLED and cancelled * 2 > len(timers):
            timers[:] = [t for t in timers if not t.cancelled()]
            heapq.heapify(timers)
            cancelled = 0

    loop._timer_handle_cancelled = timer_cancelled  # type: ignore[attr-defined]
