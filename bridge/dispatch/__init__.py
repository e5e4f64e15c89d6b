"""The daemon's pipeline: claim -> route -> submit; responses, receipts and MO -> store."""
