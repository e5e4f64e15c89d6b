"""smpp-bridge: carrier."""
