"""SMS Preflight (seed 004): per network, does a sender id arrive intact, altered or
not at all, and how fast. See docs/preflight.md.

Pure: ``reassembly`` (concatenated MO), ``verdicts``, ``matching``, ``plans``, ``ids``.
Runtime-free SQL: ``sessions``, ``outcomes``, ``matcher``, ``networks``, ``users``,
``selftest``. Served by the API process (``api``); run in the daemon (``service``).
"""
