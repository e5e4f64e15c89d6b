"""Sub-commands of the `smpp-bridge` console script, one module each.

Each module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""
