"""Delivery receipts: parsing, id matching, status mapping (pure: no I/O)."""
