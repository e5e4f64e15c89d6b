"""smpp-bridge: store."""
