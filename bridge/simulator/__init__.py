"""smpp-bridge: simulator."""
