"""Random bytes for ids, read from the system's source a page at a time.

A message or campaign id takes 10 random bytes and a request id 8, and each
``os.urandom`` call (which ``secrets`` makes too) is a system call: three per
single-recipient send, about a twentieth of the API process's CPU for it. Here
the bytes are read 4,096 at a time and handed out once each: the same
cryptographic source, one system call per few hundred ids.

A forked process (``smpp-bridge api --workers``) starts with an empty buffer
(``os.register_at_fork``): parent and child must never hand out the same
bytes. A lock keeps two threads from taking the same bytes.
"""

from __future__ import annotations

import os
import threading

__all__ = ["random_bytes"]

_READ = 4096
_lock = threading.Lock()
_data = b""
_offset = 0


def random_bytes(n: int) -> bytes:
    """``n`` bytes of ``os.urandom`` output that nothing else in this process got."""
    global _data, _offset
    with _lock:
        end = _offset + n
        if end > len(_data):
            _data, _offset, end = os.urandom(max(_READ, n)), 0, n
        chunk = _data[_offset:end]
        _offset = end
    return chunk


def _forget() -> None:
    global _data, _offset
    _data, _offset = b"", 0


os.register_at_fork(after_in_child=_forget)
