"""How long the daemon's loops run before letting other tasks in.

The daemon is one thread (trio): a loop over thousands of items (a claim's
submit_sm PDUs, a flush's acknowledgements) is a pause for every flush result
and claim that finished meanwhile, and for the binds' readers. Such loops let
the scheduler in every LOOP_SLICE items:

    for i, item in enumerate(items):
        if i % LOOP_SLICE == LOOP_SLICE - 1:
            await trio.lowlevel.checkpoint()
"""

from __future__ import annotations

__all__ = ["LOOP_SLICE"]

# Work items done in a row before other tasks may run.
LOOP_SLICE = 128
