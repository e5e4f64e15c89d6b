"""SMPP 3.4 protocol core, sans-I/O (no sockets, no trio, no clock)."""
