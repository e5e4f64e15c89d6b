"""smpp-bridge: webhooks."""
